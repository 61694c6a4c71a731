"""The Hindi and isiZulu catalogues say each core term one way (docs/translation-glossary.md).

A rule names the English words it applies to, the word the translation must use, and the
variants it must not: the ones the catalogues used before the glossary, each of which meant
the same thing as another word on the next page, or something else (isiZulu *isabelo*, a
share of money, for a campaign's quota; *inkokhelo encane*, a small payment, for the pay
floor; Hindi न्यूनतम वेतन, a minimum wage).
"""

import re

import pytest
from babel.messages.pofile import read_po

from datatrust.i18n import LOCALE_DIR

# (English pattern, required in the translation or None, forbidden in the translation or None)
RULES = {
    "hi": [
        (r"\bitems?\b", r"आइटम", r"चीज़"),
        (r"\bpay floor\b", r"न्यूनतम दर", r"वेतन|न्यूनतम भुगतान"),
        (r"(?<!unexpected )\boperators?\b", r"संचालक", r"ऑपरेटर"),
        (r"\breplicas?\b", r"प्रतिरूप", r"प्रतिकृति|डिजिटल प्रति(?!रूप)"),
        (r"\bplatform\b", None, r"प्लैटफ़ॉर्म"),
        (r"\bbuyers?\b", r"खरीदार", r"ख़रीदार"),
        (r"\bconsent\b", r"सहमति", None),
        (r"\bwithdr", r"वापस", None),
        (r"\blicen[cs]e(?! plate)", r"लाइसेंस", None),
        (r"\bescrow\b", r"एस्क्रो", None),
        (r"\bcampaigns?\b", r"अभियान", None),
        (r"\breview(s|ed|ing)?\b", r"समीक्षा", None),
        (r"\bpayouts?\b", r"भुगतान", None),
    ],
    "zu": [
        (r"\blicen[cs]e(?! plate)", r"(?i)layisensi", r"(?i)layisense\b"),
        (
            r"\bpay floor\b",
            r"(?i)(inga|ingeni) eliphansi lokukhokha",
            r"nkokhelo encane|holo elincane",
        ),
        (r"\bquota\b", r"(?i)sibalo", r"(?i)sabelo"),
        (r"(?<!unexpected )\boperators?\b", None, r"(?i)mqhubi"),
        (r"\bhost\b", None, r"(?i)mphathi"),
        (r"\bsnapshots?\b", r"(?i)snapshot", r"(?i)sithombe sedatha"),
        (r"\bconsent\b", r"(?i)mvume", None),
        (r"\bescrow\b", r"escrow", None),
        (r"\bbuyers?\b", r"(?i)thengi", None),
        (r"\bcampaigns?\b", r"(?i)mkhankaso|mikhankaso", None),
        (r"\breview(s|ed|ing)?\b", r"(?i)buyekez", None),
        (r"\bdeclared? (a )?uses?\b|\byou declare\b", None, r"(?i)memezel|menyezel"),
    ],
}


def _english_words(msgid: str) -> str:
    """The sentence without placeholders and code names (``replica_use_description``)."""
    return re.sub(r"%\(\w+\)\w|'[^']*'|\b\w+_\w+\b", " ", msgid)


def _entries(lang: str):
    for domain in ("messages", "problems"):
        with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
            for message in read_po(f):
                if not message.id:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                texts = message.string if isinstance(message.string, tuple) else (message.string,)
                yield domain, _english_words(ids[-1]), ids[0], texts


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_each_core_term_is_translated_one_way(lang):
    wrong = []
    for domain, english, msgid, texts in _entries(lang):
        for pattern, required, forbidden in RULES[lang]:
            if not re.search(pattern, english, re.IGNORECASE):
                continue
            for text in texts:
                if required and not re.search(required, text):
                    wrong.append(f"{domain}: {msgid!r} lacks {required!r}: {text!r}")
                if forbidden and re.search(forbidden, text):
                    wrong.append(f"{domain}: {msgid!r} uses {forbidden!r}: {text!r}")
    assert wrong == []


def test_the_glossary_the_catalogues_follow_is_where_translators_look():
    glossary = (LOCALE_DIR.parents[2] / "docs" / "translation-glossary.md").read_text()
    for word in ("आइटम", "न्यूनतम दर", "izinga eliphansi lokukhokha", "isibalo esidingekayo"):
        assert word in glossary
    for lang in ("hi", "zu"):
        header = (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").read_text()[:600]
        assert "docs/translation-glossary.md" in header
