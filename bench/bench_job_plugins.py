"""Bench-only job handler, loaded in workers through ``DATATRUST_JOB_PLUGINS``
(``bench/bench_workers.py`` puts this folder on ``PYTHONPATH``)."""

from __future__ import annotations

import time
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import UnitOfWork

SUBJECT = "bench-job"


@job("bench.io")
def io_bound(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Waits ``payload["seconds"]`` as a job waits on a remote store or a payout rail, then
    records one audit event in the job's unit of work (so it also takes the audit chain's
    lock, like every real job's commit)."""
    time.sleep(float(payload["seconds"]))
    uow.record(AuditTag.INSTANCE_UPDATE, "system", SUBJECT, payload["n"], job=ctx.job_id)
