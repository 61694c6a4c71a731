"""The repositories of ``services.repositories`` in SQL, each working in its unit of work's
session: reads and conditional-update claims that ``get/one/all`` cannot express."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Result,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists

from datatrust.adapters.db.tables.accounts import sign_in_attempts
from datatrust.adapters.db.tables.audit import audit_events, audit_head
from datatrust.adapters.db.tables.campaigns import review_votes
from datatrust.adapters.db.tables.consent import consent_records
from datatrust.adapters.db.tables.fingerprints import fingerprint_keys
from datatrust.adapters.db.tables.items import items
from datatrust.adapters.db.tables.jobs import outbox
from datatrust.adapters.db.tables.ledger import payouts
from datatrust.adapters.db.tables.orders import (
    agreements,
    revocations,
    snapshot_items,
    snapshots,
)
from datatrust.domain.audit import AuditEntry, AuditEvent, ChainHead
from datatrust.domain.campaigns import VoteTally
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentState
from datatrust.domain.items import (
    ERASED_FILENAME,
    UNDECIDED_REVIEWS,
    CatalogueEntry,
    CatalogueFilter,
    Item,
    ItemStatus,
    SelectionGroup,
)
from datatrust.domain.jobs import JobState
from datatrust.domain.payouts import PayoutState
from datatrust.domain.snapshots import SnapshotState
from datatrust.services.repositories import OwnItemsWanted

# PostgreSQL takes at most 65,535 bound parameters per statement, SQLite 32,766: id lists
# are sent in chunks well below both.
IN_CHUNK = 10_000


def _rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (its ``Result`` is a cursor's)."""
    return int(cast("CursorResult[Any]", result).rowcount)


def _chunks(ids: Collection[int] | None) -> Iterator[list[int] | None]:
    """``None`` (no restriction) once, or the sorted distinct ids in chunks of IN_CHUNK."""
    if ids is None:
        yield None
        return
    wanted = sorted(set(ids))
    for lo in range(0, len(wanted), IN_CHUNK):
        yield wanted[lo : lo + IN_CHUNK]


# The columns of ix_items_selection, in its order: grouping by them walks the index in
# order (no sort), and neither selection query reads a table row.
_SELECTION_KEY = (
    items.c.status,
    items.c.licence_id,
    items.c.consent_offer_id,
    items.c.consent_state,
)


