"""Tables for licence offers, consent records, their events and receipts (migration 0002),
and the imperative mapping of the service entities onto them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from datatrust.adapters.db.tables import TZ, _enum, mapper_registry, metadata
from datatrust.domain.consent import (
    ConsentEventRow,
    ConsentEventType,
    ConsentRow,
    ConsentState,
    LicenceOffer,
    OfferStatus,
    Receipt,
)

licence_offers = Table(
    "licence_offers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("supersedes_id", ForeignKey("licence_offers.id")),
    Column("status", _enum(OfferStatus, "offer_status"), nullable=False),
    Column("licence", JSON, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("licence_key", String(64), nullable=False, server_default=""),
    UniqueConstraint("licence_key", "version", name="uq_licence_offers_licence_key_version"),
)

consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(64), nullable=False, unique=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("offer_id", ForeignKey("licence_offers.id"), nullable=False),
    Column("state", _enum(ConsentState, "consent_state"), nullable=False),
    # The ISO/IEC TS 27560 fields (subject, controller, purposes, categories, notice…).
    Column("fields", JSON, nullable=False),
    Column("holders_notified", JSON),
    Column("holders_notified_at", TZ),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
)

consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("consent_id", ForeignKey("consent_records.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", _enum(ConsentEventType, "consent_event_type"), nullable=False),
    Column("at", TZ, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("resulting_state", _enum(ConsentState, "consent_state"), nullable=False),
    # Append-only history: one event per position, so two writers cannot both append
    # event n (the second one's transaction fails instead of forking the history).
    UniqueConstraint("consent_id", "seq", name="uq_consent_events_consent_id_seq"),
)

consent_receipts = Table(
    "consent_receipts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("consent_id", ForeignKey("consent_records.id"), nullable=False, index=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("event_seq", Integer, nullable=False),
    Column("event_type", _enum(ConsentEventType, "consent_event_type"), nullable=False),
    Column("jws", Text, nullable=False),
    Column("kid", String(64), nullable=False),
    Column("created_at", TZ, nullable=False),
)


def map_licences_and_consent() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(LicenceOffer, licence_offers)
    mapper_registry.map_imperatively(ConsentRow, consent_records)
    mapper_registry.map_imperatively(ConsentEventRow, consent_events)
    mapper_registry.map_imperatively(Receipt, consent_receipts)
