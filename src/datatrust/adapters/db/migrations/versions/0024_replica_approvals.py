"""replica approvals: "ask me each time" for replica uses (issue 16 §3)

- ``replica_approvals``: one request per item, organisation and replica use, with the
  contributor's decision (pending, approved, refused). The licence terms themselves are
  JSON in ``licence_offers.licence`` and need no column: the replica grant's scope, its
  own end, per-use approval and the withdrawal notice are new keys there.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("org_name", sa.String(length=300), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("use", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_replica_approvals_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_replica_approvals_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_replica_approvals_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_replica_approvals_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replica_approvals")),
    )
    with op.batch_alter_table("replica_approvals", schema=None) as batch_op:
        batch_op.create_index("ix_replica_approvals_item_id", ["item_id"], unique=False)
        batch_op.create_index(
            "ix_replica_approvals_owner_state", ["owner_id", "state"], unique=False
        )
        batch_op.create_index("ix_replica_approvals_org_state", ["org_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replica_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_replica_approvals_org_state")
        batch_op.drop_index("ix_replica_approvals_owner_state")
        batch_op.drop_index("ix_replica_approvals_item_id")
    op.drop_table("replica_approvals")
