"""pay floor: campaign pay terms (stated effort, recheck, pause) and task starts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_pay_terms",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("expected_minutes_per_item", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("rechecked_at", TZ, nullable=True),
        sa.Column("measured_submissions", sa.Integer(), nullable=True),
        sa.Column("median_effort_seconds", sa.Integer(), nullable=True),
        sa.Column("required_rate_minor", sa.BigInteger(), nullable=True),
        sa.Column("paused_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_pay_terms_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_pay_terms")),
    )
    op.create_table(
        "task_starts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_task_starts_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_task_starts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_starts")),
    )
    op.create_index(
        "ix_task_starts_campaign_user",
        "task_starts",
        ["campaign_id", "user_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_task_starts_campaign_user", table_name="task_starts")
    op.drop_table("task_starts")
    op.drop_table("campaign_pay_terms")
