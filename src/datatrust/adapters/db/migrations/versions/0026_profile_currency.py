"""users.currency: the currency a person reads approximate amounts in (issue 18 §7)

A plain nullable column added in place (no table rebuild on SQLite, where rebuilding
``users`` fails on the rows of every table that references it); None keeps the old
behaviour, the currency of the person's country.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "currency")  # SQLite 3.35+ drops a column in place
