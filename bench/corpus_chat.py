"""Deterministic chat corpus with planted PII and ground-truth spans, plus a scorer.

``generate(n, seed)`` returns ``n`` messages; about 45% carry one or two planted details
(every type the redactor handles: PHONE in +91/+27/+1/+44 and local formats, EMAIL, CARD
incl. Mastercard 2-series and Amex, AADHAAR, ZA_ID, SSN, ADDRESS, URL, HANDLE, PERSON) and
the rest are clean chat lines full of traps: capitalised words that are also names in some
country ("Will", "Grace", "Hope", "Sunny", "Cape Town"), amounts, times, dates, order and
flight numbers, versions, scores, and numbers that fail the checksums (invalid SSN ranges,
Aadhaar with a bad Verhoeff digit, ZA ids with a bad Luhn digit).

Values are generated, not copied from the redactor: cards and ids get their check digits
computed here, phone numbers are drawn at random and kept only if ``phonenumbers`` says
they are valid (that *is* the definition of a real number).

``score(predicted, gold)`` is span-level and type-agnostic with overlap matching: a
predicted span is correct if it overlaps any gold span; a gold span is found if any
predicted span overlaps it.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

import phonenumbers

FIRST = [
    # ZA
    "Sipho",
    "Thandiwe",
    "Lerato",
    "Thabo",
    "Nomvula",
    "Bongani",
    "Zanele",
    "Kagiso",
    "Ayanda",
    "Lindiwe",
    "Mpho",
    "Nandi",
    "Pieter",
    "Annelie",
    # IN
    "Priya",
    "Arjun",
    "Ananya",
    "Rahul",
    "Sneha",
    "Vikram",
    "Deepika",
    "Rohan",
    "Kavya",
    "Aditya",
    "Pooja",
    "Sanjay",
    "Meera",
    "Nikhil",
    # US / GB
    "Emily",
    "James",
    "Olivia",
    "Michael",
    "Jessica",
    "Daniel",
    "Sophie",
    "Oliver",
    "Amelia",
    "Harry",
    "Charlotte",
    "Ethan",
    "Megan",
    "Ryan",
]
LAST = [
    "Nkosi",
    "Dlamini",
    "Mokoena",
    "Naidoo",
    "Botha",
    "Khumalo",
    "Ndlovu",
    "Van Wyk",
    "Sharma",
    "Patel",
    "Iyer",
    "Reddy",
    "Gupta",
    "Mukherjee",
    "Nair",
    "Desai",
    "Johnson",
    "Williams",
    "Thompson",
    "Anderson",
    "Robinson",
    "Evans",
    "Hughes",
    "Wright",
]
STREETS = [
    "Long",
    "Main",
    "Church",
    "Nelson Mandela",
    "Jan Smuts",
    "Vilakazi",
    "MG",
    "Nehru",
    "Gandhi",
    "Park",
    "Baker",
    "Oak",
    "Maple",
    "Station",
    "Victoria",
    "Linking",
]
STREET_TYPES = ["Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Drive", "Marg", "Nagar"]
DOMAINS = ["gmail.com", "yahoo.co.in", "outlook.com", "mweb.co.za", "icloud.com", "hotmail.co.uk"]
SITES = ["example.com", "mybank.co.za", "shop.example.in", "photos.example.org", "bit.ly"]


@dataclass(frozen=True)
class Sample:
    """A chat message and its planted spans ``(start, end, type)``."""

    text: str
    spans: tuple[tuple[int, int, str], ...]


# --------------------------------------------------------------------------- values


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


# Verhoeff tables (dihedral group D5), as used by Aadhaar.
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def _verhoeff_digit(body: str) -> str:
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[c])


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _group(s: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(s[i : i + size])
        i += size
    return sep.join(out)


def phone(rng: random.Random) -> str:
    region = rng.choice(["IN", "ZA", "US", "GB"])
    while True:
        if region == "IN":
            national = rng.choice("6789") + _digits(rng, 9)
        elif region == "ZA":
            national = rng.choice(["6", "7", "8"]) + rng.choice("123456789") + _digits(rng, 7)
        elif region == "US":
            national = rng.choice("23456789") + _digits(rng, 2) + rng.choice("23456789")
            national += _digits(rng, 6)
        else:
            national = "7" + rng.choice("45789") + _digits(rng, 8)
        num = phonenumbers.parse(national, region)
        if phonenumbers.is_valid_number(num):
            break
    fmt = rng.choice(
        [
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.E164,
        ]
    )
    return phonenumbers.format_number(num, fmt)


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "mc", "mc2", "amex"])
    if kind == "visa":
        body = "4" + _digits(rng, 14)
    elif kind == "mc":
        body = "5" + rng.choice("12345") + _digits(rng, 13)
    elif kind == "mc2":
        body = str(rng.randint(2221, 2720)) + _digits(rng, 11)
    else:
        body = "3" + rng.choice("47") + _digits(rng, 12)
    number = body + _luhn_digit(body)
    sep = rng.choice([" ", "-", ""])
    sizes = [4, 6, 5] if kind == "amex" else [4, 4, 4, 4]
    return _group(number, sizes, sep)


def aadhaar(rng: random.Random, valid: bool = True) -> str:
    body = rng.choice("23456789") + _digits(rng, 10)
    check = _verhoeff_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return _group(body + check, [4, 4, 4], rng.choice([" ", " ", ""]))


def za_id(rng: random.Random, valid: bool = True) -> str:
    yy, mm, dd = rng.randint(0, 99), rng.randint(1, 12), rng.randint(1, 28)
    body = f"{yy:02d}{mm:02d}{dd:02d}{_digits(rng, 4)}{rng.choice('01')}8"
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


def ssn(rng: random.Random, valid: bool = True) -> str:
    if valid:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    area, group, serial = rng.choice(
        [
            (666, rng.randint(1, 99), rng.randint(1, 9999)),
            (rng.randint(900, 999), 12, 3456),
            (0, 45, 6789),
            (123, 0, 4567),
            (321, 54, 0),
        ]
    )
    return f"{area:03d}-{group:02d}-{serial:04d}"


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace(" ", "")
    user = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}"])
    return f"{user}@{rng.choice(DOMAINS)}"


def url(rng: random.Random) -> str:
    path = "/" + "".join(rng.choice(string.ascii_lowercase) for _ in range(6))
    return rng.choice(["https://", "http://", "https://www.", "www."]) + rng.choice(SITES) + path


def handle(rng: random.Random) -> str:
    return "@" + rng.choice(FIRST).lower() + rng.choice(["_", "", "."]) + str(rng.randint(1, 999))


def address(rng: random.Random) -> str:
    number = str(rng.randint(1, 999)) + rng.choice(["", "", "", "B"])
    return f"{number} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"


def person(rng: random.Random) -> str:
    first = rng.choice(FIRST)
    return f"{first} {rng.choice(LAST)}" if rng.random() < 0.4 else first


GENERATORS = {
    "PHONE": phone,
    "EMAIL": email,
    "CARD": card,
    "AADHAAR": aadhaar,
    "ZA_ID": za_id,
    "SSN": ssn,
    "URL": url,
    "HANDLE": handle,
    "ADDRESS": address,
    "PERSON": person,
}

# Templates with one slot "{}"; each PII type gets a few phrasings.
PII_TEMPLATES = {
    "PHONE": [
        "call me on {} tonight",
        "my new number is {}",
        "whatsapp {} when you land",
        "{} is my work line",
        "try {} after 5",
    ],
    "EMAIL": ["send the invoice to {}", "my email is {} btw", "{} is the best address"],
    "CARD": ["card number {} exp 09/27", "use my card {} for the booking", "it's {} cvv later"],
    "AADHAAR": ["aadhaar no. {} for the KYC", "my Aadhaar is {}", "uid {} please verify"],
    "ZA_ID": ["my ID number is {}", "ID {} for the FICA docs", "use {} for the form"],
    "SSN": ["SSN {} for the W-2", "my social is {}", "ssn: {}"],
    "URL": ["look at {} for pics", "here {}", "register at {} before Friday"],
    "HANDLE": ["follow {} on insta", "ask {} for the link", "{} posted it"],
    "ADDRESS": ["we moved to {}, come over", "drop it at {} please", "party at {} on Saturday"],
    "PERSON": [
        "tell {} I said hi",
        "{} is coming with us",
        "did you see {} at church?",
        "Happy birthday {}!",
        "Thanks {}, you're a star",
        "I'm with {} now",
    ],
}

CLEAN = [
    "Good morning! How did you sleep?",
    "Will you be home for dinner?",
    "Happy New Year!!",
    "Meeting moved to 10:30 on Monday",
    "I paid R450 for lunch, not bad",
    "lol ok",
    "Order #48213 has shipped",
    "Flight BA 2045 leaves at 18:40 from Gate 12",
    "The score was 3-1 at half time",
    "See you in Cape Town next week",
    "Thanks Mom!",
    "Table Mountain was amazing",
    "Can you send the PDF again?",
    "It costs $1,250.00 now",
    "We're in Room 404",
    "Update to version 2.3.1 first",
    "Due date is 2023-12-31",
    "Hope you're well",
    "Grace period ends on Friday",
    "Long Street is so busy today",
    "Mark my words, it will rain",
    "Sunny all weekend in Durban",
    "Happy Diwali to the family",
    "The bill came to 1875 rupees",
    "Train 12951 is running late by 40 min",
    "Sure, 7pm works",
    "Eid Mubarak everyone",
    "Uber is 5 minutes away",
    "Call the Bank tomorrow about the loan",
    "Merry Christmas! Love you all",
    "Chapter 12 pages 110 to 134 for the test",
    "Temperature was 34 degrees in Delhi",
    "I got 92 out of 100!",
    "Going to the Mall later",
    "Pick n Pay has a special on bread",
    "Order 20231231 was refunded",
    "My PIN reset took 3 days",
    "Watched Netflix till 2am",
    "Sale ends 31/12, 50% off",
    "Platform 9 and three quarters",
    "We need 2 litres of milk and 12 eggs",
    "Joy is such a good feeling",
    "Congrats on the new job!!",
    "Monday again...",
    "Black Friday deals are mad",
    "Visa application went through",
    "London was cold",
    "The ref 4567-8901 is on the slip",
    "Tracking code 1Z999AA10123456784",
    "Ok see you at Checkers",
    "The Queen's Speech is at 3",
    "Bill me later",
    "Christmas in July",
    "God is good",
    "Sweet dreams",
    "Rose Garden at 4?",
    "Victoria Falls trip in June",
    "Chicago Bears won 24-17",
    "Meet at Gate 3 at 9:15",
    "Invoice INV-2024-0042 attached",
]
# Checksum or range failures that must NOT be redacted.
NEAR_MISSES = [
    ("that Aadhaar {} looks wrong", lambda r: aadhaar(r, valid=False)),
    ("ID {} was rejected by Home Affairs", lambda r: za_id(r, valid=False)),
    ("example SSN {} is not real", lambda r: ssn(r, valid=False)),
]


def _fill(template: str, value: str, kind: str) -> tuple[str, tuple[int, int, str]]:
    start = template.index("{}")
    text = template[:start] + value + template[start + 2 :]
    return text, (start, start + len(value), kind)


def generate(n: int, seed: int = 0) -> list[Sample]:
    """``n`` messages, deterministic for a given ``seed``."""
    rng = random.Random(seed)
    types = list(PII_TEMPLATES)
    out: list[Sample] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.45:
            kind = rng.choice(types)
            text, span = _fill(rng.choice(PII_TEMPLATES[kind]), GENERATORS[kind](rng), kind)
            spans = [span]
            if rng.random() < 0.3:  # a second detail, appended as its own clause
                kind2 = rng.choice(types)
                t2, s2 = _fill(rng.choice(PII_TEMPLATES[kind2]), GENERATORS[kind2](rng), kind2)
                offset = len(text) + 2
                text = f"{text}. {t2}"
                spans.append((s2[0] + offset, s2[1] + offset, kind2))
            out.append(Sample(text, tuple(spans)))
        elif roll < 0.52:
            template, make = rng.choice(NEAR_MISSES)
            out.append(Sample(template.replace("{}", make(rng)), ()))
        else:
            out.append(Sample(rng.choice(CLEAN), ()))
    return out


def score(
    predicted: list[list[tuple[int, int]]], gold: list[tuple[tuple[int, int, str], ...]]
) -> dict[str, float]:
    """Overlap-matched, type-agnostic precision and recall over a corpus.

    ``predicted[i]`` are the ``(start, end)`` spans found in message ``i``; ``gold[i]`` the
    planted ``(start, end, type)`` spans.
    """
    tp_pred = n_pred = found = n_gold = 0
    for pred, spans in zip(predicted, gold, strict=True):
        n_pred += len(pred)
        n_gold += len(spans)
        tp_pred += sum(any(s < ge and gs < e for gs, ge, _ in spans) for s, e in pred)
        found += sum(any(s < ge and gs < e for s, e in pred) for gs, ge, _ in spans)
    return {
        "precision": tp_pred / n_pred if n_pred else 1.0,
        "recall": found / n_gold if n_gold else 1.0,
        "predicted": n_pred,
        "gold": n_gold,
    }
