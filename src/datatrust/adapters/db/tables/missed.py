"""The table of "you missed something" marks (migration 0019) and its mapping."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.items import ItemKind
from datatrust.domain.missed import MarkKind, MarkState, MissedMark

missed_marks = Table(
    "missed_marks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("item_kind", string_enum(ItemKind, "item_kind"), nullable=False),
    Column("kind", string_enum(MarkKind, "missed_mark_kind"), nullable=False),
    Column("category", String(32), nullable=False),
    Column("source_key", String(255), nullable=False),
    Column("start", Integer),
    Column("end", Integer),
    Column("length", Integer, nullable=False),
    Column("box_left", Integer),
    Column("box_top", Integer),
    Column("box_width", Integer),
    Column("box_height", Integer),
    Column("state", string_enum(MarkState, "missed_mark_state"), nullable=False, index=True),
    Column("created_at", TZ, nullable=False),
    Column("applied_at", TZ),
)


def map_missed() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(MissedMark, missed_marks)
