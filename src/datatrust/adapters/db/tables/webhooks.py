"""Tables for buyers' webhooks and the log of every push attempt (migration 0021)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata
from datatrust.domain.webhooks import Webhook, WebhookDelivery

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("created_by", Integer, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("alerted_at", TZ),
    Column("removed_at", TZ),
    Index("ix_webhooks_org_id_removed_at", "org_id", "removed_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", ForeignKey("webhooks.id"), nullable=False, index=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("notice_id", ForeignKey("revocations.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", TZ, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_deliveries_org_id_id", "org_id", "id"),
)


def map_webhooks() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(Webhook, webhooks)
    mapper_registry.map_imperatively(WebhookDelivery, webhook_deliveries)
