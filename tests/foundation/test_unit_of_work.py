"""A state change, its audit event and its outbox rows commit together or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.domain.accounts import User
from datatrust.domain.audit import verify_chain
from datatrust.domain.jobs import OutboxJob
from datatrust.domain.permissions import Role


def _user(email: str) -> User:
    return User(email=email, password_hash="x", role=Role.CONTRIBUTOR)


def test_without_commit_the_state_change_audit_and_outbox_roll_back(services):
    with services.uow() as uow:
        uow.add(_user("ghost@example.org"))
        uow.flush()
        uow.record("account:sign_up", "system", "user", 1)
        uow.enqueue("noop", {}, key="ghost-job")
    with services.uow() as uow:
        assert uow.one(User, email="ghost@example.org") is None
        assert uow.one(OutboxJob, idempotency_key="ghost-job") is None
        assert list(uow.audit.events()) == []


def test_commit_writes_the_change_its_audit_event_and_its_outbox_row(services):
    dispatched = []
    services.queue.dispatch = lambda job_id, delay=0: dispatched.append(job_id)
    with services.uow() as uow:
        uow.add(_user("real@example.org"))
        uow.flush()
        uow.record("account:sign_up", "system", "user", 1)
        uow.enqueue("noop", {"n": 1}, key="real-job")
        assert dispatched == []  # nothing leaves before commit
        uow.commit()
    with services.uow() as uow:
        assert uow.one(User, email="real@example.org") is not None
        job = uow.one(OutboxJob, idempotency_key="real-job")
        assert job is not None and dispatched == [job.id]
        events = list(uow.audit.events())
        assert [e.tag for e in events] == ["account:sign_up"]


def test_an_unknown_audit_tag_is_refused(services):
    with services.uow() as uow, pytest.raises(ValueError):
        uow.record("item:teleport", "system", "item", 1)


def test_the_same_idempotency_key_queues_one_job(services):
    services.queue.dispatch = lambda job_id, delay=0: None
    for _ in range(2):
        with services.uow() as uow:
            uow.enqueue("noop", {}, key="once")
            uow.commit()
    with services.uow() as uow:
        assert uow.count(OutboxJob, idempotency_key="once") == 1


def test_audit_events_from_many_transactions_form_one_valid_chain(services):
    for n in range(5):
        with services.uow() as uow:
            uow.record("instance:update", "system", "setting", n, value=n)
            uow.record("instance:update", "system", "setting", n, value=-n)
            uow.commit()
    with services.uow() as uow:
        report = verify_chain(uow.audit.events())
    assert report.ok and report.checked == 10


def test_migrations_build_every_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"users", "items", "audit_events", "audit_head", "outbox", "api_tokens"} <= tables
    assert migrate.current_revision(engine) is not None


def test_count_without_filters_counts_the_rows(services):
    with services.uow() as uow:
        before = uow.count(User)
        uow.add(_user("one@example.org"))
        uow.add(_user("two@example.org"))
        uow.flush()
        assert uow.count(User) == before + 2
        assert uow.count(OutboxJob) == 0
