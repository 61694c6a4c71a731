"""Snapshots and revocation notices: a versioned build delivered to one buyer (its shards
and the items planned into it), and the notice that buyer gets when an item it holds is
withdrawn or expires. Stored records; ``services.snapshots`` and ``services.revocations``
build and send them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import as_utc, utcnow


class SnapshotState(StrEnum):
    """A build is written shard by shard while ``building``; ``finalise`` makes it
    ``ready`` (its files can be downloaded) once, and it never changes after. A build
    given up on is ``failed``: no job sets it (a build whose jobs die stays ``building``
    and is rebuilt as a new version), but an operator may mark one so, and it delivered
    nothing, exactly as one still building (the tests of holdings and of buying again
    after consent given again rely on both counting alike)."""

    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


SNAPSHOT_TRANSITIONS: dict[SnapshotState, frozenset[SnapshotState]] = {
    SnapshotState.BUILDING: frozenset({SnapshotState.READY, SnapshotState.FAILED}),
    SnapshotState.READY: frozenset(),
    SnapshotState.FAILED: frozenset(),
}


class ShardState(StrEnum):
    """A shard waits ``pending`` until its job writes it, then is ``done``; a build that
    leaves an item out while in progress (``snapshots._leave_out``) has a done shard
    holding it written again: back to ``pending``."""

    PENDING = "pending"
    DONE = "done"


SHARD_TRANSITIONS: dict[ShardState, frozenset[ShardState]] = {
    ShardState.PENDING: frozenset({ShardState.DONE}),
    ShardState.DONE: frozenset({ShardState.PENDING}),
}


class StateChangeRefused(RuntimeError):
    """A programming error: a record was moved to a state its current one does not lead
    to (the services check first; this guards the transition tables)."""


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
    state: SnapshotState = SnapshotState.BUILDING
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
        return self.state == SnapshotState.READY

    def mark_ready(self, at: datetime) -> None:
        """Built: ``building`` → ``ready`` at ``at``; ``StateChangeRefused`` from any
        other state (a ready snapshot is never rebuilt in place)."""
        if SnapshotState.READY not in SNAPSHOT_TRANSITIONS.get(self.state, frozenset()):
            raise StateChangeRefused(f"snapshot {self.id} is {self.state}, not building")
        self.state = SnapshotState.READY
        self.finished_at = at


@dataclass(eq=False)
class SnapshotShard:
    snapshot_id: int
    index: int
    name: str
    item_ids: list[int]
    state: ShardState = ShardState.PENDING
    sha256: str | None = None
    size: int | None = None
    id: int | None = None

    @property
    def done(self) -> bool:
        """Written: its file is stored and its checksum known."""
        return self.state == ShardState.DONE

    def mark_done(self, sha256: str, size: int) -> None:
        """Written as ``sha256`` and ``size``: ``pending`` → ``done``;
        ``StateChangeRefused`` when it is done already."""
        if ShardState.DONE not in SHARD_TRANSITIONS.get(self.state, frozenset()):
            raise StateChangeRefused(f"shard {self.id} is {self.state}, not pending")
        self.state, self.sha256, self.size = ShardState.DONE, sha256, size

    def write_again(self) -> None:
        """To be written again (its items changed): ``pending``, its checksum and size
        forgotten; a pending shard stays pending."""
        self.state, self.sha256, self.size = ShardState.PENDING, None, None


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
