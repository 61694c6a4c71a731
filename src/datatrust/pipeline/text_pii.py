"""Find and redact personal details in free text (chat messages, transcripts).

Pure functions, no network and no models: compiled patterns, ``phonenumbers``, checksum
validation (Luhn, Verhoeff, South African ID dates) and a compact names gazetteer built by
``scripts/build_name_gazetteer.py`` from the ``names-dataset`` wheel and bundled under
``data/`` (so run time never loads the 55 MB dataset).

Detected types and their placeholders::

    EMAIL  URL  CARD  AADHAAR  ZA_ID  SSN  PHONE  ADDRESS  HANDLE  PERSON

Spans never overlap. When two detections overlap, the one of higher priority wins (the
order above, most specific first: a checksum-valid 16-digit card beats a phone-number
reading of the same digits); within a type the longer span wins.

People get a pseudonym rather than a type placeholder: ``[PERSON_1]``, ``[PERSON_2]`` …,
the same label for the same person within one :class:`Pseudonymizer` (share one across the
messages of a conversation). Known names (chat participants) can be seeded with their own
labels, e.g. ``[PARTICIPANT_2]``, and are found wherever they appear verbatim.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

# Priority: lower index wins an overlap. Checksum-validated numbers come before phones
# because phonenumbers would happily read many 12–16 digit runs as some valid number.
TYPES = ("EMAIL", "URL", "ZA_ID", "CARD", "AADHAAR", "SSN", "PHONE", "ADDRESS", "HANDLE", "PERSON")
_PRIORITY = {t: i for i, t in enumerate(TYPES)}

# Regions whose local (no country code) formats we recognise: the countries we serve.
PHONE_REGIONS = ("IN", "ZA", "US", "GB")


@dataclass(frozen=True, slots=True)
class Span:
    """A detection: ``text[start:end] == value``, indices into the text that was scanned."""

    start: int
    end: int
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text, the spans found (indexing the ORIGINAL text) and counts per type."""

    text: str
    spans: tuple[Span, ...]
    counts: dict[str, int]


# --------------------------------------------------------------------------- checksums


def luhn_valid(digits: str) -> bool:
    """True if the digit string passes the Luhn (mod 10) check. Empty strings fail."""
    if not digits or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """True if the digit string (check digit last) passes the Verhoeff check (Aadhaar)."""
    if not digits or not digits.isdigit():
        return False
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][ord(ch) - 48]]
    return c == 0


def aadhaar_valid(digits: str) -> bool:
    """12 digits, not starting with 0 or 1 (UIDAI never issues those), Verhoeff-valid."""
    return len(digits) == 12 and digits[0] not in "01" and verhoeff_valid(digits)


