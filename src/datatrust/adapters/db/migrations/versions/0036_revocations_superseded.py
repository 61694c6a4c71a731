"""revocations.superseded_at: a notice consent given again ended before it took effect

A buyer whose licence promised notice keeps a withdrawn item until the notice ends. When
the contributor gives consent again under the same licence before then, the withdrawal
never takes effect for that buyer: its notice is marked superseded (it stays in the feed,
at its place, saying so) and its agreement stands on the new consent. Should that consent
be withdrawn later, the buyer gets a new notice, so the one-notice-per-buyer-and-item
rule holds for standing notices only: the unique constraint becomes a partial unique
index. Existing rows are all standing (NULL).

Downgrade deletes superseded notices only if none exists (it refuses otherwise, since the
old constraint could not hold them and a buyer's feed must not lose an entry silently).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

STANDING = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint("uq_revocations_org_id_item_id", type_="unique")
    op.create_index(
        "uq_revocations_org_id_item_id_standing",
        "revocations",
        ["org_id", "item_id"],
        unique=True,
        sqlite_where=STANDING,
        postgresql_where=STANDING,
    )


def downgrade() -> None:
    conn = op.get_bind()
    superseded = conn.execute(
        sa.text("SELECT count(*) FROM revocations WHERE superseded_at IS NOT NULL")
    ).scalar_one()
    if superseded:
        raise RuntimeError(
            f"{superseded} superseded revocation notice(s) would break the one-notice "
            "constraint of 0035; they are part of buyers' feeds and are not deleted"
        )
    op.drop_index("uq_revocations_org_id_item_id_standing", "revocations")
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_revocations_org_id_item_id", ["org_id", "item_id"])
        batch_op.drop_column("superseded_at")
