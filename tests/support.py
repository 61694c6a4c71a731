"""Shared test helpers, importable as ``support`` (the fixtures live in conftest.py):
real databases, settings for tests, personas for authorisation tests."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from datatrust.adapters.db.engine import make_engine
from datatrust.adapters.memory import MemoryStore, MemoryUnitOfWork
from datatrust.adapters.passwords import Argon2Hasher
from datatrust.bootstrap import Services
from datatrust.config import Settings
from datatrust.domain.campaigns import Campaign, PayBasis
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.permissions import ROLE_PERMISSIONS, Actor, Role
from datatrust.services.accounts import accounts
from datatrust.services.contributions import items
from datatrust.services.licensing import consent, licences

TEST_DB = os.environ.get("DATATRUST_TEST_DB", "sqlite")
TEST_QUEUE = os.environ.get("DATATRUST_TEST_QUEUE", "sqlite")
PG_ADMIN_URL = os.environ.get("DATATRUST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("DATATRUST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@contextmanager
def statements_sent(connection: Any) -> Iterator[list[str]]:
    """Every SQL statement ``connection`` (a Connection, or the tests' shared one:
    ``services.session_factory.kw["bind"]``) sends inside the block."""
    seen: list[str] = []

    def sent(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", sent)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", sent)


def require_service(name: str, reachable: bool) -> None:
    """Outside CI a missing service or tool (PostgreSQL, Redis, Chromium, espeak-ng, axe-core)
    skips with a reason; in CI it fails."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable, and CI must run these tests")
    pytest.skip(f"{name} is not reachable on this machine")


# The one system package the service itself uses, and the command that installs it.
CHROMAPRINT_INSTALL = "sudo apt-get install libchromaprint1"


def require_chromaprint() -> None:
    """For a test of Chromaprint's own prints: without libchromaprint1 the pipeline makes
    spectral prints instead (never compared with Chromaprint's), so the test fails, naming
    the command to run first rather than an engine that differs."""
    from datatrust.pipeline import fingerprint

    if not fingerprint.HAVE_CHROMAPRINT:
        pytest.fail(f"libchromaprint1 is not installed: run `{CHROMAPRINT_INSTALL}` first")


