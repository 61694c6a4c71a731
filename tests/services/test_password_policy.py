"""Weak passwords are refused at sign-up (issue 14 §5): common ones from the bundled list,
ones built from the person's own email or name, and ones zxcvbn guesses quickly."""

from __future__ import annotations

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.i18n import render_problem
from datatrust.services.accounts import accounts
from datatrust.services.accounts.password_policy import (
    COMMON,
    GUESSABLE,
    PERSONAL,
    common_passwords,
    password_problems,
)

EMAIL = "lindiwe.mokoena@example.org"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("1234567890", COMMON),
        ("qwertyuiop", COMMON),
        ("Password123", COMMON),  # case does not help
        (EMAIL, PERSONAL),
        ("lindiwe.mokoena", PERSONAL),
        ("Mokoena1234!", PERSONAL),
        ("LindiweLindiwe", PERSONAL),
        ("aaaaaaaaaaaa", GUESSABLE),
        ("Password2024!", GUESSABLE),
        ("iloveyou2024", GUESSABLE),
        ("abcdefghijk1", GUESSABLE),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, problem):
    assert password_problems(password, [EMAIL, "Lindiwe Mokoena"]) == [problem]


@pytest.mark.parametrize(
    "password", ["correct horse battery", "maize kettle orbit lantern", "Tr0ub4dor&3xx"]
)
def test_strong_passwords_pass(password):
    assert password_problems(password, [EMAIL, "Lindiwe Mokoena"]) == []


def test_the_bundled_list_holds_the_long_common_passwords():
    common = common_passwords()
    assert {"1234567890", "qwertyuiop", "password123", "1q2w3e4r5t"} <= common
    assert len(common) > 1000 and all(len(p) >= 10 for p in common)


def test_sign_up_refuses_1234567890_and_the_email_itself(services):
    for password in ("1234567890", EMAIL):
        with services.uow() as uow, pytest.raises(InvalidInput) as refused:
            accounts.sign_up(uow, services.hasher, email=EMAIL, password=password)
        assert any(p.field == "password" for p in refused.value.problems)
        assert any(p.startswith("password: ") for p in refused.value.details["problems"])


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_every_password_problem_is_translated(lang):
    for problem in (COMMON, PERSONAL, GUESSABLE):
        assert render_problem(problem, lang) != problem.text
