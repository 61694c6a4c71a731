"""licence offers, consent records with events and receipts; items.licence_id/consent_id

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Hand-written. Batch operations on ``items`` so that SQLite (which cannot add a foreign
key to an existing table) copies the table, while PostgreSQL alters it in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    # Plain strings, as in 0001: adding a value later needs no DDL.
    return sa.Enum(*values, name=name, native_enum=False, length=32)


CONSENT_STATE = ("active", "withdrawn", "expired")
CONSENT_EVENT_TYPE = ("given", "withdrawn", "expired", "renewed")


def upgrade() -> None:
    op.create_table(
        "licence_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("status", _enum("offer_status", "active", "replaced"), nullable=False),
        sa.Column("licence", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_licence_offers_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["licence_offers.id"],
            name=op.f("fk_licence_offers_supersedes_id_licence_offers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_offers")),
    )
    with op.batch_alter_table("licence_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licence_offers_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("state", _enum("consent_state", *CONSENT_STATE), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("holders_notified", sa.JSON(), nullable=True),
        sa.Column("holders_notified_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_consent_records_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_consent_records_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["licence_offers.id"],
            name=op.f("fk_consent_records_offer_id_licence_offers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
        sa.UniqueConstraint("uid", name=op.f("uq_consent_records_uid")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_records_item_id"), ["item_id"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", _enum("consent_event_type", *CONSENT_EVENT_TYPE), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("resulting_state", _enum("consent_state", *CONSENT_STATE), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consent_records.id"],
            name=op.f("fk_consent_events_consent_id_consent_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("consent_id", "seq", name="uq_consent_events_consent_id_seq"),
    )

    op.create_table(
        "consent_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event_type", _enum("consent_event_type", *CONSENT_EVENT_TYPE), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consent_records.id"],
            name=op.f("fk_consent_receipts_consent_id_consent_records"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_consent_receipts_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_receipts")),
    )
    with op.batch_alter_table("consent_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_receipts_consent_id"), ["consent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consent_receipts_owner_id"), ["owner_id"], unique=False
        )

    # items.consent_id has no foreign key: consent_records.item_id already points at
    # items, and a key back would be a cycle (insert order, drops).
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licence_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("consent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_items_licence_id_licence_offers"),
            "licence_offers",
            ["licence_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_items_licence_id"), ["licence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_consent_id"), ["consent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_consent_id"))
        batch_op.drop_index(batch_op.f("ix_items_licence_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_items_licence_id_licence_offers"), type_="foreignkey"
        )
        batch_op.drop_column("consent_id")
        batch_op.drop_column("licence_id")

    with op.batch_alter_table("consent_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_receipts_owner_id"))
        batch_op.drop_index(batch_op.f("ix_consent_receipts_consent_id"))
    op.drop_table("consent_receipts")
    op.drop_table("consent_events")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_item_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_owner_id"))
    op.drop_table("consent_records")
    with op.batch_alter_table("licence_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_offers_owner_id"))
    op.drop_table("licence_offers")
