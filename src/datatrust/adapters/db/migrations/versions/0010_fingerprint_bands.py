"""fingerprint bands: an index of near-duplicate keys, and the originals' hashes indexed

Looking for near-duplicates compared a new item with every live item of its kind. Each
item's keys (its pHash cut into four 16-bit bands; the low 24 bits of its audio
fingerprint's words) now sit in fingerprint_keys, whose primary key (space, key, item_id)
answers "which items share one of these keys" from the index; only those items are then
compared. The exact-duplicate check looks items up by original_sha256, now indexed.

Existing items get their keys here, computed by the same function the running code uses
(the keys must be exactly those it probes for).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    op.create_table(
        "fingerprint_keys",
        sa.Column("space", sa.String(length=24), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_fingerprint_keys_item_id_items")
        ),
        sa.PrimaryKeyConstraint("space", "key", "item_id", name="pk_fingerprint_keys"),
    )
    op.create_index(op.f("ix_fingerprint_keys_item_id"), "fingerprint_keys", ["item_id"])
    op.create_index("ix_items_original_sha256", "items", ["original_sha256"])
    _backfill()


def _backfill() -> None:
    from datatrust.pipeline.fingerprint import index_keys

    items = sa.table("items", sa.column("id", sa.Integer), sa.column("fingerprints", sa.JSON))
    keys = sa.table(
        "fingerprint_keys",
        sa.column("space", sa.String),
        sa.column("key", sa.BigInteger),
        sa.column("item_id", sa.Integer),
    )
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(items.c.id, items.c.fingerprints)
            .where(items.c.id > after)
            .where(items.c.fingerprints.is_not(None))
            .order_by(items.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [
            {"space": space, "key": key, "item_id": item_id}
            for item_id, fingerprints in rows
            for space, key in sorted(index_keys(fingerprints or {}))
        ]
        if values:
            connection.execute(sa.insert(keys), values)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_items_original_sha256", "items")
    op.drop_index(op.f("ix_fingerprint_keys_item_id"), "fingerprint_keys")
    op.drop_table("fingerprint_keys")
