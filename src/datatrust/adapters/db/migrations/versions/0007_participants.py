"""participants: invitations for the other people in a chat or call to consent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "participant_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_participant_invitations_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_participant_invitations_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_participant_invitations_token_hash")),
        sa.UniqueConstraint("item_id", "label", name="uq_participant_invitations_item_id_label"),
    )
    op.create_index(
        op.f("ix_participant_invitations_item_id"), "participant_invitations", ["item_id"]
    )
    op.create_index(
        op.f("ix_participant_invitations_owner_id"), "participant_invitations", ["owner_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_participant_invitations_owner_id"), "participant_invitations")
    op.drop_index(op.f("ix_participant_invitations_item_id"), "participant_invitations")
    op.drop_table("participant_invitations")
