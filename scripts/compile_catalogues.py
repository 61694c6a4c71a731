"""Compile every catalogue (``messages.po``, ``problems.po``) under ``src/datatrust/locale``
into its ``.mo``.

Run ``uv run python scripts/compile_catalogues.py`` after editing a catalogue and commit the
``.mo`` files with it, so a fresh install needs no build step. ``--check`` compiles
nothing and exits 1 if a catalogue lacks a translation for a msgid the licence summary
uses or for a problem code, or if a ``.mo`` file does not match its ``.po``. ``--sync``
first brings every ``problems.po`` in line with ``domain.problem_texts.TEXTS``: a new code
gets an empty entry to translate, a changed English sentence marks its entry fuzzy, a code
no longer used is dropped.

Same result as ``uv run pybabel compile -d src/datatrust/locale``, plus the check.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from datatrust.domain.licence_text import ALL_MSGIDS
from datatrust.domain.problem_texts import TEXT, TEXTS

LOCALE_DIR = Path(__file__).resolve().parent.parent / "src" / "datatrust" / "locale"
# English is the source language: its catalogue may leave msgstr empty (msgid is shown).
SOURCE_LANGUAGE = "en"


def problems_in(po_path: Path) -> list[str]:
    with po_path.open("rb") as f:
        catalogue = read_po(f)
    return _entry_problems(po_path, catalogue, [(None, m) for m in ALL_MSGIDS])


def problem_catalogue_problems(po_path: Path) -> list[str]:
    with po_path.open("rb") as f:
        catalogue = read_po(f)
    entries = [(code, english) for code, english in TEXTS.items() if code != TEXT]
    return _entry_problems(po_path, catalogue, entries)


def _entry_problems(po_path: Path, catalogue, entries: list[tuple[str | None, str]]) -> list[str]:
    """What is missing, untranslated or fuzzy among ``entries`` (context, msgid)."""
    lang = po_path.parent.parent.name
    found = []
    for context, msgid in entries:
        message = catalogue.get(msgid, context=context)
        name = f"{msgid!r}" + (f" ({context})" if context else "")
        if message is None:
            found.append(f"{lang}: missing msgid {name}; problem codes: run with --sync")
        elif lang != SOURCE_LANGUAGE and not message.string:
            found.append(f"{lang}: untranslated {name}")
        elif message.fuzzy:
            found.append(f"{lang}: fuzzy {name}")
    # Compare content, not modification times: a fresh clone's mtimes mean nothing.
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists() or mo_path.read_bytes() != _compiled(catalogue):
        found.append(f"{lang}: {mo_path.name} is missing or out of date; run this script")
    return found


def _compiled(catalogue) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    return buffer.getvalue()


def sync_problems() -> None:
    """Make each ``problems.po`` hold exactly the codes of ``TEXTS``."""
    for lang_dir in sorted(p for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES").is_dir()):
        po_path = lang_dir / "LC_MESSAGES" / "problems.po"
        if po_path.exists():
            with po_path.open("rb") as f:
                old = read_po(f)
        else:
            old = Catalog(locale=lang_dir.name, domain="problems", project="Datatrust")
        new = Catalog(
            locale=lang_dir.name,
            domain="problems",
            project="Datatrust",
            header_comment=f"# {lang_dir.name}: the sentence of every problem code.",
            fuzzy=False,
        )
        previous = {m.context: m for m in old if m.id and m.context}
        for code, english in TEXTS.items():
            if code == TEXT:
                continue
            kept = previous.get(code)
            flags = {"python-format"} if "%(" in english else set()
            string = kept.string if kept else ""
            if kept and ((kept.id != english and string) or "fuzzy" in kept.flags):
                flags.add("fuzzy")
            new.add(english, string, context=code, flags=flags)
        with po_path.open("wb") as f:
            write_po(f, new, width=96, omit_header=False, sort_output=False)
        print(f"synced {po_path.relative_to(LOCALE_DIR)}")


def compile_all() -> None:
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as f:
            catalogue = read_po(f)
        po_path.with_suffix(".mo").write_bytes(_compiled(catalogue))
        print(f"compiled {po_path.relative_to(LOCALE_DIR)}")


def main(argv: list[str]) -> int:
    if "--sync" in argv:
        sync_problems()
    if "--check" in argv:
        found = [
            p
            for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
            for p in problems_in(po)
        ]
        found += [
            p
            for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/problems.po"))
            for p in problem_catalogue_problems(po)
        ]
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
