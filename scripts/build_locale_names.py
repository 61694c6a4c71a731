"""Build the second person-name list of ``datatrust.pipeline.text_pii``: Faker's locales.

Faker (a dev dependency, never imported at run time) ships curated lists of the common
first and last names of each of its locales. This script writes the Latin-script and
Devanagari ones of every locale **except** ``HELD_OUT``, the locales whose names
``bench/corpus_faker.py`` keeps for its held-out set, to
``src/datatrust/pipeline/data/names_locales.txt.gz`` in the format of ``names.txt.gz``
(``F``/``L`` + tab + name; lower-case ``f``/``l`` for a "core" name, one that is taken for
a name even written in lower case). Core are the names of the locales of the countries
Datatrust serves (``*_IN``, ``*_ZA``, ``*_US``, ``*_GB``): a curated list of a served
country's common names is what "common name" means for lower-case chat.

Multi-word surnames ("van den Assem", "De Jonghe") give their words that are not particles;
a name in the list of both kinds is written as both.

Run: ``uv run python scripts/build_locale_names.py`` (``--without LOCALE …`` leaves more
locales out, e.g. the test half's own to measure how much of its score is the list).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from build_name_gazetteer import write_name_list  # scripts/ is on sys.path when run

# Held out by bench/corpus_faker.py (HOLDOUT_NAME_LOCALES): never taken into the list, so
# the held-out set keeps measuring names outside every list.
HELD_OUT = frozenset({"en_PK", "mr_IN", "nl_BE", "en_KE", "sw", "en_NZ", "en_IE", "en_NG"})
SERVED = ("_IN", "_ZA", "_US", "_GB")
OUT = Path(__file__).resolve().parents[1] / "src/datatrust/pipeline/data/names_locales.txt.gz"
NAME_RE = re.compile(
    r"^(?:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:['’-][A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+)*"
    r"|[\u0900-\u097f][\u0900-\u097f\u200c\u200d]+(?:[’'][\u0900-\u097f\u200c\u200d]+)*)$"
)
FIRST_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
LAST_ATTRS = ("last_names", "last_names_male", "last_names_female", "last_names_nonbinary")


def _words(value: str) -> list[str]:
    return [w for w in value.split() if NAME_RE.match(w)]


def locale_names(locale: str) -> tuple[set[str], set[str]]:
    """First and last names of one Faker locale's person provider."""
    from faker import Faker  # dev dependency: imported only here

    first: set[str] = set()
    last: set[str] = set()
    for provider in Faker(locale).get_providers():
        if ".person." not in type(provider).__module__:
            continue
        for attrs, out in ((FIRST_ATTRS, first), (LAST_ATTRS, last)):
            for attr in attrs:
                for value in getattr(provider, attr, None) or ():
                    out.update(_words(str(value)))
    return first, last


def main() -> None:
    from faker.config import AVAILABLE_LOCALES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--without",
        nargs="*",
        default=(),
        help="leave these locales out too (to measure what the list owes to them)",
    )
    args = parser.parse_args()
    rows: set[str] = set()
    used = []
    for locale in sorted(AVAILABLE_LOCALES):
        if locale in HELD_OUT or locale in args.without:
            continue
        first, last = locale_names(locale)
        if not first and not last:
            continue
        used.append(locale)
        core = locale.endswith(SERVED)
        rows.update(f"{'f' if core else 'F'}\t{n}" for n in first)
        rows.update(f"{'l' if core else 'L'}\t{n}" for n in last)
    # A core row makes the non-core row of the same name redundant.
    lines = sorted(r for r in rows if not (r[0].isupper() and r[0].lower() + r[1:] in rows))
    write_name_list(OUT, lines)
    print(f"wrote {len(lines)} names of {len(used)} locales to {OUT} ({OUT.stat().st_size} B)")


if __name__ == "__main__":
    main()
