"""selection index: the consent record's offer and state mirrored on items, one covering
index; and each snapshot's own data key (its files are encrypted at rest)

A selection groups a million candidate items by (status, licence, consent offer, consent
state). Reading the consent side through a join cost SQLite a table row, a consent row and
a temporary sort per item; with both values on the item row, one index in that column
order answers the grouping in index order and the id query without touching the table.

snapshots.wrapped_key: the snapshot's data key, wrapped by the master key, under which
its shards, index, manifest and checksums are stored. NULL only for builds made before
this revision, whose files were stored in the clear.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch_op:
        batch_op.add_column(sa.Column("consent_offer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("consent_state", sa.String(length=32), nullable=True))
    # Existing rows take their values from the consent record they point at (none: NULL,
    # which a selection reads as "no consent").
    op.execute(
        "UPDATE items SET "
        "consent_offer_id = (SELECT c.offer_id FROM consent_records c "
        "WHERE c.id = items.consent_id), "
        "consent_state = (SELECT c.state FROM consent_records c WHERE c.id = items.consent_id) "
        "WHERE consent_id IS NOT NULL"
    )
    op.create_index(
        "ix_items_selection",
        "items",
        ["status", "licence_id", "consent_offer_id", "consent_state", "id"],
    )
    with op.batch_alter_table("snapshots") as batch_op:
        batch_op.add_column(sa.Column("wrapped_key", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch_op:
        batch_op.drop_column("wrapped_key")
    op.drop_index("ix_items_selection", "items")
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_column("consent_state")
        batch_op.drop_column("consent_offer_id")
