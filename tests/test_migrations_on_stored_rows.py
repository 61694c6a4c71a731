"""Every migration upgrades a database that already holds rows in every table, on SQLite
and PostgreSQL, and loses none of them.

The empty-database tests elsewhere never see what goes wrong only with data: on SQLite a
migration that rebuilds a table (``batch_alter_table`` copies it, drops the old one and
renames the copy) fails with "FOREIGN KEY constraint failed" while other tables have rows
pointing at it, so an instance with stored items could not be upgraded past 0016.

The rows are made from each past revision's own schema (reflected, not the metadata of
today): every table gets rows as soon as it exists, with every column filled and each
foreign key pointing at a stored row, so every later migration runs over populated tables
and over rows that reference the tables it rebuilds."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect, text

from datatrust.adapters.crypto import AesGcmCipher
from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def revisions_oldest_first(engine: sa.Engine) -> list[str]:
    scripts = ScriptDirectory.from_config(migrate.alembic_config(engine))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


class RowMaker:
    """Rows for any table of any revision: each value unique, fitting its declared type
    and length, every foreign key naming a stored row."""

    def __init__(self, cipher: AesGcmCipher) -> None:
        self.cipher = cipher
        self.counter = itertools.count(1)

    def value(self, table: sa.Table, column: sa.Column[Any]) -> Any:
        n = next(self.counter)
        kind = column.type
        if table.name == "contributor_keys" and column.name == "wrapped_key":
            return self.cipher.new_wrapped_key()  # migrations that seal open it
        if table.name == "contributor_keys" and column.name == "destroyed_at":
            return None  # a live key: its owner's rows are sealed, not dropped
        if "sha256" in column.name:
            return hashlib.sha256(str(n).encode()).hexdigest()  # content hashes are hex
        if isinstance(kind, sa.Boolean):
            return False
        if isinstance(kind, sa.DateTime):
            return AT + dt.timedelta(seconds=n)
        if isinstance(kind, sa.Date):
            return AT.date()
        if isinstance(kind, sa.JSON):
            return {}
        if isinstance(kind, sa.LargeBinary):
            return os.urandom(16)
        if isinstance(kind, sa.Integer | sa.Numeric):
            return n
        if isinstance(kind, sa.String):  # Text too
            length = kind.length or 40
            return f"v{n}"[-length:]
        raise AssertionError(f"no value for {table.name}.{column.name} of type {kind!r}")

    def rows(self, connection: Connection, table: sa.Table) -> list[dict[str, Any]]:
        """Two rows (each foreign key naming a different stored row where there are two,
        as a unique reference needs), except where the table allows only one shape."""
        stored: dict[str, list[Any]] = {}
        for fk in table.foreign_keys:
            parent = fk.column.table
            values = (
                list(connection.execute(sa.select(fk.column).order_by(fk.column)).scalars())
                if parent.name != table.name
                else []
            )
            if not values and not fk.parent.nullable:
                raise AssertionError(f"{table.name}.{fk.parent.name}: {parent.name} is empty")
            stored[fk.parent.name] = values or [None]
        rows = []
        for index in range(2):
            row: dict[str, Any] = {}
            for column in table.columns:
                if column.name in stored:
                    values = stored[column.name]
                    row[column.name] = values[index % len(values)]
                elif column.primary_key and (
                    column.server_default is not None or column.identity is not None
                ):
                    continue  # the database numbers it (a PostgreSQL sequence)
                else:
                    row[column.name] = self.value(table, column)
            rows.append(row)
        if table.name == "audit_head":
            return [{**rows[0], "id": 1}]  # CHECK (id = 1)
        if table.name == "postings":
            # PostgreSQL checks at COMMIT that an entry's postings sum to zero.
            first, second = rows
            same_entry = {"entry_id": first["entry_id"], "currency": first["currency"]}
            return [{**first, "amount_minor": 100}, {**second, **same_entry, "amount_minor": -100}]
        return rows


def fill_tables_that_are_empty(connection: Connection, maker: RowMaker) -> None:
    tables = MetaData()
    tables.reflect(connection)
    for table in tables.sorted_tables:
        if table.name == "alembic_version":
            continue
        if connection.execute(sa.select(sa.func.count()).select_from(table)).scalar():
            continue
        connection.execute(table.insert(), maker.rows(connection, table))


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in inspect(connection).get_table_names()
            if name != "alembic_version"
        }


def test_every_migration_upgrades_a_database_with_rows_in_every_table_and_loses_none(databases):
    master = os.urandom(32)
    maker = RowMaker(AesGcmCipher(master))
    engine = make_engine(databases.create())
    try:
        revisions = revisions_oldest_first(engine)
        migrate.upgrade(engine, revisions[0], master_key=master)
        for revision in revisions[1:]:
            with engine.begin() as connection:
                fill_tables_that_are_empty(connection, maker)
            before = row_counts(engine)
            assert all(before.values())
            migrate.upgrade(engine, revision, master_key=master)
            after = row_counts(engine)
            kept = {name: after.get(name) for name in before}
            assert kept == before, f"migration {revision} lost rows"
        assert migrate.current_revision(engine) == revisions[-1]
    finally:
        engine.dispose()
