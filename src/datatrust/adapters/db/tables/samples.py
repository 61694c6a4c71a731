"""Table for the items each organisation saw in evaluation samples (migration 0023)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, Table

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata
from datatrust.domain.samples import EvaluationSample

evaluation_samples = Table(
    "evaluation_samples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("requested_by", Integer, nullable=False),
    Column("created_at", TZ, nullable=False),
    Index("ix_evaluation_samples_org_id", "org_id"),
)


def map_samples() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(EvaluationSample, evaluation_samples)
