"""Tables for the incident register and its notices (migration 0017)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.incidents import Incident, IncidentState, Notice

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("discovered_at", TZ, nullable=False),
    Column("opened_by", ForeignKey("users.id"), nullable=False),
    Column("item_ids", JSON, nullable=False),
    Column("window_start", TZ),
    Column("window_end", TZ),
    Column("kinds", JSON, nullable=False),
    Column("state", string_enum(IncidentState, "incident_state"), nullable=False),
    Column("affected_items", JSON, nullable=False),
    Column("affected_users", JSON, nullable=False),
    Column("affected_orgs", JSON, nullable=False),
    Column("opened_at", TZ, nullable=False),
    Column("notified_at", TZ),
    Column("reminded_at", TZ),
    Column("closed_at", TZ),
    Index("ix_incidents_state", "state"),
)

incident_notices = Table(
    "incident_notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), index=True),
    Column("org_id", ForeignKey("organisations.id"), index=True),
    Column("language", String(16), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("read_at", TZ),
)


def map_incidents() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(Incident, incidents)
    mapper_registry.map_imperatively(Notice, incident_notices)
