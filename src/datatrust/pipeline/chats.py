"""Parse chat exports (WhatsApp ``.txt``, Telegram ``result.json``) and de-identify them.

Pure functions: bytes (or an already-open binary stream) in, typed values out; nothing is
opened, fetched or stored here.

Supported inputs:

* WhatsApp Android: ``12/31/23, 9:41 PM - Name: text`` and ``31/12/2023, 21:41 - Name: text``
* WhatsApp iOS: ``[31/12/2023, 21:41:05] Name: text`` (with the U+200E marks iOS adds)
* Telegram single-chat JSON: ``{"messages": [{"type", "from", "date", "text"}, …]}``

Timestamps are naive ``datetime`` values in the exporting phone's local time: neither
format records a time zone.

Bounds (a file outside them is refused with ``InvalidInput`` whose ``details["reason"]`` is a
code the pages explain): no message longer than ``MAX_MESSAGE_CHARS`` and no line longer than
that (``chat_line_too_long``), at most ``MAX_MESSAGES`` messages (``chat_too_many_messages``),
JSON nested at most ``MAX_JSON_DEPTH`` deep (``chat_too_deep``, checked by a linear scan
before ``json.loads``, which recurses once per level and would otherwise reach Python's
recursion limit on a file of a few hundred kilobytes).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import numpy as np

from datatrust.domain.errors import InvalidInput
from datatrust.pipeline.text_pii import Pseudonymizer, is_phone_number, redact

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# WhatsApp caps a message at 65,536 characters and Telegram at 4,096; a little room above
# the larger one for the marks and entity text an export adds.
MAX_MESSAGE_CHARS = 70_000
# Years of a busy group chat; more is not one conversation to license, and each message
# costs the redactor time.
MAX_MESSAGES = 200_000
# A Telegram export nests about six levels (export, messages, message, text, entity, …).
MAX_JSON_DEPTH = 32
MEDIA_PLACEHOLDER = "<Media omitted>"
CONTRIBUTOR_LABEL = "CONTRIBUTOR"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``media`` is True when the export only says an attachment was
    there (the file itself is not in a text export); ``text`` is then ``<Media omitted>``
    unless the attachment had a caption."""

    at: datetime
    sender: str
    text: str
    media: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    """Participants (senders, in order of first message) and their messages in file order.

    ``source`` is ``whatsapp-android``, ``whatsapp-ios`` or ``telegram``; ``system_lines``
    counts lines that were not messages (encryption notices, "X added Y", Telegram service
    messages) and were left out, because they name people without being anyone's words.
    """

    participants: tuple[str, ...]
    messages: tuple[Message, ...]
    source: str = "unknown"
    system_lines: int = 0


@dataclass(frozen=True)
class ChatDeidentificationReport:
    """What ``deidentify_chat`` did. Participants appear only by label.

    ``participants`` maps each label to ``contributor``, ``consented`` or ``not_consented``;
    ``dropped_by_participant`` counts dropped messages per label; ``unknown_consented``
    counts consented names that are not in the chat (likely a typo worth showing).
    """

    messages_in: int
    messages_kept: int
    messages_dropped: int
    participants: dict[str, str]
    dropped_by_participant: dict[str, int]
    pii_counts: dict[str, int]
    unknown_consented: int = 0

    def to_dict(self) -> dict:
        return {
            "messages_in": self.messages_in,
            "messages_kept": self.messages_kept,
            "messages_dropped": self.messages_dropped,
            "participants": dict(self.participants),
            "dropped_by_participant": dict(self.dropped_by_participant),
            "pii_counts": dict(self.pii_counts),
            "unknown_consented": self.unknown_consented,
        }


# --------------------------------------------------------------------------- reading


