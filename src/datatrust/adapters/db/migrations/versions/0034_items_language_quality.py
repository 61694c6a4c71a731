"""items.language and items.quality_score: what a catalogue search filters by, as columns

The catalogue loaded every item on offer and parsed its report to filter by language
(``report["language"]``, else the campaign part's ``language``) and by least quality
(``report["quality"]["score"]``). Both become columns, indexed with the status, filled
here from each item's report as the application reads it: a language only when it is
text, a score only when it is a number. The report keeps its keys (the owner reads it),
so downgrade only drops the columns.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

BATCH = 1000


def _report(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str) else value
    return data if isinstance(data, dict) else {}


def _language(report: dict[str, Any]) -> str | None:
    campaign = report.get("campaign")
    value = report.get("language") or (
        campaign.get("language") if isinstance(campaign, dict) else None
    )
    return value if isinstance(value, str) else None


def _quality_score(report: dict[str, Any]) -> float | None:
    quality = report.get("quality") or {}
    score = quality.get("score") if isinstance(quality, dict) else None
    return float(score) if isinstance(score, int | float) else None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("quality_score", sa.Float(), nullable=True))
        batch_op.create_index("ix_items_status_language", ["status", "language"], unique=False)
        batch_op.create_index(
            "ix_items_status_quality_score", ["status", "quality_score"], unique=False
        )
    conn = op.get_bind()
    update = sa.text("UPDATE items SET language = :language, quality_score = :score WHERE id = :id")
    page = sa.text("SELECT id, report FROM items WHERE id > :after ORDER BY id LIMIT :n")
    after = 0
    while rows := conn.execute(page, {"after": after, "n": BATCH}).all():
        for item_id, stored in rows:
            report = _report(stored)
            language, score = _language(report), _quality_score(report)
            if language is not None or score is not None:
                conn.execute(update, {"id": item_id, "language": language, "score": score})
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_status_quality_score")
        batch_op.drop_index("ix_items_status_language")
        batch_op.drop_column("quality_score")
        batch_op.drop_column("language")
