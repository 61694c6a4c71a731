"""payouts: who holds a payout's claim, and until when

A payout batch claims the payouts it sends with a conditional update that names the
claiming process (``claimed_by``) and how long the claim lasts (``lease_until``, renewed
before each send). Another batch takes a ``sending`` payout over only when that claim has
run out or its process is gone, so two batches never send the same payout. Rows left
``sending`` by an older version have no claim and are taken over by the next batch.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
