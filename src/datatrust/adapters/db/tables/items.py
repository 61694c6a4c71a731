"""Items: one contribution each, with its state, review and derived artefacts."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.consent import ConsentState
from datatrust.domain.items import Item, ItemKind, ItemStatus, ReviewDecider, ReviewState

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("kind", string_enum(ItemKind, "item_kind"), nullable=False),
    Column("status", string_enum(ItemStatus, "item_status"), nullable=False),
    # Sealed under the owner's data key (EncryptedStorage.seal_text), hence Text: 0016.
    Column("title", Text, nullable=False, default=""),
    Column("filename", Text, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("original_key", String(300), nullable=False),
    Column("original_sha256", String(64), nullable=False),
    Column("campaign_id", Integer),
    Column("deidentified_key", String(300)),
    Column("deidentified_sha256", String(64)),
    Column("h3_cell", String(20)),
    Column("duration_seconds", Integer),
    Column("report", JSON, nullable=False),
    Column("fingerprints", JSON),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    # Added by migration 0002. consent_id has no foreign key on purpose: consent_records
    # already references items, and a key back would make a cycle that breaks insert
    # ordering and table drops.
    Column("licence_id", ForeignKey("licence_offers.id"), index=True),
    Column("consent_id", Integer, index=True),
    # Added by migration 0008: the consent record's offer and state, mirrored by
    # services.consent in the transaction that changes them, so that a selection reads
    # ix_items_selection alone (no join to consent_records, no table rows).
    Column("consent_offer_id", Integer),
    Column("consent_state", string_enum(ConsentState, "consent_state")),
    # Added by migration 0029 (they were keys in report["campaign"]): auto-approval claims
    # the undecided items whose window ended through ix_items_review_due.
    Column("review_state", string_enum(ReviewState, "review_state")),
    Column("review_due", TZ),
    # Added by migration 0031: the status a withdrawn item returns to when its contributor
    # gives consent again (None while it is not withdrawn).
    Column("withdrawn_from", string_enum(ItemStatus, "item_status")),
    Index("ix_items_review_due", "review_state", "review_due"),
    # Added by migration 0032 (they were keys in report["campaign"]): the rest of a
    # campaign item's review, read with the item (no query filters on them).
    Column("terms_rate_minor", BigInteger),
    Column("terms_bonus_minor", BigInteger),
    Column("reviewed_by", string_enum(ReviewDecider, "review_decider")),
    Column("paid_minor", BigInteger),
    Column("bonus_paid_minor", BigInteger),
    Column("escrow_shortfall_minor", BigInteger),
    # Added by migration 0034 (read from report["language"] and report["quality"]["score"]
    # with the report, by Item.write_report): what a catalogue search filters by.
    Column("language", Text),
    Column("quality_score", Float),
    Index("ix_items_status_language", "status", "language"),
    Index("ix_items_status_quality_score", "status", "quality_score"),
    Index("ix_items_status_kind", "status", "kind"),
    # Added by migration 0037: a campaign's quota counts its accepted and listed items.
    Index("ix_items_campaign_status", "campaign_id", "status"),
    # Added by migration 0010: the exact-duplicate check looks an upload up by its hash.
    Index("ix_items_original_sha256", "original_sha256"),
    Index("ix_items_selection", "status", "licence_id", "consent_offer_id", "consent_state", "id"),
    # Added by migration 0012: listed items with nothing to deliver, found without a scan.
    Index(
        "ix_items_undeliverable",
        "status",
        "id",
        sqlite_where=text("deidentified_key IS NULL"),
        postgresql_where=text("deidentified_key IS NULL"),
    ),
)


def map_items() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(Item, items)
