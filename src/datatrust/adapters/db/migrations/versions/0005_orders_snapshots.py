"""orders, agreements, snapshots (shards, delivered items), revocation notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("use", sa.JSON(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("purchased_at", TZ, nullable=True),
        _fk("orders", "org_id", "organisations"),
        _fk("orders", "created_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_org_id"), "orders", ["org_id"])

    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("licence", sa.JSON(), nullable=False),
        sa.Column("use", sa.JSON(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("contributor_share_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("agreed_at", TZ, nullable=False),
        _fk("agreements", "order_id", "orders"),
        _fk("agreements", "org_id", "organisations"),
        _fk("agreements", "item_id", "items"),
        _fk("agreements", "contributor_id", "users"),
        _fk("agreements", "offer_id", "licence_offers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("order_id", "item_id", name="uq_agreements_order_id_item_id"),
    )
    for column in ("order_id", "org_id", "item_id", "contributor_id"):
        op.create_index(op.f(f"ix_agreements_{column}"), "agreements", [column])

    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("shard_count", sa.Integer(), nullable=False),
        sa.Column("shards_done", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        _fk("snapshots", "org_id", "organisations"),
        _fk("snapshots", "order_id", "orders"),
        _fk("snapshots", "created_by", "users"),
        _fk("snapshots", "previous_id", "snapshots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint("order_id", "version", name="uq_snapshots_order_id_version"),
    )
    op.create_index(op.f("ix_snapshots_org_id"), "snapshots", ["org_id"])
    op.create_index(op.f("ix_snapshots_order_id"), "snapshots", ["order_id"])

    op.create_table(
        "snapshot_shards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        _fk("snapshot_shards", "snapshot_id", "snapshots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_shards")),
        sa.UniqueConstraint("snapshot_id", "index", name="uq_snapshot_shards_snapshot_id_index"),
    )

    op.create_table(
        "snapshot_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("licence_id", sa.String(length=200), nullable=False),
        sa.Column("consent_record_id", sa.String(length=64), nullable=False),
        _fk("snapshot_items", "snapshot_id", "snapshots"),
        _fk("snapshot_items", "org_id", "organisations"),
        _fk("snapshot_items", "item_id", "items"),
        _fk("snapshot_items", "agreement_id", "agreements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_items")),
    )
    op.create_index(op.f("ix_snapshot_items_snapshot_id"), "snapshot_items", ["snapshot_id"])
    op.create_index(op.f("ix_snapshot_items_item_id"), "snapshot_items", ["item_id"])
    op.create_index(
        "ix_snapshot_items_org_id_content_sha256", "snapshot_items", ["org_id", "content_sha256"]
    )

    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("noticed_at", TZ, nullable=False),
        sa.Column("deadline", TZ, nullable=False),
        sa.Column("acknowledged_at", TZ, nullable=True),
        sa.Column("attested_at", TZ, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("overdue_at", TZ, nullable=True),
        _fk("revocations", "org_id", "organisations"),
        _fk("revocations", "item_id", "items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
        sa.UniqueConstraint("org_id", "item_id", name="uq_revocations_org_id_item_id"),
    )
    op.create_index(op.f("ix_revocations_item_id"), "revocations", ["item_id"])


def downgrade() -> None:
    op.drop_table("revocations")
    op.drop_table("snapshot_items")
    op.drop_table("snapshot_shards")
    op.drop_table("snapshots")
    op.drop_table("agreements")
    op.drop_table("orders")
