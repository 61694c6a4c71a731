"""Test-only job handlers, loaded in workers through ``DATATRUST_JOB_PLUGINS=job_plugins``.

Every handler's effect is one audit event about subject type ``test-job`` recorded in the
job's own unit of work, so the tests count runs that *committed*, never attempts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import UnitOfWork

SUBJECT = "test-job"


def _effect(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    uow.record(
        AuditTag.INSTANCE_UPDATE, "system", SUBJECT, payload["n"], job=ctx.job_id, at=ctx.attempt
    )


@job("test.record")
def record(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Records one effect."""
    _effect(uow, payload, ctx)


@job("test.slow")
def slow(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Sleeps ``payload["seconds"]`` (on the first attempt only when ``first_only``), then
    records one effect: a job a worker can be killed in the middle of."""
    if ctx.attempt == 1 or not payload.get("first_only"):
        time.sleep(float(payload["seconds"]))
    _effect(uow, payload, ctx)


@job("test.flaky")
def flaky(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Fails its first ``payload["fail"]`` attempts (the attempt count is the outbox row's),
    then records one effect. Its failing attempts record an effect too, which the rollback
    of a failed attempt must discard."""
    _effect(uow, payload, ctx)
    if ctx.attempt <= int(payload["fail"]):
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")


@job("test.broken")
def broken(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Always fails, after recording an effect that must never commit."""
    _effect(uow, payload, ctx)
    raise ValueError("broken on purpose")


GATE = threading.Event()
GATE.set()


@job("test.gated")
def gated(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """On its first attempt waits for ``GATE`` (in-process tests only), then records one
    effect: a worker that is still busy when its lease runs out."""
    if ctx.attempt == 1:
        GATE.wait(timeout=60)
    _effect(uow, payload, ctx)
