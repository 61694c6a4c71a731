"""items.review_state and items.review_due: a campaign item's review as typed columns

They were the keys ``review`` and ``review_due`` inside ``items.report["campaign"]``, so
auto-approval loaded and parsed every accepted item to find the overdue ones. Now it
claims them through ``ix_items_review_due``. Existing items take both from their report,
and the keys leave the report (one place holds the state); downgrade puts them back.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

STATES = ("waiting", "waiting_for_escrow", "accepted", "rejected")
# Bound with the column's own type, so SQLite stores the moment in the text form the
# application writes (and compares review_due <= now in the right order).
MOMENT = sa.DateTime(timezone=True)


def _report(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str) else value
    return data if isinstance(data, dict) else {}


def _moment(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_state", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("review_due", MOMENT, nullable=True))
        batch_op.create_index("ix_items_review_due", ["review_state", "review_due"], unique=False)
    conn = op.get_bind()
    update = sa.text(
        "UPDATE items SET review_state = :state, review_due = :due, report = :report WHERE id = :id"
    ).bindparams(sa.bindparam("due", type_=MOMENT), sa.bindparam("report", type_=sa.JSON))
    rows = conn.execute(sa.text("SELECT id, report FROM items WHERE campaign_id IS NOT NULL"))
    for item_id, stored in rows.all():
        report = _report(stored)
        terms = report.get("campaign")
        if not isinstance(terms, dict) or ("review" not in terms and "review_due" not in terms):
            continue
        state = terms.pop("review", None)
        due = _moment(terms.pop("review_due", None))
        conn.execute(
            update,
            {
                "id": item_id,
                "state": state if state in STATES else None,
                "due": due,
                "report": {**report, "campaign": terms},
            },
        )


def downgrade() -> None:
    conn = op.get_bind()
    update = sa.text("UPDATE items SET report = :report WHERE id = :id").bindparams(
        sa.bindparam("report", type_=sa.JSON)
    )
    rows = conn.execute(
        sa.text(
            "SELECT id, report, review_state, review_due FROM items "
            "WHERE review_state IS NOT NULL OR review_due IS NOT NULL"
        ).columns(
            sa.column("id"),
            sa.column("report"),
            sa.column("review_state"),
            sa.column("review_due", MOMENT),
        )
    )
    for item_id, stored, state, due in rows.all():
        report = _report(stored)
        terms = dict(report.get("campaign") or {})
        terms["review"] = state
        terms["review_due"] = _moment(due.isoformat()).isoformat() if due else None
        conn.execute(update, {"id": item_id, "report": {**report, "campaign": terms}})
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_review_due")
        batch_op.drop_column("review_due")
        batch_op.drop_column("review_state")
