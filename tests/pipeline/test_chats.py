"""Chat export parsing and de-identification."""

import io
import json
from datetime import datetime

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.pipeline.chats import (
    check_size,
    deidentify_chat,
    parse_chat_export,
    parse_telegram,
    parse_whatsapp,
)

ANDROID_12H = """12/31/23, 9:41 PM - Messages and calls are end-to-end encrypted. Tap to learn more.
12/31/23, 9:41 PM - Sipho Nkosi: Hi Priya, my number is 082 555 1234
12/31/23, 9:42 PM - Priya: Thanks Sipho!
and a second line with sipho@example.com
12/31/23, 9:43 PM - Sipho Nkosi: <Media omitted>
12/31/23, 9:44 PM - Sipho Nkosi added Thabo
1/1/24, 10:00 AM - Thabo: I'm at 12 Long Street, call +27 82 555 9876
"""

ANDROID_24H = "31/12/2023, 21:41 - Sipho: hi\n01/01/2024, 00:01 - Priya: happy new year\n"

IOS = (
    "\u200e[31/12/2023, 21:41:05] Family: \u200eMessages and calls are end-to-end encrypted.\n"
    "[31/12/2023, 21:41:06] Sipho: Call +27 82 555 1234\n"
    "[31/12/2023, 21:42:00] Mom: \u200eimage omitted\n"
    "[01/01/2024, 09:00:00] Mom: line one\nline two\n"
)

TELEGRAM = {
    "name": "Family",
    "type": "private_group",
    "messages": [
        {"id": 1, "type": "service", "date": "2023-12-31T21:40:00", "actor": "Sipho"},
        {
            "id": 2,
            "type": "message",
            "date": "2023-12-31T21:41:05",
            "from": "Sipho",
            "text": ["Hi ", {"type": "mention", "text": "@priya_k"}, " call +91 98765 43210"],
        },
        {
            "id": 3,
            "type": "message",
            "date": "2023-12-31T21:42:05",
            "from": "Priya",
            "text": "",
            "photo": "p/1.jpg",
        },
        {"id": 4, "type": "message", "date": "2023-12-31T21:43:05", "from": None, "text": "hello"},
    ],
}


def test_android_12_hour_export_is_parsed_with_multiline_media_and_system_lines():
    chat = parse_whatsapp(ANDROID_12H)
    assert chat.source == "whatsapp-android"
    assert chat.participants == ("Sipho Nkosi", "Priya", "Thabo")
    assert chat.system_lines == 2
    assert [m.sender for m in chat.messages] == ["Sipho Nkosi", "Priya", "Sipho Nkosi", "Thabo"]
    assert chat.messages[0].at == datetime(2023, 12, 31, 21, 41)
    assert chat.messages[1].text == "Thanks Sipho!\nand a second line with sipho@example.com"
    assert chat.messages[2].media and chat.messages[2].text == "<Media omitted>"
    assert chat.messages[3].at == datetime(2024, 1, 1, 10, 0)


def test_android_24_hour_day_first_export_is_parsed():
    chat = parse_whatsapp(ANDROID_24H)
    assert [(m.at, m.sender, m.text) for m in chat.messages] == [
        (datetime(2023, 12, 31, 21, 41), "Sipho", "hi"),
        (datetime(2024, 1, 1, 0, 1), "Priya", "happy new year"),
    ]


def test_ios_export_is_parsed_and_its_notices_and_media_are_recognised():
    chat = parse_whatsapp(IOS)
    assert chat.source == "whatsapp-ios"
    assert chat.participants == ("Sipho", "Mom")
    assert chat.system_lines == 1
    assert chat.messages[0].at == datetime(2023, 12, 31, 21, 41, 6)
    assert chat.messages[1].media
    assert chat.messages[2].text == "line one\nline two"


def test_telegram_json_is_parsed_with_entity_text_media_and_deleted_accounts():
    chat = parse_telegram(json.dumps(TELEGRAM))
    assert chat.source == "telegram"
    assert chat.participants == ("Sipho", "Priya", "Deleted Account")
    assert chat.system_lines == 1
    assert chat.messages[0].text == "Hi @priya_k call +91 98765 43210"
    assert chat.messages[0].at == datetime(2023, 12, 31, 21, 41, 5)
    assert chat.messages[1].media


