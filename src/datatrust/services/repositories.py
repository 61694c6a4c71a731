"""Repositories per aggregate: the queries and claims that ``UnitOfWork.get/one/all`` cannot
express, reached as attributes of the unit of work (``uow.ledger``, ``uow.jobs`` …).

Each is a protocol over domain records and plain values; ``adapters.db.repositories``
implements them in SQL (inside the unit of work's transaction) and
``adapters.memory`` on dictionaries for fast service tests. The contract tests in
``tests/foundation/test_unit_of_work_contract.py`` run against both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from datatrust.domain.audit import AuditEntry, AuditEvent, ChainHead
from datatrust.domain.campaigns import VoteTally
from datatrust.domain.items import CatalogueEntry, CatalogueFilter, Item, SelectionGroup
from datatrust.domain.ledger import AccountRef, JournalEntry, StoredEntry
from datatrust.domain.money import Money


class Ledger(Protocol):
    """Journal entries and account balances (the rules are in ``domain.ledger``)."""

    def lock(self, refs: Iterable[AccountRef]) -> dict[AccountRef, tuple[int, Money]]:
        """Create (if needed) and lock ``refs`` for this transaction; returns each one's id
        and balance."""
        ...

    def post(self, entry: JournalEntry, *, reverses_key: str | None = None) -> StoredEntry:
        """Store ``entry`` and move the balances, atomically. Idempotent by ``entry.key``
        (the stored entry comes back with ``replayed``). Raises ``InsufficientFunds`` when
        an account that may not go negative would, ``Conflict`` when the key is already
        used by an entry with different postings."""
        ...

    def balance(self, ref: AccountRef) -> Money:
        """The balance (zero for an account never posted to)."""
        ...

    def entry(self, key: str) -> StoredEntry | None: ...

    def entries_touching(self, refs: Sequence[AccountRef]) -> list[StoredEntry]:
        """Every entry that posts to any of ``refs``, oldest first, with all its postings."""
        ...

    def entries_with_key_prefix(self, prefix: str) -> list[StoredEntry]:
        """Entries whose key starts with ``prefix`` (taken literally), oldest first."""
        ...

    def all_entries(self, batch: int = 1000) -> Iterator[StoredEntry]:
        """Every entry, oldest first, read ``batch`` at a time."""
        ...

    def accounts_of(self, owner_ref: str) -> list[AccountRef]:
        """Every account owned by ``owner_ref`` (``"user:7"``, ``"org:3"``), by name."""
        ...

    def balances_of(self, owner_ref: str) -> dict[AccountRef, Money]:
        """Every account owned by ``owner_ref`` (``accounts_of``) with its balance
        (``balance``), in one read."""
        ...

    def stored_balances(self) -> dict[AccountRef, Money]:
        """Every account's balance as stored (what ``ledger.check`` compares the entries
        against)."""
        ...


class AuditLog(Protocol):
    """Reading the hash-chained audit log (``UnitOfWork.record`` appends to it)."""

    def events(self, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every event in chain order, read ``batch`` at a time."""
        ...

    def head(self) -> ChainHead:
        """The head: the count of events and the last one's hash."""
        ...

    def event(self, seq: int) -> AuditEvent | None: ...

    def about(self, subject_type: str, subject_ids: Sequence[str]) -> list[AuditEvent]:
        """The events naming one of ``subject_ids`` of ``subject_type``, in chain order."""
        ...

    def entries(
        self, subject_type: str, subject_ids: Sequence[str], tags: Collection[str] | None = None
    ) -> list[AuditEntry]:
        """What ``about`` finds (only those tagged one of ``tags``, when given), as the
        entries a reader is shown, in chain order."""
        ...

    def items_touched_between(
        self, start: datetime, end: datetime, tags: Iterable[str]
    ) -> list[int]:
        """Ids, ascending, of the items that events with one of ``tags`` named from
        ``start`` to ``end`` (both included): what an incident's window reached."""
        ...


