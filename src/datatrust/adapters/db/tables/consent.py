"""Tables for licence offers, consent records, their events and receipts (migration 0002),
and the imperative mapping of their domain records onto them."""

from __future__ import annotations

from typing import Any

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
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import relationship
from sqlalchemy.types import TypeDecorator

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.consent import (
    ConsentEvent,
    ConsentEventType,
    ConsentRecord,
    ConsentState,
    ConsentTerms,
    LicenceOffer,
    OfferStatus,
    Receipt,
)


class ConsentTermsJSON(TypeDecorator[ConsentTerms]):
    """A record's ``ConsentTerms`` stored as their JSON (``ConsentTerms.to_dict``)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: ConsentTerms | None, dialect: Dialect) -> Any:
        return None if value is None else value.to_dict()

    def process_result_value(self, value: Any, dialect: Dialect) -> ConsentTerms | None:
        return None if value is None else ConsentTerms.from_dict(value)


licence_offers = Table(
    "licence_offers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("supersedes_id", ForeignKey("licence_offers.id")),
    Column("status", string_enum(OfferStatus, "offer_status"), nullable=False),
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
    Column("state", string_enum(ConsentState, "consent_state"), nullable=False),
    # The ISO/IEC TS 27560 fields (subject, controller, purposes, categories, notice…).
    Column("fields", ConsentTermsJSON(), nullable=False),
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
    Column("type", string_enum(ConsentEventType, "consent_event_type"), nullable=False),
    Column("at", TZ, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("resulting_state", string_enum(ConsentState, "consent_state"), nullable=False),
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
    Column("event_type", string_enum(ConsentEventType, "consent_event_type"), nullable=False),
    Column("jws", Text, nullable=False),
    Column("kid", String(64), nullable=False),
    Column("created_at", TZ, nullable=False),
)


def map_licences_and_consent() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(LicenceOffer, licence_offers)
    mapper_registry.map_imperatively(ConsentEvent, consent_events)
    # The record carries its events (stored with it, loaded with it, in order) and its
    # terms (one JSON column); ``record_id`` is the column ``uid``.
    mapper_registry.map_imperatively(
        ConsentRecord,
        consent_records,
        properties={
            "record_id": consent_records.c.uid,
            "terms": consent_records.c.fields,
            "events": relationship(
                ConsentEvent,
                order_by=consent_events.c.seq,
                cascade="all",
                lazy="selectin",
            ),
        },
    )
    mapper_registry.map_imperatively(Receipt, consent_receipts)
