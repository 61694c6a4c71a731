"""Issue 16 §5 and §6: priced revocability, and a summary that states the money, the
replica grant and every risk exactly, in the reader's language.

Each case states allow, deny or invalid with the reason, or the exact sentence shown.
"""

from datetime import UTC, datetime, timedelta

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.domain.licence import Licence, licence_from_template
from datatrust.domain.licence_text import (
    RISK_FACE_AVATAR,
    RISK_REPLICA_EACH_USE,
    RISK_VOICE_CLONING,
    RISK_WITHDRAWAL_NOTICE,
    Amount,
    UnitPay,
    risks,
    summarise,
)
from datatrust.i18n import explain_licence, render

START = datetime(2027, 3, 1, tzinfo=UTC)
NARRATION = "Narration of the audiobooks of Kalahari Press, in English, my own voice"


def a_licence(template="training_only", **changes) -> Licence:
    changes.setdefault("id", "lic-1")
    changes.setdefault("valid_from", START)
    changes.setdefault("price_minor", 1_000)
    return licence_from_template(template, **changes)


def a_voice_grant(**changes) -> Licence:
    fields = dict(
        replica_use_description=NARRATION,
        replica_media={"voice"},
        replica_languages={"en"},
        replica_categories={"audiobook_narration"},
        replica_channels={"audio_stores", "streaming"},
        replica_until=START + timedelta(days=7 * 365),
    )
    fields.update(changes)
    return a_licence("voice_library", **fields)


def english(licence, pay=None, names=None):
    return [render(m, "en") for m in summarise(licence, pay, names)]


# --- §5 priced revocability ----------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "surcharge"),
    [
        (0, 0),  # no notice: no surcharge
        (1, 1),  # ceil(1000 × 1 × 25 / 36500) = ceil(0.68): rounded up, never down
        (30, 21),  # ceil(20.55)
        (365, 250),  # a year's notice: a quarter more
        (730, 500),  # two years' notice: half as much again
    ],
)
def test_promised_notice_is_priced_by_the_stated_formula(days, surcharge):
    licence = a_licence(withdrawal_notice_days=days)
    assert licence.notice_surcharge_minor == surcharge
    assert licence.notice_surcharge_minor == -(-1_000 * days * 25 // (100 * 365))
    assert licence.price_with_surcharge_minor == 1_000 + surcharge


def test_notice_and_exclusivity_surcharges_add_up():
    licence = a_licence(
        withdrawal_notice_days=365,
        exclusive=True,
        exclusive_to="7",
        exclusive_until=START + timedelta(days=200),
    )
    assert licence.price_with_surcharge_minor == 1_000 + 500 + 250


@pytest.mark.parametrize("days", [-1, 731, 10_000])
def test_notice_outside_zero_days_to_two_years_is_invalid_naming_the_field(days):
    with pytest.raises(InvalidInput) as caught:
        a_licence(withdrawal_notice_days=days)
    assert caught.value.details["problems"] == [
        "withdrawal_notice_days: must be from 0 to 730 days (at most two years)"
    ]


def test_the_summary_says_exactly_what_the_notice_means():
    sentences = english(a_licence(withdrawal_notice_days=90))
    assert (
        "You can withdraw at any time, and from that moment nobody new can license your data. "
        "Buyers who already licensed it may keep using it for 90 more days, as you promised; "
        "then they must delete it within 30 days. This promise adds $0.62 to the licence price."
    ) in sentences
    assert RISK_WITHDRAWAL_NOTICE in risks(a_licence(withdrawal_notice_days=90))
    without = english(a_licence())
    assert "You can withdraw at any time. Buyers must then delete your data within 30 days." in (
        without
    )
    assert RISK_WITHDRAWAL_NOTICE not in risks(a_licence())


# --- §6 the money exactly -------------------------------------------------------------


def test_the_summary_states_buyer_price_platform_part_and_contributor_share_per_item():
    pay = UnitPay(
        "item",
        paid=Amount(1_250, "USD"),
        fee=Amount(250, "USD"),
        platform=Amount(750, "USD"),
        share=Amount(500, "USD"),
    )
    assert (
        "For each item, a buyer pays $12.50. Of that, the platform keeps $7.50 (its fee of "
        "$2.50 and the rest of the licence price after your share) and you receive $5.00."
    ) in english(a_licence(), pay)


def test_a_per_minute_licence_never_says_for_each_item():
    sentences = " ".join(english(a_licence(price_unit="minute")))
    assert "for each minute of recording" in sentences
    assert "for each item" not in sentences
    assert (
        "The licence price is $10.00 for each minute of recording, before the platform fee; "
        "you receive 50% of it: $5.00."
    ) in english(a_licence(price_unit="minute"))


def test_the_old_misstatement_of_pay_is_gone():
    sentences = " ".join(english(a_licence()))
    assert "You are paid" not in sentences


def test_the_exclusive_holder_and_named_buyers_are_named_not_numbered():
    licence = a_licence(
        offered_to={"7", "9"},
        exclusive=True,
        exclusive_to="7",
        exclusive_until=START + timedelta(days=200),
    )
    sentences = english(licence, names={"7": "Ada Lab", "9": "Kalahari Press"})
    assert "Only these organisations may license it: Ada Lab, Kalahari Press." in sentences
    assert any(s.startswith("Exclusive to Ada Lab until September 17, 2027") for s in sentences)


# --- §6 the replica grant in full --------------------------------------------------------


def test_the_replica_grant_is_stated_in_full_with_the_contributors_own_words_labelled():
    sentences = english(a_voice_grant(replica_ask_each_time=True))
    assert (
        "This licence allows a digital copy of your voice, only in English, only in Audiobook "
        "narration, only through Audiobook and music stores and Streaming services, until "
        "February 27, 2034."
    ) in sentences
    assert (
        f"The use you described: “{NARRATION}” (written by the contributor, shown as written)"
    ) in sentences
    assert "Each use of the copy needs your approval first: you are asked every time." in (
        sentences
    )


def test_a_voice_grant_flags_voice_cloning_and_never_a_face_avatar():
    flags = risks(a_voice_grant(replica_ask_each_time=True))
    assert RISK_VOICE_CLONING in flags and RISK_REPLICA_EACH_USE in flags
    assert RISK_FACE_AVATAR not in flags
    whole = risks(
        a_voice_grant(
            replica_media={"full_likeness"},
            prohibited_uses={"impersonation", "biometric_identification", "sexual_content"},
        )
    )
    assert RISK_VOICE_CLONING in whole and RISK_FACE_AVATAR in whole


def test_in_hindi_the_template_title_is_translated_and_a_contributors_title_is_labelled():
    hindi = explain_licence(a_licence(), "hi")
    assert hindi[0] == "लाइसेंस: केवल प्रशिक्षण (सुझाया गया) (संस्करण 1)"
    own = explain_licence(a_licence(title="Walks in Soweto"), "hi")
    assert "“Walks in Soweto” (योगदानकर्ता के अपने शब्द, जैसे लिखे गए वैसे ही)" in own[0]


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_every_replica_sentence_is_in_the_readers_language(lang):
    english_words = ("Audiobook", "Streaming", "your voice", "allows a digital copy", "approval")
    for sentence in explain_licence(a_voice_grant(replica_ask_each_time=True), lang):
        shown = sentence.replace(NARRATION, "")
        assert not any(word in shown for word in english_words), sentence
