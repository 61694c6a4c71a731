"""Tables for orders, agreements, snapshots, deliveries and revocation notices
(migration 0005), and the imperative mapping of their domain records onto them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    text,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.orders import AgreementRow, Order, OrderState, ReplicaApproval
from datatrust.domain.snapshots import (
    Revocation,
    ShardState,
    Snapshot,
    SnapshotItem,
    SnapshotShard,
    SnapshotState,
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("use", JSON, nullable=False),
    Column("item_ids", JSON, nullable=False),
    Column("excluded", Integer, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("quote", JSON, nullable=False),
    Column("state", string_enum(OrderState, "order_state"), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("purchased_at", TZ),
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("contributor_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("offer_id", ForeignKey("licence_offers.id"), nullable=False),
    Column("consent_id", Integer),
    Column("licence", JSON, nullable=False),
    Column("use", JSON, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("contributor_share_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("agreed_at", TZ, nullable=False),
    UniqueConstraint("order_id", "item_id", name="uq_agreements_order_id_item_id"),
    # Added by migration 0033 (it was read from licence["valid_until"]): when the agreed
    # licence ends, so the deadline check finds ended agreements by it.
    Column("valid_until", TZ, index=True),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("version", String(32), nullable=False),
    Column("item_ids", JSON, nullable=False),
    Column("dropped", JSON, nullable=False),
    Column("shard_count", Integer, nullable=False),
    Column("shards_done", Integer, nullable=False),
    Column("state", string_enum(SnapshotState, "snapshot_state"), nullable=False),
    Column("files", JSON, nullable=False),
    Column("previous_id", ForeignKey("snapshots.id")),
    Column("created_at", TZ, nullable=False),
    Column("finished_at", TZ),
    # Added by migration 0008: the snapshot's data key, wrapped by the master key.
    Column("wrapped_key", LargeBinary),
    UniqueConstraint("order_id", "version", name="uq_snapshots_order_id_version"),
)

snapshot_shards = Table(
    "snapshot_shards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("snapshot_id", ForeignKey("snapshots.id"), nullable=False),
    Column("index", Integer, nullable=False),
    Column("name", String(64), nullable=False),
    Column("item_ids", JSON, nullable=False),
    Column("state", string_enum(ShardState, "shard_state"), nullable=False),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    UniqueConstraint("snapshot_id", "index", name="uq_snapshot_shards_snapshot_id_index"),
)

snapshot_items = Table(
    "snapshot_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("snapshot_id", ForeignKey("snapshots.id"), nullable=False, index=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("agreement_id", ForeignKey("agreements.id"), nullable=False),
    Column("shard_index", Integer, nullable=False),
    Column("key", String(64), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("licence_id", String(200), nullable=False),
    Column("consent_record_id", String(64), nullable=False),
    Index("ix_snapshot_items_org_id_content_sha256", "org_id", "content_sha256"),
)

revocations = Table(
    "revocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("content_sha256", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("noticed_at", TZ, nullable=False),
    Column("deadline", TZ, nullable=False),
    Column("acknowledged_at", TZ),
    Column("attested_at", TZ),
    Column("late", Boolean, nullable=False),
    Column("overdue_at", TZ),
    Column("seq", Integer, nullable=False),
    Column("superseded_at", TZ),
    # One standing notice per buyer and item; superseded ones stay (migration 0036).
    Index(
        "uq_revocations_org_id_item_id_standing",
        "org_id",
        "item_id",
        unique=True,
        sqlite_where=text("superseded_at IS NULL"),
        postgresql_where=text("superseded_at IS NULL"),
    ),
    UniqueConstraint("org_id", "seq", name="uq_revocations_org_id_seq"),
)


# Requests to approve one replica use each (migration 0024, issue 16 §3).
replica_approvals = Table(
    "replica_approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("org_name", String(300), nullable=False),
    Column("order_id", ForeignKey("orders.id")),
    Column("use", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_at", TZ, nullable=False),
    Column("decided_at", TZ),
    # A contributor's waiting requests; an organisation's approvals for a selection.
    Index("ix_replica_approvals_owner_state", "owner_id", "state"),
    Index("ix_replica_approvals_org_state", "org_id", "state"),
)


def map_orders() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(Order, orders)
    mapper_registry.map_imperatively(AgreementRow, agreements)
    mapper_registry.map_imperatively(Snapshot, snapshots)
    mapper_registry.map_imperatively(SnapshotShard, snapshot_shards)
    mapper_registry.map_imperatively(SnapshotItem, snapshot_items)
    mapper_registry.map_imperatively(Revocation, revocations)
    mapper_registry.map_imperatively(ReplicaApproval, replica_approvals)
