"""The outbox: follow-up jobs committed with the change that queued them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.jobs import JobState, OutboxJob

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("state", string_enum(JobState, "job_state"), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=8),
    Column("run_after", TZ, nullable=False),
    Column("lease_until", TZ),
    Column("claimed_by", String(100)),
    Column("last_error", Text),
    Column("created_at", TZ, nullable=False),
    Column("finished_at", TZ),
    Index("ix_outbox_state_run_after", "state", "run_after"),
)


def map_jobs() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(OutboxJob, outbox)
