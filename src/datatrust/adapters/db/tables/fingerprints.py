"""Near-duplicate index (migration 0010): each item's fingerprint keys, so a new item is
compared only with the items sharing a key (see ``pipeline.fingerprint.index_keys``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, PrimaryKeyConstraint, String, Table

from datatrust.adapters.db.tables.base import metadata

fingerprint_keys = Table(
    "fingerprint_keys",
    metadata,
    # "phash0".."phash3" (a 16-bit band of a pHash) or "audio:<engine>" (a word prefix).
    Column("space", String(24), nullable=False),
    Column("key", BigInteger, nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    # In this order the primary key is the lookup index: (space, key) → item ids.
    PrimaryKeyConstraint("space", "key", "item_id", name="pk_fingerprint_keys"),
)