def read_limited(stream: BinaryIO, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a whole stream, but never more than ``max_bytes + 1`` bytes, so an oversize
    upload is refused without being held in memory. Raises ``InvalidInput`` if too big."""
    data = stream.read(max_bytes + 1)
    check_size(len(data), max_bytes)
    return data


def check_size(size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse an export bigger than ``max_bytes`` (call it with a stat or Content-Length
    before reading anything, when the size is known up front)."""
    if size > max_bytes:
        raise InvalidInput(
            f"chat export is larger than the {_human(max_bytes)} limit; "
            "export a shorter date range or split the chat",
            limit_bytes=max_bytes,
        )


def _human(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"


def decode_export(data: bytes) -> str:
    """Bytes → text. UTF-8 (with or without BOM), or UTF-16 when it has a BOM (some
    Windows tools save that). Anything else raises ``InvalidInput`` naming the first bad
    byte and its offset, rather than guessing a legacy encoding and mangling names."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"chat export has a UTF-16 byte-order mark but is not valid UTF-16 "
                f"(at byte {exc.start})",
                encoding="utf-16",
                offset=exc.start,
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise InvalidInput(
            f"chat export is not valid UTF-8: byte 0x{bad} at offset {exc.start}; "
            "export the chat again or save the file as UTF-8",
            encoding="utf-8",
            offset=exc.start,
        ) from None


def parse_chat_export(
    data: bytes | BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Conversation:
    """Detect the format (Telegram JSON or WhatsApp text) and parse it.

    The size limit is checked before decoding or parsing (for a stream, before reading
    past the limit). Raises ``InvalidInput`` for oversize input, bad encoding, or a file
    that is neither kind of export.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        check_size(len(data), max_bytes)
        raw = bytes(data)
    else:
        raw = read_limited(data, max_bytes)
    text = decode_export(raw)
    if text.lstrip().startswith("{"):
        return parse_telegram(text)
    return parse_whatsapp(text)


# --------------------------------------------------------------------------- WhatsApp

# Invisible marks iOS and newer Android builds sprinkle in: LTR/RTL marks and embeddings.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\ufeff"))
_DATE = r"(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})"
_TIME = (
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)(?:[ \u202f\u00a0]?(?P<ampm>[AaPp]\.?[ ]?[Mm]\.?))?"
)
_ANDROID = re.compile(rf"{_DATE},? {_TIME} [-–] (?P<rest>.*)")
_IOS = re.compile(rf"\[{_DATE},? {_TIME}\] (?P<rest>.*)")

_SYSTEM = re.compile(
    r"Messages and calls are end-to-end encrypted|Messages to this (?:group|chat) are now"
    r"|security code (?:with .+ )?changed|changed the (?:subject|group description|group)"
    r"|changed this group's (?:icon|settings)|created (?:group|this group)| added | removed "
    r"| left$|joined using this group's invite link|changed their phone number"
    r"|changed to .+ number|is a contact|turned (?:on|off) disappearing messages"
    r"|deleted this group's icon|now an admin|no longer an admin|Missed (?:voice|video) call"
)
_MEDIA = re.compile(
    r"^(?:<Media omitted>|(?:image|video|audio|sticker|GIF|document|Contact card) omitted"
    r"|<attached: [^>]*>|.+ \(file attached\))$"
)


def parse_whatsapp(text: str) -> Conversation:
    """Parse a WhatsApp ``.txt`` export (Android or iOS layout, 12- or 24-hour clock).

    * A line that does not start with a timestamp continues the previous message.
    * Lines without ``Name: `` after the timestamp, and known notices (encryption banner,
      "X added Y", group changes), are system lines: counted, not returned.
    * ``<Media omitted>`` / iOS ``image omitted`` / ``<attached: …>`` become ``media=True``.
    * Day/month order is inferred from the whole file (a first field above 12 means
      day-first); when every date is ambiguous, a 12-hour Android export is read month-first
      (the US layout) and everything else day-first.

    Raises ``InvalidInput`` if the first non-blank line is not a WhatsApp message line.
    """
    raw: list[list] = []  # [date, time, ampm, sender, text_lines, media, characters]
    source = ""
    system = 0
    seen_first = False
    for line_no, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_MESSAGE_CHARS:
            raise _too_long(f"line {line_no}", line=line_no)
        # Only leading marks are stripped before matching: iOS flags notices and media
        # with a U+200E right after "Name: ", which tells them apart from typed text.
        clean = line.lstrip("\u200e\u200f\ufeff")
        m = _ANDROID.match(clean)
        kind = "whatsapp-android"
        if m is None:
            m = _IOS.match(clean)
            kind = "whatsapp-ios"
        if m is None:
            if not seen_first:
                if not clean.strip():
                    continue
                raise InvalidInput(
                    f"not a chat export: line {line_no} is not a WhatsApp message line "
                    "and the file is not Telegram JSON",
                    line=line_no,
                )
            if raw:
                raw[-1][4].append(line.translate(_INVISIBLE))
                raw[-1][6] += len(line) + 1
                if raw[-1][6] > MAX_MESSAGE_CHARS:
                    raise _too_long(f"the message that ends on line {line_no}", line=line_no)
            continue
        seen_first = True
        source = source or kind
        sender, sep, body = m.group("rest").partition(": ")
        flagged = body.startswith("\u200e")
        sender, body = sender.translate(_INVISIBLE).strip(), body.translate(_INVISIBLE)
        # No "Name: " means a notice ("Sipho added Priya"); so does a notice phrase in the
        # would-be name ('X changed the subject to "Trip: June"') or, on iOS, a flagged body.
        if not sep or _SYSTEM.search(sender) or (flagged and _SYSTEM.search(body)):
            system += 1
            continue
        media = bool(_MEDIA.match(body.strip()))
        if len(raw) == MAX_MESSAGES:
            raise _too_many()
        raw.append(
            [m.group("date"), m.group("time"), m.group("ampm"), sender, [body], media, len(body)]
        )
    if not raw and not system:
        raise InvalidInput("not a chat export: no WhatsApp message lines found")

    order = _date_order([r[0] for r in raw], any(r[2] for r in raw), source)
    messages: list[Message] = []
    participants: dict[str, None] = {}
    for date_s, time_s, ampm, sender, lines, media, _ in raw:
        body = "\n".join(lines)
        participants.setdefault(sender, None)
        at = _whatsapp_datetime(date_s, time_s, ampm, order)
        messages.append(Message(at, sender, MEDIA_PLACEHOLDER if media else body, media))
    return Conversation(tuple(participants), tuple(messages), source or "whatsapp", system)


def _date_parts(date_s: str) -> list[int]:
    return [int(p) for p in re.split(r"[./-]", date_s)]


def _date_order(dates: list[str], twelve_hour: bool, source: str) -> str:
    """``ymd``, ``dmy`` or ``mdy`` for the whole file (see ``parse_whatsapp``)."""
    if dates and len(re.split(r"[./-]", dates[0])[0]) == 4:
        return "ymd"
    first_big = second_big = False
    for d in dates:
        a, b, _ = _date_parts(d)
        first_big |= a > 12
        second_big |= b > 12
        if first_big or second_big:
            break
    if first_big:
        return "dmy"
    if second_big:
        return "mdy"
    return "mdy" if twelve_hour and source == "whatsapp-android" else "dmy"


def _whatsapp_datetime(date_s: str, time_s: str, ampm: str | None, order: str) -> datetime:
    a, b, c = _date_parts(date_s)
    year, month, day = {"ymd": (a, b, c), "dmy": (c, b, a), "mdy": (c, a, b)}[order]
    if year < 100:
        year += 2000
    parts = [int(p) for p in re.split(r"[:.]", time_s)]
    hour, minute, second = parts[0], parts[1], parts[2] if len(parts) > 2 else 0
    if ampm:
        pm = ampm.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise InvalidInput(
            f"chat export has an impossible timestamp: {date_s} {time_s}", value=date_s
        ) from None


# --------------------------------------------------------------------------- Telegram


def parse_telegram(text: str) -> Conversation:
    """Parse a Telegram Desktop single-chat ``result.json``.

    ``text`` may be a string or a list of strings and entity objects (``{"type": "bold",
    "text": "…"}``); they are concatenated. Service messages (joins, pins, calls) are
    counted as system lines. A message without text but with a photo/file/sticker is
    ``media=True``. A sender of ``null`` (deleted account) becomes ``Deleted Account``.
    A full-account export (``"chats": {"list": …}``) is refused: export one chat.
    """
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(
            f"not a chat export: the JSON is nested {depth} levels deep (a Telegram export "
            f"has about six; at most {MAX_JSON_DEPTH} are read)",
            reason="chat_too_deep",
            depth=depth,
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"not a chat export: invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # e.g. a number with more digits than Python converts
        raise InvalidInput(f"not a chat export: unreadable JSON ({exc})") from None
    if isinstance(doc, dict) and "messages" not in doc and "chats" in doc:
        raise InvalidInput("this is a full Telegram account export; export a single chat instead")
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        raise InvalidInput('not a chat export: JSON has no "messages" list')
    if len(doc["messages"]) > MAX_MESSAGES:
        raise _too_many()
    messages: list[Message] = []
    participants: dict[str, None] = {}
    system = 0
    for i, item in enumerate(doc["messages"]):
        if not isinstance(item, dict):
            raise InvalidInput(f"Telegram message #{i} is not an object", index=i)
        if item.get("type", "message") != "message":
            system += 1
            continue
        try:
            at = datetime.fromisoformat(item["date"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(f"Telegram message #{i} has no valid date", index=i) from None
        sender = item.get("from") or "Deleted Account"
        if not isinstance(sender, str):
            raise InvalidInput(f'Telegram message #{i} has a non-text "from"', index=i)
        body = _telegram_text(item.get("text", ""), i)
        if len(body) > MAX_MESSAGE_CHARS:
            raise _too_long(f"Telegram message #{i}", index=i)
        media = any(k in item for k in ("photo", "file", "media_type", "sticker_emoji"))
        if media and not body.strip():
            body = MEDIA_PLACEHOLDER
        participants.setdefault(sender, None)
        messages.append(Message(at.replace(tzinfo=None), sender, body, media))
    return Conversation(tuple(participants), tuple(messages), "telegram", system)


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text``, without parsing it: strings are cut
    out, then the running count of brackets is taken (linear time, no recursion). Brackets
    of a malformed document are counted as they come; ``json.loads`` then names the error."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _too_long(where: str, **details: int) -> InvalidInput:
    return InvalidInput(
        f"not a chat export: {where} is longer than {MAX_MESSAGE_CHARS:,} characters, "
        "more than a chat app lets anyone send",
        reason="chat_line_too_long",
        **details,
    )


def _too_many() -> InvalidInput:
    return InvalidInput(
        f"chat export has more than {MAX_MESSAGES:,} messages; export a shorter date range",
        reason="chat_too_many_messages",
        limit=MAX_MESSAGES,
    )


def _telegram_text(value: object, index: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise InvalidInput(f"Telegram message #{index} has malformed text", index=index)
        return "".join(parts)
    raise InvalidInput(f"Telegram message #{index} has malformed text", index=index)


# --------------------------------------------------------------------------- de-identify


def _norm(name: str) -> str:
    return " ".join(name.split())


def deidentify_chat(
    conversation: Conversation,
    contributor_name: str,
    consented_participants: set[str] | frozenset[str] | list[str] | tuple[str, ...],
) -> tuple[Conversation, ChatDeidentificationReport]:
    """Make a conversation shippable.

    * Only the contributor's messages and those of participants who consented are kept;
      everyone else's are dropped (their words are theirs to license, not the
      contributor's) and counted in the report.
    * Senders become ``CONTRIBUTOR`` and ``PARTICIPANT_1``, ``PARTICIPANT_2`` … (numbered
      in order of first message, counting dropped participants too, so labels do not
      shift when someone consents later).
    * Every kept text is redacted with one shared ``Pseudonymizer``: a participant named
      in a message gets their own label (``[PARTICIPANT_2]``), anyone else
      ``[PERSON_n]``, consistently across the whole chat.

    Names are compared after collapsing whitespace, case-sensitively (that is how the
    export spells them). Raises ``InvalidInput`` if ``contributor_name`` is not a sender.
    """
    contributor = _norm(contributor_name)
    senders = [_norm(p) for p in conversation.participants]
    if contributor not in senders:
        raise InvalidInput(
            "the contributor is not one of the chat's senders",
            problems=[f"{contributor_name!r} sent no message in this chat"],
        )
    consented = {_norm(n) for n in consented_participants}
    labels: dict[str, str] = {}
    status: dict[str, str] = {}
    pseudonyms = Pseudonymizer()
    n = 0
    for sender in senders:
        if sender == contributor:
            label, state = CONTRIBUTOR_LABEL, "contributor"
        else:
            n += 1
            label = f"PARTICIPANT_{n}"
            state = "consented" if sender in consented else "not_consented"
        labels[sender] = label
        status[label] = state
        # A sender shown as a bare phone number is an unsaved contact: the phone detector
        # already redacts it wherever it is typed, in whatever format.
        if not is_phone_number(sender):
            pseudonyms.seed(sender, label)

    kept: list[Message] = []
    dropped: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    for msg in conversation.messages:
        sender = _norm(msg.sender)
        label = labels[sender]
        if status[label] == "not_consented":
            dropped[label] += 1
            continue
        if msg.media and msg.text == MEDIA_PLACEHOLDER:
            kept.append(Message(msg.at, label, msg.text, True))
            continue
        result = redact(msg.text, pseudonyms)
        pii.update(result.counts)
        kept.append(Message(msg.at, label, result.text, msg.media))

    shipped = tuple(labels[s] for s in senders if status[labels[s]] != "not_consented")
    report = ChatDeidentificationReport(
        messages_in=len(conversation.messages),
        messages_kept=len(kept),
        messages_dropped=sum(dropped.values()),
        participants=status,
        dropped_by_participant=dict(dropped),
        pii_counts=dict(pii),
        unknown_consented=len(consented - set(senders)),
    )
    out = Conversation(shipped, tuple(kept), conversation.source, conversation.system_lines)
    return out, report


__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MESSAGES",
    "MAX_MESSAGE_CHARS",
    "ChatDeidentificationReport",
    "Conversation",
    "Message",
    "check_size",
    "decode_export",
    "deidentify_chat",
    "json_depth",
    "parse_chat_export",
    "parse_telegram",
    "parse_whatsapp",
    "read_limited",
]
