"""Text PII detection and redaction."""

import itertools

import pytest

from datatrust.pipeline.text_pii import (
    Pseudonymizer,
    aadhaar_valid,
    find_pii,
    redact,
    redact_text_report,
    za_id_valid,
)


def types_in(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_pii(text)]


@pytest.mark.parametrize(
    "number",
    [
        "+91 98765 43210",
        "098765 43210",
        "+27 82 555 1234",
        "082 555 1234",
        "+1 415 555 2671",
        "(415) 555-2671",
        "+44 7911 123456",
        "07911 123456",
    ],
)
def test_international_and_local_phone_numbers_of_served_countries_are_found(number):
    assert types_in(f"call me on {number} tonight") == [("PHONE", number)]


def test_short_numbers_times_and_amounts_are_not_phones():
    assert find_pii("Meet at 9:30, I paid R4500 for 3 items, order 58392011, 2023-12-31") == []


def test_email_and_url_are_found_without_trailing_punctuation():
    found = types_in("mail sipho.n@gmail.com or see https://example.com/x?y=1.")
    assert found == [("EMAIL", "sipho.n@gmail.com"), ("URL", "https://example.com/x?y=1")]


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",  # Visa
        "5555-5555-5555-4444",  # Mastercard 51-55
        "2221 0000 0000 0009",  # Mastercard 2-series, low end
        "2720 9900 0000 0007",  # Mastercard 2-series, high end
        "3782 822463 10005",  # Amex
        "4111111111111111",
    ],
)
def test_luhn_valid_cards_of_known_brands_are_found(card):
    assert types_in(f"card {card} exp 09/27") == [("CARD", card)]


def test_card_number_failing_luhn_is_not_a_card():
    assert all(t != "CARD" for t, _ in types_in("card 4111 1111 1111 1112"))


def test_aadhaar_with_valid_verhoeff_digit_is_found_and_invalid_one_is_not():
    assert aadhaar_valid("234567890124")
    assert types_in("aadhaar 2345 6789 0124") == [("AADHAAR", "2345 6789 0124")]
    assert not aadhaar_valid("234567890125")
    assert types_in("aadhaar 2345 6789 0125") == []


def test_south_african_id_with_good_date_and_luhn_is_found():
    assert za_id_valid("8001015009087")
    assert types_in("ID 8001015009087 ok") == [("ZA_ID", "8001015009087")]


def test_south_african_id_with_bad_checksum_or_impossible_date_is_not_found():
    assert types_in("ID 8001015009088") == []
    assert not za_id_valid("8013015009087")  # month 13


def test_valid_ssn_is_found():
    assert types_in("ssn 123-45-6780") == [("SSN", "123-45-6780")]


@pytest.mark.parametrize(
    "ssn", ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "321-54-0000"]
)
def test_ssn_in_invalid_ranges_is_not_matched(ssn):
    assert all(t != "SSN" for t, _ in types_in(f"ssn {ssn}"))


@pytest.mark.parametrize(
    "address",
    [
        "12 Nelson Mandela Avenue",
        "221B Baker Street",
        "14 MG Road",
        "7 Shanti Nagar",
        "9 Nehru Marg",
    ],
)
def test_street_addresses_are_found(address):
    assert types_in(f"we moved to {address}, come over") == [("ADDRESS", address)]


def test_handles_are_found_but_email_domains_are_not_handles():
    assert types_in("follow @sipho_n and mail a@b.co.za") == [
        ("HANDLE", "@sipho_n"),
        ("EMAIL", "a@b.co.za"),
    ]


def test_person_names_are_found_including_surnames_outside_the_gazetteer():
    found = types_in("Tell Priya Raghunathan and Grace Naidoo that Sipho called")
    assert found == [
        ("PERSON", "Priya Raghunathan"),
        ("PERSON", "Grace Naidoo"),
        ("PERSON", "Sipho"),
    ]


def test_capitalised_common_words_are_not_names():
    text = "Good morning! Will you come Monday? Happy birthday. Hope the Bank is open. Eid Mubarak"
    assert find_pii(text) == []


def test_title_makes_the_next_word_a_name():
    assert types_in("Dr Bill said so") == [("PERSON", "Bill")]


def test_same_person_gets_same_pseudonym_across_messages():
    pseudonyms = Pseudonymizer()
    first = redact("Sipho Nkosi and Priya are here", pseudonyms)
    second = redact("Priya said Sipho is late", pseudonyms)
    assert first.text == "[PERSON_1] and [PERSON_2] are here"
    assert second.text == "[PERSON_2] said [PERSON_1] is late"


def test_redaction_uses_typed_placeholders_and_counts():
    result = redact("mail a@b.com or call +27 82 555 1234, a@b.com again")
    assert result.text == "mail [EMAIL] or call [PHONE], [EMAIL] again"
    assert result.counts == {"EMAIL": 2, "PHONE": 1}


def test_spans_never_overlap_and_checksummed_numbers_beat_phones():
    spans = find_pii("card 4111 1111 1111 1111 and ID 8001015009087 call 082 555 1234")
    assert [s.type for s in spans] == ["CARD", "ZA_ID", "PHONE"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_report_offsets_index_the_original_text_and_hold_no_values():
    text = "Hi Sipho, mail me at a@b.com"
    report = redact_text_report(text)
    assert report["text"] == "Hi [PERSON_1], mail me at [EMAIL]"
    assert [text[s["start"] : s["end"]] for s in report["spans"]] == ["Sipho", "a@b.com"]
    assert set(report["spans"][0]) == {"start", "end", "type"}
    assert report["counts"] == {"PERSON": 1, "EMAIL": 1}


def test_empty_text_has_no_pii():
    assert find_pii("") == []
    assert redact("").text == ""
