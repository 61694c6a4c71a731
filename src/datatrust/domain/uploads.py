"""A resumable (tus 1.0) upload in progress: who, what kind, how long, until when.

The bytes received so far live in a staging file; its size is the upload's offset, so a
worker that dies mid-write never leaves the offset claiming bytes that are not there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.items import ItemKind

DEFAULT_LIFETIME = timedelta(hours=24)


@dataclass(eq=False)
class ResumableUpload:
    id: str
    owner_id: int
    kind: ItemKind
    filename: str
    length: int
    campaign_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    item_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    expires_at: datetime = field(default_factory=lambda: utcnow() + DEFAULT_LIFETIME)

    def expired(self, now: datetime) -> bool:
        return self.item_id is None and now >= as_utc(self.expires_at)
