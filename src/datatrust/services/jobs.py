"""Running outbox jobs: handlers by name, claim, run once, retry with backoff, sweep.

A handler gets a fresh unit of work and the payload. Its effects and the job's ``done``
mark commit in that one transaction, so a worker that dies mid-job leaves no trace and the
sweeper's re-run is the only run that counts. While a handler runs, its lease is renewed
every third of its length, so only a worker that died (or lost the database) loses its job;
a job whose worker dies on its last attempt (say, it is killed for memory every time) fails
instead of being retried for ever. Handlers must still be idempotent where they
touch the outside world (payout rails, mail): they receive the job id as a key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.jobs import JobState, OutboxJob, backoff
from datatrust.services.ports import JobQueue, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, dict[str, Any], "JobContext"], None]
# Called once when a job has failed its last attempt: (fresh unit of work, payload, error).
GiveUp = Callable[[UnitOfWork, dict[str, Any], str], None]


@dataclass(frozen=True)
class JobContext:
    job_id: int
    attempt: int
    services: Any  # the bootstrapped container, for handlers that need storage or signing


@dataclass(frozen=True)
class JobSpec:
    """What ``@job`` marks a handler with: the name stored in outbox rows, what to do once
    it has failed for good, and whether its payload is emptied once it is done."""

    name: str
    on_give_up: GiveUp | None = None
    forget_when_done: bool = False


def job(
    name: str, *, on_give_up: GiveUp | None = None, forget_when_done: bool = False
) -> Callable[[Handler], Handler]:
    """Mark a handler as the one for job ``name``. Marking registers nothing: a
    ``JobRegistry`` built in ``bootstrap`` lists the handlers a process runs.
    ``on_give_up`` runs once, in its own unit of work (it commits), after the job is marked
    ``failed`` for good, so the job's subject is not left waiting for ever; its errors are
    logged. ``forget_when_done``: the row's payload is emptied in the transaction that
    marks it done (a sent mail's address and text are not kept)."""

    def mark(handler: Handler) -> Handler:
        handler.job_spec = JobSpec(name, on_give_up, forget_when_done)  # type: ignore[attr-defined]
        return handler

    return mark


@dataclass(frozen=True)
class JobRegistry:
    """The handlers one process runs, by job name, and their give-up hooks."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    give_up_hooks: dict[str, GiveUp] = field(default_factory=dict)
    # Jobs whose payload is emptied once done: it holds personal data nobody needs after.
    forget_when_done: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, handlers: Iterable[Handler]) -> JobRegistry:
        """A registry of handlers marked with ``@job``; two for one name are refused."""
        registry = cls()
        for handler in handlers:
            spec: JobSpec | None = getattr(handler, "job_spec", None)
            if spec is None:
                raise TypeError(f"{handler!r} is not marked with @job")
            if registry.handlers.get(spec.name, handler) is not handler:
                raise RuntimeError(f"two handlers for job {spec.name!r}")
            registry.handlers[spec.name] = handler
            if spec.on_give_up is not None:
                registry.give_up_hooks[spec.name] = spec.on_give_up
            if spec.forget_when_done:
                registry.forget_when_done.add(spec.name)
        return registry

    @staticmethod
    def marked_in(module: ModuleType) -> list[Handler]:
        """The ``@job`` handlers a module defines (how an operator's plugin module is read)."""
        return [
            value
            for value in vars(module).values()
            if callable(value) and isinstance(getattr(value, "job_spec", None), JobSpec)
        ]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    uow_factory: UnitOfWorkFactory,
    job_id: int,
    registry: JobRegistry,
    *,
    lease_seconds: int = 300,
    services: Any = None,
) -> str:
    """Claim and run one job. Returns what happened: ``done``, ``retry``, ``failed`` or
    ``skipped`` (not pending, not due, claimed by another worker, or this worker's lease
    ran out and the job was claimed again: its effects are then rolled back, because the
    later claim is the run that counts).

    The claim commits on its own; the handler then starts a fresh unit of work without
    touching the database first, so on SQLite a slow handler holds the write lock only
    from its own first write."""
    now = utcnow()
    with uow_factory() as uow:
        if not uow.jobs.claim(job_id, worker_name(), now, now + timedelta(seconds=lease_seconds)):
            return "skipped"
        claimed = uow.get(OutboxJob, job_id)
        assert claimed is not None
        name, payload, attempt = claimed.job, dict(claimed.payload), claimed.attempts
        uow.commit()
    handler = registry.handlers.get(name)
    with _LeaseKeeper(uow_factory, job_id, attempt, lease_seconds), uow_factory() as uow:
        try:
            if handler is None:
                raise LookupError(f"no handler for job {name!r}")
            handler(uow, payload, JobContext(job_id, attempt, services))
            row = uow.get_for_update(OutboxJob, job_id)
            if not _still_ours(row, attempt):
                uow.rollback()
                log.warning("job %s (%s) lost its lease on attempt %s", job_id, name, attempt)
                return "skipped"
            assert row is not None
            row.state = JobState.DONE
            row.finished_at = utcnow()
            row.lease_until = None
            if name in registry.forget_when_done:
                row.payload = {}
            uow.commit()
            return "done"
        except Exception as exc:  # a handler's failure must never take the worker down
            log.exception("job %s (%s) failed", job_id, name)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            uow.rollback()
    return _after_failure(uow_factory, registry, job_id, attempt, error)


def _still_ours(row: OutboxJob | None, attempt: int) -> bool:
    """The claim made as ``attempt`` still holds: no sweeper released it and no later
    claim took it (each claim increments ``attempts``, so the count names the claim)."""
    return row is not None and row.state == JobState.RUNNING and row.attempts == attempt


class _LeaseKeeper:
    """Renews a running job's lease every third of its length until the block ends, and
    stops once the claim is no longer ours. A failed renewal is logged, not raised: the job
    goes on, and if its lease does run out the sweeper's re-run wins."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, job_id: int, attempt: int, lease_seconds: int
    ) -> None:
        self._uow_factory = uow_factory
        self._job_id, self._attempt, self._lease_seconds = job_id, attempt, lease_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._lease_seconds / 3):
            try:
                with self._uow_factory() as uow:
                    row = uow.get_for_update(OutboxJob, self._job_id)
                    if not _still_ours(row, self._attempt):
                        return
                    assert row is not None
                    row.lease_until = utcnow() + timedelta(seconds=self._lease_seconds)
                    uow.commit()
            except Exception:  # the job runs on; the sweeper covers a lease that runs out
                log.warning("could not renew the lease of job %s", self._job_id, exc_info=True)


def _after_failure(
    uow_factory: UnitOfWorkFactory, registry: JobRegistry, job_id: int, attempt: int, error: str
) -> str:
    with uow_factory() as uow:
        row = uow.get_for_update(OutboxJob, job_id)
        if not _still_ours(row, attempt):
            log.warning("job %s failed after losing its lease on attempt %s", job_id, attempt)
            return "skipped"
        assert row is not None
        row.last_error = error
        row.lease_until = None
        row.claimed_by = None
        if row.attempts >= row.max_attempts:
            row.state = JobState.FAILED
            row.finished_at = utcnow()
            uow.record(AuditTag.JOB_FAIL, "system", "job", job_id, job=row.job, error=error)
            outcome = "failed"
        else:
            row.state = JobState.PENDING
            row.run_after = utcnow() + backoff(row.attempts)
            outcome = "retry"
        name, payload = row.job, dict(row.payload)
        uow.commit()
    if outcome == "failed":
        _give_up(uow_factory, registry, name, payload, error)
    return outcome


def _give_up(
    uow_factory: UnitOfWorkFactory,
    registry: JobRegistry,
    name: str,
    payload: dict[str, Any],
    error: str,
) -> None:
    hook = registry.give_up_hooks.get(name)
    if hook is None:
        return
    try:
        with uow_factory() as uow:
            hook(uow, payload, error)
    except Exception:  # the job stays failed either way; the hook's failure is logged
        log.exception("the give-up hook of job %s failed", name)


@dataclass(frozen=True)
class SweepReport:
    released: int
    redispatched: int
    failed: int = 0


DIED_ON_LAST_ATTEMPT = "its worker died (the lease ran out) on the last attempt"


def sweep(
    uow_factory: UnitOfWorkFactory,
    queue: JobQueue,
    registry: JobRegistry,
    *,
    grace_seconds: int = 30,
) -> SweepReport:
    """Return jobs whose worker died (lease expired) to pending, or mark them ``failed``
    (with a ``job:fail`` audit event) when that was their last attempt, and dispatch them
    again at once; also re-dispatch every job that is due but has sat pending longer than
    ``grace_seconds`` (its message was lost, or its retry time came). Safe to run
    anywhere, any number of times."""
    now = utcnow()
    with uow_factory() as uow:
        expired = uow.jobs.expired_leases(now)
        exhausted = []
        given_up: list[tuple[str, dict[str, Any]]] = []
        for job_id in expired:
            row = uow.get_for_update(OutboxJob, job_id)
            if (
                row is not None
                and row.state == JobState.RUNNING
                and row.lease_until is not None
                and as_utc(row.lease_until) < now
                and row.attempts >= row.max_attempts
            ):
                row.state = JobState.FAILED
                row.finished_at = now
                row.lease_until = None
                row.claimed_by = None
                row.last_error = DIED_ON_LAST_ATTEMPT
                uow.record(
                    AuditTag.JOB_FAIL, "system", "job", job_id, job=row.job, error=row.last_error
                )
                exhausted.append(job_id)
                given_up.append((row.job, dict(row.payload)))
        uow.flush()
        released = uow.jobs.release_expired(
            [job_id for job_id in expired if job_id not in exhausted], now
        )
        due = uow.jobs.due_pending(now - timedelta(seconds=grace_seconds))
        uow.commit()
    for name, payload in given_up:
        _give_up(uow_factory, registry, name, payload, DIED_ON_LAST_ATTEMPT)
    # A released job's message died with its worker: send it again now, not a sweep later.
    # (One that finished just before its release is merely skipped by ``run_job``.)
    redispatch = sorted((set(expired) - set(exhausted)) | set(due))
    for job_id in redispatch:
        queue.dispatch(job_id)
    return SweepReport(released, len(redispatch), len(exhausted))
