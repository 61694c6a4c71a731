"""Engines for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from datatrust.adapters.db.tables import map_domain


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Execution option a read-only unit of work puts on its connection: on SQLite its
# transaction begins DEFERRED (a WAL snapshot beside the one writer) instead of IMMEDIATE.
READ_ONLY = "datatrust_read_only"


@dataclass(frozen=True)
class PoolSettings:
    """How many connections one process keeps and how long a request waits for one.
    ``size + overflow`` should cover the web threads, or requests queue on the pool."""

    size: int = 20
    overflow: int = 20
    timeout_s: float = 10.0
    # How long a SQLite writer waits for the write lock before giving up (then: 503).
    busy_timeout_s: float = 10.0


def make_engine(url: str, *, echo: bool = False, pool: PoolSettings | None = None) -> Engine:
    url = normalise_url(url)
    pool = pool or PoolSettings()
    sizes = {"pool_size": pool.size, "max_overflow": pool.overflow, "pool_timeout": pool.timeout_s}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        memory = not path or path == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": pool.busy_timeout_s, "check_same_thread": False},
            **({} if memory else sizes),
        )
        _tune_sqlite(engine, busy_timeout_ms=int(pool.busy_timeout_s * 1000))
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True, **sizes)
    map_domain()
    return engine


def _tune_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE below is ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Freed space is zeroed, so erased rows leave no copy in free pages (issue 14 §1).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY when another writer got in between; taking the write lock up
        # front makes writers queue on busy_timeout instead. Read-only units of work
        # begin deferred: in WAL mode they read a snapshot while one writer writes.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve right now (no connection in time,
    the server down or restarting, a connection killed under us, SQLite's write lock busy
    past its timeout): a retry later may succeed, so callers answer 503, not 500."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection in time
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
    return False


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def ping(session_factory: sessionmaker[Session]) -> None:
    """A read that takes no write lock: health checks answer while a writer writes."""
    with session_factory() as session:
        session.connection(execution_options={READ_ONLY: True}).execute(text("SELECT 1"))
