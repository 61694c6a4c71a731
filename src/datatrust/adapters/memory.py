"""A unit of work on dictionaries: the ``UnitOfWork`` port and its repositories with no
database, for fast service tests. ``tests/foundation/test_unit_of_work_contract.py`` runs
the same checks against it and the SQL one, so the two cannot drift apart.

``MemoryStore`` holds what was committed; each ``MemoryUnitOfWork`` works on a deep copy
taken when its transaction starts, so a rollback (or leaving the block without commit)
drops every change, and one unit of work never sees another's uncommitted changes. Ids
are given on flush, as a database does. As the SQL one, a read-only unit of work and the
``reading()`` phase refuse a change (``ReadOnlyViolation``), and ``on_commit`` is told
after each commit what it changed (per kind of row, the attributes that differ from what
the transaction began with, ``ROW_INSERTED``, ``ROW_DELETED``; an attribute mutated in
place counts too, where SQL sees only an assignment). Not modelled: concurrency (one
writer at a time, like SQLite; after ``reading()`` the unit of work goes on from what it
read rather than from the newest commit). The claims of ``jobs`` and
``payouts`` change the rows in place, where SQL's conditional updates leave objects
already loaded as they were: read them afresh (a new unit of work) to see a claim.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from datatrust.domain.accounts import SignInAttempt
from datatrust.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditTag,
    ChainHead,
    append_to_chain,
    record_fields,
)
from datatrust.domain.campaigns import ReviewVote, VoteTally
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentRecord, ConsentState
from datatrust.domain.errors import Conflict
from datatrust.domain.items import (
    ERASED_FILENAME,
    UNDECIDED_REVIEWS,
    CatalogueEntry,
    CatalogueFilter,
    Item,
    ItemStatus,
    SelectionGroup,
)
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.ledger import AccountRef, JournalEntry, StoredEntry, apply_entry
from datatrust.domain.money import Money
from datatrust.domain.orders import AgreementRow
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.snapshots import Revocation, Snapshot, SnapshotItem
from datatrust.services.ports import ROW_DELETED, ROW_INSERTED, JobQueue, ReadOnlyViolation
from datatrust.services.repositories import OwnItemsWanted

T = TypeVar("T")


@dataclasses.dataclass
class _State:
    """Everything a transaction can change: rows by class and id, and the side tables
    the repositories keep (ledger, fingerprint keys, sign-in attempts, the audit head)."""

    rows: dict[type, dict[Any, Any]] = dataclasses.field(default_factory=dict)
    next_id: Counter[type] = dataclasses.field(default_factory=Counter)
    accounts: dict[AccountRef, tuple[int, Money]] = dataclasses.field(default_factory=dict)
    entries: list[StoredEntry] = dataclasses.field(default_factory=list)
    fingerprint_keys: set[tuple[str, int, int]] = dataclasses.field(default_factory=set)
    head: ChainHead = dataclasses.field(default_factory=lambda: ChainHead(0, GENESIS_HASH))


class MemoryStore:
    """The committed state shared by the units of work it makes (``store.uow()``)."""

    def __init__(
        self,
        queue: JobQueue | None = None,
        *,
        now: Callable[[], datetime] = utcnow,
        on_commit: Callable[[Mapping[type, set[str]]], None] | None = None,
    ) -> None:
        self.state = _State()  # replaced, never changed in place, by each commit
        self.queue = queue
        self.now = now
        self.on_commit = on_commit

    def uow(self, *, read_only: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self, read_only=read_only)

    __call__ = uow


def _key(obj: object) -> Any:
    if isinstance(obj, AuditEvent):
        return obj.seq
    return getattr(obj, "id", None)


def _fields(obj: object) -> list[str]:
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    return list(vars(obj))


def _changes(before: _State, after: _State) -> dict[type, set[str]]:
    """Per kind of row, what ``after`` changed from ``before``: the attributes whose value
    differs, ``ROW_INSERTED`` for a row added and ``ROW_DELETED`` for one deleted."""
    changed: dict[type, set[str]] = {}
    for cls in before.rows.keys() | after.rows.keys():
        old, new = before.rows.get(cls, {}), after.rows.get(cls, {})
        names: set[str] = set()
        if new.keys() - old.keys():
            names.add(ROW_INSERTED)
        if old.keys() - new.keys():
            names.add(ROW_DELETED)
        for key in old.keys() & new.keys():
            was, now = old[key], new[key]
            names.update(n for n in _fields(now) if getattr(was, n, None) != getattr(now, n))
        if names:
            changed[cls] = names
    return changed


def _matches(obj: object, filters: dict[str, object]) -> bool:
    for name, value in filters.items():
        if name.endswith("__in"):
            assert isinstance(value, Iterable)
            if getattr(obj, name[:-4]) not in list(value):
                return False
        elif getattr(obj, name) != value:
            return False
    return True


class MemoryUnitOfWork:
    """``services.ports.UnitOfWork`` on a ``MemoryStore``."""

    def __init__(self, store: MemoryStore, *, read_only: bool = False) -> None:
        self._store = store
        self._state: _State | None = None
        self._read_only = read_only
        self._reading = False

    # -- transaction -------------------------------------------------------------------
    def __enter__(self) -> MemoryUnitOfWork:
        self._begin()
        return self

    def __exit__(self, *exc: object) -> None:
        self._state = None

    def _begin(self) -> None:
        self._base = self._store.state  # what this transaction began with
        self._state = copy.deepcopy(self._base)
        self._pending: list[object] = []
        self._audit: list[dict[str, Any]] = []
        self._jobs: list[tuple[OutboxJob, int]] = []

    @property
    def _s(self) -> _State:
        if self._state is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._state

    def commit(self) -> None:
        self.flush()
        if self._read_only:  # it may still record what it saw, as the SQL one
            if self._jobs:
                raise ReadOnlyViolation("a read-only unit of work cannot enqueue jobs")
            self._refuse_changes()
        self._append_audit_events()
        on_commit = self._store.on_commit
        changed = _changes(self._base, self._s) if on_commit is not None else {}
        # The objects handed out stay this unit of work's; the store keeps its own copy.
        self._store.state = self._base = copy.deepcopy(self._s)
        if changed and on_commit is not None:
            on_commit(changed)
        jobs, self._jobs = self._jobs, []
        queue = self._store.queue
        for job, delay in jobs:
            if queue is not None and job.id is not None:
                queue.dispatch(job.id, delay)

    def rollback(self) -> None:
        self._begin()

    def _refuse_changes(self) -> None:
        if self._pending or _changes(self._base, self._s):
            raise ReadOnlyViolation("a read-only unit of work cannot change rows")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Commit, then run the block refusing any change (``ReadOnlyViolation``, the
        changes dropped), as the SQL unit of work's read phase does."""
        self.commit()
        self._reading = True
        try:
            yield
            self._refuse_changes()
        except BaseException:
            self.rollback()
            raise
        finally:
            self._reading = False

    # -- generic data access -----------------------------------------------------------
    def _table(self, cls: type) -> dict[Any, Any]:
        return self._s.rows.setdefault(cls, {})

    def add(self, obj: object) -> None:
        if not any(o is obj for o in self._pending):
            self._pending.append(obj)

    def add_many(self, rows: Sequence[object]) -> None:
        if any(type(row) is not type(rows[0]) for row in rows):
            raise TypeError("add_many takes rows of one kind")
        for row in rows:
            self.add(row)
        self.flush()

    def delete(self, obj: object) -> None:
        self._pending = [o for o in self._pending if o is not obj]
        self._table(type(obj)).pop(_key(obj), None)

    def flush(self) -> None:
        if self._reading:
            self._refuse_changes()
        pending, self._pending = self._pending, []
        for obj in pending:
            cls = type(obj)
            if _key(obj) is None:
                self._s.next_id[cls] += 1
                obj.id = self._s.next_id[cls]  # type: ignore[attr-defined]
            else:
                self._s.next_id[cls] = max(self._s.next_id[cls], int(_key(obj)))
            self._table(cls)[_key(obj)] = obj

    def get(self, cls: type[T], ident: object) -> T | None:
        self.flush()
        found: T | None = self._table(cls).get(ident)
        return found

    def get_for_update(self, cls: type[T], ident: object) -> T | None:
        return self.get(cls, ident)

    def _select(self, cls: type[T], filters: dict[str, object]) -> list[T]:
        self.flush()
        rows: list[T] = list(self._table(cls).values())
        return [o for o in rows if _matches(o, filters)]

    def one(self, cls: type[T], **filters: object) -> T | None:
        found = sorted(self._select(cls, filters), key=_key)
        return found[0] if found else None

    def all(
        self,
        cls: type[T],
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        skip_locked: bool = False,
        **filters: object,
    ) -> list[T]:
        found = sorted(self._select(cls, filters), key=_key)
        if order_by:
            name = order_by.lstrip("-")
            found.sort(key=lambda o: getattr(o, name), reverse=order_by.startswith("-"))
        return found[offset:] if limit is None else found[offset : offset + limit]

    def count(self, cls: type[T], **filters: object) -> int:
        return len(self._select(cls, filters))

    # -- audit and outbox --------------------------------------------------------------
    def record(
        self, tag: str, actor: str, subject_type: str, subject_id: object, **data: object
    ) -> None:
        tag = AuditTag(tag)  # the closed list: an unknown tag is a programming error
        self._audit.append(record_fields(tag, actor, subject_type, str(subject_id), data))

    def _append_audit_events(self) -> None:
        events, self._audit = self._audit, []
        for event in append_to_chain(self._s.head, self._store.now(), events):
            self._table(AuditEvent)[event.seq] = event
            self._s.head = ChainHead(event.seq, event.hash)

    def enqueue(
        self, job: str, payload: dict[str, Any], *, key: str | None = None, delay_seconds: int = 0
    ) -> None:
        key = key or f"{job}:{uuid.uuid4().hex}"
        if self.one(OutboxJob, idempotency_key=key) is not None:
            return
        row = OutboxJob(
            job=job,
            payload=payload,
            idempotency_key=key,
            run_after=self._store.now() + timedelta(seconds=delay_seconds),
        )
        self.add(row)
        self.flush()
        self._jobs.append((row, delay_seconds))

    # -- repositories per aggregate ----------------------------------------------------
    @property
    def ledger(self) -> MemoryLedger:
        return MemoryLedger(self)

    @property
    def audit(self) -> MemoryAuditLog:
        return MemoryAuditLog(self)

    @property
    def selection(self) -> MemoryItemSelection:
        return MemoryItemSelection(self)

    @property
    def reviews(self) -> MemoryReviews:
        return MemoryReviews(self)

    @property
    def holdings(self) -> MemoryHoldings:
        return MemoryHoldings(self)

    @property
    def own_items(self) -> MemoryOwnItems:
        return MemoryOwnItems(self)

    @property
    def fingerprints(self) -> MemoryFingerprints:
        return MemoryFingerprints(self)

    @property
    def sign_in_attempts(self) -> MemorySignInAttempts:
        return MemorySignInAttempts(self)

    @property
    def jobs(self) -> MemoryJobs:
        return MemoryJobs(self)

    @property
    def payouts(self) -> MemoryPayoutClaims:
        return MemoryPayoutClaims(self)


