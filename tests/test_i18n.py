from datetime import UTC, datetime, timedelta

import pytest
from babel.messages.pofile import read_po

from datatrust.domain.licence import TEMPLATES, licence_from_template
from datatrust.domain.licence_text import ALL_MSGIDS, risks, summarise
from datatrust.i18n import LOCALE_DIR, available_languages, explain_licence, translator

START = datetime(2025, 3, 1, tzinfo=UTC)
REPLICA = "Narration voice for the audiobooks of Kalahari Press, English only"


def a_licence(template="training_only", **changes):
    changes.setdefault("id", "lic-1")
    changes.setdefault("valid_from", START)
    changes.setdefault("price_minor", 1_400)
    if template == "voice_library":
        changes.setdefault("replica_use_description", REPLICA)
    return licence_from_template(template, **changes)


def every_kind_of_licence():
    yield from (a_licence(name) for name in TEMPLATES)
    yield a_licence(
        excluded_territories={"US"},
        exclusive=True,
        exclusive_until=START + timedelta(days=700),
        exclusive_to="org-7",
        royalty_share_percent=0,
        price_unit="minute",
        permitted_actions={"train", "display"},
        prohibited_uses={"sexual_content"},
    )
    yield a_licence("research_non_commercial", territories={"IN", "NP"})


def hindi_catalogue():
    with (LOCALE_DIR / "hi" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def test_english_and_hindi_catalogues_are_compiled_and_shipped():
    assert {"en", "hi"} <= set(available_languages())


def test_every_msgid_the_summary_can_use_has_a_hindi_translation():
    catalogue = hindi_catalogue()
    missing = [m for m in ALL_MSGIDS if not (catalogue.get(m) and catalogue.get(m).string)]
    assert missing == []


def test_every_msgid_actually_emitted_is_a_known_msgid():
    for licence in every_kind_of_licence():
        for message in summarise(licence):
            assert message.msgid in ALL_MSGIDS


def test_hindi_translations_keep_every_placeholder():
    for message in hindi_catalogue():
        if message.id:
            for name in ("title", "version", "start", "end", "purposes", "price", "days"):
                assert (f"%({name})s" in message.id) == (f"%({name})s" in message.string)


def test_the_compiled_hindi_catalogue_translates():
    assert translator("hi").gettext("Alcohol") == "शराब"
    assert translator("hi-IN").gettext("Alcohol") == "शराब"


def test_an_unknown_language_falls_back_to_english():
    assert translator("xx").gettext("Alcohol") == "Alcohol"
    assert explain_licence(a_licence(), "xx") == explain_licence(a_licence(), "en")


def test_english_summary_reads_in_plain_words():
    text = explain_licence(a_licence(), "en")
    assert text[0] == "Licence: Training only (recommended) (version 1)"
    assert "It starts on March 1, 2025 and ends on March 1, 2027." in text
    # Without the platform's figures the summary states only what is exact without them.
    assert (
        "The licence price is $14.00 for each item, before the platform fee; you receive 50% "
        "of it: $7.00." in text
    )
    assert "Worldwide: buyers in any country may use it." in text


def test_hindi_summary_is_in_devanagari_with_hindi_dates_and_lists():
    text = explain_licence(a_licence("likeness_advertising"), "hi")
    # The template's title is the platform's words, so it is translated too (issue 16 §6).
    assert text[0] == "लाइसेंस: विज्ञापन में आपकी छवि (पाबंदियों के साथ) (संस्करण 1)"
    assert any("शराब" in line and "तंबाकू" in line for line in text)
    assert any("मार्च" in line for line in text)  # the month, in Hindi
    assert "खरीदार आपका डेटा सीधे लोगों को दिखा सकते हैं, जैसे किसी विज्ञापन में।" in text


def test_every_hindi_sentence_is_translated():
    for licence in every_kind_of_licence():
        for english, hindi in zip(
            explain_licence(licence, "en"), explain_licence(licence, "hi"), strict=True
        ):
            assert english != hindi


def test_country_names_are_shown_in_the_readers_language():
    licence = a_licence(territories={"IN", "ZA"})
    assert "Only buyers in India and South Africa may use it." in explain_licence(licence, "en")
    assert any("भारत" in line for line in explain_licence(licence, "hi"))


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({}, "worldwide"),
        ({"royalty_share_percent": 0}, "no_royalty"),
        (
            {
                "exclusive": True,
                "exclusive_to": "org-7",
                "exclusive_until": START + timedelta(days=730),
            },
            "exclusive",
        ),
        ({"on_end": "keep_no_new_training"}, "models_kept_after_end"),
    ],
)
def test_risks_are_flagged(changes, flag):
    assert flag in risks(a_licence(**changes))


def test_a_voice_library_licence_flags_replica_and_voice_cloning_but_not_face_avatar():
    flags = risks(a_licence("voice_library"))
    assert "allows_digital_replica" in flags
    assert "allows_voice_cloning" in flags
    assert "allows_face_avatar" not in flags


def test_the_exclusive_risk_names_the_end_date_and_the_surcharge():
    licence = a_licence(
        exclusive=True, exclusive_to="org-7", exclusive_until=START + timedelta(days=730)
    )
    text = explain_licence(licence, "en")
    assert (
        "Exclusive to org-7 until March 1, 2027: you cannot license this data to anyone else "
        "until then. The buyer pays $14.00 extra for this." in text
    )


def test_territorial_licences_are_not_flagged_worldwide():
    assert "worldwide" not in risks(a_licence(territories={"ZA"}))


def test_money_uses_the_currencys_minor_units():
    licence = a_licence(price_minor=150, currency="JPY")
    assert (
        "The licence price is ¥150 for each item, before the platform fee; you receive 50% of "
        "it: ¥75." in explain_licence(licence, "en")
    )
