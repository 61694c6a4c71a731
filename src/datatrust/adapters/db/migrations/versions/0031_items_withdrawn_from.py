"""items.withdrawn_from: the status a withdrawn item returns to when consent is given again

Withdrawal set an item's status to ``withdrawn`` and forgot where it stood, so consent
could never be given again (issue 18 §4). The column keeps that status while the item is
withdrawn. Items withdrawn before it take the status their other columns show, where they
show one: an erased item (its files are gone) and one that never passed its checks keep
none, and cannot be offered again; one whose campaign review accepted it was ``listed``;
one still waiting for its review, or processed outside a campaign, was ``accepted``. A
rejected one is never withdrawn from anything it could return to. Downgrade drops it.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

# What a withdrawn item's review state says it was (no review: processed outside a
# campaign, which the pipeline leaves ``accepted``).
BACKFILL = """
UPDATE items SET withdrawn_from = CASE
    WHEN review_state = 'accepted' THEN 'listed'
    WHEN review_state IN ('waiting', 'waiting_for_escrow') THEN 'accepted'
    WHEN review_state IS NULL THEN 'accepted'
END
WHERE status = 'withdrawn'
  AND filename <> 'erased'
  AND deidentified_key IS NOT NULL
  AND (review_state IS NULL OR review_state <> 'rejected')
"""


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_from", sa.String(length=32), nullable=True))
    op.execute(sa.text(BACKFILL))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_from")
