"""items (campaign_id, status): a campaign's quota is counted from an index

Every upload to a campaign (a tus upload twice: at creation and at its last byte) counts
the campaign's accepted and listed items against its quota. No index began with
``campaign_id``, so PostgreSQL read every item: 24 ms for 20,000 items on the profiling
machine, against 0.2 ms from this index (an index-only scan once the table is vacuumed).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_campaign_status", "items", ["campaign_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_items_campaign_status", "items")
