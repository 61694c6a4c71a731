"""Shredding what the database files still hold after rows were overwritten or deleted.

SQLite (WAL mode) keeps a changed page's old version in ``-wal`` until a checkpoint copies
the newest one into the database file, and the WAL file keeps the stale frames after
that, until it is reused or truncated. ``secure_delete`` (set on every connection by
``engine``) zeroes freed space inside pages and freed pages. So after an erasure commits,
``PRAGMA wal_checkpoint(TRUNCATE)`` writes the erased versions of every page over the old
ones in the database file and cuts the WAL to zero bytes: no old copy is left in either.

PostgreSQL keeps the old version of an updated or deleted row (with the wrapped key,
the email, the display name) in the table's page, and its entry in each index, until
VACUUM removes them. After an erasure commits, ``PostgresShredder`` runs ``VACUUM
(INDEX_CLEANUP ON)`` on the tables erasure rewrites (outside any transaction, as VACUUM
must be). Measured on PostgreSQL 15 with ``pageinspect`` (``tests/services/
test_erasure_final.py``): afterwards no row version, live or dead, and no index entry
anywhere in the database holds the person's fields, key or hashes.

What it does not reach: PostgreSQL does not zero the space VACUUM frees, so the bytes of
removed versions stay in the pages' free space until new rows overwrite them (measured:
the email in ``users``' page, raw upload hashes in ``items``'); a copy of the data files
shows them, SQL and ``pg_dump`` do not (``VACUUM FULL`` would rewrite the files, under a
lock that stops every reader). Nor the write-ahead log (``pg_wal``: the old rows and
full-page images, until recycled after checkpoints, longer with ``wal_keep_size``,
replication slots or archiving), replicas until they replay the VACUUM, base backups
and archived WAL, and filesystem blocks the database freed. Fields sealed under the
person's key are unreadable in all of those once the key is destroyed; email and display
name are not sealed.
"""

from __future__ import annotations

import logging
import time

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


# The tables ``rights.erase_me`` rewrites or deletes from: their dead row versions hold
# what the erasure removed.
ERASURE_TABLES = (
    "contributor_keys",
    "users",
    "items",
    "fingerprint_keys",
    "api_tokens",
    "web_sessions",
    "sign_in_attempts",
    "sign_up_requests",
    "outbox",
    "review_votes",
    "resumable_uploads",
    "recovery_codes",
)


class PostgresShredder:
    """``Shredder`` for PostgreSQL: VACUUM the erased person's dead row versions away
    (their index entries too). Best effort: a VACUUM that fails (a lock it cannot take at
    once, a lost connection) is logged and reported as not done, and the purge job
    retries it; autovacuum gets there in the end anyway."""

    def __init__(self, engine: Engine, tables: tuple[str, ...] = ERASURE_TABLES) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._tables = tables

    def purge(self) -> bool:
        names = ", ".join(f'"{t}"' for t in self._tables)
        started = time.perf_counter()
        try:
            with self._engine.connect() as connection:
                # Waits for no one: VACUUM takes a lock only against other VACUUMs and
                # schema changes, and this timeout bounds even that wait.
                connection.exec_driver_sql("SET lock_timeout = '5s'")
                connection.exec_driver_sql(f"VACUUM (INDEX_CLEANUP ON) {names}")
        except Exception:
            log.warning("VACUUM after erasure failed; the purge job will retry", exc_info=True)
            return False
        log.info(
            "VACUUM after erasure: %d tables in %.0f ms",
            len(self._tables),
            (time.perf_counter() - started) * 1000,
        )
        return True


class NullShredder:
    """``Shredder`` for databases whose files it cannot clean (see the module docstring)."""

    def purge(self) -> bool:
        return True


def make_shredder(engine: Engine) -> SqliteShredder | PostgresShredder | NullShredder:
    if engine.dialect.name == "sqlite":
        return SqliteShredder(engine)
    if engine.dialect.name == "postgresql":
        return PostgresShredder(engine)
    return NullShredder()