class _Repository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow

    @property
    def state(self) -> _State:
        return self.uow._s

    def _items(self, among: Collection[int] | None = None) -> list[Item]:
        found = self.uow.all(Item)
        if among is None:
            return found
        wanted = set(among)
        return [i for i in found if i.id in wanted]


class MemoryLedger(_Repository):
    """``services.repositories.Ledger``."""

    def lock(self, refs: Iterable[AccountRef]) -> dict[AccountRef, tuple[int, Money]]:
        accounts, wanted = self.state.accounts, set(refs)
        for ref in sorted(wanted, key=str):
            if ref not in accounts:
                accounts[ref] = (len(accounts) + 1, Money.zero(ref.currency))
        return {ref: accounts[ref] for ref in wanted}

    def post(self, entry: JournalEntry, *, reverses_key: str | None = None) -> StoredEntry:
        locked = self.lock(p.account for p in entry.postings)
        existing = self.entry(entry.key)
        if existing is not None:
            if Counter(existing.postings) != Counter(entry.postings):
                raise Conflict(
                    f"the key {entry.key!r} was already used for a different entry",
                    {"key": entry.key},
                )
            return dataclasses.replace(existing, replayed=True)
        after = apply_entry({ref: balance for ref, (_, balance) in locked.items()}, entry)
        for ref, (account_id, _) in locked.items():
            self.state.accounts[ref] = (account_id, after[ref])
        stored = StoredEntry(
            len(self.state.entries) + 1,
            entry.key,
            entry.memo,
            dict(entry.source),
            utcnow(),
            tuple(entry.postings),
        )
        self.state.entries.append(stored)
        return stored

    def balance(self, ref: AccountRef) -> Money:
        found = self.state.accounts.get(ref)
        return found[1] if found else Money.zero(ref.currency)

    def entry(self, key: str) -> StoredEntry | None:
        return next((e for e in self.state.entries if e.key == key), None)

    def entries_touching(self, refs: Sequence[AccountRef]) -> list[StoredEntry]:
        wanted = set(refs)
        return [e for e in self.state.entries if any(p.account in wanted for p in e.postings)]

    def entries_with_key_prefix(self, prefix: str) -> list[StoredEntry]:
        return [e for e in self.state.entries if e.key.startswith(prefix)]

    def all_entries(self, batch: int = 1000) -> Iterator[StoredEntry]:
        yield from list(self.state.entries)

    def accounts_of(self, owner_ref: str) -> list[AccountRef]:
        return sorted((a for a in self.state.accounts if a.owner_ref == owner_ref), key=str)

    def balances_of(self, owner_ref: str) -> dict[AccountRef, Money]:
        return {ref: self.balance(ref) for ref in self.accounts_of(owner_ref)}

    def stored_balances(self) -> dict[AccountRef, Money]:
        return {ref: balance for ref, (_, balance) in self.state.accounts.items()}


