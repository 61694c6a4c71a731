"""payout methods: where each contributor is paid (issue 18 §7)

- ``payout_methods``: a contributor's bank account, M-Pesa number or UPI address, its
  details sealed under their data key, with a masked label to show; removing one keeps
  the row (``removed_at``) so the payouts sent there still say where they went.
- ``payouts.method_id``: the method a payout was asked for (None for the ones before, or
  asked without one: the batch then uses the person's current method for that currency).
  No foreign key, so SQLite adds the column in place instead of rebuilding ``payouts``.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rail", sa.String(length=32), nullable=False),
        sa.Column("details_sealed", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payout_methods_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_methods")),
    )
    op.create_index("ix_payout_methods_user_id", "payout_methods", ["user_id"], unique=False)
    op.add_column("payouts", sa.Column("method_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("payouts", "method_id")  # SQLite 3.35+ drops a column in place
    op.drop_index("ix_payout_methods_user_id", table_name="payout_methods")
    op.drop_table("payout_methods")
