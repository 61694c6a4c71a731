"""Build the compact list of place names used by ``datatrust.pipeline.text_pii``.

Towns are the commonest false "names" in chats ("Shimla trip", "Kingston upon Thames").
``phonenumbers`` (a runtime dependency) bundles the geocoder data of libphonenumber: for
each dialling prefix, the town or area it serves, in English. Loading all of it takes
~13 s and ~300k entries, so run time never does; this script extracts the town names of
the countries Datatrust serves (India +91, South Africa +27, the UK +44, the US and
Canada +1) and writes them to ``src/datatrust/pipeline/data/places.txt.gz``, one per line,
sorted, so the committed file diffs cleanly.

Run: ``uv run python scripts/build_place_names.py``.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

COUNTRY_CODES = ("91", "27", "44", "1")
OUT = Path(__file__).resolve().parents[1] / "src/datatrust/pipeline/data/places.txt.gz"
PLACE_RE = re.compile(r"[A-Za-z][A-Za-z .'-]+")


def main() -> None:
    from phonenumbers.geodata import GEOCODE_DATA  # ~13 s: imported only here

    places: set[str] = set()
    for prefix, names in GEOCODE_DATA.items():
        english = names.get("en")
        if not english or not prefix.startswith(COUNTRY_CODES):
            continue
        if prefix.startswith("1") and len(prefix) < 4:
            continue  # "+1" alone: a country, not a town
        # "Bangalore, Karnataka", "Barmer/Gudda, Rajasthan", "Peat Inn (Leven (Fife))"
        town = re.split(r"[,(]", english)[0]
        for part in town.split("/"):
            part = part.strip()
            if PLACE_RE.fullmatch(part):
                places.add(part)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip bytes identical across rebuilds of the same data.
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(("\n".join(sorted(places)) + "\n").encode("utf-8"))
    print(f"wrote {len(places)} place names to {OUT} ({OUT.stat().st_size} B)")


if __name__ == "__main__":
    main()
