"""Snapshots and revocation notices: a versioned build delivered to one buyer (its shards
and the items planned into it), and the notice that buyer gets when an item it holds is
withdrawn or expires. Stored records; ``services.snapshots`` and ``services.revocations``
build and send them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from datatrust.domain.clock import as_utc, utcnow


@dataclass(eq=False)
class Snapshot:
    """One build. ``files`` maps file name → {sha256, size, key} once written."""

    org_id: int
    order_id: int
    created_by: int
    version: str
    item_ids: list[int]
    dropped: dict[str, list[str]]
    shard_count: int
    state: str = "building"
    shards_done: int = 0
    files: dict[str, Any] = field(default_factory=dict)
    previous_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    # The data key its files are encrypted under, wrapped by the master key.
    wrapped_key: bytes | None = None
    id: int | None = None

    @property
    def ready(self) -> bool:
        """Built: its files can be downloaded (links are signed only then)."""
        return self.state == "ready"


@dataclass(eq=False)
class SnapshotShard:
    snapshot_id: int
    index: int
    name: str
    item_ids: list[int]
    state: str = "pending"
    sha256: str | None = None
    size: int | None = None
    id: int | None = None


@dataclass(eq=False)
class SnapshotItem:
    """An item planned into a snapshot: delivered to ``org_id`` once the snapshot is ready."""

    snapshot_id: int
    org_id: int
    item_id: int
    agreement_id: int
    shard_index: int
    key: str
    content_sha256: str
    licence_id: str
    consent_record_id: str
    id: int | None = None


@dataclass(eq=False)
class Revocation:
    """One notice to one buyer about one item it holds. At most one standing notice per
    (org, item): a superseded one (``superseded_at``) stays in the feed, where its buyer
    reads that it no longer has to delete, and a later withdrawal gives a new notice.
    ``content_sha256`` is the first hash the buyer received it as; ``held_hashes`` gives
    every one (from the snapshot records)."""

    org_id: int
    item_id: int
    content_sha256: str
    reason: str  # "withdrawn" | "expired"
    noticed_at: datetime
    deadline: datetime
    acknowledged_at: datetime | None = None
    attested_at: datetime | None = None
    late: bool = False
    overdue_at: datetime | None = None
    seq: int = 0  # its place in the org's feed: 1, 2, 3 … (``next_seq``), never reused
    # When consent given again under the same licence ended the withdrawal for this buyer
    # before its promised notice ran out: nothing to delete any more.
    superseded_at: datetime | None = None
    id: int | None = None

    @property
    def standing(self) -> bool:
        """The buyer must still act on it (it was not superseded)."""
        return self.superseded_at is None

    def past_deadline(self, now: datetime) -> bool:
        """Its deletion is not attested and its deadline has passed: the buyer is late
        (``revocations.check_deadlines`` suspends it and sets ``overdue_at``). A superseded
        notice never is."""
        return self.standing and self.attested_at is None and as_utc(self.deadline) < as_utc(now)
