"""items: the rest of a campaign item's review as typed columns

0029 moved the review's state and due time out of ``items.report["campaign"]``; the pay
terms and the outcome stayed there as JSON keys, parsed each time an item's pay was
reckoned, its escrow kept or its review shown. Each becomes a column:

    rate_minor               -> terms_rate_minor
    coverage_bonus_minor     -> terms_bonus_minor
    reviewed_by              -> reviewed_by
    paid_minor               -> paid_minor
    coverage_bonus_paid_minor -> bonus_paid_minor
    escrow_shortfall_minor   -> escrow_shortfall_minor

A key leaves the report only when its value fits the column (a whole number; one of the
three deciders), so nothing is lost; the campaign's descriptive copy (id, review mode,
currency, pay basis) stays in the report. Downgrade puts every key back.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

MONEY = {
    "rate_minor": "terms_rate_minor",
    "coverage_bonus_minor": "terms_bonus_minor",
    "paid_minor": "paid_minor",
    "coverage_bonus_paid_minor": "bonus_paid_minor",
    "escrow_shortfall_minor": "escrow_shortfall_minor",
}
DECIDERS = ("operator", "peers", "review_window")
# The report key each column came from (reviewed_by keeps its name).
KEYS = {**MONEY, "reviewed_by": "reviewed_by"}
COLUMNS = list(KEYS.values())


def _report(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str) else value
    return data if isinstance(data, dict) else {}


def _fits(key: str, value: Any) -> bool:
    if key == "reviewed_by":
        return value in DECIDERS
    return isinstance(value, int) and not isinstance(value, bool)


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        for column in COLUMNS:
            kind = sa.String(length=32) if column == "reviewed_by" else sa.BigInteger()
            batch_op.add_column(sa.Column(column, kind, nullable=True))
    conn = op.get_bind()
    assigned = ", ".join(f"{c} = :{c}" for c in COLUMNS)
    update = sa.text(f"UPDATE items SET {assigned}, report = :report WHERE id = :id").bindparams(
        sa.bindparam("report", type_=sa.JSON)
    )
    rows = conn.execute(sa.text("SELECT id, report FROM items WHERE campaign_id IS NOT NULL"))
    for item_id, stored in rows.all():
        report = _report(stored)
        terms = report.get("campaign")
        if not isinstance(terms, dict):
            continue
        moved = {c: None for c in COLUMNS}
        for key, column in KEYS.items():
            if key in terms and _fits(key, terms[key]):
                moved[column] = terms.pop(key)
        if all(v is None for v in moved.values()):
            continue
        conn.execute(update, {"id": item_id, **moved, "report": {**report, "campaign": terms}})


def downgrade() -> None:
    conn = op.get_bind()
    update = sa.text("UPDATE items SET report = :report WHERE id = :id").bindparams(
        sa.bindparam("report", type_=sa.JSON)
    )
    anything = " OR ".join(f"{c} IS NOT NULL" for c in COLUMNS)
    rows = conn.execute(
        sa.text(f"SELECT id, report, {', '.join(COLUMNS)} FROM items WHERE {anything}")
    )
    for item_id, stored, *values in rows.all():
        report = _report(stored)
        terms = dict(report.get("campaign") or {})
        for (key, _column), value in zip(KEYS.items(), values, strict=True):
            if value is not None:
                terms[key] = value if key == "reviewed_by" else int(value)
        conn.execute(update, {"id": item_id, "report": {**report, "campaign": terms}})
    with op.batch_alter_table("items", schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
