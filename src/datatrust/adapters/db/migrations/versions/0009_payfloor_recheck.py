"""pay floor recheck: each task start links to the item it produced

``task_starts.item_id`` is set when the contributor's upload to the campaign arrives; the
measured effort of that submission is the item's arrival time minus ``started_at``. Unique:
one start measures one item.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_starts") as batch_op:
        batch_op.add_column(sa.Column("item_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_task_starts_item_id_items"), "items", ["item_id"], ["id"]
        )
        batch_op.create_unique_constraint(op.f("uq_task_starts_item_id"), ["item_id"])


def downgrade() -> None:
    with op.batch_alter_table("task_starts") as batch_op:
        batch_op.drop_constraint(op.f("uq_task_starts_item_id"), type_="unique")
        batch_op.drop_constraint(op.f("fk_task_starts_item_id_items"), type_="foreignkey")
        batch_op.drop_column("item_id")
