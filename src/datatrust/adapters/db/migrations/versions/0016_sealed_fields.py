"""items and uploads: personal fields sealed under the person's key, keyed content ids

- ``items.title``, ``items.filename`` and ``resumable_uploads.filename`` become ``Text``:
  a sealed value (``EncryptedStorage.seal_text``) is about 4/3 of the UTF-8 length plus
  43 characters, more than the 300 the plain text was allowed.
- Existing rows are converted when the master key is handed over (``datatrust db
  upgrade`` and the embedded start do): titles, file names and the chat name in
  ``report.upload.me`` are sealed under the owner's data key, upload titles and names
  too, and ``items.original_sha256`` becomes the instance-keyed content id
  (``Cipher.content_id``) the code now compares. Rows of erased people (key destroyed)
  lose their original hash and fingerprints, as a new erasure does.
- Without the key (a bare ``migrate.upgrade``, as tests call it) only the columns
  change: plain values still read as they are, but exact duplicates of items stored
  before are no longer recognised by hash (near-duplicates still are) until the
  migration's conversion is run with the key.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from datatrust.adapters.db.migrations.frozen import FieldSealer

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)
SEALED = "dtf1."


def upgrade() -> None:
    for table, columns in (("items", ("title", "filename")), ("resumable_uploads", ("filename",))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=300),
                    type_=sa.Text(),
                    existing_nullable=False,
                )
    master_key = context.config.attributes.get("master_key")
    if master_key is None:
        log.warning("migration 0016: no master key given; existing rows were not sealed")
        return
    _convert(op.get_bind(), FieldSealer(master_key))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _convert(bind: sa.Connection, cipher: Any) -> None:
    keys = {
        row.owner_id: (bytes(row.wrapped_key) if row.destroyed_at is None else None)
        for row in bind.execute(
            sa.text("SELECT owner_id, wrapped_key, destroyed_at FROM contributor_keys")
        )
    }

    def seal(owner: int, text: str | None) -> str | None:
        wrapped = keys.get(owner)
        if not text or text.startswith(SEALED) or not wrapped:
            return text
        return cipher.seal_field(wrapped, text)

    rows = bind.execute(
        sa.text("SELECT id, owner_id, title, filename, original_sha256, report FROM items")
    ).all()
    for row in rows:
        report = _json(row.report) or {}
        upload = report.get("upload")
        if isinstance(upload, dict) and upload.get("me"):
            report["upload"] = {**upload, "me": seal(row.owner_id, upload["me"])}
        erased = keys.get(row.owner_id, b"") is None
        bind.execute(
            sa.text(
                "UPDATE items SET title = :title, filename = :filename, report = :report, "
                "original_sha256 = :content_id"
                + (", fingerprints = NULL" if erased else "")
                + " WHERE id = :id"
            ),
            {
                "id": row.id,
                "title": seal(row.owner_id, row.title),
                "filename": seal(row.owner_id, row.filename),
                "report": json.dumps(report),
                "content_id": ""
                if erased or not row.original_sha256
                else cipher.content_id(row.original_sha256),
            },
        )
    uploads = bind.execute(sa.text("SELECT id, owner_id, filename, meta FROM resumable_uploads"))
    for row in uploads.all():
        meta = _json(row.meta) or {}
        for name in ("title", "me"):
            if meta.get(name):
                meta[name] = seal(row.owner_id, meta[name])
        bind.execute(
            sa.text(
                "UPDATE resumable_uploads SET filename = :filename, meta = :meta WHERE id = :id"
            ),
            {"id": row.id, "filename": seal(row.owner_id, row.filename), "meta": json.dumps(meta)},
        )


def downgrade() -> None:
    # Sealed values do not fit back into 300 characters; there is no way down.
    raise NotImplementedError("migration 0016 cannot be undone")
