"""WhatsApp exports as phones in several locales write them, Telegram JSON, and files that
claim to be chats but fall outside the bounds a chat can have (nesting, line length, message
count): each refused with a reason code the pages explain, never a RecursionError."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.pipeline import chats
from datatrust.pipeline.chats import json_depth, parse_chat_export

LRM, RLM, NNBSP = "\u200e", "\u200f", "\u202f"

# (name, export text, expected source, [(at, sender, text, media)], system lines)
LOCALES = [
    (
        "Android en-US, 12 h, month first",
        "1/2/24, 9:05 PM - Messages and calls are end-to-end encrypted. Tap to learn more.\n"
        "1/2/24, 9:05 PM - Ana: see you at 9\n"
        "1/13/24, 12:30 AM - Ben: <Media omitted>\n",
        "whatsapp-android",
        [
            (datetime(2024, 1, 2, 21, 5), "Ana", "see you at 9", False),
            (datetime(2024, 1, 13, 0, 30), "Ben", "<Media omitted>", True),
        ],
        1,
    ),
    (
        "Android en-IN, 12 h lower-case, day first",
        "13/01/24, 9:05 pm - Ravi: kal milte hain\nsecond line\n"
        "14/01/24, 7:00 am - Ravi added Meena\n",
        "whatsapp-android",
        [(datetime(2024, 1, 13, 21, 5), "Ravi", "kal milte hain\nsecond line", False)],
        1,
    ),
    (
        "Android de-DE, 24 h, dotted dates",
        "31.12.23, 23:59 - Jana: Frohes neues Jahr!\n01.01.24, 00:01 - Tom: Dir auch\n",
        "whatsapp-android",
        [
            (datetime(2023, 12, 31, 23, 59), "Jana", "Frohes neues Jahr!", False),
            (datetime(2024, 1, 1, 0, 1), "Tom", "Dir auch", False),
        ],
        0,
    ),
    (
        "Android es-ES, 12 h with 'p. m.'",
        "31/12/23, 9:41 p. m. - Lucía: ¿Dónde estás?\n",
        "whatsapp-android",
        [(datetime(2023, 12, 31, 21, 41), "Lucía", "¿Dónde estás?", False)],
        0,
    ),
    (
        "iOS en-US, 12 h with a narrow no-break space and LRM marks",
        f"{LRM}[1/2/24, 9:05:01{NNBSP}PM] Ana: {LRM}Messages and calls are end-to-end "
        "encrypted.\n"
        f"[1/2/24, 9:05:09{NNBSP}PM] Ana: hi\n"
        f"[1/14/24, 10:00:00{NNBSP}AM] {LRM}+27 82 555 1234: {LRM}image omitted\n"
        f"[1/14/24, 10:00:05{NNBSP}AM] Ana: {LRM}<attached: 00000012-PHOTO-2024-01-14.jpg>\n",
        "whatsapp-ios",
        [
            (datetime(2024, 1, 2, 21, 5, 9), "Ana", "hi", False),
            (datetime(2024, 1, 14, 10, 0, 0), "+27 82 555 1234", "<Media omitted>", True),
            (datetime(2024, 1, 14, 10, 0, 5), "Ana", "<Media omitted>", True),
        ],
        1,
    ),
    (
        "iOS en-GB, 24 h, day first, multi-line",
        "[31/12/2023, 23:59:59] Sipho: line one\nline two\n\nline four\n"
        "[01/01/2024, 00:00:01] Thabo: ok\n",
        "whatsapp-ios",
        [
            (datetime(2023, 12, 31, 23, 59, 59), "Sipho", "line one\nline two\n\nline four", False),
            (datetime(2024, 1, 1, 0, 0, 1), "Thabo", "ok", False),
        ],
        0,
    ),
    (
        "Android with right-to-left marks (Arabic/Hebrew phones)",
        f"{RLM}31/12/2023, 21:41 - {RLM}Omar{RLM}: {RLM}مرحبا\n"
        f"{RLM}31/12/2023, 21:42 - Omar changed this group's icon\n",
        "whatsapp-android",
        [(datetime(2023, 12, 31, 21, 41), "Omar", "مرحبا", False)],
        1,
    ),
    (
        "Android, year first",
        "2024-01-13, 21:05 - Ana: hi\n",
        "whatsapp-android",
        [(datetime(2024, 1, 13, 21, 5), "Ana", "hi", False)],
        0,
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "source", "expected", "system"), LOCALES, ids=[c[0] for c in LOCALES]
)
def test_whatsapp_exports_from_several_locales_are_parsed(name, text, source, expected, system):
    chat = parse_chat_export(text.encode())
    assert chat.source == source
    assert [(m.at, m.sender, m.text, m.media) for m in chat.messages] == expected
    assert chat.system_lines == system


def test_a_utf16_whatsapp_export_with_a_bom_is_parsed():
    chat = parse_chat_export(("31/12/2023, 21:41 - Ana: hi\n").encode("utf-16"))
    assert [m.text for m in chat.messages] == ["hi"]


def test_telegram_export_with_service_lines_entities_and_reply_fields_is_parsed():
    doc = {
        "name": "Ana",
        "type": "personal_chat",
        "id": 1,
        "messages": [
            {"id": 1, "type": "service", "date": "2024-01-02T21:05:00", "action": "phone_call"},
            {
                "id": 2,
                "type": "message",
                "date": "2024-01-02T21:05:09",
                "date_unixtime": "1704229509",
                "from": "Ana",
                "from_id": "user1",
                "reply_to_message_id": 1,
                "text": [
                    {"type": "bold", "text": "Hi"},
                    " there ",
                    {"type": "link", "text": "x.io"},
                ],
                "text_entities": [{"type": "bold", "text": "Hi"}],
                "reactions": [
                    {"type": "emoji", "count": 1, "emoji": "👍", "recent": [{"from": "B"}]}
                ],
            },
            {
                "id": 3,
                "type": "message",
                "date": "2024-01-02T21:06:00",
                "from": "Ben",
                "text": "",
                "media_type": "voice_message",
                "file": "voice.ogg",
            },
        ],
    }
    chat = parse_chat_export(json.dumps(doc, ensure_ascii=False).encode())
    assert chat.source == "telegram" and chat.system_lines == 1
    assert [(m.sender, m.text, m.media) for m in chat.messages] == [
        ("Ana", "Hi there x.io", False),
        ("Ben", "<Media omitted>", True),
    ]


# ---------------------------------------------------------------- bounds


def _reason(data: bytes) -> str:
    with pytest.raises(InvalidInput) as err:
        parse_chat_export(data)
    return err.value.details.get("reason", "")


def test_json_depth_is_counted_without_recursion_and_ignores_brackets_in_strings():
    assert json_depth('{"a": "[[[{\\"]]", "b": [1, {"c": []}]}') == 4
    assert json_depth("[" * 500_000 + "]" * 500_000) == 500_000
    assert json_depth('"just a string"') == 0


def test_a_telegram_export_nesting_100000_arrays_is_refused_as_too_deep():
    data = ('{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    assert _reason(data) == "chat_too_deep"


def test_depth_inside_a_message_counts_too():
    text = "[" * (chats.MAX_JSON_DEPTH) + "]" * (chats.MAX_JSON_DEPTH)
    msg = f'{{"type": "message", "date": "2024-01-01T00:00:00", "from": "A", "text": {text}}}'
    assert _reason(f'{{"messages": [{msg}]}}'.encode()) == "chat_too_deep"


def test_a_30_mb_file_on_one_line_is_not_a_chat():
    data = b"12/31/23, 9:41 PM - Ana: " + b"x" * 30_000_000
    assert _reason(data) == "chat_line_too_long"


def test_a_message_of_many_short_lines_past_the_longest_possible_message_is_refused():
    data = b"31/12/2023, 21:41 - Ana: hi\n" + b"short line\n" * (chats.MAX_MESSAGE_CHARS // 10)
    assert _reason(data) == "chat_line_too_long"


def test_a_telegram_message_longer_than_any_app_allows_is_refused():
    doc = {
        "messages": [
            {
                "type": "message",
                "date": "2024-01-01T00:00:00",
                "from": "A",
                "text": "y" * (chats.MAX_MESSAGE_CHARS + 1),
            }
        ]
    }
    assert _reason(json.dumps(doc).encode()) == "chat_line_too_long"


def test_the_longest_message_whatsapp_allows_is_still_a_chat():
    data = ("31/12/2023, 21:41 - Ana: " + "z" * 65_536 + "\n").encode()
    assert len(parse_chat_export(data).messages[0].text) == 65_536


def test_too_many_messages_are_refused_in_both_formats(monkeypatch):
    monkeypatch.setattr(chats, "MAX_MESSAGES", 100)
    wa = "".join(f"31/12/2023, 21:41 - Ana: {i}\n" for i in range(101)).encode()
    assert _reason(wa) == "chat_too_many_messages"
    ok = "".join(f"31/12/2023, 21:41 - Ana: {i}\n" for i in range(100)).encode()
    assert len(parse_chat_export(ok).messages) == 100
    msg = {"type": "message", "date": "2024-01-01T00:00:00", "from": "A", "text": "t"}
    assert _reason(json.dumps({"messages": [msg] * 101}).encode()) == "chat_too_many_messages"


def test_a_number_too_long_for_python_is_an_unreadable_export_not_a_crash():
    data = ('{"messages": [{"id": ' + "9" * 10_000 + "}]}").encode()
    with pytest.raises(InvalidInput, match="not a chat export"):
        parse_chat_export(data)
