"""items.report: no copy of the campaign's description in each campaign item's report

Each item the pipeline accepted under a campaign kept a copy of the campaign in its report
(``report["campaign"]``: id, review mode, currency, pay basis and, for an operator review,
``review_queue``), which no service read: the owner's view is built from the campaign now
(``Campaign.in_report``, fields a campaign never changes) and the item's review columns.
A copy leaves the report only where that view gives it back exactly: the item's review
columns are set (0029, 0032) and the copy equals the campaign's description. Any other
part (a key of its own, another value, an item never reviewed) stays. Downgrade writes the
description back into every report the view would show it in.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

ERASED_FILENAME = "erased"  # an erased item's report was cleared: it shows no campaign
REVIEWED = (
    "SELECT i.id, i.report, c.id, c.review_mode, c.currency, c.pay_basis FROM items i "
    "JOIN campaigns c ON c.id = i.campaign_id "
    "WHERE i.review_state IS NOT NULL AND i.filename <> :erased AND i.id > :after "
    "ORDER BY i.id LIMIT :n"
)
BATCH = 1000


def _report(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str) else value
    return data if isinstance(data, dict) else {}


def _described(campaign_id: int, mode: str, currency: str, basis: str) -> dict[str, Any]:
    """``Campaign.in_report`` as it was written with this migration."""
    part: dict[str, Any] = {
        "id": campaign_id,
        "review_mode": mode,
        "currency": currency,
        "pay_basis": basis,
    }
    if mode == "operator":
        part["review_queue"] = "operator"
    return part


def _reviewed_items(conn: sa.Connection) -> Any:
    """(item id, report, the campaign's description) of every reviewed, unerased campaign
    item, read in batches."""
    page = sa.text(REVIEWED)
    after = 0
    while rows := conn.execute(page, {"erased": ERASED_FILENAME, "after": after, "n": BATCH}).all():
        for item_id, stored, *campaign in rows:
            yield item_id, _report(stored), _described(*campaign)
        after = rows[-1][0]


def _write(conn: sa.Connection, item_id: int, report: dict[str, Any]) -> None:
    update = sa.text("UPDATE items SET report = :report WHERE id = :id").bindparams(
        sa.bindparam("report", type_=sa.JSON)
    )
    conn.execute(update, {"id": item_id, "report": report})


def upgrade() -> None:
    conn = op.get_bind()
    for item_id, report, described in list(_reviewed_items(conn)):
        if report.get("campaign") == described:
            del report["campaign"]
            _write(conn, item_id, report)


def downgrade() -> None:
    conn = op.get_bind()
    for item_id, report, described in list(_reviewed_items(conn)):
        if "campaign" not in report:
            _write(conn, item_id, {**report, "campaign": described})