class SqlAuditLog:
    """``services.repositories.AuditLog``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def events(self, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every audit event in chain order, read in batches."""
        after = 0
        while True:
            rows = self.session.scalars(
                select(AuditEvent)
                .where(audit_events.c.seq > after)
                .order_by(audit_events.c.seq)
                .limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            after = rows[-1].seq

    def head(self) -> ChainHead:
        """The head row: the count of events and the last one's hash."""
        row = self.session.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        return ChainHead(seq=int(row.seq), hash=row.hash)

    def event(self, seq: int) -> AuditEvent | None:
        return self.session.get(AuditEvent, seq)

    def items_touched_between(
        self, start: datetime, end: datetime, tags: Iterable[str]
    ) -> list[int]:
        """Ids of the items that events with one of ``tags`` named from ``start`` to
        ``end`` (both included), from the audit log: what an incident's window reached."""
        rows = self.session.execute(
            select(audit_events.c.subject_id)
            .where(audit_events.c.subject_type == "item")
            .where(audit_events.c.tag.in_(list(tags)))
            .where(audit_events.c.at >= start)
            .where(audit_events.c.at <= end)
            .distinct()
        ).scalars()
        return sorted({int(r) for r in rows if str(r).isdigit()})

    def about(self, subject_type: str, subject_ids: Sequence[str]) -> list[AuditEvent]:
        return list(
            self.session.scalars(
                select(AuditEvent)
                .where(audit_events.c.subject_type == subject_type)
                .where(audit_events.c.subject_id.in_(list(subject_ids)))
                .order_by(audit_events.c.seq)
            )
        )

    def entries(
        self, subject_type: str, subject_ids: Sequence[str], tags: Collection[str] | None = None
    ) -> list[AuditEntry]:
        # Columns, not mapped events: an item's passport grows by an event per order that
        # selected it, and loading each as an object cost about twice reading its row.
        e = audit_events.c
        stmt = (
            select(e.seq, e.at, e.tag, e.actor, e.data, e.hash)
            .where(e.subject_type == subject_type)
            .where(e.subject_id.in_(list(subject_ids)))
            .order_by(e.seq)
        )
        if tags is not None:
            stmt = stmt.where(e.tag.in_(list(tags)))
        return [AuditEntry(*row) for row in self.session.execute(stmt)]


class SqlItemSelection:
    """``services.repositories.ItemSelection``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def groups(
        self, statuses: Iterable[str], among: Collection[int] | None = None
    ) -> list[SelectionGroup]:
        # Columns only, grouped by the database: a million items come back as a few dozen rows.
        totals: Counter[tuple[Any, ...]] = Counter()
        for chunk in _chunks(among):
            query = (
                select(*_SELECTION_KEY, func.count())
                .where(items.c.status.in_(list(statuses)))
                .group_by(*_SELECTION_KEY)
            )
            if chunk is not None:
                query = query.where(items.c.id.in_(chunk))
            for status, licence_id, offer_id, state, count in self.session.execute(query):
                totals[(status, licence_id, offer_id, state)] += count
        return [
            SelectionGroup(
                str(status),
                licence_id,
                offer_id,
                None if state is None else str(state),
                count,
            )
            for (status, licence_id, offer_id, state), count in totals.items()
        ]

    def selected_ids(
        self,
        status: str,
        allowed: Iterable[tuple[int, str]],
        among: Collection[int] | None = None,
    ) -> list[int]:
        pairs = sorted(set(allowed))
        if not pairs:
            return []
        by_state: dict[str, list[int]] = {}
        for licence_id, state in pairs:
            by_state.setdefault(state, []).append(licence_id)
        groups = or_(
            *(
                and_(items.c.consent_state == state, items.c.licence_id.in_(licence_ids))
                for state, licence_ids in sorted(by_state.items())
            )
        )
        out: list[int] = []
        for chunk in _chunks(among):
            query = (
                select(items.c.id)
                .where(items.c.status == status)
                .where(items.c.consent_offer_id == items.c.licence_id)
                .where(groups)
            )
            if chunk is not None:
                query = query.where(items.c.id.in_(chunk))
            out.extend(self.session.scalars(query))
        # Sorted here: ORDER BY id would make the database sort what the index yields in
        # (licence, state) order; Python sorts a few hundred thousand ints faster.
        out.sort()
        return out

    def undeliverable_ids(self, status: str, among: Collection[int] | None = None) -> list[int]:
        # The status rule keeps these out of ``listed``, so this finds only rows older than
        # it: cheap, as the item status index narrows the scan.
        out: list[int] = []
        for chunk in _chunks(among):
            query = (
                select(items.c.id)
                .where(items.c.status == status)
                .where(items.c.deidentified_key.is_(None))
            )
            if chunk is not None:
                query = query.where(items.c.id.in_(chunk))
            out.extend(self.session.scalars(query))
        return out

    def licences_of(self, status: str, among: Collection[int]) -> set[int]:
        found: set[int] = set()
        for chunk in _chunks(among):
            assert chunk is not None
            query = (
                select(items.c.licence_id)
                .where(items.c.id.in_(chunk), items.c.status == status)
                .where(items.c.licence_id.is_not(None))
                .distinct()
            )
            found.update(self.session.scalars(query))
        return found

    def entries(
        self, status: str, among: Collection[int], wanted: CatalogueFilter
    ) -> list[CatalogueEntry]:
        # CatalogueFilter.admits in SQL, on columns only: no report is read.
        narrowed = [items.c.status == status]
        if wanted.kind:
            narrowed.append(items.c.kind == wanted.kind)
        if wanted.language:
            narrowed.append(items.c.language == wanted.language)  # ix_items_status_language
        duration = func.coalesce(items.c.duration_seconds, 0)
        if wanted.min_duration is not None:
            narrowed.append(duration >= wanted.min_duration)
        if wanted.max_duration is not None:
            narrowed.append(duration <= wanted.max_duration)
        if wanted.min_quality is not None:
            narrowed.append(items.c.quality_score >= wanted.min_quality)  # NULL: left out
        if wanted.cells is not None:  # an area: NULL cells are left out
            narrowed.append(or_(false(), *(items.c.h3_cell.between(*r) for r in wanted.cells)))
        if wanted.licence_ids is not None:  # the offers whose price was admitted
            narrowed.append(items.c.licence_id.in_(sorted(wanted.licence_ids)))
        out: list[CatalogueEntry] = []
        for chunk in _chunks(among):
            assert chunk is not None
            query = select(
                items.c.id,
                items.c.kind,
                items.c.licence_id,
                items.c.language,
                items.c.quality_score,
                items.c.h3_cell,
                items.c.duration_seconds,
            ).where(items.c.id.in_(chunk), *narrowed)
            out.extend(CatalogueEntry(*row) for row in self.session.execute(query))
        out.sort(key=lambda entry: entry.id)
        return out


class SqlFingerprints:
    """``services.repositories.Fingerprints``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def replace(self, item_id: int, keys: Iterable[tuple[str, int]]) -> None:
        """The item's near-duplicate index keys become exactly ``keys``."""
        self.session.execute(delete(fingerprint_keys).where(fingerprint_keys.c.item_id == item_id))
        rows = [{"space": s, "key": k, "item_id": item_id} for s, k in sorted(set(keys))]
        if rows:
            self.session.execute(insert(fingerprint_keys), rows)

    def items_sharing(
        self,
        keys: Iterable[tuple[str, int]],
        kinds: Iterable[str],
        statuses: Iterable[str],
        exclude_id: int,
    ) -> list[int]:
        # An index lookup per key space, never a scan of every item.
        by_space: dict[str, list[int]] = {}
        for space, key in set(keys):
            by_space.setdefault(space, []).append(key)
        found: set[int] = set()
        for space, values in sorted(by_space.items()):
            for chunk in _chunks(values):
                assert chunk is not None
                query = (
                    select(fingerprint_keys.c.item_id)
                    .distinct()
                    .join(items, items.c.id == fingerprint_keys.c.item_id)
                    .where(fingerprint_keys.c.space == space)
                    .where(fingerprint_keys.c.key.in_(chunk))
                    .where(items.c.kind.in_(list(kinds)))
                    .where(items.c.status.in_(list(statuses)))
                    .where(items.c.id != exclude_id)
                )
                found.update(self.session.scalars(query))
        return sorted(found)


class SqlSignInAttempts:
    """``services.repositories.SignInAttempts``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def forget(self, *, before: datetime) -> int:
        old = delete(sign_in_attempts).where(sign_in_attempts.c.at < before)
        result = self.session.execute(old)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlOwnItems:
    """``services.repositories.OwnItems``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _where(self, stmt: Any, wanted: OwnItemsWanted) -> Any:
        # ix_items_owner_id narrows to the person's rows; status and kind are plain columns.
        stmt = stmt.where(items.c.owner_id == wanted.owner_id)
        stmt = stmt.where(items.c.filename != ERASED_FILENAME)
        if wanted.status:
            stmt = stmt.where(items.c.status == wanted.status)
        if wanted.kind:
            stmt = stmt.where(items.c.kind == wanted.kind)
        return stmt

    def page(self, wanted: OwnItemsWanted, offset: int = 0, limit: int | None = None) -> list[Item]:
        stmt = self._where(select(Item), wanted).order_by(items.c.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return list(self.session.scalars(stmt))

    def count(self, wanted: OwnItemsWanted) -> int:
        stmt = self._where(select(func.count()).select_from(items), wanted)
        return int(self.session.scalar(stmt) or 0)


def _standing_notice() -> Exists:
    """A held row's buyer has a standing (not superseded) notice about its item."""
    held = snapshot_items
    return (
        select(revocations.c.id)
        .where(revocations.c.org_id == held.c.org_id)
        .where(revocations.c.item_id == held.c.item_id)
        .where(revocations.c.superseded_at.is_(None))  # uq_revocations_..._standing
        .exists()
    )


def _licence_ended(now: datetime) -> ColumnElement[bool]:
    """A held row's agreement has no end it can be read by, or has ended by ``now``."""
    return or_(agreements.c.valid_until.is_(None), agreements.c.valid_until <= now)


def _under_earlier_consent() -> ColumnElement[bool]:
    """A held row was delivered under an earlier consent (ConsentRecord.record_id) than the
    item's current one, unless its agreement stands on the current one
    (revocations.keep_buyers_in_notice). Needs items, agreements and consent_records joined."""
    return and_(
        snapshot_items.c.consent_record_id != consent_records.c.uid,
        or_(agreements.c.consent_id.is_(None), agreements.c.consent_id != items.c.consent_id),
    )


class SqlHoldings:
    """``services.repositories.Holdings``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lapsed(self, now: datetime) -> list[tuple[int, int]]:
        # One statement for every held row: no licence is parsed and no row loaded.
        held = snapshot_items
        noticed, ended, earlier = _standing_notice(), _licence_ended(now), _under_earlier_consent()
        gone = or_(consent_records.c.id.is_(None), consent_records.c.state != ConsentState.ACTIVE)
        first = func.min(held.c.id)
        stmt = (
            select(held.c.item_id, held.c.org_id)
            .join(snapshots, snapshots.c.id == held.c.snapshot_id)
            .join(agreements, agreements.c.id == held.c.agreement_id)
            .join(items, items.c.id == held.c.item_id)
            .outerjoin(consent_records, consent_records.c.id == items.c.consent_id)
            .where(snapshots.c.state == SnapshotState.READY)
            .where(~noticed)
            .where(or_(ended, gone, earlier, items.c.status == ItemStatus.WITHDRAWN.value))
            .group_by(held.c.item_id, held.c.org_id)
            .order_by(first)
        )
        return [(item_id, org_id) for item_id, org_id in self.session.execute(stmt)]

    def snapshots_of(self, item_id: int) -> list[int]:
        held = snapshot_items
        stmt = (
            select(held.c.snapshot_id)
            .distinct()
            .where(held.c.item_id == item_id)  # ix_snapshot_items_item_id
            .order_by(held.c.snapshot_id)
        )
        return list(self.session.scalars(stmt))

    def under_earlier_consent(self, org_id: int, item_ids: Collection[int]) -> set[int]:
        # One statement per chunk of ids, whatever the number of builds: only the distinct
        # item ids come back, and no row is loaded as an object.
        held = snapshot_items
        found: set[int] = set()
        wanted = sorted(set(item_ids))
        for lo in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[lo : lo + IN_CHUNK]
            stmt = (
                select(held.c.item_id)
                .distinct()
                .join(snapshots, snapshots.c.id == held.c.snapshot_id)
                .join(items, items.c.id == held.c.item_id)
                .join(agreements, agreements.c.id == held.c.agreement_id)
                .outerjoin(consent_records, consent_records.c.id == items.c.consent_id)
                .where(held.c.item_id.in_(chunk))  # ix_snapshot_items_item_id
                .where(held.c.org_id == org_id)
                .where(snapshots.c.state == SnapshotState.READY)
                .where(held.c.consent_record_id != "")
                .where(  # ConsentRecord.record_id
                    or_(
                        consent_records.c.uid.is_(None),
                        held.c.consent_record_id != consent_records.c.uid,
                    )
                )
                # Unless its agreement stands on the item's consent now (a buyer kept in
                # its notice: revocations.keep_buyers_in_notice).
                .where(
                    or_(
                        agreements.c.consent_id.is_(None),
                        items.c.consent_id.is_(None),
                        agreements.c.consent_id != items.c.consent_id,
                    )
                )
            )
            found.update(self.session.scalars(stmt))
        return found

    def undeliverable(self, snapshot_id: int, now: datetime) -> list[tuple[int, str]]:
        # One statement over the snapshot's rows (ix_snapshot_items_snapshot_id); the WHERE
        # keeps only the rows that may not go, so a clean snapshot returns nothing.
        held = snapshot_items
        noticed, ended = _standing_notice(), _licence_ended(now)
        gone = or_(
            consent_records.c.id.is_(None),
            consent_records.c.state != ConsentState.ACTIVE,
            _under_earlier_consent(),
            items.c.status != ItemStatus.LISTED.value,
        )
        stmt = (
            select(held.c.item_id, ended.label("ended"), gone.label("gone"))
            .join(agreements, agreements.c.id == held.c.agreement_id)
            .join(items, items.c.id == held.c.item_id)
            .outerjoin(consent_records, consent_records.c.id == items.c.consent_id)
            .where(held.c.snapshot_id == snapshot_id)
            .where(or_(ended, gone, noticed))
            .order_by(held.c.item_id)
        )
        return [
            (item_id, "ended" if is_ended else "withdrawn" if is_gone else "revoked")
            for item_id, is_ended, is_gone in self.session.execute(stmt)
        ]


class SqlReviews:
    """``services.repositories.Reviews``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def tally(self, item_ids: Collection[int]) -> dict[int, VoteTally]:
        counted = {item_id: VoteTally() for item_id in item_ids}
        if not counted:
            return counted
        stmt = (
            select(
                review_votes.c.item_id,
                func.count().filter(review_votes.c.up.is_(True)),
                func.count().filter(review_votes.c.up.is_(False)),
            )
            .where(review_votes.c.item_id.in_(list(counted)))  # ix_review_votes_item_id
            .group_by(review_votes.c.item_id)
        )
        for item_id, up, down in self.session.execute(stmt):
            counted[item_id] = VoteTally(up, down)
        return counted

    def waiting(self, campaign_id: int, reviewer_id: int | None = None) -> list[Item]:
        # The review state is a column: only undecided items are read, and with a
        # reviewer, never their own or one they voted on (ix_review_votes_item_id).
        stmt = select(Item).where(
            items.c.campaign_id == campaign_id,
            items.c.status == ItemStatus.ACCEPTED,
            items.c.review_state.in_(sorted(UNDECIDED_REVIEWS)),
        )
        if reviewer_id is not None:
            voted = (
                select(review_votes.c.id)
                .where(review_votes.c.item_id == items.c.id)
                .where(review_votes.c.reviewer_id == reviewer_id)
                .exists()
            )
            stmt = stmt.where(items.c.owner_id != reviewer_id, ~voted)
        return list(self.session.scalars(stmt.order_by(items.c.id)))

    def voted_on(self, reviewer_id: int) -> set[int]:
        stmt = select(review_votes.c.item_id).where(review_votes.c.reviewer_id == reviewer_id)
        return set(self.session.scalars(stmt))

    def overdue(self, now: datetime) -> list[int]:
        """Ids of the pipeline-accepted items whose review is undecided and whose window
        ended by ``now``, in id order (``ix_items_review_due``; no report is read)."""
        stmt = (
            select(items.c.id)
            .where(items.c.review_state.in_([s.value for s in UNDECIDED_REVIEWS]))
            .where(items.c.review_due <= now)
            .where(items.c.status == ItemStatus.ACCEPTED.value)
            .order_by(items.c.id)
        )
        return list(self.session.scalars(stmt))

    def claim_overdue(self, item_id: int, now: datetime) -> bool:
        # A conditional update that only an item still undecided and overdue passes; its
        # row lock keeps any other claimant waiting until this transaction ends.
        result = self.session.execute(
            update(items)
            .where(items.c.id == item_id)
            .where(items.c.review_state.in_([s.value for s in UNDECIDED_REVIEWS]))
            .where(items.c.review_due <= now)
            .where(items.c.status == ItemStatus.ACCEPTED.value)
            .values(review_due=items.c.review_due)
        )
        return _rowcount(result) == 1


class SqlJobs:
    """``services.repositories.Jobs``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, job_id: int, worker: str, now: datetime, lease_until: datetime) -> bool:
        result = self.session.execute(
            update(outbox)
            .where(outbox.c.id == job_id)
            .where(outbox.c.state == JobState.PENDING.value)
            .where(outbox.c.run_after <= now)
            .values(
                state=JobState.RUNNING.value,
                claimed_by=worker,
                lease_until=lease_until,
                attempts=outbox.c.attempts + 1,
            )
        )
        return _rowcount(result) == 1

    def expired_leases(self, now: datetime) -> list[int]:
        return list(
            self.session.scalars(
                select(outbox.c.id).where(
                    and_(outbox.c.state == JobState.RUNNING.value, outbox.c.lease_until < now)
                )
            )
        )

    def release_expired(self, job_ids: list[int], now: datetime) -> int:
        """Running with an expired lease → pending again; the conditional update means a
        worker that finishes meanwhile wins and its job is not released."""
        if not job_ids:
            return 0
        result = self.session.execute(
            update(outbox)
            .where(outbox.c.id.in_(job_ids))
            .where(outbox.c.state == JobState.RUNNING.value)
            .where(outbox.c.lease_until < now)
            .values(state=JobState.PENDING.value, claimed_by=None, lease_until=None, run_after=now)
        )
        return _rowcount(result)

    def due_pending(self, older_than: datetime, limit: int = 500) -> list[int]:
        """Pending jobs that should have run by now: their dispatch was lost or delayed."""
        return list(
            self.session.scalars(
                select(outbox.c.id)
                .where(outbox.c.state == JobState.PENDING.value)
                .where(or_(outbox.c.run_after <= older_than))
                .order_by(outbox.c.id)
                .limit(limit)
            )
        )


class SqlPayoutClaims:
    """``services.repositories.PayoutClaims``.

    Each claim is one conditional UPDATE. On PostgreSQL a second batch's UPDATE waits for
    the first's row locks and then re-checks its WHERE against the committed row, so a row
    the first batch claimed no longer matches; SQLite runs writers one at a time.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(
        self, batch_id: str, claimer: str, provider: str, lease_until: datetime, limit: int
    ) -> list[int]:
        # On PostgreSQL the rows another batch is claiming right now are skipped, so this
        # one takes the next.
        # Two statements, not UPDATE … WHERE id IN (SELECT … LIMIT): PostgreSQL may run
        # such a subquery more than once and update more than ``limit`` rows.
        oldest = list(
            self.session.scalars(
                select(payouts.c.id)
                .where(payouts.c.state == PayoutState.REQUESTED)
                .order_by(payouts.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # SQLite: left out (one writer at a time)
            )
        )
        if not oldest:
            return []
        return self._claim(
            update(payouts)
            .where(payouts.c.id.in_(oldest))
            .where(payouts.c.state == PayoutState.REQUESTED),
            batch_id,
            claimer,
            provider,
            lease_until,
        )

    def take_over(
        self,
        batch_id: str,
        claimer: str,
        provider: str,
        now: datetime,
        lease_until: datetime,
        gone: Collection[str],
    ) -> list[int]:
        lapsed = [payouts.c.lease_until.is_(None), payouts.c.lease_until < now]
        if gone:
            lapsed.append(payouts.c.claimed_by.in_(sorted(gone)))
        return self._claim(
            update(payouts).where(payouts.c.state == PayoutState.SENDING).where(or_(*lapsed)),
            batch_id,
            claimer,
            provider,
            lease_until,
        )

    def _claim(
        self, stmt: Any, batch_id: str, claimer: str, provider: str, lease_until: datetime
    ) -> list[int]:
        result = self.session.execute(
            stmt.values(
                state=PayoutState.SENDING,
                batch_id=batch_id,
                claimed_by=claimer,
                provider=provider,
                lease_until=lease_until,
                updated_at=utcnow(),
            ).returning(payouts.c.id)
        )
        return sorted(result.scalars())

    def claimers(self) -> list[str]:
        return list(
            self.session.scalars(
                select(payouts.c.claimed_by)
                .where(payouts.c.state == PayoutState.SENDING)
                .where(payouts.c.claimed_by.is_not(None))
                .where(payouts.c.lease_until.is_not(None))
                .distinct()
            )
        )

    def renew(
        self, batch_id: str, lease_until: datetime, payout_ids: Collection[int] | None = None
    ) -> set[int]:
        stmt = (
            update(payouts)
            .where(payouts.c.batch_id == batch_id)
            .where(payouts.c.state == PayoutState.SENDING)
        )
        if payout_ids is not None:
            stmt = stmt.where(payouts.c.id.in_(list(payout_ids)))
        result = self.session.execute(stmt.values(lease_until=lease_until).returning(payouts.c.id))
        return set(result.scalars())

    def release(self, batch_id: str) -> int:
        result = self.session.execute(
            update(payouts)
            .where(payouts.c.batch_id == batch_id)
            .where(payouts.c.state == PayoutState.SENDING)
            .values(lease_until=None)
        )
        return _rowcount(result)
