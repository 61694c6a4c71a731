"""Apply Alembic migrations programmatically (``datatrust db upgrade``, ``serve``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head", *, master_key: bytes | None = None) -> None:
    """Migrate to ``revision``. ``master_key`` lets migrations that convert existing rows
    under the contributors' keys do so (0016 seals personal fields); without it they
    change only the schema."""
    config = alembic_config(engine)
    config.attributes["master_key"] = master_key
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # On SQLite a migration that rebuilds a table (batch mode: copy, drop the old
        # table, rename the copy) fails on "DROP TABLE" while other tables hold rows that
        # point at it, as any instance with data has. Foreign keys are off while the
        # migrations run (SQLite ignores the pragma inside a transaction, so it is set
        # first) and every reference is checked before the transaction commits.
        driver = connection.connection.driver_connection if sqlite else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    _check_references(connection)
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")


def _check_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, row, parent, _ = broken[0]
        raise RuntimeError(
            f"migration left {len(broken)} rows pointing at missing rows, "
            f"e.g. {table} row {row} -> {parent}; nothing was changed"
        )


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def autogenerate(engine: Engine, message: str) -> None:
    """Developer helper: write a new revision from the difference to ``tables.metadata``."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
