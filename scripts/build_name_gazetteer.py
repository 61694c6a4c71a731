"""Build the compact person-name gazetteer used by ``datatrust.pipeline.text_pii``.

The ``names-dataset`` wheel ships about 55 MB of pickles that take tens of seconds and
gigabytes of memory to load, so run time never touches it. This script loads it once and
writes the most common first and last names of the countries Datatrust serves (ZA, IN,
US, GB) and of their neighbours in language (Botswana and Namibia for Sotho/Tswana/Nama
names, the Netherlands for the Dutch names Afrikaans ones share) to
``src/datatrust/pipeline/data/names.txt.gz``: one name per line, prefixed with ``F\\t``
(first name) or ``L\\t`` (last name), lower-case ``f``/``l`` for the ``--core`` most
common ones, sorted, so the committed file diffs cleanly.

Run: ``uv run python scripts/build_name_gazetteer.py [--first N] [--last N] [--core N]``.
"""

from __future__ import annotations

import argparse
import gzip
import re
from pathlib import Path

COUNTRIES = ("ZA", "IN", "US", "GB", "BW", "NA", "NL")
OUT = Path(__file__).resolve().parents[1] / "src/datatrust/pipeline/data/names.txt.gz"
# Latin-script names (with an inner apostrophe or hyphen: "S'fiso", "Mary-Jane") and
# Devanagari ones; the dataset has many transliteration artefacts ("A.", "Md", single
# letters) worth dropping.
NAME_RE = re.compile(r"^(?:[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?|[\u0900-\u097f]{2,})$")


def top_names(nd, n: int, use_first_names: bool) -> set[str]:
    """The ``n`` most common names of every country in ``COUNTRIES`` (first names: per
    gender), kept only if they match ``NAME_RE``."""
    out: set[str] = set()
    for country in COUNTRIES:
        top = nd.get_top_names(n=n, use_first_names=use_first_names, country_alpha2=country)
        found = top.get(country, {})
        groups = found.values() if isinstance(found, dict) else [found]
        for names in groups:
            out.update(name for name in names if NAME_RE.match(name))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--first", type=int, default=6000, help="first names per country+gender")
    parser.add_argument("--last", type=int, default=8000, help="last names per country")
    parser.add_argument("--core", type=int, default=1000, help="core names per country+gender")
    args = parser.parse_args()

    from names_dataset import NameDataset  # slow and big: imported only here, never at run time

    nd = NameDataset()
    first = top_names(nd, args.first, use_first_names=True)
    last = top_names(nd, args.last, use_first_names=False)
    # The most common names of each country are marked (lower-case "f"/"l"): only these are
    # taken for names when written in lower case, where the long tail holds common words.
    core_first = top_names(nd, args.core, use_first_names=True)
    core_last = top_names(nd, args.core, use_first_names=False)
    lines = [f"{'f' if n in core_first else 'F'}\t{n}" for n in sorted(first)]
    lines += [f"{'l' if n in core_last else 'L'}\t{n}" for n in sorted(last)]
    write_name_list(OUT, lines)
    print(f"wrote {len(first)} first and {len(last)} last names to {OUT} ({OUT.stat().st_size} B)")


def write_name_list(path: Path, lines: list[str]) -> None:
    """Write one name row a line, gzip-compressed; mtime=0 keeps the bytes identical across
    rebuilds of the same data (so the committed file diffs only when a name changes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(("\n".join(lines) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
