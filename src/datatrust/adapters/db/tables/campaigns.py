"""Tables for campaigns, review votes and resumable (tus) uploads, on the shared
``metadata``; ``tables.map_domain`` calls ``map_campaigns`` once."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.campaigns import (
    Campaign,
    CampaignState,
    PayBasis,
    ReviewMode,
    ReviewVote,
)
from datatrust.domain.items import ItemKind
from datatrust.domain.uploads import ResumableUpload

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("org_id", ForeignKey("organisations.id"), index=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("kind", string_enum(ItemKind, "item_kind"), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("pay_basis", string_enum(PayBasis, "pay_basis"), nullable=False),
    Column("rate_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("coverage_bonus_minor", BigInteger, nullable=False, default=0),
    Column("quota", Integer, nullable=False),
    Column("review_window_days", Integer, nullable=False),
    Column("licence_template", String(100), nullable=False),
    Column("review_mode", string_enum(ReviewMode, "review_mode"), nullable=False),
    Column("state", string_enum(CampaignState, "campaign_state"), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("opened_at", TZ),
    Column("closed_at", TZ),
)

review_votes = Table(
    "review_votes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False),
    Column("reviewer_id", ForeignKey("users.id"), nullable=False),
    Column("up", Boolean, nullable=False),
    Column("note", Text, nullable=False, default=""),  # sealed (migration 0018)
    Column("created_at", TZ, nullable=False),
    UniqueConstraint("item_id", "reviewer_id", name="uq_review_votes_item_reviewer"),
)

resumable_uploads = Table(
    "resumable_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("kind", string_enum(ItemKind, "item_kind"), nullable=False),
    Column("filename", Text, nullable=False),  # sealed (migration 0016)
    Column("campaign_id", Integer),
    Column("length", BigInteger, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("item_id", Integer),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Index("ix_resumable_uploads_expires_at", "expires_at"),
)


def map_campaigns() -> None:
    mapper_registry.map_imperatively(Campaign, campaigns)
    mapper_registry.map_imperatively(ReviewVote, review_votes)
    mapper_registry.map_imperatively(ResumableUpload, resumable_uploads)
