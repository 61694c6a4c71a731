"""items: accepted items with nothing to deliver go back to processed

Before 0012's rule, a call whose other side had not confirmed and whose transcript named
no speakers was accepted with no de-identified version. Such an item can never be listed
now (the listing guard refuses it), so each auto-approve run would try and fail on it.
They return to ``processed``, where they wait for the contributor to upload again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE items SET status = 'processed'"
        " WHERE status = 'accepted' AND deidentified_key IS NULL"
    )


def downgrade() -> None:
    pass  # an accepted item with nothing to deliver was the defect: nothing to restore
