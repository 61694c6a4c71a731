"""Copy the browser files Datatrust's pages use from ``node_modules`` into the Python package.

The service runs where only Python and pip are installed (the README's first command), so
the few npm files its pages load are committed under ``src/datatrust/web/static/vendor/<package>/``
and ship inside the wheel. ``VENDORED`` names every file taken, with the package's licence;
nothing else of a package is copied (flat: the wheel leaves out folders named ``dist``).
The versions are the exact ones in ``package.json``/``package-lock.json``.

After changing a version there (``npm install --save-dev --save-exact PKG@VERSION``):

    npm ci && uv run python scripts/vendor_js.py

``tests/web/test_vendored_js.py`` fails when a committed copy differs from ``node_modules``
by one byte, when a file is missing, or when the folder holds a file not listed here.
``--check`` does the same comparison without writing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src/datatrust/web/static/vendor"

# package -> the files of it the pages load, relative to the package's folder
VENDORED: dict[str, tuple[str, ...]] = {
    # Resumable uploads over tus (the capture page; record.js drives it).
    "tus-js-client": ("dist/tus.min.js", "LICENSE"),
    # The map of where recordings are wanted (map.js loads these when asked).
    "leaflet": ("dist/leaflet.js", "dist/leaflet.css", "LICENSE"),
    "h3-js": ("dist/h3-js.umd.js", "LICENSE", "NOTICE"),
}


def planned() -> dict[Path, Path]:
    """Each vendored file's place in the package -> its source in node_modules."""
    return {
        VENDOR / package / Path(name).name: NODE_MODULES / package / name
        for package, names in VENDORED.items()
        for name in names
    }


def differences() -> list[str]:
    """What differs between the committed copies and node_modules (empty when in step)."""
    problems = []
    plan = planned()
    for target, source in plan.items():
        if not source.is_file():
            problems.append(f"{source.relative_to(ROOT)}: missing (run npm ci)")
        elif not target.is_file():
            problems.append(f"{target.relative_to(ROOT)}: not vendored")
        elif target.read_bytes() != source.read_bytes():
            problems.append(f"{target.relative_to(ROOT)}: differs from {source.relative_to(ROOT)}")
    if VENDOR.is_dir():
        for path in sorted(VENDOR.rglob("*")):
            if path.is_file() and path not in plan:
                problems.append(f"{path.relative_to(ROOT)}: not listed in VENDORED")
    return problems


def vendor() -> None:
    if VENDOR.is_dir():
        shutil.rmtree(VENDOR)
    for target, source in planned().items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args()
    if not args.check:
        missing = [s for s in planned().values() if not s.is_file()]
        if missing:
            print("missing (run npm ci first): " + ", ".join(map(str, missing)), file=sys.stderr)
            return 1
        vendor()
    problems = differences()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