class MemoryAuditLog(_Repository):
    """``services.repositories.AuditLog``."""

    def _events(self) -> list[AuditEvent]:
        return self.uow.all(AuditEvent)

    def events(self, batch: int = 1000) -> Iterator[AuditEvent]:
        yield from self._events()

    def head(self) -> ChainHead:
        return self.state.head

    def event(self, seq: int) -> AuditEvent | None:
        return self.uow.get(AuditEvent, seq)

    def about(self, subject_type: str, subject_ids: Sequence[str]) -> list[AuditEvent]:
        wanted = set(subject_ids)
        return [
            e for e in self._events() if e.subject_type == subject_type and e.subject_id in wanted
        ]

    def entries(
        self, subject_type: str, subject_ids: Sequence[str], tags: Collection[str] | None = None
    ) -> list[AuditEntry]:
        return [
            AuditEntry(e.seq, e.at, e.tag, e.actor, e.data, e.hash)
            for e in sorted(self.about(subject_type, subject_ids), key=lambda e: e.seq)
            if tags is None or e.tag in tags
        ]

    def items_touched_between(
        self, start: datetime, end: datetime, tags: Iterable[str]
    ) -> list[int]:
        wanted = set(tags)
        return sorted(
            {
                int(e.subject_id)
                for e in self._events()
                if e.subject_type == "item"
                and e.tag in wanted
                and start <= e.at <= end
                and e.subject_id.isdigit()
            }
        )


