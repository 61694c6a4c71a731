"""agreements.valid_until: when each agreed licence ends, as an indexed column

The deadline check parsed ``agreements.licence["valid_until"]`` for every row a buyer
holds to find the agreements that ended. The moment becomes a column, filled here from
each agreement's licence (in UTC); a licence that names no end, or one that does not read
as a moment, leaves it NULL, which the check takes as ended. The licence keeps its key, so
downgrade only drops the column.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

# Bound with the column's own type, so SQLite stores the moment in the text form the
# application writes (and compares valid_until <= now in the right order).
MOMENT = sa.DateTime(timezone=True)


def _end(value: Any) -> datetime | None:
    data = json.loads(value) if isinstance(value, str) else value
    text = data.get("valid_until") if isinstance(data, dict) else None
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_until", MOMENT, nullable=True))
        batch_op.create_index("ix_agreements_valid_until", ["valid_until"], unique=False)
    conn = op.get_bind()
    update = sa.text("UPDATE agreements SET valid_until = :end WHERE id = :id").bindparams(
        sa.bindparam("end", type_=MOMENT)
    )
    rows = conn.execute(sa.text("SELECT id, licence FROM agreements")).all()
    for agreement_id, licence in rows:
        end = _end(licence)
        if end is not None:
            conn.execute(update, {"id": agreement_id, "end": end})


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index("ix_agreements_valid_until")
        batch_op.drop_column("valid_until")
