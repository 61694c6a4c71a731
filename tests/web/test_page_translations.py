"""Texts that come from the services as codes are shown in the page's language: every msgid
the pages use is translated in Hindi and isiZulu, every code the services can emit has a
sentence, and plurals follow each language's rule."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from datatrust.domain.licence import DENY_CODES
from datatrust.i18n import LOCALE_DIR, translator
from datatrust.pipeline.rejection import CODES
from datatrust.pipeline.run import describe_removed
from datatrust.web.pages import explain
from datatrust.web.pages.explain import Explain

WEB = Path(explain.__file__).resolve().parents[1]


def page_msgids() -> tuple[set[str], set[tuple[str, str]]]:
    """Every msgid in the templates and page modules, and those ``explain`` looks up."""
    single, plural = explain.msgids()
    found = []
    for template in sorted((WEB / "templates").glob("*.html")):
        with template.open("rb") as f:
            options = {"trim_blocks": "true", "lstrip_blocks": "true"}
            found += [m for _l, _f, m, _c in jinja2.ext.babel_extract(f, ("_",), [], options)]
    for module in sorted((WEB / "pages").glob("*.py")):
        found += [m for _l, m, _c, _x in extract_from_file("python", module, keywords={"_": None})]
    single |= {m for m in found if isinstance(m, str) and m}
    return single, plural


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_every_msgid_the_pages_use_is_translated(lang):
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f)
    single, plural = page_msgids()
    untranslated = sorted(m for m in single if not (catalogue.get(m) and catalogue.get(m).string))
    assert untranslated == []
    for one, many in plural:
        message = catalogue.get(one)
        assert message is not None and message.id == (one, many), one
        assert all(message.string), one


def test_every_code_the_services_emit_has_a_sentence():
    assert CODES - explain.REJECTIONS.keys() == set()
    assert {str(c) for c in DENY_CODES} - explain.EXCLUSIONS.keys() == set()


def hindi() -> Explain:
    return Explain(translator("hi"), "hi", str)


def test_what_was_removed_reads_in_hindi_with_plurals():
    lines = hindi().removed(
        {"faces_blurred": 3, "metadata_removed": ["GPS", "EXIF"], "pii_redacted": {"PHONE": 1}}
    )
    assert lines == [
        "3 चेहरे धुँधले किए गए",
        "GPS स्थान हटाया गया",
        "मेटाडेटा हटाया गया: EXIF",
        "1 फ़ोन नंबर छिपाया गया",
    ]
    assert hindi().removed({"faces_blurred": 1}) == ["1 चेहरा धुँधला किया गया"]


def test_english_keeps_the_services_own_rejection_message_and_others_get_the_codes():
    reason = {"code": "too_quiet", "message": "Too quiet: -52 dBFS, the floor is -45 dBFS."}
    english = Explain(translator("en"), "en", str)
    assert english.rejection(reason) == reason["message"]
    assert hindi().rejection(reason) == "रिकॉर्डिंग बहुत धीमी है। आवाज़ के और पास जाएँ।"
    zulu = Explain(translator("zu"), "zu", str)
    assert zulu.rejection(reason).startswith("Okuqoshiwe kuthule kakhulu")


def test_an_unknown_code_is_shown_as_the_service_gave_it():
    assert hindi().rejection({"code": "brand_new", "message": "Brand new reason."}) == (
        "Brand new reason."
    )
    assert hindi().exclusion("brand_new", 2) == "2 आइटम: brand_new"


def test_selection_exclusions_count_in_each_language():
    assert Explain(translator("en"), "en", str).exclusion("no_consent", 1) == (
        "1 item: no consent was given"
    )
    assert hindi().exclusion("licence_expired", 4) == "4 आइटम: लाइसेंस समाप्त हो गया है"


def test_passport_details_are_labelled_and_internal_ids_left_out():
    details = hindi().details(
        {"by": "peers", "codes": ["too_dark"], "sha256": "ab" * 32, "org_name": "Ada Lab"}
    )
    assert details == [
        ("किसने तय किया", "दूसरे योगदानकर्ता"),
        ("क्यों", "बहुत अँधेरा है। ज़्यादा रोशनी में रिकॉर्ड करें।"),
        ("खरीदार", "Ada Lab"),
    ]


def test_every_removal_the_ingest_service_describes_has_a_translated_line():
    """Built from the keys ``describe_removed`` reads, so a new kind of removal added there
    without a sentence here fails this test instead of vanishing from the page."""
    keys = set(re.findall(r'removed\.get\("(\w+)"\)', inspect.getsource(describe_removed)))
    removed = {key: 2 for key in keys}
    removed |= {"metadata_removed": ["GPS", "EXIF"], "location": "coarsened", "frames": 0}
    removed |= {"audio_dropped": "unchecked", "call_audio_withheld": True}
    removed |= {key: {"PHONE": 2} for key in ("pii_redacted", "transcript_pii")}
    assert len(hindi().removed(removed)) == len(describe_removed(removed))