class MemoryItemSelection(_Repository):
    """``services.repositories.ItemSelection``."""

    def groups(
        self, statuses: Iterable[str], among: Collection[int] | None = None
    ) -> list[SelectionGroup]:
        wanted = set(statuses)
        counts: Counter[tuple[str, int | None, int | None, str | None]] = Counter(
            (
                str(i.status),
                i.licence_id,
                i.consent_offer_id,
                None if i.consent_state is None else str(i.consent_state),
            )
            for i in self._items(among)
            if i.status in wanted
        )
        return [SelectionGroup(*key, count) for key, count in counts.items()]

    def selected_ids(
        self,
        status: str,
        allowed: Iterable[tuple[int, str]],
        among: Collection[int] | None = None,
    ) -> list[int]:
        pairs = set(allowed)
        return sorted(
            i.id
            for i in self._items(among)
            if i.id is not None
            and i.status == status
            and i.licence_id is not None
            and i.consent_offer_id == i.licence_id
            and (i.licence_id, str(i.consent_state)) in pairs
        )

    def undeliverable_ids(self, status: str, among: Collection[int] | None = None) -> list[int]:
        return [
            i.id
            for i in self._items(among)
            if i.id is not None and i.status == status and i.deidentified_key is None
        ]

    def licences_of(self, status: str, among: Collection[int]) -> set[int]:
        return {
            i.licence_id
            for i in self._items(among)
            if i.status == status and i.licence_id is not None
        }

    def entries(
        self, status: str, among: Collection[int], wanted: CatalogueFilter
    ) -> list[CatalogueEntry]:
        found = (CatalogueEntry.of(i) for i in self._items(among) if i.status == status)
        return sorted((e for e in found if wanted.admits(e)), key=lambda e: e.id)


