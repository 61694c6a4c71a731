"""The migrations and the table metadata describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.adapters.db.tables import map_domain, metadata


def differences(engine) -> list:
    map_domain()  # registers every table module's tables on the metadata
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_the_migrations_build_exactly_the_schema_the_metadata_describes(migrated_engine):
    assert differences(migrated_engine) == []


def test_migration_0002_adds_licences_and_consent_and_can_be_undone(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0002")
        tables = set(inspect(engine).get_table_names())
        assert {"licence_offers", "consent_records", "consent_events", "consent_receipts"} <= tables
        columns = {c["name"] for c in inspect(engine).get_columns("items")}
        assert {"licence_id", "consent_id"} <= columns

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        inspector = inspect(engine)
        assert "consent_records" not in inspector.get_table_names()
        assert "licence_id" not in {c["name"] for c in inspector.get_columns("items")}

        migrate.upgrade(engine, "0002")
        assert migrate.current_revision(engine) == "0002"
    finally:
        engine.dispose()