def za_id_valid(digits: str) -> bool:
    """South African ID: YYMMDD SSSS C A Z — a real birth date (in either the 1900s or
    2000s), citizenship digit C of 0, 1 or 2, and a Luhn-valid check digit Z."""
    if len(digits) != 13 or not digits.isdigit() or digits[10] not in "012":
        return False
    yy, mm, dd = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    for century in (1900, 2000):
        try:
            date(century + yy, mm, dd)
            break
        except ValueError:
            continue
    else:
        return False
    return luhn_valid(digits)


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN ranges: area not 000, 666 or 900–999; group not 00; serial not 0000; and
    not one of the numbers famously published in advertising."""
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return f"{area}{group}{serial}" not in ("078051120", "219099999", "123456789")


def card_brand_valid(digits: str) -> bool:
    """Luhn-valid and shaped like a Visa (4, 16 or 19 digits), Mastercard (51–55 or the
    2-series 2221–2720, 16 digits), Amex (34/37, 15) or Discover (6011/65, 16) number.
    Other Luhn-valid digit runs are too often order numbers to redact as cards."""
    n = len(digits)
    if not luhn_valid(digits):
        return False
    if digits[0] == "4":
        return n in (16, 19)
    if n == 16 and (51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720):
        return True
    if n == 15 and digits[:2] in ("34", "37"):
        return True
    return n == 16 and (digits.startswith("6011") or digits.startswith("65"))


# --------------------------------------------------------------------------- patterns

# "Not glued to more digits": a number that continues after a space or dash belongs to a
# longer number, and matching its middle would split, say, a card into an "Aadhaar".
_NB = r"(?<!\d)(?<!\d[ -])"
_NA = r"(?!\d)(?![ -]\d)"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_URL = re.compile(
    r"(?:\b(?:https?://|www\.)[^\s<>\"']+)"
    r"|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:com|org|net|io|co\.za|co\.in|co\.uk|in|za|uk|me|ly)"
    r"(?:/[^\s<>\"']*)?(?![\w-])",
    re.IGNORECASE,
)
_URL_TRAIL = ".,;:!?)]}'\""
_CARD = re.compile(_NB + r"\d(?:[ -]?\d){14,18}" + _NA)
_AADHAAR = re.compile(_NB + r"[2-9]\d{3}([ -]?)\d{4}\1\d{4}" + _NA)
_ZA_ID = re.compile(_NB + r"\d{6} ?\d{4} ?\d{3}" + _NA)
_SSN = re.compile(_NB + r"(\d{3})([- ])(\d{2})\2(\d{4})" + _NA)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])")
# Cheap gate before the (slow, pure-Python) phonenumbers matcher: seven or more digits
# with only phone punctuation between them.
_PHONE_HINT = re.compile(r"(?:\+|\()?\d(?:[\s().\-/]{0,3}\d){6,}")

_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Close|Crescent|Cres"
    "|Place|Pl|Court|Ct|Terrace|Highway|Hwy|Circle|Square|Sq|Parkway|Marg|Nagar|Path|Chowk"
    "|Gali|Colony|Layout|Extension|Ext"
)
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?[ \t]+(?:[A-Z][A-Za-z'.-]*[ \t]+){1,4}(?:" + _STREET_TYPES + r")\b\.?"
)

_TOKEN = re.compile(r"(?<![\w@#])[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?(?!['’][a-rt-z]|\w)")


# --------------------------------------------------------------------------- gazetteer


@dataclass(frozen=True)
class _Gazetteer:
    first: frozenset[str]
    last: frozenset[str]
    never: frozenset[str]  # lower-case; never part of a name
    ambiguous: frozenset[str]  # lower-case; a name only when joined to a clear name
    titles: frozenset[str]  # lower-case; "Mr", "Dr", "Aunty": the next word is a name


@functools.cache
def _gazetteer() -> _Gazetteer:
    """Load the bundled name lists once (about 25k names, ~70 KB gzip; a few ms)."""
    data = resources.files("datatrust.pipeline") / "data"
    first: set[str] = set()
    last: set[str] = set()
    with gzip.open(data.joinpath("names.txt.gz").open("rb"), "rt", encoding="utf-8") as fh:
        for line in fh:
            kind, _, name = line.rstrip("\n").partition("\t")
            (first if kind == "F" else last).add(name)
    sections: dict[str, set[str]] = {"[never]": set(), "[ambiguous]": set(), "[titles]": set()}
    section = sections["[never]"]
    for line in data.joinpath("common_words.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line in sections:
            section = sections[line]
        elif line:
            section.update(w.lower() for w in line.split())
    titles = sections["[titles]"]
    never = sections["[never]"] | titles
    ambiguous = sections["[ambiguous]"] - never
    return _Gazetteer(
        frozenset(first), frozenset(last), frozenset(never), frozenset(ambiguous), frozenset(titles)
    )


# --------------------------------------------------------------------------- detectors


def _emails(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "EMAIL"


def _urls(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _URL_TRAIL:
            end -= 1
        yield m.start(), end, "URL"


def _cards(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _CARD.finditer(text):
        if card_brand_valid(re.sub(r"[ -]", "", m.group())):
            yield m.start(), m.end(), "CARD"


def _aadhaar(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _AADHAAR.finditer(text):
        if aadhaar_valid(re.sub(r"[ -]", "", m.group())):
            yield m.start(), m.end(), "AADHAAR"


def _za_ids(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _ZA_ID.finditer(text):
        if za_id_valid(m.group().replace(" ", "")):
            yield m.start(), m.end(), "ZA_ID"


def _ssns(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _SSN.finditer(text):
        if ssn_valid(m.group(1), m.group(3), m.group(4)):
            yield m.start(), m.end(), "SSN"


def _phones(text: str, claimed: list[tuple[int, int, str]]) -> Iterable[tuple[int, int, str]]:
    """Phone numbers, looked for only in digit runs no higher-priority span has claimed.

    The phonenumbers matcher is pure Python and by far the slowest detector, so it runs on
    small windows (the run plus two characters each side, which its leniency checks look
    at) rather than the whole text, and tries the served regions in turn only until one
    reads the run as a valid number: a "+<country>" number is found by the first.
    """
    for hint in _PHONE_HINT.finditer(text):
        start, end = hint.span()
        if any(s <= start and end <= e for s, e, _ in claimed):
            continue
        # Without a "+", a valid number in the served regions has at least 9 digits
        # (national significant number, trunk 0 optional): skip dates, order numbers.
        if text[start] != "+" and sum(c.isdigit() for c in hint.group()) < 9:
            continue
        lo = max(0, start - 2)
        window = text[lo : end + 2]
        for region in PHONE_REGIONS:
            found = [
                (lo + m.start, lo + m.end, "PHONE")
                for m in PhoneNumberMatcher(window, region, leniency=Leniency.VALID)
            ]
            if found:
                yield from found
                break


def _addresses(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _ADDRESS.finditer(text):
        yield m.start(), m.end(), "ADDRESS"


def _handles(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _HANDLE.finditer(text):
        yield m.start(), m.end(), "HANDLE"


def _persons(text: str) -> Iterable[tuple[int, int, str]]:
    """Runs of capitalised words (separated by single spaces) that look like a name.

    A word is *clear* if it is in the gazetteer and not a common word; *ambiguous* words
    ("Grace", "Will", "Smith") count only when joined to a clear one ("Grace Naidoo",
    "John Smith"); a capitalised word the gazetteer lacks counts as a surname right after a
    clear first name ("Priya Raghunathan"); any non-"never" word after a title ("Dr Bill")
    counts. Words on the never-list ("Happy", "Monday") always break a name.
    """
    gz = _gazetteer()
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    n = len(tokens)
    if not n:
        return
    kinds: list[str] = []  # C clear, A ambiguous, O other capitalised word, N never, T title
    for _, _, word in tokens:
        low = word.lower()
        if low in gz.titles:
            kinds.append("T")
        elif low in gz.never:
            kinds.append("N")
        elif word in gz.first or word in gz.last:
            kinds.append("A" if low in gz.ambiguous else "C")
        else:
            kinds.append("N" if low in gz.ambiguous else "O")
    joined = [i > 0 and text[tokens[i - 1][1] : tokens[i][0]] in (" ", ". ") for i in range(n)]
    # ". " only joins after a title ("Dr. Naidoo"); elsewhere it ends a sentence.
    keep = [k == "C" for k in kinds]
    for i in range(1, n):
        if not joined[i]:
            continue
        sep_is_space = text[tokens[i - 1][1] : tokens[i][0]] == " "
        if kinds[i - 1] == "T" and kinds[i] in "CAO":
            keep[i] = True
        elif not sep_is_space:
            continue
        elif kinds[i] == "O" and keep[i - 1] and tokens[i - 1][2] in gz.first:
            keep[i] = True
    # Ambiguous words join a neighbouring kept word, in either direction.
    for i in range(n):
        if kinds[i] == "A" and not keep[i]:
            left = i > 0 and keep[i - 1] and _space_between(text, tokens[i - 1], tokens[i])
            right = i + 1 < n and keep[i + 1] and _space_between(text, tokens[i], tokens[i + 1])
            keep[i] = left or right
    i = 0
    while i < n:
        if not keep[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and keep[j + 1] and _space_between(text, tokens[j], tokens[j + 1]):
            j += 1
        yield tokens[i][0], tokens[j][1], "PERSON"
        i = j + 1


def _space_between(text: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    return text[a[1] : b[0]] == " "


@functools.lru_cache(maxsize=64)
def _known_names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({n for n in names if len(n) >= 2 and any(c.isalpha() for c in n)}, key=len)
    if not usable:
        return None
    alternatives = "|".join(re.escape(n) for n in reversed(usable))  # longest first
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


# Run before phones, whose candidates they can claim (see ``_phones``).
_CHECKED = (_emails, _urls, _cards, _aadhaar, _za_ids, _ssns)
_LOOSE = (_addresses, _handles, _persons)


def find_pii(text: str, known_names: Iterable[str] = ()) -> list[Span]:
    """Every personal detail in ``text``, as non-overlapping spans sorted by start.

    ``known_names`` (e.g. chat participants' display names) are matched verbatim, case-
    sensitively, as PERSON, ahead of gazetteer guesses. Overlaps are resolved by type
    priority (see the module docstring), then by length. Empty text gives ``[]``.
    Lower-case names ("sipho") and names outside the gazetteer standing alone are missed:
    precision was preferred over guessing from capitalisation alone.
    """
    if not text:
        return []
    candidates: list[tuple[int, int, str]] = []
    for detect in _CHECKED:
        candidates.extend(detect(text))
    candidates.extend(_phones(text, candidates))
    for detect in _LOOSE:
        candidates.extend(detect(text))
    pattern = _known_names_pattern(tuple(known_names)) if known_names else None
    known = [(m.start(), m.end(), "PERSON") for m in pattern.finditer(text)] if pattern else []
    # Known names rank between ADDRESS/HANDLE and gazetteer guesses (-0.5): they beat a
    # partial gazetteer match of the same name, but never an email that contains the name.
    ranked = sorted(
        [(_PRIORITY[k], s, e, k) for s, e, k in candidates]
        + [(_PRIORITY["PERSON"] - 0.5, s, e, k) for s, e, k in known],
        key=lambda c: (c[0], c[1] - c[2], c[1]),
    )
    taken: list[tuple[int, int]] = []
    spans: list[Span] = []
    for _, start, end, kind in ranked:
        if start >= end or any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        spans.append(Span(start, end, kind, text[start:end]))
    spans.sort(key=lambda s: s.start)
    return spans


# --------------------------------------------------------------------------- pseudonyms


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass
class Pseudonymizer:
    """Gives each distinct person a stable label (``PERSON_1``, ``PERSON_2`` …).

    Share one across the messages of a conversation. Names compare case- and whitespace-
    insensitively. A multi-word name also claims its first word, so "Sipho Nkosi" and a
    later "Sipho" get the same label (and the other way round); a first word already
    claimed by someone else is not taken over. ``seed`` binds a known name to a fixed label
    (chat participants → ``PARTICIPANT_n``); seeded names are also searched for verbatim.
    """

    prefix: str = "PERSON"
    _labels: dict[str, str] = field(default_factory=dict)
    _seeded: list[str] = field(default_factory=list)
    _count: int = 0

    def seed(self, name: str, label: str) -> None:
        """Bind ``name`` (and its first word, if free) to ``label``."""
        self._bind(name, label)
        self._seeded.append(" ".join(name.split()))

    @property
    def known_names(self) -> tuple[str, ...]:
        return tuple(self._seeded)

    def label_for(self, name: str) -> str:
        """The label of ``name``, allocating the next one the first time it is seen."""
        key = _name_key(name)
        label = self._labels.get(key)
        if label is None:
            first = key.split(" ", 1)[0]
            label = self._labels.get(first)
        if label is None:
            self._count += 1
            label = f"{self.prefix}_{self._count}"
        self._bind(name, label)
        return label

    def _bind(self, name: str, label: str) -> None:
        key = _name_key(name)
        self._labels[key] = label
        first = key.split(" ", 1)[0]
        if first != key and len(first) >= 3:
            self._labels.setdefault(first, label)


def redact(text: str, pseudonyms: Pseudonymizer | None = None) -> Redaction:
    """Replace every detection with ``[TYPE]`` (people with ``[PERSON_n]`` from
    ``pseudonyms``; a fresh :class:`Pseudonymizer` when ``None``, so labels are then only
    consistent within this one text). Spans index the ORIGINAL ``text``."""
    pseudonyms = pseudonyms if pseudonyms is not None else Pseudonymizer()
    spans = find_pii(text, pseudonyms.known_names)
    out: list[str] = []
    pos = 0
    for span in spans:
        out.append(text[pos : span.start])
        if span.type == "PERSON":
            out.append(f"[{pseudonyms.label_for(span.value)}]")
        else:
            out.append(f"[{span.type}]")
        pos = span.end
    out.append(text[pos:])
    return Redaction("".join(out), tuple(spans), dict(Counter(s.type for s in spans)))


def redact_text_report(text: str) -> dict:
    """JSON-able report for ``datatrust redact-text``: ``{"text": redacted, "spans":
    [{"start", "end", "type"}], "counts": {type: n}}``. Offsets index the original text;
    the original values are deliberately left out so the report itself holds no PII."""
    result = redact(text)
    return {
        "text": result.text,
        "spans": [{"start": s.start, "end": s.end, "type": s.type} for s in result.spans],
        "counts": result.counts,
    }


def is_phone_number(value: str) -> bool:
    """True if ``value`` parses as a valid number in any served region (used to spot chat
    senders that are unsaved contacts, i.e. shown as a bare number)."""
    for region in PHONE_REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False
