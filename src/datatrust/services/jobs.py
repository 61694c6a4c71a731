"""Running outbox jobs: handlers by name, claim, run once, retry with backoff, sweep.

A handler gets a fresh unit of work and the payload. Its effects and the job's ``done``
mark commit in that one transaction, so a worker that dies mid-job leaves no trace and the
sweeper's re-run is the only run that counts. Handlers must still be idempotent where they
touch the outside world (payout rails, mail): they receive the job id as a key.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import utcnow
from datatrust.domain.jobs import JobState, OutboxJob, backoff
from datatrust.services.ports import JobQueue, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, dict[str, Any], "JobContext"], None]
HANDLERS: dict[str, Handler] = {}


@dataclass(frozen=True)
class JobContext:
    job_id: int
    attempt: int
    services: Any  # the bootstrapped container, for handlers that need storage or signing


def job(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under ``name`` (the name stored in outbox rows)."""

    def register(handler: Handler) -> Handler:
        if name in HANDLERS and HANDLERS[name] is not handler:
            raise RuntimeError(f"two handlers for job {name!r}")
        HANDLERS[name] = handler
        return handler

    return register


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    uow_factory: UnitOfWorkFactory,
    job_id: int,
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
        if not uow.queries.claim_job(
            job_id, worker_name(), now, now + timedelta(seconds=lease_seconds)
        ):
            return "skipped"
        claimed = uow.get(OutboxJob, job_id)
        assert claimed is not None
        name, payload, attempt = claimed.job, dict(claimed.payload), claimed.attempts
        uow.commit()
    handler = HANDLERS.get(name)
    with uow_factory() as uow:
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
            uow.commit()
            return "done"
        except Exception as exc:  # a handler's failure must never take the worker down
            log.exception("job %s (%s) failed", job_id, name)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            uow.rollback()
    return _after_failure(uow_factory, job_id, attempt, error)


def _still_ours(row: OutboxJob | None, attempt: int) -> bool:
    """The claim made as ``attempt`` still holds: no sweeper released it and no later
    claim took it (each claim increments ``attempts``, so the count names the claim)."""
    return row is not None and row.state == JobState.RUNNING and row.attempts == attempt


def _after_failure(uow_factory: UnitOfWorkFactory, job_id: int, attempt: int, error: str) -> str:
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
        uow.commit()
        return outcome


@dataclass(frozen=True)
class SweepReport:
    released: int
    redispatched: int


def sweep(
    uow_factory: UnitOfWorkFactory, queue: JobQueue, *, grace_seconds: int = 30
) -> SweepReport:
    """Return jobs whose worker died (lease expired) to pending and re-dispatch every job
    that is due but has sat pending longer than ``grace_seconds`` (its message was lost,
    or its retry time came). Safe to run anywhere, any number of times."""
    now = utcnow()
    with uow_factory() as uow:
        expired = uow.queries.expired_leases(now)
        released = uow.queries.release_expired(expired, now)
        due = uow.queries.due_pending(now - timedelta(seconds=grace_seconds))
        uow.commit()
    # A released job's message died with its worker: send it again now, not a sweep later.
    # (One that finished just before its release is merely skipped by ``run_job``.)
    redispatch = sorted(set(expired) | set(due))
    for job_id in redispatch:
        queue.dispatch(job_id)
    return SweepReport(released, len(redispatch))
