"""The hash-chained audit log and its one-row head."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata
from datatrust.domain.audit import AuditEvent

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", TZ, nullable=False),
    Column("tag", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("subject_type", String(64), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_subject", "subject_type", "subject_id"),
)

# One row: the chain's head. Appending locks it (an UPDATE), which serialises writers on
# PostgreSQL and SQLite alike, so two transactions can never both extend the same link.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)


def map_audit() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(AuditEvent, audit_events)
