"""campaigns: the old default licence template "standard" becomes "training_only"

Campaigns created before 0011 defaulted to a template named "standard", which no licence
template ever had; campaigns now refuse an unknown template, so those rows would fail on
their task page. "training_only" is the default they meant (the narrowest template).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE campaigns SET licence_template = 'training_only'"
        " WHERE licence_template = 'standard'"
    )


def downgrade() -> None:
    pass  # "standard" was never a real template: there is nothing to restore