class ItemSelection(Protocol):
    """The catalogue's selection of items, answered from the item columns that mirror
    status, licence and consent (no item is loaded)."""

    def groups(
        self, statuses: Iterable[str], among: Collection[int] | None = None
    ) -> list[SelectionGroup]:
        """Items with one of ``statuses`` (and, if given, an id in ``among``), counted per
        (status, licence, consent offer, consent state)."""
        ...

    def selected_ids(
        self,
        status: str,
        allowed: Iterable[tuple[int, str]],
        among: Collection[int] | None = None,
    ) -> list[int]:
        """Ids, ascending, of the items with ``status`` whose licence is ``L`` and whose
        consent (as mirrored on the item) was given under ``L`` and is in state ``S``, for
        each ``(L, S)`` in ``allowed`` (and, if given, whose id is in ``among``)."""
        ...

    def undeliverable_ids(self, status: str, among: Collection[int] | None = None) -> list[int]:
        """Ids of the items with ``status`` that have no de-identified version."""
        ...

    def licences_of(self, status: str, among: Collection[int]) -> set[int]:
        """The licence offers the items with ``status`` whose id is in ``among`` are
        offered under (no item is loaded)."""
        ...

    def entries(
        self, status: str, among: Collection[int], wanted: CatalogueFilter
    ) -> list[CatalogueEntry]:
        """What the catalogue shows of the items with ``status`` whose id is in ``among``
        and that ``wanted`` admits (``CatalogueFilter.admits``), ascending by id."""
        ...


@dataclass(frozen=True)
class OwnItemsWanted:
    """Which of a contributor's items a list asks for: ``owner_id``'s, with ``status``
    and ``kind`` where given (an unknown one matches nothing)."""

    owner_id: int
    status: str = ""
    kind: str = ""


class OwnItems(Protocol):
    """A contributor's own items as their long lists show them: filtered and paged by the
    item columns (status, kind) in the database, newest first. Titles and file names are
    sealed under the contributor's key, so searching them is the service's, on the rows
    these return."""

    def page(self, wanted: OwnItemsWanted, offset: int = 0, limit: int | None = None) -> list[Item]:
        """The items ``wanted``, newest first (id descending), leaving out the ones their
        owner deleted (file name ``ERASED_FILENAME``); ``limit`` rows from ``offset``
        (all: None)."""
        ...

    def count(self, wanted: OwnItemsWanted) -> int:
        """How many items ``page`` has for ``wanted`` with no limit."""
        ...


class Holdings(Protocol):
    """What buyers hold: the snapshot rows delivered to them (``SnapshotItem``), each under
    its agreement, and the notices (``Revocation``) they were given about them."""

    def lapsed(self, now: datetime) -> list[tuple[int, int]]:
        """``(item id, buyer org id)`` for each buyer that received an item (a ready
        snapshot) and has no notice about it yet, where the agreement it holds it under
        ended by ``now`` (``valid_until``; one with no end counts as ended), the item's
        consent record is missing or no longer active, the item was withdrawn, or the
        buyer received it under an earlier consent record than the item's (withdrawn, then
        given again); each pair once, in the order of its first such held row."""
        ...

    def snapshots_of(self, item_id: int) -> list[int]:
        """Ids, ascending, of the snapshots with a row of ``item_id``, whatever their state."""
        ...

    def under_earlier_consent(self, org_id: int, item_ids: Collection[int]) -> set[int]:
        """Those of ``item_ids`` that ``org_id`` received (a ready snapshot: a build that
        failed or never finished gave it nothing) under a consent record that is no longer
        the item's: withdrawn, and consent given again, or the item has none now; unless
        the agreement it was delivered under stands on the item's consent now (the buyer
        was still in a promised notice: ``revocations.keep_buyers_in_notice``)."""
        ...

    def undeliverable(self, snapshot_id: int, now: datetime) -> list[tuple[int, str]]:
        """``(item id, why)`` for each item planned into snapshot ``snapshot_id`` that may
        not reach its buyer at ``now``, in item order, in one statement (the download path
        asks on every file): ``ended`` where the agreement it is held under ended by
        ``now`` (``valid_until``; one with no end counts as ended), else ``withdrawn``
        where the item is not listed, its consent record is missing or no longer active,
        or it was planned under an earlier consent record than the item's, else
        ``revoked`` where its buyer has a notice about it. A withdrawal under promised
        notice is still ``withdrawn`` here: the caller decides whether the notice runs."""
        ...