def test_format_is_detected_from_bytes_and_from_a_stream():
    assert parse_chat_export(json.dumps(TELEGRAM).encode()).source == "telegram"
    assert parse_chat_export(io.BytesIO(IOS.encode())).source == "whatsapp-ios"
    assert parse_chat_export(b"\xef\xbb\xbf" + ANDROID_24H.encode()).source == "whatsapp-android"


def test_non_utf8_bytes_are_refused_naming_the_encoding_problem():
    with pytest.raises(InvalidInput, match="not valid UTF-8: byte 0xe9 at offset 23") as err:
        parse_chat_export(b"31/12/2023, 21:41 - Ren\xe9: hi")
    assert err.value.details["encoding"] == "utf-8"


@pytest.mark.parametrize(
    "data",
    [b"just some notes\nnothing here", b'{"name": "x"}', b"{not json", b'{"chats": {"list": []}}'],
)
def test_files_that_are_not_chat_exports_are_refused(data):
    with pytest.raises(InvalidInput, match=r"not a chat export|full Telegram account export"):
        parse_chat_export(data)


def test_oversize_export_is_refused_before_parsing_with_the_limit_named():
    with pytest.raises(InvalidInput, match="larger than the 1 KB limit"):
        parse_chat_export(b"x" * 1025, max_bytes=1024)


def test_oversize_stream_is_refused_without_reading_it_all():
    class HugeStream(io.RawIOBase):
        """Pretends to be 200 MB; records how much was asked for."""

        requested = 0

        def read(self, n=-1):
            assert n != -1, "must not read an unbounded amount"
            HugeStream.requested += n
            return b"1" * n

    with pytest.raises(InvalidInput, match="50 MB limit"):
        parse_chat_export(HugeStream())
    assert HugeStream.requested == 50 * 1024 * 1024 + 1


def test_a_200_mb_size_is_refused_by_the_up_front_check():
    with pytest.raises(InvalidInput) as err:
        check_size(200 * 1024 * 1024)
    assert err.value.details["limit_bytes"] == 50 * 1024 * 1024


def test_non_consented_participants_messages_are_dropped_and_counted():
    chat = parse_whatsapp(ANDROID_12H)
    out, report = deidentify_chat(chat, "Sipho Nkosi", {"Priya"})
    assert [m.sender for m in out.messages] == ["CONTRIBUTOR", "PARTICIPANT_1", "CONTRIBUTOR"]
    assert out.participants == ("CONTRIBUTOR", "PARTICIPANT_1")
    assert report.messages_in == 4
    assert report.messages_dropped == 1
    assert report.dropped_by_participant == {"PARTICIPANT_2": 1}
    assert report.participants == {
        "CONTRIBUTOR": "contributor",
        "PARTICIPANT_1": "consented",
        "PARTICIPANT_2": "not_consented",
    }


def test_message_text_is_redacted_with_participant_labels_for_named_participants():
    chat = parse_whatsapp(ANDROID_12H)
    out, report = deidentify_chat(chat, "Sipho Nkosi", {"Priya", "Thabo"})
    texts = [m.text for m in out.messages]
    assert texts[0] == "Hi [PARTICIPANT_1], my number is [PHONE]"
    assert texts[1] == "Thanks [CONTRIBUTOR]!\nand a second line with [EMAIL]"
    assert texts[3] == "I'm at [ADDRESS], call [PHONE]"
    assert report.pii_counts == {"PERSON": 2, "PHONE": 2, "EMAIL": 1, "ADDRESS": 1}
    assert "Sipho" not in json.dumps(report.to_dict())


def test_contributor_must_be_a_sender_of_the_chat():
    with pytest.raises(InvalidInput, match="not one of the chat's senders"):
        deidentify_chat(parse_whatsapp(ANDROID_24H), "Somebody Else", set())


def test_consented_names_not_in_the_chat_are_reported():
    _, report = deidentify_chat(parse_whatsapp(ANDROID_24H), "Sipho", {"Priyaa"})
    assert report.unknown_consented == 1
    assert report.messages_dropped == 1
