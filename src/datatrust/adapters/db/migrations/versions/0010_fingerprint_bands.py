"""fingerprint bands: an index of near-duplicate keys, and the originals' hashes indexed

Looking for near-duplicates compared a new item with every live item of its kind. Each
item's keys (its pHash cut into four 16-bit bands; the low 24 bits of its audio
fingerprint's words) now sit in fingerprint_keys, whose primary key (space, key, item_id)
answers "which items share one of these keys" from the index; only those items are then
compared. The exact-duplicate check looks items up by original_sha256, now indexed.

Existing items get their keys here, computed by a frozen copy of the function the running
code used then (for items stored before this revision, the keys it probes for).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import base64

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    op.create_table(
        "fingerprint_keys",
        sa.Column("space", sa.String(length=24), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_fingerprint_keys_item_id_items")
        ),
        sa.PrimaryKeyConstraint("space", "key", "item_id", name="pk_fingerprint_keys"),
    )
    op.create_index(op.f("ix_fingerprint_keys_item_id"), "fingerprint_keys", ["item_id"])
    op.create_index("ix_items_original_sha256", "items", ["original_sha256"])
    _backfill()


def _backfill() -> None:
    items = sa.table("items", sa.column("id", sa.Integer), sa.column("fingerprints", sa.JSON))
    keys = sa.table(
        "fingerprint_keys",
        sa.column("space", sa.String),
        sa.column("key", sa.BigInteger),
        sa.column("item_id", sa.Integer),
    )
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(items.c.id, items.c.fingerprints)
            .where(items.c.id > after)
            .where(items.c.fingerprints.is_not(None))
            .order_by(items.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [
            {"space": space, "key": key, "item_id": item_id}
            for item_id, fingerprints in rows
            for space, key in sorted(_index_keys(fingerprints or {}))
        ]
        if values:
            connection.execute(sa.insert(keys), values)
        after = rows[-1][0]


# A frozen copy of ``pipeline.fingerprint.index_keys`` as it was when this migration was
# written (the live one has changed since, and a migration must not follow it).
PHASH_BANDS = 4
PHASH_BAND_BITS = 16
AUDIO_KEY_BITS = 24
CHROMAPRINT = "chromaprint"


def _index_keys(fingerprints: dict) -> set[tuple[str, int]]:
    """The ``(space, key)`` pairs stored for an item's fingerprints: four 16-bit bands of
    every 64-bit pHash (``phash``, ``frame_phashes``), and the low 24 bits of every word
    of the audio fingerprint."""
    keys: set[tuple[str, int]] = set()
    hashes = [fingerprints["phash"]] if fingerprints.get("phash") else []
    hashes += list(fingerprints.get("frame_phashes") or ())
    for h in (h for h in hashes if isinstance(h, str) and len(h) == 16):
        value, mask = int(h, 16), (1 << PHASH_BAND_BITS) - 1
        keys.update(
            (f"phash{i}", (value >> (PHASH_BAND_BITS * i)) & mask) for i in range(PHASH_BANDS)
        )
    audio = fingerprints.get("audio")
    if audio:
        low = (1 << AUDIO_KEY_BITS) - 1
        keys.update((f"audio:{audio['engine']}", w & low) for w in set(_words(audio)))
    return keys


def _words(audio: dict) -> list[int]:
    if audio["engine"] == CHROMAPRINT:
        import chromaprint  # pyacoustid's; only a database with such prints needs it

        raw, _algo = chromaprint.decode_fingerprint(audio["value"].encode("ascii"))
        return [int(w) & 0xFFFFFFFF for w in raw]
    return np.frombuffer(base64.b64decode(audio["value"]), dtype="<u4").tolist()


def downgrade() -> None:
    op.drop_index("ix_items_original_sha256", "items")
    op.drop_index(op.f("ix_fingerprint_keys_item_id"), "fingerprint_keys")
    op.drop_table("fingerprint_keys")