class Reviews(Protocol):
    """Campaign reviews: the votes on waiting items, and the ones auto-approval settles
    when their window ends."""

    def tally(self, item_ids: Collection[int]) -> dict[int, VoteTally]:
        """Each of ``item_ids``' up and down votes, counted in one query; an item nobody
        voted on is counted 0 and 0."""
        ...

    def waiting(self, campaign_id: int, reviewer_id: int | None = None) -> list[Item]:
        """The items of ``campaign_id`` accepted by the pipeline whose review is not
        decided yet (``UNDECIDED_REVIEWS``), ascending by id; with ``reviewer_id``, only
        the ones that reviewer may still vote on: none of their own, none they voted on."""
        ...

    def voted_on(self, reviewer_id: int) -> set[int]:
        """Ids of the items ``reviewer_id`` has voted on."""
        ...

    def overdue(self, now: datetime) -> list[int]:
        """Ids, ascending, of the pipeline-accepted items whose review is undecided and
        whose window ended by ``now``."""
        ...

    def claim_overdue(self, item_id: int, now: datetime) -> bool:
        """Claim one overdue item for settling in this transaction: True only while it is
        still undecided and overdue; a concurrent claimant waits, then finds it decided."""
        ...


class Fingerprints(Protocol):
    """The near-duplicate index: (key space, key) pairs per item."""

    def replace(self, item_id: int, keys: Iterable[tuple[str, int]]) -> None:
        """The item's index keys become exactly ``keys``."""
        ...

    def items_sharing(
        self,
        keys: Iterable[tuple[str, int]],
        kinds: Iterable[str],
        statuses: Iterable[str],
        exclude_id: int,
    ) -> list[int]:
        """Ids, ascending, of the items of one of ``kinds`` with one of ``statuses`` (other
        than ``exclude_id``) that hold at least one of ``keys``."""
        ...


class SignInAttempts(Protocol):
    def forget(self, *, before: datetime) -> int:
        """Delete counted sign-in and sign-up tries made before ``before``; how many."""
        ...


class Jobs(Protocol):
    """Claims on outbox jobs (``services.jobs``); the rows are ``domain.jobs.OutboxJob``."""

    def claim(self, job_id: int, worker: str, now: datetime, lease_until: datetime) -> bool:
        """Pending and due → running, for exactly one claimant."""
        ...

    def expired_leases(self, now: datetime) -> list[int]:
        """Ids of running jobs whose lease ran out before ``now``."""
        ...

    def release_expired(self, job_ids: list[int], now: datetime) -> int:
        """Those of ``job_ids`` still running with an expired lease → pending again; how
        many (a worker that finished meanwhile wins)."""
        ...

    def due_pending(self, older_than: datetime, limit: int = 500) -> list[int]:
        """Ids, ascending, of pending jobs due by ``older_than`` (their dispatch was lost or
        delayed)."""
        ...


class PayoutClaims(Protocol):
    """Batch claims on payouts (``services.money.run_payout_batch``): each a conditional
    update, so two batches never hold the same payout."""

    def claim(
        self, batch_id: str, claimer: str, provider: str, lease_until: datetime, limit: int
    ) -> list[int]:
        """The oldest ``limit`` requested payouts → sending, held by ``batch_id``; returns
        the ids, ascending, this call claimed (none another batch claimed first)."""
        ...

    def take_over(
        self,
        batch_id: str,
        claimer: str,
        provider: str,
        now: datetime,
        lease_until: datetime,
        gone: Collection[str],
    ) -> list[int]:
        """Sending payouts whose claim no longer holds (given up, run out, or held by a
        process in ``gone``) → held by ``batch_id``; returns their ids, ascending."""
        ...

    def claimers(self) -> list[str]:
        """The processes named by live-looking claims on sending payouts."""
        ...

    def renew(
        self, batch_id: str, lease_until: datetime, payout_ids: Collection[int] | None = None
    ) -> set[int]:
        """Extend ``batch_id``'s claims (only on ``payout_ids`` if given) that it still
        holds; returns the ids renewed."""
        ...

    def release(self, batch_id: str) -> int:
        """Give up ``batch_id``'s claims on payouts still sending: the next batch takes
        them over at once. Returns how many."""
        ...