class MemoryReviews(_Repository):
    """``services.repositories.Reviews``."""

    def _overdue(self, item: Item, now: datetime) -> bool:
        return (
            item.review_state in UNDECIDED_REVIEWS
            and item.review_due is not None
            and item.review_due <= now
            and item.status == ItemStatus.ACCEPTED
        )

    def tally(self, item_ids: Collection[int]) -> dict[int, VoteTally]:
        counted = {item_id: VoteTally() for item_id in item_ids}
        for vote in self.uow.all(ReviewVote, item_id__in=list(counted)):
            was = counted[vote.item_id]
            counted[vote.item_id] = VoteTally(was.up + vote.up, was.down + (not vote.up))
        return counted

    def waiting(self, campaign_id: int, reviewer_id: int | None = None) -> list[Item]:
        voted = self.voted_on(reviewer_id) if reviewer_id is not None else set()
        return [
            i
            for i in self.uow.all(Item, campaign_id=campaign_id, status=ItemStatus.ACCEPTED)
            if i.review_state in UNDECIDED_REVIEWS
            and (reviewer_id is None or (i.owner_id != reviewer_id and i.id not in voted))
        ]

    def voted_on(self, reviewer_id: int) -> set[int]:
        return {v.item_id for v in self.uow.all(ReviewVote, reviewer_id=reviewer_id)}

    def overdue(self, now: datetime) -> list[int]:
        return sorted(i.id for i in self._items() if i.id is not None and self._overdue(i, now))

    def claim_overdue(self, item_id: int, now: datetime) -> bool:
        item = self.uow.get(Item, item_id)
        return item is not None and self._overdue(item, now)


class MemoryOwnItems(_Repository):
    """``services.repositories.OwnItems``."""

    def _kept(self, wanted: OwnItemsWanted) -> list[Item]:
        return [
            i
            for i in self.uow.all(Item, owner_id=wanted.owner_id, order_by="-id")
            if i.filename != ERASED_FILENAME
            and (not wanted.status or i.status.value == wanted.status)
            and (not wanted.kind or i.kind.value == wanted.kind)
        ]

    def page(self, wanted: OwnItemsWanted, offset: int = 0, limit: int | None = None) -> list[Item]:
        found = self._kept(wanted)
        return found[offset:] if limit is None else found[offset : offset + limit]

    def count(self, wanted: OwnItemsWanted) -> int:
        return len(self._kept(wanted))


