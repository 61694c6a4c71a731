"""Signing in and resetting a password each end signed in by one service call: the check
and the new browser session commit together (``SignedIn``), the same call for the API and
the pages, so neither pairs a sign-in with a session of its own."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from datatrust.adapters.crypto import AesGcmCipher
from datatrust.adapters.memory import MemoryStore
from datatrust.adapters.objectstore import LocalObjectStore
from datatrust.domain.accounts import User, WebSession
from datatrust.domain.errors import InvalidInput, NotAuthenticated
from datatrust.domain.permissions import Role
from datatrust.services.accounts import accounts
from datatrust.services.ports import ROW_INSERTED
from datatrust.services.storage import EncryptedStorage
from support import PASSWORD, MemoryServices, make_persona

HOUR = 3600


@pytest.fixture
def commits() -> list[dict[type, set[str]]]:
    return []


@pytest.fixture
def services(commits) -> MemoryServices:
    def told(changes: Mapping[type, set[str]]) -> None:
        commits.append(dict(changes))

    return MemoryServices(store=MemoryStore(None, on_commit=told))


@pytest.fixture
def storage(tmp_path) -> EncryptedStorage:
    """Names a failed try's address in the audit log (``accounts.email_ref``)."""
    return EncryptedStorage(LocalObjectStore(tmp_path), AesGcmCipher(os.urandom(32)))


@pytest.fixture
def person(services):
    return make_persona(services, "ada", Role.CONTRIBUTOR)


def _sign_in(services, email: str, password: str, storage=None) -> accounts.SignedIn:
    with services.uow() as uow:
        return accounts.sign_in(
            uow,
            services.hasher,
            email=email,
            password=password,
            client="ip:192.0.2.7",
            storage=storage,  # none needed for a right password without a second factor
            session_max_age_seconds=HOUR,
        )


def _live(services, secret: str) -> int | None:
    with services.uow() as uow:
        try:
            return accounts.authenticate_session(uow, secret).user.id
        except NotAuthenticated:
            return None


def test_a_right_password_signs_in_and_opens_its_session_in_the_same_commit(
    services, person, commits
):
    before = len(commits)
    signed = _sign_in(services, person.email, PASSWORD)
    assert signed.user.email == person.email
    assert _live(services, signed.session.secret) == person.actor.user_id
    # The session row is written by the commit that records the sign-in, not after it.
    [last] = [c for c in commits[before:] if WebSession in c]
    assert last[WebSession] == {ROW_INSERTED} and commits[-1] is last


def test_a_wrong_password_opens_no_session(services, person, storage):
    with services.uow() as uow:
        sessions = uow.count(WebSession)
    with pytest.raises(NotAuthenticated):
        _sign_in(services, person.email, "not the password", storage)
    with services.uow() as uow:
        assert uow.count(WebSession) == sessions


def test_a_reset_signs_every_browser_out_and_the_one_that_reset_in(services, person, commits):
    secret = "the instance's secret"
    earlier = _sign_in(services, person.email, PASSWORD).session.secret
    with services.uow() as uow:
        user = uow.one(User, email=person.email)
        token = accounts.password_reset_token(secret, user, 4_000_000_000)
    with services.uow() as uow, pytest.raises(InvalidInput):
        accounts.reset_password(
            uow, services.hasher, secret, token, "short", session_max_age_seconds=HOUR
        )
    assert _live(services, earlier) == person.actor.user_id  # a refused one changes nothing
    before = len(commits)
    with services.uow() as uow:
        signed = accounts.reset_password(
            uow,
            services.hasher,
            secret,
            token,
            "purple tractor sings quietly",
            session_max_age_seconds=HOUR,
        )
    assert signed is not None
    assert len(commits) == before + 1  # the password, the sign-out and the session together
    assert _live(services, earlier) is None
    assert _live(services, signed.session.secret) == person.actor.user_id
    assert _sign_in(services, person.email, "purple tractor sings quietly").user.id == (
        person.actor.user_id
    )
