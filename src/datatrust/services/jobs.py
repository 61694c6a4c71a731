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
    ``skipped`` (not pending, not due, or claimed by another worker)."""
    now = utcnow()
    with uow_factory() as uow:
        if not uow.queries.claim_job(
            job_id, worker_name(), now, now + timedelta(seconds=lease_seconds)
        ):
            return "skipped"
        uow.commit()
    with uow_factory() as uow:
        row = uow.get(OutboxJob, job_id)
        assert row is not None
        handler = HANDLERS.get(row.job)
        try:
            if handler is None:
                raise LookupError(f"no handler for job {row.job!r}")
            handler(uow, row.payload, JobContext(job_id, row.attempts, services))
            row = uow.get(OutboxJob, job_id)
            assert row is not None
            row.state = JobState.DONE
            row.finished_at = utcnow()
            row.lease_until = None
            uow.commit()
            return "done"
        except Exception as exc:  # a handler's failure must never take the worker down
            log.exception("job %s (%s) failed", job_id, row.job)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            uow.rollback()
    return _after_failure(uow_factory, job_id, error)


def _after_failure(uow_factory: UnitOfWorkFactory, job_id: int, error: str) -> str:
    with uow_factory() as uow:
        row = uow.get_for_update(OutboxJob, job_id)
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
        released = uow.queries.release_expired(uow.queries.expired_leases(now), now)
        due = uow.queries.due_pending(now - timedelta(seconds=grace_seconds))
        uow.commit()
    for job_id in due:
        queue.dispatch(job_id)
    return SweepReport(released, len(due))
