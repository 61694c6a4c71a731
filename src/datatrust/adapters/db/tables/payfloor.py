"""Tables for the pay-floor recheck: each campaign's stated effort and floor state, and
when contributors started a task; ``tables.map_domain`` calls ``map_payfloor`` once."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata
from datatrust.domain.campaigns import CampaignPayTerms, TaskStart

campaign_pay_terms = Table(
    "campaign_pay_terms",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("expected_minutes_per_item", Integer, nullable=False),
    Column("country", String(2)),
    Column("rechecked_at", TZ),
    Column("measured_submissions", Integer),
    Column("median_effort_seconds", Integer),
    Column("required_rate_minor", BigInteger),
    Column("paused_at", TZ),
)

task_starts = Table(
    "task_starts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("started_at", TZ, nullable=False),
    # The submission this start measured (set when the upload arrives); one item per start.
    Column("item_id", ForeignKey("items.id"), unique=True),
    Index("ix_task_starts_campaign_user", "campaign_id", "user_id", "started_at"),
)


def map_payfloor() -> None:
    mapper_registry.map_imperatively(CampaignPayTerms, campaign_pay_terms)
    mapper_registry.map_imperatively(TaskStart, task_starts)