class MemoryHoldings(_Repository):
    """``services.repositories.Holdings``."""

    def lapsed(self, now: datetime) -> list[tuple[int, int]]:
        found: dict[tuple[int, int], None] = {}  # in the order first found
        for held in self.uow.all(SnapshotItem, order_by="id"):
            pair = (held.item_id, held.org_id)
            snapshot = self.uow.get(Snapshot, held.snapshot_id)
            if pair in found or snapshot is None or not snapshot.ready:
                continue
            standing = self.uow.one(
                Revocation, org_id=held.org_id, item_id=held.item_id, superseded_at=None
            )
            if standing is not None:
                continue
            agreement = self.uow.get(AgreementRow, held.agreement_id)
            item = self.uow.get(Item, held.item_id)
            if agreement is None or item is None:
                continue
            consent = self.uow.get(ConsentRecord, item.consent_id) if item.consent_id else None
            ended = agreement.valid_until is None or agreement.valid_until <= now
            gone = consent is None or consent.state != ConsentState.ACTIVE
            # Delivered under an earlier consent, unless its agreement stands on this one
            # (``revocations.keep_buyers_in_notice``).
            earlier = (
                consent is not None
                and held.consent_record_id != consent.record_id
                and agreement.consent_id != consent.id
            )
            if ended or gone or earlier or item.status is ItemStatus.WITHDRAWN:
                found[pair] = None
        return list(found)

    def snapshots_of(self, item_id: int) -> list[int]:
        return sorted({h.snapshot_id for h in self.uow.all(SnapshotItem, item_id=item_id)})

    def under_earlier_consent(self, org_id: int, item_ids: Collection[int]) -> set[int]:
        wanted = set(item_ids)
        found: set[int] = set()
        for held in self.uow.all(SnapshotItem, org_id=org_id):
            if held.item_id not in wanted or not held.consent_record_id:
                continue
            snapshot = self.uow.get(Snapshot, held.snapshot_id)
            item = self.uow.get(Item, held.item_id)
            if snapshot is None or not snapshot.ready or item is None:
                continue
            consent = self.uow.get(ConsentRecord, item.consent_id) if item.consent_id else None
            agreement = self.uow.get(AgreementRow, held.agreement_id)
            continued = (
                consent is not None
                and agreement is not None
                and (agreement.consent_id == consent.id)
            )
            if (consent is None or held.consent_record_id != consent.record_id) and not continued:
                found.add(held.item_id)
        return found

    def undeliverable(self, snapshot_id: int, now: datetime) -> list[tuple[int, str]]:
        found = []
        for held in self.uow.all(SnapshotItem, snapshot_id=snapshot_id, order_by="item_id"):
            agreement = self.uow.get(AgreementRow, held.agreement_id)
            item = self.uow.get(Item, held.item_id)
            consent = (
                self.uow.get(ConsentRecord, item.consent_id) if item and item.consent_id else None
            )
            if agreement is None or agreement.valid_until is None or agreement.valid_until <= now:
                found.append((held.item_id, "ended"))
            elif (
                item is None
                or consent is None
                or consent.state != ConsentState.ACTIVE
                # Delivered under an earlier consent, unless its agreement stands on this
                # one (revocations.keep_buyers_in_notice).
                or (
                    held.consent_record_id != consent.record_id
                    and agreement.consent_id != consent.id
                )
                or item.status is not ItemStatus.LISTED
            ):
                found.append((held.item_id, "withdrawn"))
            elif (
                self.uow.one(
                    Revocation, org_id=held.org_id, item_id=held.item_id, superseded_at=None
                )
                is not None
            ):
                found.append((held.item_id, "revoked"))
        return found


class MemoryFingerprints(_Repository):
    """``services.repositories.Fingerprints``."""

    def replace(self, item_id: int, keys: Iterable[tuple[str, int]]) -> None:
        kept = {k for k in self.state.fingerprint_keys if k[2] != item_id}
        self.state.fingerprint_keys = kept | {(s, k, item_id) for s, k in keys}

    def items_sharing(
        self,
        keys: Iterable[tuple[str, int]],
        kinds: Iterable[str],
        statuses: Iterable[str],
        exclude_id: int,
    ) -> list[int]:
        wanted = set(keys)
        holders = {i for s, k, i in self.state.fingerprint_keys if (s, k) in wanted}
        kinds_, statuses_ = set(kinds), set(statuses)
        return sorted(
            i.id
            for i in self._items(holders)
            if i.id is not None
            and i.id != exclude_id
            and i.kind in kinds_
            and i.status in statuses_
        )


