"""items: a partial index on items without a de-identified version

Selection leaves out listed items that have nothing to deliver
(``SqlQueries.undeliverable_item_ids``). Such rows are rare (a status rule keeps them
from being listed), so this index holds only items with no de-identified version and
finds the listed ones without reading every listed row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WHERE = sa.text("deidentified_key IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_items_undeliverable",
        "items",
        ["status", "id"],
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_items_undeliverable", "items")
