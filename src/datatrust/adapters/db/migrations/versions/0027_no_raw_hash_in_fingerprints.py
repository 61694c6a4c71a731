"""items.fingerprints no longer keeps the raw upload's SHA-256 (issue 14 §1/§2)

0016 made ``items.original_sha256`` the instance-keyed content id, but each item's
``fingerprints`` still held ``sha256_original`` in clear, so a copy of the database still
told anyone holding a copy of a file who had uploaded it. Nothing reads it (the duplicate
check uses the keyed id); it is removed from every row. The output's hash and the
perceptual fingerprints stay.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

items = sa.table("items", sa.column("id", sa.Integer), sa.column("fingerprints", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(items.c.id, items.c.fingerprints)).all()
    for item_id, stored in rows:
        fingerprints = json.loads(stored) if isinstance(stored, str) else stored
        if isinstance(fingerprints, dict) and "sha256_original" in fingerprints:
            del fingerprints["sha256_original"]
            bind.execute(
                sa.update(items).where(items.c.id == item_id).values(fingerprints=fingerprints)
            )


def downgrade() -> None:
    pass  # the raw hashes are gone for good, as intended
