"""Shredding what the database files still hold after rows were overwritten or deleted.

SQLite (WAL mode) keeps a changed page's old version in ``-wal`` until a checkpoint copies
the newest one into the database file, and the WAL file keeps the stale frames after
that, until it is reused or truncated. ``secure_delete`` (set on every connection by
``engine``) zeroes freed space inside pages and freed pages. So after an erasure commits,
``PRAGMA wal_checkpoint(TRUNCATE)`` writes the erased versions of every page over the old
ones in the database file and cuts the WAL to zero bytes: no old copy is left in either.

PostgreSQL keeps dead row versions in the table's pages until VACUUM reuses their space,
and VACUUM does not overwrite them either: nothing short of ``VACUUM FULL`` (a table
rewrite under an exclusive lock) removes them from disk. ``NullShredder`` is used there;
the sensitive fields are encrypted under the person's key, which erasure destroys.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class SqliteShredder:
    """``Shredder`` for SQLite in WAL mode: checkpoint and truncate the WAL."""

    def __init__(self, engine: Engine, *, busy_timeout_ms: int = 5000) -> None:
        self._engine = engine
        self._busy_timeout_ms = busy_timeout_ms

    def purge(self) -> bool:
        with self._engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            # A checkpoint waits for readers of older pages to finish, up to this long
            # (not the 30 s writers wait: an erasure request should not hang that long).
            raw.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            try:
                busy, _frames, _copied = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.execute("PRAGMA busy_timeout=30000")
        if busy:
            log.warning("WAL checkpoint could not finish: readers still hold old pages")
        return not busy


class NullShredder:
    """``Shredder`` for databases whose files it cannot clean (see the module docstring)."""

    def purge(self) -> bool:
        return True


def make_shredder(engine: Engine) -> SqliteShredder | NullShredder:
    return SqliteShredder(engine) if engine.dialect.name == "sqlite" else NullShredder()
