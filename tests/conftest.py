"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
``DATATRUST_TEST_DB=postgres``), built by the migrations, one rolled-back transaction per
test; services wired as in production; personas for authorisation tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.bootstrap import Services, build
from datatrust.config import Settings
from datatrust.domain.permissions import ROLE_PERMISSIONS, Actor, Role
from datatrust.services import accounts

TEST_DB = os.environ.get("DATATRUST_TEST_DB", "sqlite")
TEST_QUEUE = os.environ.get("DATATRUST_TEST_QUEUE", "sqlite")
PG_ADMIN_URL = os.environ.get("DATATRUST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("DATATRUST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_service(name: str, reachable: bool) -> None:
    """Outside CI a missing PostgreSQL/Redis skips with a reason; in CI it fails."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable, and CI must run these tests")
    pytest.skip(f"{name} is not reachable on this machine")


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


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshDatabase]:
    if TEST_DB == "postgres":
        require_service("PostgreSQL", postgres_reachable())
    fresh = FreshDatabase(tmp_path_factory.mktemp("db"))
    yield fresh
    fresh.drop_all()


@pytest.fixture(scope="session")
def migrated_engine(databases: FreshDatabase) -> Iterator[Engine]:
    """One database for the session, built by running the migrations (never create_all)."""
    engine = make_engine(databases.create())
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


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


@pytest.fixture
def settings(tmp_path: Path, migrated_engine: Engine) -> Settings:
    if TEST_QUEUE == "redis":
        require_service("Redis", redis_reachable())
    return make_settings(
        tmp_path,
        database_url=migrated_engine.url.render_as_string(hide_password=False),
        queue_backend=TEST_QUEUE,
        queue_name=f"dt-test-{uuid.uuid4().hex[:8]}",
    )


def drain_after_dispatch(svc: Services) -> None:
    """Jobs travel through the real queue storage (SQLite file or Redis) and are then run
    in this process at once, so tests inside one rolled-back transaction see their effects."""
    huey = svc.queue.huey
    if huey.immediate:
        return
    dispatch = svc.queue.dispatch

    def dispatch_and_run(outbox_id: int, delay_seconds: int = 0) -> None:
        dispatch(outbox_id, delay_seconds)
        while (task := huey.dequeue()) is not None:
            huey.execute(task)

    svc.queue.dispatch = dispatch_and_run  # type: ignore[method-assign]


@pytest.fixture
def services(settings: Settings, migrated_engine: Engine) -> Iterator[Services]:
    """Services over a connection whose outer transaction is rolled back after the test;
    every unit of work inside commits to a savepoint only."""
    connection = migrated_engine.connect()
    outer = connection.begin()
    svc = build(settings, upgrade_embedded=False, engine=migrated_engine)
    svc.session_factory = sessionmaker(
        bind=connection,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )
    drain_after_dispatch(svc)
    yield svc
    svc.queue.huey.storage.flush_all()
    outer.rollback()
    connection.close()


@dataclass
class Persona:
    name: str
    actor: Actor
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_persona(
    svc: Services, name: str, role: Role, *, org: bool = False, approve_with: Actor | None = None
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


@pytest.fixture
def people(services: Services) -> dict[str, Persona]:
    """The five personas of the authorisation rules: the owner of the objects under test,
    another contributor, a buyer, an operator (plus anonymous, who has no persona)."""
    operator = make_persona(services, "operator", Role.OPERATOR)
    return {
        "owner": make_persona(services, "owner", Role.CONTRIBUTOR),
        "other": make_persona(services, "other", Role.CONTRIBUTOR),
        "buyer": make_persona(services, "buyer", Role.BUYER, org=True, approve_with=operator.actor),
        "operator": operator,
    }


@pytest.fixture
def client(services: Services) -> Iterator:
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    with TestClient(create_app(services, start_worker=False)) as test_client:
        yield test_client


def pg_session(engine: Engine) -> Session:
    return sessionmaker(bind=engine)()
