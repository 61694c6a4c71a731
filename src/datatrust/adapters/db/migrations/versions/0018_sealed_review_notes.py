"""review_votes: notes sealed under the reviewed item's owner's key

A review note describes someone's item, so it is sealed like the item's own fields
(``EncryptedStorage.seal_text``) and erasing the owner makes it unreadable. The column
becomes ``Text`` (a sealed note is longer than the 500 characters of plain text), and
existing notes are sealed when the master key is handed over (see 0016).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from datatrust.adapters.db.migrations.frozen import FieldSealer

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_votes", schema=None) as batch_op:
        batch_op.alter_column(
            "note", existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=False
        )
    master_key = context.config.attributes.get("master_key")
    if master_key is None:
        return
    cipher = FieldSealer(master_key)
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT v.id, v.note, k.wrapped_key, k.destroyed_at FROM review_votes v "
            "JOIN items i ON i.id = v.item_id "
            "LEFT JOIN contributor_keys k ON k.owner_id = i.owner_id "
            "WHERE v.note <> ''"
        )
    ).all()
    for row in rows:
        if row.note.startswith("dtf1."):
            continue
        destroyed = row.destroyed_at is not None or not row.wrapped_key
        note = "" if destroyed else cipher.seal_field(bytes(row.wrapped_key), row.note)
        bind.execute(
            sa.text("UPDATE review_votes SET note = :note WHERE id = :id"),
            {"note": note, "id": row.id},
        )


def downgrade() -> None:
    raise NotImplementedError("migration 0018 cannot be undone: sealed notes do not fit")
