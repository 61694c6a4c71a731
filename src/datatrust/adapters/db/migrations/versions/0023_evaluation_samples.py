"""evaluation_samples: each item an organisation saw in an evaluation sample

Counted per organisation against ``evaluation_sample_limit``; the contributor reads each
one in the item's passport (audit ``sample:access``).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evaluation_samples_org_id", "evaluation_samples", ["org_id"])
    op.create_index(
        op.f("ix_evaluation_samples_item_id"), "evaluation_samples", ["item_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_evaluation_samples_item_id"), table_name="evaluation_samples")
    op.drop_index("ix_evaluation_samples_org_id", table_name="evaluation_samples")
    op.drop_table("evaluation_samples")