class MemorySignInAttempts(_Repository):
    """``services.repositories.SignInAttempts`` over the ``SignInAttempt`` rows."""

    def forget(self, *, before: datetime) -> int:
        table = self.uow._table(SignInAttempt)
        old = [k for k, a in table.items() if a.at < before]
        for k in old:
            del table[k]
        return len(old)


class MemoryJobs(_Repository):
    """``services.repositories.Jobs``."""

    def claim(self, job_id: int, worker: str, now: datetime, lease_until: datetime) -> bool:
        job = self.uow.get(OutboxJob, job_id)
        if job is None or job.state is not JobState.PENDING or job.run_after > now:
            return False
        job.state, job.claimed_by, job.lease_until = JobState.RUNNING, worker, lease_until
        job.attempts += 1
        return True

    def _expired(self, now: datetime) -> list[OutboxJob]:
        return [
            j
            for j in self.uow.all(OutboxJob, state=JobState.RUNNING)
            if j.lease_until is not None and j.lease_until < now
        ]

    def expired_leases(self, now: datetime) -> list[int]:
        return [j.id for j in self._expired(now) if j.id is not None]

    def release_expired(self, job_ids: list[int], now: datetime) -> int:
        released = [j for j in self._expired(now) if j.id in set(job_ids)]
        for job in released:
            job.state, job.claimed_by, job.lease_until, job.run_after = (
                JobState.PENDING,
                None,
                None,
                now,
            )
        return len(released)

    def due_pending(self, older_than: datetime, limit: int = 500) -> list[int]:
        due = self.uow.all(OutboxJob, state=JobState.PENDING)
        return [j.id for j in due if j.id is not None and j.run_after <= older_than][:limit]


class MemoryPayoutClaims(_Repository):
    """``services.repositories.PayoutClaims``."""

    def _hold(
        self, found: list[Payout], batch_id: str, claimer: str, provider: str, until: datetime
    ) -> list[int]:
        for p in found:
            p.state, p.batch_id, p.claimed_by = PayoutState.SENDING, batch_id, claimer
            p.provider, p.lease_until, p.updated_at = provider, until, utcnow()
        return sorted(p.id for p in found if p.id is not None)

    def claim(
        self, batch_id: str, claimer: str, provider: str, lease_until: datetime, limit: int
    ) -> list[int]:
        oldest = self.uow.all(Payout, order_by="id", limit=limit, state=PayoutState.REQUESTED)
        return self._hold(oldest, batch_id, claimer, provider, lease_until)

    def take_over(
        self,
        batch_id: str,
        claimer: str,
        provider: str,
        now: datetime,
        lease_until: datetime,
        gone: Collection[str],
    ) -> list[int]:
        lapsed = [
            p
            for p in self.uow.all(Payout, state=PayoutState.SENDING)
            if p.lease_until is None or p.lease_until < now or p.claimed_by in set(gone)
        ]
        return self._hold(lapsed, batch_id, claimer, provider, lease_until)

    def claimers(self) -> list[str]:
        return sorted(
            {
                p.claimed_by
                for p in self.uow.all(Payout, state=PayoutState.SENDING)
                if p.claimed_by is not None and p.lease_until is not None
            }
        )

    def _held(self, batch_id: str) -> list[Payout]:
        return self.uow.all(Payout, state=PayoutState.SENDING, batch_id=batch_id)

    def renew(
        self, batch_id: str, lease_until: datetime, payout_ids: Collection[int] | None = None
    ) -> set[int]:
        held = self._held(batch_id)
        if payout_ids is not None:
            held = [p for p in held if p.id in set(payout_ids)]
        for p in held:
            p.lease_until = lease_until
        return {p.id for p in held if p.id is not None}

    def release(self, batch_id: str) -> int:
        held = self._held(batch_id)
        for p in held:
            p.lease_until = None
        return len(held)
