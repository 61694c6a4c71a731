"""Outbox jobs: a job's state and idempotency key live in our database, not in the queue.

The queue only carries ids. A job is claimed by a conditional update (pending → running
with a lease); its effects and its ``done`` mark commit together, so running it twice is
harmless. A sweeper returns jobs whose lease ran out (their worker died) to ``pending``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import utcnow


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # gave up after max attempts; an operator can retry it


@dataclass(eq=False)
class OutboxJob:
    job: str
    payload: dict[str, Any]
    idempotency_key: str
    state: JobState = JobState.PENDING
    attempts: int = 0
    max_attempts: int = 8
    run_after: datetime = field(default_factory=utcnow)
    lease_until: datetime | None = None
    claimed_by: str | None = None
    last_error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    id: int | None = None


def backoff(attempts: int, base_seconds: int = 2, cap_seconds: int = 3600) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): 2 s, 4 s, 8 s … capped at an hour."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)))
