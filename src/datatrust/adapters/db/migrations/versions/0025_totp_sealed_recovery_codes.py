"""users.totp_secret sealed under the person's data key; recovery codes

- ``users.totp_secret`` becomes ``Text`` on PostgreSQL (a sealed value,
  ``EncryptedStorage.seal_text``, is about 4/3 of the secret plus 43 characters; SQLite
  ignores the declared length). A database dump no longer hands anyone every operator's
  and buyer's second factor.
- Existing secrets are sealed when the master key is handed over (``datatrust db upgrade``
  and the embedded start do, see 0016): under the person's data key, made here for a
  person who has none yet (operators and buyers store no objects). A secret whose key was
  destroyed (an erased person) is removed, and two-step sign-in with it.
- ``recovery_codes``: ten single-use codes per person with two-step sign-in on, stored
  only as their sha256.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from datatrust.adapters.db.migrations.frozen import FieldSealer

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)
SEALED = "dtf1."


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        # SQLite ignores a declared length (a sealed secret fits as it is); rebuilding
        # ``users`` there would fail on the rows of every table that references it.
        op.alter_column(
            "users",
            "totp_secret",
            existing_type=sa.String(length=64),
            type_=sa.Text(),
            existing_nullable=True,
        )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    master_key = context.config.attributes.get("master_key")
    if master_key is None:
        log.warning("migration 0025: no master key given; existing TOTP secrets were not sealed")
        return
    seal_totp_secrets(op.get_bind(), FieldSealer(master_key))


def seal_totp_secrets(bind: sa.engine.Connection, cipher) -> int:  # type: ignore[no-untyped-def]
    """Seal every TOTP secret still in clear; the number sealed. Safe to run again."""
    rows = bind.execute(
        sa.text(
            "SELECT u.id, u.totp_secret, k.wrapped_key, k.destroyed_at FROM users u "
            "LEFT JOIN contributor_keys k ON k.owner_id = u.id "
            "WHERE u.totp_secret IS NOT NULL"
        )
    ).all()
    sealed = 0
    for row in rows:
        if row.totp_secret.startswith(SEALED):
            continue
        if row.destroyed_at is not None:
            bind.execute(
                sa.text(
                    "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, "
                    "totp_last_step = NULL WHERE id = :id"
                ),
                {"id": row.id},
            )
            continue
        wrapped = bytes(row.wrapped_key) if row.wrapped_key else None
        if wrapped is None:
            wrapped = cipher.new_wrapped_key()
            bind.execute(
                sa.text(
                    "INSERT INTO contributor_keys (owner_id, wrapped_key, created_at) "
                    "VALUES (:owner, :key, :at)"
                ),
                {"owner": row.id, "key": wrapped, "at": datetime.now(UTC)},
            )
        bind.execute(
            sa.text("UPDATE users SET totp_secret = :secret WHERE id = :id"),
            {"secret": cipher.seal_field(wrapped, row.totp_secret), "id": row.id},
        )
        sealed += 1
    return sealed


def downgrade() -> None:
    raise NotImplementedError("migration 0025 cannot be undone: sealed secrets do not fit")
