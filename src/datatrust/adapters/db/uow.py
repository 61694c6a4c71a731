"""The SQL unit of work: one session, one transaction, audit events and outbox rows in it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, event, func, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker

from datatrust.adapters.db.engine import READ_ONLY
from datatrust.adapters.db.ledger_store import SqlLedger
from datatrust.adapters.db.repositories import (
    SqlAuditLog,
    SqlFingerprints,
    SqlHoldings,
    SqlItemSelection,
    SqlJobs,
    SqlOwnItems,
    SqlPayoutClaims,
    SqlReviews,
    SqlSignInAttempts,
)
from datatrust.adapters.db.tables.audit import audit_head
from datatrust.domain.audit import AuditTag, ChainHead, append_to_chain, record_fields
from datatrust.domain.clock import utcnow
from datatrust.domain.jobs import OutboxJob
from datatrust.services.ports import ROW_DELETED, ROW_INSERTED, JobQueue
from datatrust.services.ports import ReadOnlyViolation as ReadOnlyViolation

T = TypeVar("T")
log = logging.getLogger(__name__)
# The key under which a session's ``info`` names its unit of work.
_UNIT = "datatrust_unit_of_work"


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, context: object, instances: object) -> None:
    """Every session's flush goes to its unit of work's ``_before_flush``. Listening once
    on the class, not on each session as it opens: a listener per session cost ~5 % of
    the server's CPU under load (SQLAlchemy sets up the session's own event dispatch)."""
    unit = session.info.get(_UNIT)
    if unit is not None:
        unit._before_flush(session, context, instances)


class SqlUnitOfWork:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        queue: JobQueue | None = None,
        *,
        max_attempts: int = 8,
        now: Callable[[], Any] = utcnow,
        read_only: bool = False,
        on_commit: Callable[[Mapping[type, set[str]]], None] | None = None,
    ) -> None:
        """``on_commit`` is told, after each commit that changed rows, what it changed:
        per kind of row, the attributes changed, ``ROW_INSERTED`` or ``ROW_DELETED`` (the
        credential cache forgets what a changed account made stale)."""
        self._session_factory = session_factory
        self._on_commit = on_commit
        self._read_only = read_only
        self._queue = queue
        self._max_attempts = max_attempts
        self._now = now
        self.session: Session | None = None

    # -- transaction -------------------------------------------------------------------
    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._session_factory()
        self._recording = False
        self.session.info[_UNIT] = self  # its flushes come to _before_flush
        self._changed: dict[type, set[str]] = {}
        self._audit: list[dict[str, Any]] = []
        self._jobs: list[tuple[OutboxJob, int]] = []
        return self

    def __exit__(self, *exc: object) -> None:
        # close() rolls back whatever was not committed and detaches the objects without
        # expiring them, so results stay readable after the block (rollback() would
        # expire them and a later attribute read would fail).
        assert self.session is not None
        self.session.close()
        self.session.info.pop(_UNIT, None)
        self.session = None

    def commit(self) -> None:
        session = self._s
        if self._read_only:
            self._commit_reads()
            return
        self._append_audit_events()
        session.commit()
        changed, self._changed = self._changed, {}
        if changed and self._on_commit is not None:
            self._on_commit(changed)
        jobs, self._jobs = self._jobs, []
        for job, delay in jobs:
            self._dispatch(job, delay)

    def _commit_reads(self) -> None:
        """A read-only unit of work may still record what it saw (an access in a passport,
        a refused download): its read snapshot ends first, then the audit events are
        appended in a short write transaction of their own, so the write lock is held for
        the append alone. They depend on nothing that was read, so the gap is harmless."""
        if self._jobs:
            raise ReadOnlyViolation("a read-only unit of work cannot enqueue jobs")
        session = self._s
        session.commit()
        if not self._audit:
            return
        self._recording = True
        try:
            self._append_audit_events()
            session.commit()
        finally:
            self._recording = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the block as reads that take no write lock: long work between short writes
        (a job decoding media, writing a shard) must not hold SQLite's one write lock.

        What the unit of work changed so far is committed first. Inside, it reads in a
        deferred transaction (on PostgreSQL: an ordinary one) and a change to a row raises
        ``ReadOnlyViolation``. The read transaction ends with the block, so what follows
        writes in a fresh transaction: re-check with ``get_for_update`` whatever the block
        read that a concurrent writer may have changed meanwhile."""
        self.commit()
        self._read_only = True
        try:
            yield
            self._s.commit()
        except BaseException:
            self._s.rollback()
            raise
        finally:
            self._read_only = False

    def _before_flush(self, session: Session, _context: object, _instances: object) -> None:
        if self._recording:
            return
        if self._read_only:
            if session.new or session.dirty or session.deleted:
                raise ReadOnlyViolation("a read-only unit of work cannot change rows")
            return
        for row in session.new:
            self._changed.setdefault(type(row), set()).add(ROW_INSERTED)
        for row in session.deleted:
            self._changed.setdefault(type(row), set()).add(ROW_DELETED)
        for row in session.dirty:
            attrs = sa_inspect(row).attrs
            names = {a.key for a in attrs if a.history.has_changes()}
            if names:
                self._changed.setdefault(type(row), set()).update(names)

    def rollback(self) -> None:
        self._audit, self._jobs, self._changed = [], [], {}
        self._s.rollback()

    def _dispatch(self, job: OutboxJob, delay: int) -> None:
        if self._queue is None or job.id is None:
            return
        try:
            self._queue.dispatch(job.id, delay)
        except Exception:  # the row is committed; the sweeper dispatches it later
            log.exception("could not dispatch job %s; the sweeper will retry", job.id)

    @property
    def _s(self) -> Session:
        session = self.session
        if session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        if self._read_only and not self._recording and not session.in_transaction():
            # The option is read when the transaction begins (engine.py): a deferred
            # SQLite transaction, which takes no write lock.
            session.connection(execution_options={READ_ONLY: True})
        return session

    # -- generic data access -----------------------------------------------------------
    def add(self, obj: object) -> None:
        self._s.add(obj)

    def add_many(self, rows: Sequence[object]) -> None:
        if not rows:
            return
        if self._read_only:
            raise ReadOnlyViolation("a read-only unit of work cannot change rows")
        cls = type(rows[0])
        if any(type(row) is not cls for row in rows):
            raise TypeError("add_many takes rows of one kind")
        # An ORM bulk INSERT without RETURNING: one executemany, where a flush of added
        # objects runs one INSERT ... RETURNING per row on SQLite, which cannot match
        # returned ids to rows otherwise. Every row names the same columns (None as NULL:
        # the records carry their defaults; the database numbers rows left without an id),
        # else the rows would go as one statement per set of columns left out.
        mapper = sa_inspect(cls)
        keys = [p.key for p in mapper.column_attrs]
        numbered = {mapper.get_property_by_column(c).key for c in mapper.primary_key}
        if all(getattr(row, k) is None for row in rows for k in numbered):
            keys = [k for k in keys if k not in numbered]
        values = [{k: getattr(row, k) for k in keys} for row in rows]
        self._s.execute(insert(cls), values, execution_options={"render_nulls": True})
        self._changed.setdefault(cls, set()).add(ROW_INSERTED)

    def delete(self, obj: object) -> None:
        self._s.delete(obj)

    def flush(self) -> None:
        self._s.flush()

    def get(self, cls: type[T], ident: Any) -> T | None:
        return self._s.get(cls, ident)

    def get_for_update(self, cls: type[T], ident: Any) -> T | None:
        return self._s.get(cls, ident, with_for_update=True, populate_existing=True)

    def _select(self, cls: type, filters: dict[str, Any]) -> Any:
        stmt: Select[Any] = select(cls)
        for name, value in filters.items():
            if name.endswith("__in"):
                stmt = stmt.where(getattr(cls, name[:-4]).in_(list(value)))
            else:
                stmt = stmt.where(getattr(cls, name) == value)
        return stmt

    def one(self, cls: type[T], **filters: Any) -> T | None:
        return self._s.scalars(self._select(cls, filters).limit(1)).first()

    def all(
        self,
        cls: type[T],
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        skip_locked: bool = False,
        **filters: Any,
    ) -> list[T]:
        stmt = self._select(cls, filters)
        if skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        if order_by:
            column = getattr(cls, order_by.lstrip("-"))
            stmt = stmt.order_by(column.desc() if order_by.startswith("-") else column)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return list(self._s.scalars(stmt))

    def count(self, cls: type[T], **filters: Any) -> int:
        # select_from keeps the table when there are no filters to name it.
        stmt = self._select(cls, filters).with_only_columns(func.count()).select_from(cls)
        return int(self._s.scalar(stmt) or 0)

    # -- repositories per aggregate (services.repositories) -----------------------------
    @property
    def ledger(self) -> SqlLedger:
        return SqlLedger(self._s)

    @property
    def audit(self) -> SqlAuditLog:
        return SqlAuditLog(self._s)

    @property
    def selection(self) -> SqlItemSelection:
        return SqlItemSelection(self._s)

    @property
    def reviews(self) -> SqlReviews:
        return SqlReviews(self._s)

    @property
    def holdings(self) -> SqlHoldings:
        return SqlHoldings(self._s)

    @property
    def own_items(self) -> SqlOwnItems:
        return SqlOwnItems(self._s)

    @property
    def fingerprints(self) -> SqlFingerprints:
        return SqlFingerprints(self._s)

    @property
    def sign_in_attempts(self) -> SqlSignInAttempts:
        return SqlSignInAttempts(self._s)

    @property
    def jobs(self) -> SqlJobs:
        return SqlJobs(self._s)

    @property
    def payouts(self) -> SqlPayoutClaims:
        return SqlPayoutClaims(self._s)

    # -- audit and outbox --------------------------------------------------------------
    def record(
        self, tag: str, actor: str, subject_type: str, subject_id: object, **data: Any
    ) -> None:
        tag = AuditTag(tag)  # the closed list: an unknown tag is a programming error
        self._audit.append(record_fields(tag, actor, subject_type, str(subject_id), data))

    def _append_audit_events(self) -> None:
        if not self._audit:
            return
        events, self._audit = self._audit, []
        session = self._s
        session.flush()
        # The UPDATE takes the head row's lock until commit: appenders queue here.
        head = session.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(seq=audit_head.c.seq + len(events))
            .returning(audit_head.c.seq, audit_head.c.hash)
        ).one()
        appended = append_to_chain(
            ChainHead(head.seq - len(events), head.hash), self._now(), events
        )
        session.add_all(appended)
        session.flush()
        last = appended[-1].hash
        session.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=last))

    def enqueue(
        self, job: str, payload: dict[str, Any], *, key: str | None = None, delay_seconds: int = 0
    ) -> None:
        """Queue a job in this transaction. With ``key``, enqueueing the same key twice
        (in any transaction) keeps only the first job."""
        key = key or f"{job}:{uuid.uuid4().hex}"
        if self.one(OutboxJob, idempotency_key=key) is not None:
            return
        row = OutboxJob(
            job=job,
            payload=payload,
            idempotency_key=key,
            max_attempts=self._max_attempts,
            run_after=self._now() + timedelta(seconds=delay_seconds),
        )
        self._s.add(row)
        self._jobs.append((row, delay_seconds))
