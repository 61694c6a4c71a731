"""What a new password must be: 10 to 256 characters, not one of the most common leaked
passwords (a bundled list), not built from the person's own email or name, and hard to
guess by zxcvbn's estimate (score 3 of 4: about 10^8 guesses, which online guessing under
sign-in throttling cannot reach).

Problems come as ``Problem("password", code, params)`` (``domain.errors``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from zxcvbn import zxcvbn

from datatrust.domain.errors import Problem

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_SCORE = 3
# zxcvbn's run time grows with length; past this its estimate is not needed to be sure.
SCORE_PREFIX = 100

COMMON = Problem("password", "password.common")
PERSONAL = Problem("password", "password.personal")
GUESSABLE = Problem("password", "password.guessable")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = files("datatrust.services").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _personal_words(user_inputs: list[str]) -> list[str]:
    """The person's own words: each input whole, and the parts (3+ letters or digits) of
    their name and of their email's local part. Not the email's domain: "gmail" or the
    instance's own name says nothing about the person."""
    words: list[str] = []
    for value in filter(None, (v.strip().lower() for v in user_inputs)):
        words.append(value)
        words += [w for w in re.split(r"[^\w]+", value.split("@")[0]) if len(w) >= 3]
    return words


def password_problems(password: str, user_inputs: list[str] | None = None) -> list[Problem]:
    """Every rule ``password`` breaks (empty when it may be used). ``user_inputs``: the
    person's email, name and other words an attacker targeting them would try first."""
    if len(password) < MIN_LENGTH:
        return [Problem("password", "password.too_short", {"minimum": MIN_LENGTH})]
    if len(password) > MAX_LENGTH:
        return [Problem("password", "password.too_long", {"maximum": MAX_LENGTH})]
    lowered = password.lower()
    if lowered in common_passwords():
        return [COMMON]
    personal = _personal_words(user_inputs or [])
    # Mostly the person's own words (their email with "123" added, their name twice…).
    stripped = lowered
    for word in sorted(personal, key=len, reverse=True):
        stripped = stripped.replace(word, "")
    if personal and len(re.sub(r"[\W\d_]", "", stripped)) < 4:
        return [PERSONAL]
    if zxcvbn(password[:SCORE_PREFIX], user_inputs=personal)["score"] < MIN_SCORE:
        return [GUESSABLE]
    return []
