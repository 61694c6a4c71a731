"""licence_offers.licence_key: the licence's own id as a column, unique with its version

A licence IRI (``<base_url>/licences/<licence id>/v<version>``, the same in the ODRL export
and in every snapshot's Croissant manifest) resolves to its offer row through this column,
never by reading a key inside the JSON. Existing rows take it from their JSON.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licence_offers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("licence_key", sa.String(length=64), nullable=False, server_default="")
        )
    conn = op.get_bind()
    for row_id, licence in conn.execute(sa.text("SELECT id, licence FROM licence_offers")).all():
        data = json.loads(licence) if isinstance(licence, str) else licence
        conn.execute(
            sa.text("UPDATE licence_offers SET licence_key = :key WHERE id = :id"),
            {"key": str((data or {}).get("id") or ""), "id": row_id},
        )
    with op.batch_alter_table("licence_offers", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_licence_offers_licence_key_version", ["licence_key", "version"]
        )


def downgrade() -> None:
    with op.batch_alter_table("licence_offers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_licence_offers_licence_key_version", type_="unique")
        batch_op.drop_column("licence_key")
