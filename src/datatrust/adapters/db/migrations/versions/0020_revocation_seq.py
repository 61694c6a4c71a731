"""revocations.seq: each notice's place in its buyer's feed (1, 2, 3 … per organisation)

The feed is a sequenced log: a buyer's client checks that the entries run 1..last_seq
with no hole (a withheld notice shows) and refuses a feed whose last sequence is below
one it has seen (a replayed older feed). Existing notices are numbered in the order they
were made (by id) within their organisation.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, org_id FROM revocations ORDER BY org_id, id")).all()
    counters: dict[int, int] = {}
    for row_id, org_id in rows:
        counters[org_id] = counters.get(org_id, 0) + 1
        conn.execute(
            sa.text("UPDATE revocations SET seq = :seq WHERE id = :id"),
            {"seq": counters[org_id], "id": row_id},
        )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint("uq_revocations_org_id_seq", ["org_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_revocations_org_id_seq", type_="unique")
        batch_op.drop_column("seq")