def postgres_reachable() -> bool:
    try:
        engine = make_engine(PG_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except Exception:
        return False


class FreshDatabase:
    """Creates empty databases (a SQLite file, or a PostgreSQL database) and drops them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created: list[str] = []

    def create(self, kind: str = TEST_DB) -> str:
        name = f"dt_test_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            return f"sqlite:///{self.root / (name + '.db')}"
        admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "dev_mode": True,
        "data_dir": tmp_path / "var",
        "queue_backend": "immediate",
        "embedded_worker": False,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "redis_url": REDIS_URL,
    }
    values.update(overrides)
    return Settings(**values)


def drain_after_dispatch(svc: Services) -> None:
    """Jobs travel through the real queue storage (SQLite file or Redis) and are then run
    in this process at once, so tests inside one rolled-back transaction see their effects."""
    huey = svc.queue.huey
    if huey.immediate:
        return
    dispatch = svc.queue.dispatch
    # Take what the dispatch queued and stop: Redis's blocking pop would wait a whole
    # read time-out (1 s) on the empty queue after every dispatch.
    huey.storage.blocking = False

    def dispatch_and_run(outbox_id: int, delay_seconds: int = 0) -> None:
        dispatch(outbox_id, delay_seconds)
        while (task := huey.dequeue()) is not None:
            huey.execute(task)

    svc.queue.dispatch = dispatch_and_run  # type: ignore[method-assign]


@dataclass
class Persona:
    name: str
    actor: Actor
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _cheap_hasher() -> Argon2Hasher:
    return Argon2Hasher(time_cost=1, memory_cost=1024)  # as make_settings configures


@dataclass
class MemoryServices:
    """What service tests use of ``Services`` (``uow()``, ``hasher``) over the in-memory unit
    of work: no database, so a test's set-up and its transactions cost microseconds."""

    store: MemoryStore = field(default_factory=MemoryStore)
    hasher: Argon2Hasher = field(
        default_factory=lambda: Argon2Hasher(time_cost=1, memory_cost=1024)
    )

    def uow(self, *, read_only: bool = False) -> MemoryUnitOfWork:
        return self.store.uow(read_only=read_only)


def personas(svc: Services | MemoryServices) -> dict[str, Persona]:
    """The five personas of the authorisation rules: the owner of the objects under test,
    another contributor, a buyer, an operator (plus anonymous, who has no persona)."""
    operator = make_persona(svc, "operator", Role.OPERATOR)
    return {
        "owner": make_persona(svc, "owner", Role.CONTRIBUTOR),
        "other": make_persona(svc, "other", Role.CONTRIBUTOR),
        "buyer": make_persona(svc, "buyer", Role.BUYER, org=True, approve_with=operator.actor),
        "operator": operator,
    }


def make_persona(
    svc: Services | MemoryServices,
    name: str,
    role: Role,
    *,
    org: bool = False,
    approve_with: Actor | None = None,
) -> Persona:
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.org"
    with svc.uow() as uow:
        user = accounts.sign_up(
            uow,
            svc.hasher,
            email=email,
            password="correct horse battery",
            role=role,
            allow_operator=True,
        )
        actor = accounts.actor_for(uow, user)
    if org:
        with svc.uow() as uow:
            organisation = accounts.register_organisation(
                uow, actor, legal_name=f"{name} Ltd", country="GB"
            )
            if approve_with is not None:
                accounts.decide_organisation(uow, approve_with, organisation.id, "approve")
            actor = accounts.actor_for(uow, user)
    with svc.uow() as uow:
        scopes = sorted(p.value for p in ROLE_PERMISSIONS[role])
        new = accounts.create_api_token(uow, actor, name="tests", scopes=scopes)
    return Persona(name, actor, email, new.secret)


def fund_and_open(client, headers: dict[str, str], campaign_id: int):  # type: ignore[no-untyped-def]
    """Open a campaign over HTTP, first funding its escrow (fake card rail) with exactly
    the shortfall opening names: every campaign, a platform one too, opens only when
    escrow covers quota × rate plus bonuses. Returns the open response."""
    opened = client.post(f"/api/campaigns/{campaign_id}/open", headers=headers)
    if opened.status_code != 409 or "shortfall" not in opened.json()["error"]["details"]:
        return opened
    shortfall = opened.json()["error"]["details"]["shortfall"]
    funded = client.post(
        f"/api/campaigns/{campaign_id}/escrow",
        headers=headers,
        json={
            "amount_minor": shortfall["amount_minor"],
            "currency": shortfall["currency"],
            "idempotency_key": f"open-{campaign_id}",
        },
    )
    assert funded.status_code == 201, funded.text
    return client.post(f"/api/campaigns/{campaign_id}/open", headers=headers)


def mark_listed(services: Services, item_id: int) -> None:
    """List an item as review would, whatever the pipeline made of a test's few bytes:
    it gets a de-identified version (a listed item always has one) and status listed."""
    from datatrust.domain.items import Item, ItemStatus

    with services.uow() as uow:
        item = uow.get(Item, item_id)
        stored = services.storage.put(
            uow, item.owner_id, [b"de-identified:" + str(item_id).encode()], namespace="deid"
        )
        item.deidentified_key, item.deidentified_sha256 = stored.key, stored.sha256
        item.status = ItemStatus.LISTED
        uow.commit()


def receive_upload(  # type: ignore[no-untyped-def]
    services: Services,
    persona,
    kind: str,
    data: bytes,
    filename: str,
    content_type: str = "application/octet-stream",
    **extra,
) -> Item:
    """Store ``data`` as ``persona``'s upload of ``kind`` (as the upload routes do) and
    return the item as read back from the database."""
    with services.uow() as uow:
        item = items.receive_item(
            uow,
            services.storage,
            persona.actor,
            kind=kind,
            filename=filename,
            content_type=content_type,
            chunks=[data],
            **extra,
        )
    with services.uow() as uow:
        return uow.get(Item, item.id)


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def post_form(client, page: str, action: str | None = None, *, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    """Post ``page``'s form as a browser does: open the page first (a visitor without a
    session gets the pre-session CSRF cookie there) and send its ``csrf_token`` along."""
    token = CSRF_FIELD.search(client.get(page).text).group(1)  # type: ignore[union-attr]
    return client.post(action or page, data={"csrf_token": token, **data}, **kwargs)


PASSWORD = "correct horse battery"
CONFIRM_LINK = re.compile(r"/sign-up/confirm\?token=([0-9a-f.]+)")


def signed_in(client, persona: Persona) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Sign ``persona`` in on ``client`` with the password, as a browser does (the session
    cookie stays on the client): what needs a session, not a token, can then be done.
    Returns the header a session's writes send (its CSRF token), for API calls and forms
    alike."""
    signed = client.post("/api/auth/sign-in", json={"email": persona.email, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return {"X-CSRF-Token": signed.json()["csrf_token"]}


def add_payout_method(  # type: ignore[no-untyped-def]
    services: Services, actor: Actor, rail: str, details: dict[str, str], *, aged: bool = True
):
    """``payouts.add_payout_method`` as its owner does it (with the password). ``aged``:
    the method is then dated a holding period back (``InstancePolicy.payout_method_hold``),
    so a payout may go to it at once."""
    from datatrust.domain.clock import utcnow
    from datatrust.domain.payout_methods import PayoutMethod
    from datatrust.services.money import payouts

    hold = services.policy.payout_method_hold
    with services.uow() as uow:
        method = payouts.add_payout_method(
            uow,
            services.storage,
            actor,
            rail,
            details,
            hasher=services.hasher,
            password=PASSWORD,
            hold=hold,
        )
        if aged:
            stored = uow.get(PayoutMethod, method.id)
            stored.created_at = utcnow() - hold
            uow.commit()
        return method


def mail_to(services: Services, email: str):  # type: ignore[no-untyped-def]
    """The messages sent to ``email`` so far (the file mailer's outbox), oldest first."""
    return [m for m in services.mailer.sent() if m["To"] == email]  # type: ignore[attr-defined]


def sign_up_token(services: Services, email: str) -> str:
    """The token of the last sign-up link mailed to ``email``."""
    return CONFIRM_LINK.search(mail_to(services, email)[-1].get_content()).group(1)  # type: ignore[union-attr]


def sign_up_page(
    client, services: Services, email: str, password: str = "correct horse battery", **fields
):  # type: ignore[no-untyped-def]
    """Sign up through the pages as a person does: the form, the mailed link, its button.
    Returns the button's answer (a redirect to the new account's home)."""
    asked = post_form(client, "/sign-up", data={"email": email, "password": password, **fields})
    assert asked.status_code == 200, asked.text
    token = sign_up_token(services, email)
    page = f"/sign-up/confirm?token={token}"
    return post_form(
        client, page, "/sign-up/confirm", data={"token": token}, follow_redirects=False
    )


def sign_up_api(
    client, services: Services, email: str, password: str = "correct horse battery", **fields
):  # type: ignore[no-untyped-def]
    """Sign up over the API: ask, then confirm with the mailed token. Returns the session."""
    body = {"email": email, "password": password, **fields}
    asked = client.post("/api/auth/sign-up", json=body)
    assert asked.status_code == 202, asked.text
    return client.post("/api/auth/sign-up/confirm", json={"token": sign_up_token(services, email)})


def stored_campaign(
    services: Services | MemoryServices, buyer: Actor, **fields: object
) -> Campaign:
    """A draft per-item photo campaign of the buyer's organisation, USD 15.00 an item for
    four items unless ``fields`` say otherwise, committed."""
    terms: dict[str, object] = {
        "title": "Lobbies",
        "kind": ItemKind.PHOTO,
        "pay_basis": PayBasis.PER_ITEM,
        "rate_minor": 1500,
        "currency": "USD",
        "quota": 4,
    }
    with services.uow() as uow:
        campaign = Campaign(
            created_by=buyer.user_id,
            org_id=buyer.org_id,
            **(terms | fields),  # type: ignore[arg-type]
        )
        uow.add(campaign)
        uow.commit()
    return campaign


def withdrawn_while_being_checked(
    services: Services, owner: Persona, data: bytes, **extra: object
) -> Item:
    """``owner`` uploads a photo and withdraws consent before the worker gets to its
    processing job; the job then runs, finds it withdrawn and does nothing (as it does)."""
    with services.uow() as uow:
        offer = licences.create_offer(
            uow, owner.actor, template="training_only", changes={"price_minor": 500}
        )
    dispatch, held = services.queue.dispatch, []
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: held.append(outbox_id)  # type: ignore[method-assign]
    try:
        item = receive_upload(services, owner, "photo", data, "lobby.jpg", **extra)
        assert item.status is ItemStatus.RECEIVED
        with services.uow() as uow:
            licences.attach_offer(uow, owner.actor, offer.id, [item.id])
        with services.uow() as uow:
            consent.give_consent_for_item(uow, services.signer, owner.actor, item.id)
        with services.uow() as uow:
            consent.withdraw_consent(uow, services.signer, owner.actor, item.id)
    finally:
        services.queue.dispatch = dispatch  # type: ignore[method-assign]
    for outbox_id in held:
        assert services.run_job(outbox_id) == "done"
    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert stored.withdrawn_from is ItemStatus.RECEIVED and stored.deidentified_key is None
        job = uow.one(OutboxJob, idempotency_key=f"item.process:{item.id}")
        assert job.state is JobState.DONE
    return stored
