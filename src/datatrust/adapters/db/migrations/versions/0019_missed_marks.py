"""missed marks: what a contributor marked on a preview as missed by de-identification

- ``missed_marks``: one row per marked span of text or region of a photo, with its
  category and where it was (offsets or a box in thousandths), never the detail itself;
  ``state`` is pending until the item has been re-done without it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "missed_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("end", sa.Integer(), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("box_left", sa.Integer(), nullable=True),
        sa.Column("box_top", sa.Integer(), nullable=True),
        sa.Column("box_width", sa.Integer(), nullable=True),
        sa.Column("box_height", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_missed_marks_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_missed_marks_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_marks")),
    )
    with op.batch_alter_table("missed_marks", schema=None) as batch_op:
        batch_op.create_index("ix_missed_marks_item_id", ["item_id"], unique=False)
        batch_op.create_index("ix_missed_marks_owner_id", ["owner_id"], unique=False)
        batch_op.create_index("ix_missed_marks_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("missed_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_missed_marks_state")
        batch_op.drop_index("ix_missed_marks_owner_id")
        batch_op.drop_index("ix_missed_marks_item_id")
    op.drop_table("missed_marks")
