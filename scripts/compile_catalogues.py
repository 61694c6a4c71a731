"""Compile every ``messages.po`` under ``src/datatrust/locale`` into ``messages.mo``.

Run ``uv run python scripts/compile_catalogues.py`` after editing a catalogue and commit the
``.mo`` files with it, so a fresh install needs no build step. ``--check`` compiles
nothing and exits 1 if a catalogue lacks a translation for a msgid the licence summary
uses, or if a ``.mo`` file does not match its ``.po``.

Same result as ``uv run pybabel compile -d src/datatrust/locale``, plus the check.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from datatrust.domain.licence_text import ALL_MSGIDS

LOCALE_DIR = Path(__file__).resolve().parent.parent / "src" / "datatrust" / "locale"
# English is the source language: its catalogue may leave msgstr empty (msgid is shown).
SOURCE_LANGUAGE = "en"


def problems_in(po_path: Path) -> list[str]:
    with po_path.open("rb") as f:
        catalogue = read_po(f)
    lang = po_path.parent.parent.name
    found = []
    for msgid in ALL_MSGIDS:
        message = catalogue.get(msgid)
        if message is None:
            found.append(f"{lang}: missing msgid {msgid!r}")
        elif lang != SOURCE_LANGUAGE and not message.string:
            found.append(f"{lang}: untranslated {msgid!r}")
        elif message.fuzzy:
            found.append(f"{lang}: fuzzy {msgid!r}")
    # Compare content, not modification times: a fresh clone's mtimes mean nothing.
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists() or mo_path.read_bytes() != _compiled(catalogue):
        found.append(f"{lang}: {mo_path.name} is missing or out of date; run this script")
    return found


def _compiled(catalogue) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    return buffer.getvalue()


def compile_all() -> None:
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as f:
            catalogue = read_po(f)
        po_path.with_suffix(".mo").write_bytes(_compiled(catalogue))
        print(f"compiled {po_path.relative_to(LOCALE_DIR)}")


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = [
            p
            for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
            for p in problems_in(po)
        ]
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
