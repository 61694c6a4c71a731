"""A verified token or session is trusted briefly without the database, and never after
this process changed it (issue 12: authentication cost a transaction and a thread hop
on every request)."""

from __future__ import annotations

import pytest

from datatrust.domain.accounts import ApiToken, Membership
from datatrust.domain.clock import utcnow
from datatrust.domain.permissions import Role
from datatrust.services import accounts  # the surface the web layer calls through
from support import make_persona


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """Each time a credential is checked against the database."""
    seen: list[str] = []
    real_token, real_session = accounts.authenticate_token, accounts.authenticate_session

    def token(uow, secret):
        seen.append("token")
        return real_token(uow, secret)

    def session(uow, secret):
        seen.append("session")
        return real_session(uow, secret)

    monkeypatch.setattr(accounts, "authenticate_token", token)
    monkeypatch.setattr(accounts, "authenticate_session", session)
    return seen


def change_token(services, person, **values) -> None:
    """Change the person's token in a unit of work of this process, as a service would."""
    with services.uow() as uow:
        token = uow.one(ApiToken, user_id=person.actor.user_id)
        for name, value in values.items():
            setattr(token, name, value)
        uow.commit()


def test_a_busy_token_is_read_from_the_database_once_while_nothing_changes(client, people, lookups):
    owner = people["owner"]
    for _ in range(4):
        assert client.get("/api/me", headers=owner.headers).status_code == 200
    assert lookups == ["token"]
    # Another token is its own entry.
    assert client.get("/api/me", headers=people["other"].headers).status_code == 200
    assert lookups == ["token", "token"]


def test_a_token_revoked_over_the_api_is_refused_by_the_next_request(client, people):
    owner = people["owner"]
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    (token,) = client.get("/api/tokens", headers=owner.headers).json()
    assert client.delete(f"/api/tokens/{token['id']}", headers=owner.headers).status_code == 200
    answer = client.get("/api/me", headers=owner.headers)
    assert answer.status_code == 401 and "revoked" in answer.text


def test_a_token_revoked_in_a_unit_of_work_is_refused_at_once(client, services, people):
    owner = people["owner"]
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    change_token(services, owner, revoked_at=utcnow())
    assert client.get("/api/me", headers=owner.headers).status_code == 401


def test_a_new_membership_is_seen_by_the_next_request(client, services, people):
    buyer = people["buyer"]
    person = make_persona(services, "joiner", Role.BUYER)
    assert client.get("/api/me", headers=person.headers).json()["org_id"] is None
    with services.uow() as uow:
        uow.add(Membership(org_id=buyer.actor.org_id, user_id=person.actor.user_id))
        uow.commit()
    assert client.get("/api/me", headers=person.headers).json()["org_id"] == buyer.actor.org_id


def test_recording_a_tokens_use_keeps_what_was_verified(client, services, people, lookups):
    owner = people["owner"]
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    change_token(services, owner, last_used_at=utcnow())
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    assert lookups == ["token"]


def test_a_signed_out_session_is_refused_by_the_next_request(client, services, lookups):
    from support import sign_up_api

    signed_in = sign_up_api(client, services, "cached@example.org", "a long enough password")
    assert signed_in.status_code == 201, signed_in.text
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    cookie = client.cookies.get("dt_session")
    assert client.get("/api/me").status_code == 200
    assert client.get("/api/me").status_code == 200
    assert lookups.count("session") == 1
    assert client.post("/api/auth/sign-out", headers=csrf).status_code == 204
    client.cookies.set("dt_session", cookie)  # the old cookie, sent again
    assert client.get("/api/me").status_code == 401


def test_with_a_ttl_of_zero_every_request_reads_the_database(client, services, people, lookups):
    services.credentials.ttl_seconds = 0
    for _ in range(3):
        assert client.get("/api/me", headers=people["owner"].headers).status_code == 200
    assert lookups == ["token"] * 3
