"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
``DATATRUST_TEST_DB=postgres``), built by the migrations, one rolled-back transaction per
test; services wired as in production (jobs through the real queue storage); personas."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.adapters.db.shred import NullShredder
from datatrust.bootstrap import Services, build
from datatrust.config import Settings
from support import (
    CHROMAPRINT_INSTALL,
    TEST_DB,
    TEST_QUEUE,
    FreshDatabase,
    Persona,
    drain_after_dispatch,
    make_settings,
    personas,
    postgres_reachable,
    redis_reachable,
    require_service,
)


def pytest_report_header() -> list[str]:
    """Said before the first test: a missing libchromaprint1 fails the tests of
    Chromaprint's prints (each names the command too)."""
    from datatrust.pipeline import fingerprint

    if fingerprint.HAVE_CHROMAPRINT:
        return []
    return [f"libchromaprint1 is not installed: run `{CHROMAPRINT_INSTALL}` first"]


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
    if engine.dialect.name == "postgresql":
        start_sequences_apart(engine)
    yield engine
    engine.dispose()


def start_sequences_apart(engine: Engine) -> None:
    """Every table's ids start at a different large number (100,001, 200,001, ...), so no
    test passes by small ids or by one table's id standing in for another's: CI once failed
    only when item ids passed 1,000 ("item 1,164")."""
    with engine.begin() as connection:
        names = connection.scalars(
            text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
                " ORDER BY sequencename"
            )
        ).all()
        for n, name in enumerate(names, start=1):
            connection.execute(
                text("SELECT setval(:name, :start, false)"),
                {"name": name, "start": n * 100_000 + 1},
            )


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
    # Shredding checkpoints the database files from another connection, which would wait
    # on this test's open transaction; nothing here reaches the files anyway (rolled back).
    svc.shredder = NullShredder()
    drain_after_dispatch(svc)
    yield svc
    svc.queue.huey.storage.flush_all()
    outer.rollback()
    connection.close()


@pytest.fixture
def people(services: Services) -> dict[str, Persona]:
    """The personas of the authorisation rules (``support.personas``)."""
    return personas(services)


@pytest.fixture
def client(services: Services) -> Iterator:
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    with TestClient(create_app(services, start_worker=False)) as test_client:
        yield test_client
