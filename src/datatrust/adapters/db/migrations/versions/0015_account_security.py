"""accounts: sign-up requests confirmed by email, failed sign-ins by client, TOTP

- ``sign_up_requests``: a sign-up waits here until its email's owner opens the link sent
  to it; the account is created only then, so the form's answer is the same for a new
  email and a taken one (no enumeration) and nobody can hold an address they do not read.
- ``sign_in_attempts.client``: the address (or the known browser) a failed sign-in came
  from, for throttling per client as well as per account.
- ``users.totp_secret``, ``totp_enabled_at``, ``totp_last_step``: optional second factor;
  the last accepted time step is kept so a code cannot be used twice.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_up_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_up_requests")),
    )
    with op.batch_alter_table("sign_up_requests", schema=None) as batch_op:
        batch_op.create_index("ix_sign_up_requests_email", ["email"], unique=False)
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=80), nullable=True))
        batch_op.create_index("ix_sign_in_attempts_client_at", ["client", "at"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempts_client_at")
        batch_op.drop_column("client")
    with op.batch_alter_table("sign_up_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_up_requests_email")
    op.drop_table("sign_up_requests")
