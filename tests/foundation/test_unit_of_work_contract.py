"""The unit-of-work contract, run against the SQL unit of work (on the test database) and
the in-memory one (``adapters.memory``) alike, so service tests written on either mean the
same thing: generic access, transactions, the audit chain, the outbox, and each
repository of ``services.repositories``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial

import h3
import pytest
from sqlalchemy import event

from datatrust.adapters.db.uow import SqlUnitOfWork
from datatrust.adapters.memory import MemoryStore
from datatrust.domain.accounts import Organisation, SignInAttempt, User
from datatrust.domain.audit import AuditTag, verify_chain
from datatrust.domain.campaigns import Campaign, PayBasis, ReviewVote, VoteTally
from datatrust.domain.consent import ConsentState, DataCategory, LicenceOffer, give_consent
from datatrust.domain.errors import Conflict
from datatrust.domain.ids import id_of
from datatrust.domain.items import (
    CatalogueEntry,
    CatalogueFilter,
    Item,
    ItemKind,
    ItemStatus,
    ReviewDecider,
    ReviewState,
)
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.ledger import AccountRef, InsufficientFunds, deposit, fund_escrow
from datatrust.domain.money import Money
from datatrust.domain.orders import AgreementRow, Order, OrderState
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.permissions import Role
from datatrust.domain.snapshots import (
    Revocation,
    ShardState,
    Snapshot,
    SnapshotItem,
    SnapshotShard,
    SnapshotState,
)
from datatrust.pipeline.regions import REGION_RESOLUTION, cell_ranges
from datatrust.services.licensing import Selection
from datatrust.services.market import orders
from datatrust.services.ports import ROW_DELETED, ROW_INSERTED, ReadOnlyViolation, UnitOfWork
from datatrust.services.repositories import OwnItemsWanted

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
Factory = Callable[[], UnitOfWork]


@pytest.fixture(params=["sql", "memory"])
def make_uow(request: pytest.FixtureRequest) -> Factory:
    if request.param == "sql":
        return request.getfixturevalue("services").uow  # type: ignore[no-any-return]
    return MemoryStore()


Hook = Callable[[Mapping[type, set[str]]], None]


class RecordingQueue:
    """A job queue that keeps the outbox ids it was handed."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def dispatch(self, outbox_id: int, delay_seconds: int = 0) -> None:
        self.sent.append(outbox_id)

    def check(self) -> None:
        pass


@pytest.fixture(params=["sql", "memory"])
def build(request: pytest.FixtureRequest) -> Callable[..., Factory]:
    """A unit-of-work factory of each kind, given the job queue and the ``on_commit`` hook
    (what ``bootstrap`` hands the SQL one)."""

    def sql(queue: RecordingQueue | None = None, on_commit: Hook | None = None) -> Factory:
        session_factory = request.getfixturevalue("services").session_factory
        return partial(SqlUnitOfWork, session_factory, queue, on_commit=on_commit)

    def memory(queue: RecordingQueue | None = None, on_commit: Hook | None = None) -> Factory:
        return MemoryStore(queue, on_commit=on_commit)

    return sql if request.param == "sql" else memory


def _user(uow: UnitOfWork, name: str) -> User:
    user = User(email=f"{name}@example.org", password_hash="x", role=Role.CONTRIBUTOR)
    uow.add(user)
    uow.flush()
    return user


def _item(uow: UnitOfWork, owner: User, **fields: object) -> Item:
    item = Item(
        owner_id=id_of(owner),
        kind=ItemKind.PHOTO,
        filename="a.jpg",
        content_type="image/jpeg",
        size=1,
        original_key="k",
        original_sha256="0" * 64,
    )
    for name, value in fields.items():
        setattr(item, name, value)
    uow.add(item)
    uow.flush()
    return item


def usd(minor: int) -> Money:
    return Money(minor, "USD")


# -- generic access and transactions --------------------------------------------------------


def test_added_rows_get_ids_on_flush_and_are_found_by_equality_in_and_order(make_uow: Factory):
    with make_uow() as uow:
        ada, bob, cy = (_user(uow, n) for n in ("ada", "bob", "cy"))
        assert len({ada.id, bob.id, cy.id}) == 3 and None not in {ada.id, bob.id, cy.id}
        assert uow.get(User, ada.id) is ada
        assert uow.one(User, email="bob@example.org") is bob
        assert uow.one(User, email="nobody@example.org") is None
        found = uow.all(User, email__in=["ada@example.org", "cy@example.org"], order_by="-id")
        assert [u.email for u in found] == ["cy@example.org", "ada@example.org"]
        assert [u.id for u in uow.all(User, order_by="id", limit=2)] == [ada.id, bob.id]
        assert uow.count(User, role=Role.CONTRIBUTOR) == 3
        assert uow.count(User, email__in=[]) == 0


def test_rows_added_in_bulk_are_found_committed_and_reported_like_rows_added_one_by_one(
    build: Callable[..., Factory],
):
    told: list[dict[type, set[str]]] = []
    make = build(on_commit=lambda changes: told.append(dict(changes)))
    names = ["ada", "bob", "cy"]
    with make() as uow:
        # Some with a country, some without: the columns left NULL differ by row.
        users = [
            User(email=f"{n}@example.org", password_hash="x", role=Role.CONTRIBUTOR) for n in names
        ]
        users[1].country = "GB"
        inserts: list[str] = []
        if isinstance(uow, SqlUnitOfWork):  # one statement for them all, not one per row
            connection = uow.session.connection()  # type: ignore[union-attr]

            def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
                inserts.append(statement)

            event.listen(connection, "before_cursor_execute", seen)
        uow.add_many(users)
        if isinstance(uow, SqlUnitOfWork):
            event.remove(connection, "before_cursor_execute", seen)
            assert [s.split()[:3] for s in inserts] == [["INSERT", "INTO", "users"]], inserts
        uow.add_many([])
        found = uow.all(User, order_by="id")
        assert [u.email for u in found] == [f"{n}@example.org" for n in names]
        assert [u.country for u in found] == [None, "GB", None]
        assert all(u.id is not None for u in found)
        mixed = [User(email="d@example.org", password_hash="x", role=Role.CONTRIBUTOR), _item_row()]
        with pytest.raises(TypeError, match="one kind"):
            uow.add_many(mixed)
        uow.commit()
        assert told[-1][User] == {ROW_INSERTED}
        with pytest.raises(ReadOnlyViolation), uow.reading():
            uow.add_many([User(email="e@example.org", password_hash="x", role=Role.CONTRIBUTOR)])
    with make() as uow:
        assert sorted(u.email for u in uow.all(User)) == [f"{n}@example.org" for n in names]


def _item_row() -> Item:
    return Item(
        owner_id=1,
        kind=ItemKind.PHOTO,
        filename="a.jpg",
        content_type="image/jpeg",
        size=1,
        original_key="k",
        original_sha256="0" * 64,
    )


def test_a_page_of_rows_is_a_limit_from_an_offset_in_order(make_uow: Factory):
    with make_uow() as uow:
        users = [_user(uow, n) for n in ("a", "b", "c", "d", "e")]
        newest = [u.id for u in reversed(users)]
        assert [u.id for u in uow.all(User, order_by="-id", offset=1, limit=2)] == newest[1:3]
        assert [u.id for u in uow.all(User, order_by="-id", offset=4, limit=2)] == newest[4:]
        assert [u.id for u in uow.all(User, order_by="-id", offset=3)] == newest[3:]
        assert uow.all(User, order_by="id", offset=9, limit=2) == []


def test_own_items_are_filtered_by_status_and_kind_and_paged_newest_first_without_deleted(
    make_uow: Factory,
):
    with make_uow() as uow:
        owner, other = _user(uow, "owner"), _user(uow, "other")
        photos = [_item(uow, owner, status=ItemStatus.LISTED) for _ in range(3)]
        video = _item(uow, owner, kind=ItemKind.VIDEO, status=ItemStatus.LISTED)
        rejected = _item(uow, owner, status=ItemStatus.REJECTED)
        _item(uow, owner, filename="erased", status=ItemStatus.LISTED)  # deleted by its owner
        _item(uow, other, status=ItemStatus.LISTED)
        mine = uow.own_items

        def wanted(status: str = "", kind: str = "") -> OwnItemsWanted:
            return OwnItemsWanted(id_of(owner), status, kind)

        newest = [rejected.id, video.id, *(p.id for p in reversed(photos))]
        assert [i.id for i in mine.page(wanted())] == newest and mine.count(wanted()) == 5
        assert [i.id for i in mine.page(wanted(), offset=1, limit=2)] == newest[1:3]
        assert [i.id for i in mine.page(wanted(), offset=4, limit=2)] == newest[4:]
        assert [i.id for i in mine.page(wanted("listed"))] == newest[1:]
        assert mine.count(wanted("listed")) == 4
        assert [i.id for i in mine.page(wanted("listed", "photo"))] == newest[2:]
        assert mine.count(wanted("listed", "video")) == 1
        assert mine.page(wanted("nonsense")) == [] and mine.count(wanted(kind="nonsense")) == 0


def test_only_committed_changes_outlive_the_unit_of_work(make_uow: Factory):
    with make_uow() as uow:
        kept = _user(uow, "kept")
        uow.commit()
        _user(uow, "dropped")  # never committed
    with make_uow() as uow:
        _user(uow, "rolled-back")
        uow.rollback()
        again = uow.get(User, kept.id)
        assert again is not None
        again.display_name = "Kept"
        uow.commit()
    with make_uow() as uow:
        assert [u.email for u in uow.all(User)] == ["kept@example.org"]
        found = uow.one(User, display_name="Kept")
        assert found is not None and found.id == kept.id


def test_deleted_rows_are_gone_after_commit(make_uow: Factory):
    with make_uow() as uow:
        user = _user(uow, "gone")
        uow.commit()
        uow.delete(user)
        uow.commit()
    with make_uow() as uow:
        assert uow.count(User) == 0


def test_recorded_events_form_a_verifiable_chain_only_when_committed(make_uow: Factory):
    with make_uow() as uow:
        uow.record(AuditTag.ITEM_CREATE, "user:1", "item", 7, size=3)
        uow.record(AuditTag.ITEM_CREATE, "user:1", "item", 8)
        uow.commit()
        uow.record(AuditTag.ITEM_CREATE, "user:1", "item", 9)  # not committed
    with make_uow() as uow:
        events = list(uow.audit.events())
        head = uow.audit.head()
        assert [e.subject_id for e in events] == ["7", "8"] and events[0].data == {"size": 3}
        assert head.seq == 2 and head.hash == events[-1].hash
        assert verify_chain(events, head=head).ok
        assert uow.audit.event(2) == events[1]
        assert [e.seq for e in uow.audit.about("item", ["8", "9"])] == [2]
        with pytest.raises(ValueError):
            uow.record("no-such-tag", "user:1", "item", 1)


def test_the_entries_about_a_subject_are_its_events_as_rows_in_chain_order(make_uow: Factory):
    with make_uow() as uow:
        uow.record(AuditTag.SNAPSHOT_DOWNLOAD, "org:1", "snapshot", 4, file="a.tar")
        uow.record(AuditTag.SNAPSHOT_DELIVER, "system", "snapshot", 3)
        uow.record(AuditTag.SNAPSHOT_DOWNLOAD, "org:1", "snapshot", 3, file="b.tar")
        uow.record(AuditTag.ITEM_CREATE, "user:1", "item", 3)
        uow.commit()
    with make_uow() as uow:
        events = {e.seq: e for e in uow.audit.events()}
        entries = uow.audit.entries("snapshot", ["3", "4"])
        assert [e.seq for e in entries] == [1, 2, 3]
        assert [(e.at, e.tag, e.actor, e.data, e.hash) for e in entries] == [
            (events[s].at, events[s].tag, events[s].actor, events[s].data, events[s].hash)
            for s in (1, 2, 3)
        ]
        downloads = uow.audit.entries("snapshot", ["3", "4"], ["snapshot:download"])
        assert [(e.seq, e.data) for e in downloads] == [
            (1, {"file": "a.tar"}),
            (3, {"file": "b.tar"}),
        ]
        assert uow.audit.entries("snapshot", ["3"], []) == []


def test_a_job_enqueued_twice_under_one_key_is_queued_once(make_uow: Factory):
    with make_uow() as uow:
        uow.enqueue("test.record", {"n": 1}, key="once")
        uow.enqueue("test.record", {"n": 2}, key="once")
        uow.enqueue("test.record", {"n": 3})
        uow.commit()
    with make_uow() as uow:
        jobs = uow.all(OutboxJob, order_by="id")
        assert [j.payload["n"] for j in jobs] == [1, 3]
        assert all(j.state is JobState.PENDING for j in jobs)


def test_queued_jobs_reach_the_queue_only_after_commit_and_never_after_a_rollback(
    build: Callable[..., Factory],
):
    queue = RecordingQueue()
    make = build(queue=queue)
    with make() as uow:
        uow.enqueue("test.record", {"n": 1}, key="rolled-back")
        uow.rollback()
        uow.enqueue("test.record", {"n": 2}, key="kept")
        uow.flush()
        assert queue.sent == []
        uow.commit()
        uow.enqueue("test.record", {"n": 3}, key="never-committed")
    with make() as uow:
        jobs = uow.all(OutboxJob, order_by="id")
        assert [j.idempotency_key for j in jobs] == ["kept"]
        assert queue.sent == [jobs[0].id]


def test_after_each_commit_the_hook_is_told_which_rows_changed_and_after_a_rollback_nothing(
    build: Callable[..., Factory],
):
    told: list[dict[type, set[str]]] = []
    make = build(on_commit=lambda changes: told.append(dict(changes)))
    with make() as uow:
        user = _user(uow, "ada")
        uow.commit()
        user_id = id_of(user)
        assert told[-1][User] == {ROW_INSERTED}
        user.display_name = "Ada"
        uow.commit()
        assert told[-1][User] == {"display_name"}
        uow.record(AuditTag.ITEM_CREATE, "user:1", "item", 7)
        uow.commit()
        assert User not in told[-1]
        seen = len(told)
        user.display_name = "Not kept"
        uow.rollback()
        uow.commit()  # nothing left to commit: the hook is not called
        assert len(told) == seen
    with make() as uow:
        found = uow.get(User, user_id)
        assert found is not None and found.display_name == "Ada"
        uow.delete(found)
        uow.commit()
        assert told[-1][User] == {ROW_DELETED}


def test_units_of_work_open_at_once_are_each_told_their_own_changes_and_rules(
    build: Callable[..., Factory],
):
    """Each unit's flushes reach that unit alone (the SQL one learns of them through the
    session it opened): the hook hears of each unit's own changes at its own commit, and a
    read-only unit refuses its own change without refusing its neighbour's."""
    told: list[dict[type, set[str]]] = []
    make = build(on_commit=lambda changes: told.append(dict(changes)))
    with make() as uow:
        ada = id_of(_user(uow, "ada"))
        uow.commit()
    with make() as a, make() as b:
        found = a.get(User, ada)
        assert found is not None
        found.display_name = "Ada"
        a.flush()
        _user(b, "bob")
        b.commit()
        a.commit()
    assert told[1:] == [{User: {ROW_INSERTED}}, {User: {"display_name"}}]
    with make() as writer, make(read_only=True) as reader:
        seen = reader.get(User, ada)
        assert seen is not None
        seen.display_name = "changed by a reader"
        with pytest.raises(ReadOnlyViolation):
            reader.commit()
        _user(writer, "cy")
        writer.commit()
    assert told[3:] == [{User: {ROW_INSERTED}}]


def test_the_reading_phase_refuses_a_change_and_keeps_nothing_of_it(make_uow: Factory):
    with make_uow() as uow:
        user = _user(uow, "strict")
        uow.commit()
        with pytest.raises(ReadOnlyViolation), uow.reading():
            found = uow.get(User, id_of(user))
            assert found is not None
            found.display_name = "inside"
            uow.flush()
        with pytest.raises(ReadOnlyViolation), uow.reading():
            _user(uow, "added-inside")
        with uow.reading():
            assert uow.count(User) == 1  # reading is what the phase is for
    with make_uow() as uow:
        (only,) = uow.all(User)
        assert only.email == "strict@example.org" and only.display_name != "inside"


def test_a_read_only_unit_of_work_refuses_a_change_or_a_job_but_records_what_it_saw(
    make_uow: Callable[..., UnitOfWork],
):
    with make_uow() as uow:
        user = _user(uow, "careful")
        uow.commit()
    with make_uow(read_only=True) as uow:
        found = uow.get(User, id_of(user))
        assert found is not None
        found.display_name = "changed"
        with pytest.raises(ReadOnlyViolation):
            uow.commit()
    with make_uow(read_only=True) as uow:
        uow.enqueue("test.record", {"n": 1})
        with pytest.raises(ReadOnlyViolation):
            uow.commit()
    with make_uow(read_only=True) as uow:
        uow.record(AuditTag.ITEM_CREATE, "user:1", "item", 7)
        uow.commit()
    with make_uow() as uow:
        found = uow.get(User, id_of(user))
        assert found is not None and found.display_name != "changed"
        assert uow.count(OutboxJob) == 0
        assert [e.subject_id for e in uow.audit.events()] == ["7"]


# -- repositories --------------------------------------------------------------------------


def test_the_ledger_posts_once_per_key_and_refuses_overdrafts_and_reused_keys(
    make_uow: Factory,
):
    funds, escrow = AccountRef.buyer_funds(3, "USD"), AccountRef.escrow(9, "USD")
    with make_uow() as uow:
        ledger = uow.ledger
        first = ledger.post(deposit(3, usd(1000), key="dep-1"))
        assert not first.replayed and ledger.post(deposit(3, usd(1000), key="dep-1")).replayed
        with pytest.raises(Conflict):
            ledger.post(deposit(3, usd(5), key="dep-1"))
        ledger.post(fund_escrow(3, 9, usd(400), key="esc-1"))
        with pytest.raises(InsufficientFunds):
            ledger.post(fund_escrow(3, 9, usd(700), key="esc-2"))
        uow.commit()
    with make_uow() as uow:
        ledger = uow.ledger
        assert ledger.balance(funds) == usd(600) and ledger.balance(escrow) == usd(400)
        assert ledger.balance(AccountRef.escrow(10, "USD")) == usd(0)
        assert [e.key for e in ledger.entries_with_key_prefix("esc-")] == ["esc-1"]
        assert [e.key for e in ledger.entries_touching([escrow])] == ["esc-1"]
        assert [e.key for e in ledger.all_entries()] == ["dep-1", "esc-1"]
        assert (ledger.entry("esc-1") or first).amount_for(escrow) == usd(400)
        assert ledger.entry("esc-2") is None
        assert ledger.accounts_of("org:3") == [funds]
        assert ledger.balances_of("org:3") == {funds: usd(600)}
        assert ledger.balances_of("org:4") == {}
        assert ledger.stored_balances()[escrow] == usd(400)
        assert set(ledger.lock([escrow, funds])) == {escrow, funds}


def test_overdue_reviews_are_found_and_claimed_only_while_undecided(make_uow: Factory):
    with make_uow() as uow:
        owner = _user(uow, "owner")
        due = dict(status=ItemStatus.ACCEPTED, review_state=ReviewState.WAITING)
        overdue = _item(uow, owner, review_due=NOW - timedelta(days=1), **due)
        later = _item(uow, owner, review_due=NOW + timedelta(days=1), **due)
        _item(uow, owner, review_due=NOW - timedelta(days=1), status=ItemStatus.ACCEPTED)
        assert uow.reviews.overdue(NOW) == [overdue.id]
        assert uow.reviews.claim_overdue(id_of(overdue), NOW)
        assert not uow.reviews.claim_overdue(id_of(later), NOW)
        overdue.review_state = ReviewState.ACCEPTED
        uow.flush()
        assert not uow.reviews.claim_overdue(id_of(overdue), NOW)
        assert uow.reviews.overdue(NOW + timedelta(days=2)) == [later.id]


def test_votes_are_tallied_per_item_and_known_per_reviewer(make_uow: Factory):
    with make_uow() as uow:
        owner, ada, bob, cy = (_user(uow, n) for n in ("owner", "ada", "bob", "cy"))
        campaign = Campaign(
            created_by=id_of(owner),
            title="Shops",
            kind=ItemKind.PHOTO,
            pay_basis=PayBasis.PER_ITEM,
            rate_minor=250,
            currency="USD",
            quota=4,
        )
        uow.add(campaign)
        uow.flush()
        first, second, unvoted = (_item(uow, owner) for _ in range(3))
        for item, reviewer, up in ((first, ada, True), (first, bob, True), (first, cy, False)):
            uow.add(ReviewVote(id_of(item), id_of(campaign), id_of(reviewer), up))
        uow.add(ReviewVote(id_of(second), id_of(campaign), id_of(ada), False))
        uow.flush()
        tally = uow.reviews.tally([id_of(first), id_of(second), id_of(unvoted)])
        assert tally == {
            first.id: VoteTally(up=2, down=1),
            second.id: VoteTally(up=0, down=1),
            unvoted.id: VoteTally(up=0, down=0),
        }
        assert uow.reviews.tally([id_of(second)]) == {second.id: VoteTally(up=0, down=1)}
        assert uow.reviews.tally([]) == {}
        assert uow.reviews.voted_on(id_of(ada)) == {first.id, second.id}
        assert uow.reviews.voted_on(id_of(cy)) == {first.id}
        assert uow.reviews.voted_on(id_of(owner)) == set()


def test_a_campaign_items_review_columns_are_stored_typed(make_uow: Factory):
    with make_uow() as uow:
        owner = _user(uow, "owner")
        item = _item(
            uow,
            owner,
            campaign_id=5,
            terms_rate_minor=250,
            terms_bonus_minor=0,
            reviewed_by=ReviewDecider.REVIEW_WINDOW,
            paid_minor=250,
            escrow_shortfall_minor=None,
        )
        uow.commit()
    with make_uow() as uow:
        stored = uow.get(Item, item.id)
        assert stored is not None and stored.reviewed_by is ReviewDecider.REVIEW_WINDOW
        assert (stored.terms_rate_minor, stored.terms_bonus_minor, stored.paid_minor) == (
            250,
            0,
            250,
        )
        assert stored.bonus_paid_minor is None and stored.escrow_shortfall_minor is None


def test_fingerprint_keys_are_replaced_and_shared_keys_find_live_items_of_the_kinds(
    make_uow: Factory,
):
    with make_uow() as uow:
        owner = _user(uow, "owner")
        mine = _item(uow, owner, status=ItemStatus.ACCEPTED)
        twin = _item(uow, owner, status=ItemStatus.LISTED)
        gone = _item(uow, owner, status=ItemStatus.WITHDRAWN)
        for item in (mine, twin, gone):
            uow.fingerprints.replace(id_of(item), [("p", 1), ("p", 2)])
        uow.fingerprints.replace(id_of(twin), [("p", 2), ("q", 5)])
        live = [ItemStatus.ACCEPTED, ItemStatus.LISTED]
        share = uow.fingerprints.items_sharing
        assert share([("p", 2)], ["photo"], live, id_of(mine)) == [twin.id]
        assert share([("p", 1)], ["photo"], live, id_of(mine)) == []
        assert share([("q", 5)], ["video"], live, id_of(mine)) == []
        assert share([("p", 1)], ["photo"], live, id_of(twin)) == [mine.id]


def test_selection_groups_and_undeliverable_items_are_counted_from_item_columns(
    make_uow: Factory,
):
    with make_uow() as uow:
        owner = _user(uow, "owner")
        listed = [_item(uow, owner, status=ItemStatus.LISTED) for _ in range(3)]
        listed[0].deidentified_key = "d"
        _item(uow, owner, status=ItemStatus.REJECTED)
        uow.flush()
        (group,) = uow.selection.groups(["listed", "accepted"])
        assert (group.status, group.licence_id, group.consent_state, group.count) == (
            "listed",
            None,
            None,
            3,
        )
        assert uow.selection.groups(["listed"], among=[id_of(listed[1])])[0].count == 1
        assert sorted(uow.selection.undeliverable_ids("listed")) == [
            listed[1].id,
            listed[2].id,
        ]
        assert uow.selection.selected_ids("listed", []) == []


def test_snapshot_shard_and_order_states_are_stored_typed(make_uow: Factory):
    with make_uow() as uow:
        holder = Holder(uow)
        shard = SnapshotShard(snapshot_id=id_of(holder.snapshot), index=0, name="s", item_ids=[])
        uow.add(shard)
        holder.order.mark_purchased(NOW)
        uow.commit()
        ids = id_of(holder.order), id_of(holder.snapshot), id_of(shard)
    with make_uow() as uow:
        order, snapshot = uow.get(Order, ids[0]), uow.get(Snapshot, ids[1])
        shard = uow.get(SnapshotShard, ids[2])
        assert order is not None and snapshot is not None and shard is not None
        assert order.state is OrderState.PURCHASED and order.bought
        assert snapshot.state is SnapshotState.READY and snapshot.ready
        assert shard.state is ShardState.PENDING and not shard.done
        assert uow.one(Order, state=OrderState.PURCHASED) is order


class Holder:
    """A buyer organisation with an order and a snapshot, and an owner whose licence
    offer its agreements take: what a held row needs around it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.owner = _user(uow, "owner")
        self.buyer = _user(uow, "buyer")
        self.org = Organisation(legal_name="Ada Lab", country="GB")
        self.offer = LicenceOffer(owner_id=id_of(self.owner), licence={"id": "l-1"})
        uow.add(self.org)
        uow.add(self.offer)
        uow.flush()
        self.order = Order(id_of(self.org), id_of(self.buyer), {}, [], 0, {}, {})
        uow.add(self.order)
        uow.flush()
        self.snapshot = Snapshot(
            org_id=id_of(self.org),
            order_id=id_of(self.order),
            created_by=id_of(self.buyer),
            version="1.0.0",
            item_ids=[],
            dropped={},
            shard_count=1,
            state=SnapshotState.READY,
        )
        uow.add(self.snapshot)
        uow.flush()

    def holds(
        self,
        ends: datetime,
        *,
        consent: ConsentState | None = ConsentState.ACTIVE,
        noticed: bool = False,
        received_under: str | None = None,
        continued: bool = False,
        **fields: object,
    ) -> Item:
        """An item this buyer holds under an agreement whose licence ends at ``ends``
        (received under the consent record ``received_under``, by default the item's, and
        agreed under it, unless ``continued``: the agreement now stands on the item's
        consent, as ``keep_buyers_in_notice`` leaves it)."""
        uow = self.uow
        item = _item(uow, self.owner, **{"status": ItemStatus.LISTED, **fields})
        agreed_under = None
        for uid, state in ([(received_under, ConsentState.WITHDRAWN)] if received_under else []) + (
            [(f"c-{item.id}", consent)] if consent is not None else []
        ):
            record = give_consent(
                record_id=uid,
                subject_id="user:1",
                controller="Datatrust",
                purposes={"model_training"},
                data_categories=[DataCategory("image")],
                notice_version="training_only/1",
                notice_language="en",
                jurisdiction="GB",
                retention="until withdrawn",
                withdrawal_method="one tap",
                at=NOW - timedelta(days=30),
                actor="user:1",
                owner_id=id_of(self.owner),
                item_id=id_of(item),
                offer_id=id_of(self.offer),
            )
            record.state = state
            uow.add(record)
            uow.flush()
            item.consent_id = record.id
            agreed_under = agreed_under or record.id
        if continued:
            agreed_under = item.consent_id
        agreement = AgreementRow(
            order_id=id_of(self.order),
            org_id=id_of(self.org),
            item_id=id_of(item),
            contributor_id=id_of(self.owner),
            offer_id=id_of(self.offer),
            consent_id=agreed_under,
            licence={"id": "l-1", "valid_until": ends.isoformat()},
            use={},
            price_minor=100,
            fee_minor=0,
            contributor_share_minor=80,
            currency="USD",
            content_sha256="0" * 64,
        )
        uow.add(agreement)
        uow.flush()
        uow.add(
            SnapshotItem(
                id_of(self.snapshot),
                id_of(self.org),
                id_of(item),
                id_of(agreement),
                0,
                f"k{item.id}",
                "0" * 64,
                "l-1",
                received_under or f"c-{item.id}",
            )
        )
        if noticed:
            uow.add(Revocation(id_of(self.org), id_of(item), "0" * 64, "expired", NOW, NOW))
        uow.flush()
        return item


def test_held_items_whose_agreement_ended_or_consent_lapsed_are_found_once_unnoticed(
    make_uow: Factory,
):
    with make_uow() as uow:
        holder = Holder(uow)
        before, after = NOW - timedelta(days=1), NOW + timedelta(days=1)
        ended = holder.holds(before)
        running = holder.holds(after)
        withdrawn = holder.holds(after, consent=ConsentState.WITHDRAWN)
        holder.holds(before, noticed=True)  # its buyer was told already
        taken_back = holder.holds(after, status=ItemStatus.WITHDRAWN)
        no_consent = holder.holds(after, consent=None)
        uow.commit()
    with make_uow() as uow:
        stored = uow.all(AgreementRow, item_id=ended.id)[0]
        assert stored.valid_until == before  # typed, read back in UTC
        org = id_of(holder.org)
        assert uow.holdings.lapsed(NOW) == [
            (ended.id, org),
            (withdrawn.id, org),
            (taken_back.id, org),
            (no_consent.id, org),
        ]
        # The moment the licence ends counts as ended; a moment earlier it does not.
        assert (running.id, org) not in uow.holdings.lapsed(after - timedelta(microseconds=1))
        assert (running.id, org) in uow.holdings.lapsed(after)
        assert uow.holdings.lapsed(NOW - timedelta(days=2)) == [
            (withdrawn.id, org),
            (taken_back.id, org),
            (no_consent.id, org),
        ]


def test_a_holding_under_an_earlier_consent_lapses_and_an_unbuilt_one_never_does(
    make_uow: Factory,
):
    """Received under a consent record that is no longer the item's (withdrawn, then given
    again): lapsed, even with the new consent active and the licence running; a snapshot
    that never became ready delivered nothing, so its rows never lapse."""
    with make_uow() as uow:
        holder = Holder(uow)
        after = NOW + timedelta(days=1)
        earlier = holder.holds(after, received_under="c-withdrawn-before")
        current = holder.holds(after)
        # Its buyer was still in a promised notice when consent was given again under
        # the same licence: the agreement stands on the new consent, nothing lapsed.
        continued = holder.holds(after, received_under="c-withdrawn-kept", continued=True)
        uow.commit()
    with make_uow() as uow:
        assert uow.holdings.lapsed(NOW) == [(earlier.id, id_of(holder.org))]
        held_now = [item_id for item_id, _ in uow.holdings.lapsed(NOW)]
        assert current.id not in held_now and continued.id not in held_now
        uow.get(Snapshot, id_of(holder.snapshot)).state = "failed"
        uow.commit()
    with make_uow() as uow:
        assert uow.holdings.lapsed(NOW + timedelta(days=2)) == []


def test_items_held_under_an_earlier_consent_are_named_from_ready_builds_only(
    make_uow: Factory,
):
    """Of the ids asked about, those the buyer received under a consent record that is no
    longer the item's (withdrawn and given again, or none now); never those received under
    the item's own record, another buyer's, or a build that did not become ready."""
    with make_uow() as uow:
        holder = Holder(uow)
        after = NOW + timedelta(days=1)
        earlier = holder.holds(after, received_under="c-withdrawn-before")
        current = holder.holds(after)
        none_now = holder.holds(after, consent=None)
        # Kept in its notice: the agreement stands on the item's consent now.
        continued = holder.holds(after, received_under="c-withdrawn-kept", continued=True)
        uow.commit()
    with make_uow() as uow:
        org = id_of(holder.org)
        every = [earlier.id, current.id, none_now.id, continued.id]
        assert uow.holdings.under_earlier_consent(org, every) == {earlier.id, none_now.id}
        assert uow.holdings.under_earlier_consent(org, [current.id, none_now.id]) == {none_now.id}
        assert uow.holdings.under_earlier_consent(org, []) == set()
        assert uow.holdings.snapshots_of(earlier.id) == [id_of(holder.snapshot)]
        assert uow.holdings.snapshots_of(id_of(earlier) + 10_000) == []
        assert uow.holdings.under_earlier_consent(org + 1, every) == set()  # another buyer
        uow.get(Snapshot, id_of(holder.snapshot)).state = "failed"
        uow.commit()
    with make_uow() as uow:
        assert uow.holdings.under_earlier_consent(id_of(holder.org), every) == set()


def test_a_buyers_earlier_consent_check_is_one_statement_whatever_its_builds(services):
    """Each build of an item adds a held row; the check reads none of them as an object,
    in one statement for the buyer's selection (it loaded every held row of every build,
    and their snapshots, items and consent records, in four)."""
    with services.uow() as uow:
        holder = Holder(uow)
        after = NOW + timedelta(days=1)
        earlier = holder.holds(after, received_under="c-withdrawn-before")
        current = holder.holds(after)
        for version in range(2, 12):  # ten more builds of both items
            build = Snapshot(
                org_id=id_of(holder.org),
                order_id=id_of(holder.order),
                created_by=id_of(holder.buyer),
                version=f"{version}.0.0",
                item_ids=[],
                dropped={},
                shard_count=1,
                state="ready",
            )
            uow.add(build)
            uow.flush()
            for held in uow.all(SnapshotItem, snapshot_id=id_of(holder.snapshot)):
                uow.add(
                    SnapshotItem(
                        id_of(build),
                        held.org_id,
                        held.item_id,
                        held.agreement_id,
                        0,
                        f"{held.key}-{version}",
                        held.content_sha256,
                        held.licence_id,
                        held.consent_record_id,
                    )
                )
        uow.commit()
    with services.uow(read_only=True) as uow:
        statements: list[str] = []
        connection = uow.session.connection()

        def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(connection, "before_cursor_execute", count)
        try:
            selection = Selection([earlier.id, current.id], 0, {})
            kept = orders.not_told_to_delete(uow, id_of(holder.org), selection)
        finally:
            event.remove(connection, "before_cursor_execute", count)
        loaded = [o for o in uow.session.identity_map.values() if isinstance(o, SnapshotItem)]
    assert kept.item_ids == [current.id]
    assert kept.reasons == {"told_to_delete": 1}
    # The notices the buyer was given, and the holdings: two statements, no held row loaded.
    assert len(statements) == 2
    assert loaded == []


def test_an_items_language_and_quality_score_are_read_from_its_report_and_stored_typed(
    make_uow: Factory,
):
    with make_uow() as uow:
        owner = _user(uow, "owner")
        made = Item(
            owner_id=id_of(owner),
            kind=ItemKind.PHOTO,
            filename="a.jpg",
            content_type="image/jpeg",
            size=1,
            original_key="k",
            original_sha256="0" * 64,
            report={"language": "hi", "quality": {"score": 1}},
        )
        uow.add(made)
        rewritten = _item(uow, owner)
        rewritten.write_report({"campaign": {"language": "zu"}, "quality": {"score": 0.25}})
        erased = _item(uow, owner)
        erased.write_report({"language": "en", "quality": {"score": 0.5}})
        erased.write_report({})
        uow.commit()
    with make_uow() as uow:
        read = {i.id: (i.language, i.quality_score) for i in uow.all(Item)}
        assert read == {made.id: ("hi", 1.0), rewritten.id: ("zu", 0.25), erased.id: (None, None)}


def test_catalogue_entries_are_narrowed_by_kind_language_duration_and_least_quality(
    make_uow: Factory,
):
    with make_uow() as uow:
        owner = _user(uow, "owner")
        offer = LicenceOffer(owner_id=id_of(owner), licence={"id": "l-1"})
        uow.add(offer)
        uow.flush()

        def listed(kind: ItemKind, seconds: int | None, report: dict[str, object]) -> int:
            item = _item(uow, owner, status=ItemStatus.LISTED, kind=kind, licence_id=offer.id)
            item.duration_seconds, item.h3_cell = seconds, "8928308280fffff"
            item.write_report(report)
            return id_of(item)

        en = listed(ItemKind.VIDEO, 90, {"language": "en", "quality": {"score": 0.9}})
        hi = listed(ItemKind.VOICE, 30, {"language": "hi", "quality": {"score": 0.5}})
        bare = listed(ItemKind.VIDEO, None, {"quality": {"score": 0.8}})
        unscored = listed(ItemKind.PHOTO, None, {"language": "en"})
        hidden = _item(uow, owner, status=ItemStatus.ACCEPTED, kind=ItemKind.VIDEO)
        uow.flush()
        everything = [en, hi, bare, unscored, id_of(hidden)]

        def ids(among: list[int] = everything, **narrowed: object) -> list[int]:
            wanted = CatalogueFilter(**narrowed)
            return [e.id for e in uow.selection.entries("listed", among, wanted)]

        assert ids() == [en, hi, bare, unscored]
        (entry,) = uow.selection.entries("listed", [en], CatalogueFilter())
        assert entry == CatalogueEntry(
            en, ItemKind.VIDEO, offer.id, "en", 0.9, "8928308280fffff", 90
        )
        assert ids(kind="video") == [en, bare]
        assert ids(kind="nonsense") == []
        assert ids(language="en") == [en, unscored]
        assert ids(language="unknown") == []
        assert ids(min_quality=0.8) == [en, bare]  # equal counts; no score does not
        assert ids(min_duration=30, max_duration=60) == [hi]
        assert ids(max_duration=0) == [bare, unscored]  # no duration counts as 0 s
        assert ids([hi, bare], kind="video", min_quality=0.5) == [bare]
        assert ids([]) == []


def test_catalogue_entries_are_narrowed_by_area_and_by_the_offers_whose_price_passed(
    make_uow: Factory,
):
    cape_town = h3.latlng_to_cell(-33.92, 18.42, 8)
    ranchi = h3.latlng_to_cell(23.34, 85.31, 8)
    area = h3.cell_to_parent(cape_town, REGION_RESOLUTION)
    with make_uow() as uow:
        owner = _user(uow, "owner")
        cheap, dear = (LicenceOffer(owner_id=id_of(owner), licence={"id": n}) for n in "cd")
        uow.add(cheap)
        uow.add(dear)
        uow.flush()

        def listed(cell: str | None, offer: LicenceOffer, **fields: object) -> int:
            fields = {"status": ItemStatus.LISTED, "licence_id": offer.id, **fields}
            return id_of(_item(uow, owner, h3_cell=cell, **fields))

        here = listed(cape_town, cheap)
        here_dear = listed(h3.cell_to_parent(cape_town, 6), dear)
        there = listed(ranchi, cheap)
        nowhere = listed(None, dear)
        unlisted = listed(cape_town, dear, status=ItemStatus.ACCEPTED)
        everything = [here, here_dear, there, nowhere, unlisted]

        def ids(**narrowed: object) -> list[int]:
            wanted = CatalogueFilter(**narrowed)
            return [e.id for e in uow.selection.entries("listed", everything, wanted)]

        assert ids(cells=cell_ranges(area)) == [here, here_dear]
        assert ids(cells=cell_ranges(h3.cell_to_parent(ranchi, 2))) == [there]
        assert ids(cells=()) == []  # an area that is no cell holds nothing
        assert ids(licence_ids=frozenset({id_of(cheap)})) == [here, there]
        assert ids(licence_ids=frozenset()) == []
        assert ids(cells=cell_ranges(area), licence_ids=frozenset({id_of(dear)})) == [here_dear]
        listed_offers = uow.selection.licences_of("listed", everything)
        assert listed_offers == {id_of(cheap), id_of(dear)}
        assert uow.selection.licences_of("listed", [here, there]) == {id_of(cheap)}
        assert uow.selection.licences_of("accepted", everything) == {id_of(dear)}
        assert uow.selection.licences_of("listed", []) == set()


def test_a_reviewers_queue_leaves_out_their_own_items_and_the_ones_they_voted_on(
    make_uow: Factory,
):
    with make_uow() as uow:
        owner, ada = _user(uow, "owner"), _user(uow, "ada")
        made = Campaign(
            created_by=id_of(owner),
            title="Shops",
            kind=ItemKind.PHOTO,
            pay_basis=PayBasis.PER_ITEM,
            rate_minor=250,
            currency="USD",
            quota=4,
        )
        uow.add(made)
        uow.flush()
        campaign = id_of(made)
        waiting = dict(
            status=ItemStatus.ACCEPTED, review_state=ReviewState.WAITING, campaign_id=campaign
        )
        first, voted = _item(uow, owner, **waiting), _item(uow, owner, **waiting)
        for_escrow = _item(
            uow, owner, **{**waiting, "review_state": ReviewState.WAITING_FOR_ESCROW}
        )
        own = _item(uow, ada, **waiting)
        _item(uow, owner, **{**waiting, "review_state": ReviewState.ACCEPTED})  # decided
        _item(uow, owner, **{**waiting, "status": ItemStatus.LISTED})
        _item(uow, owner, **{**waiting, "campaign_id": campaign + 1})
        uow.add(ReviewVote(id_of(voted), campaign, id_of(ada), up=True))
        uow.flush()
        every = [id_of(i) for i in (first, voted, for_escrow, own)]
        assert [i.id for i in uow.reviews.waiting(campaign)] == every
        assert [i.id for i in uow.reviews.waiting(campaign, id_of(ada))] == [
            first.id,
            for_escrow.id,
        ]
        assert [i.id for i in uow.reviews.waiting(campaign, id_of(owner))] == [own.id]


def test_old_sign_in_attempts_are_forgotten(make_uow: Factory):
    with make_uow() as uow:
        uow.add(SignInAttempt(email="a@example.org", at=NOW - timedelta(hours=2)))
        uow.add(SignInAttempt(email="a@example.org", at=NOW))
        uow.flush()
        assert uow.sign_in_attempts.forget(before=NOW - timedelta(hours=1)) == 1
        assert [a.at for a in uow.all(SignInAttempt)] == [NOW]


def test_a_job_is_claimed_once_and_an_expired_lease_is_released(make_uow: Factory):
    # Added as rows, not enqueued: the SQL side's test queue would run an enqueued job.
    with make_uow() as uow:
        uow.add(OutboxJob("test.record", {}, "j1", run_after=NOW))
        uow.add(OutboxJob("test.record", {}, "j2", run_after=NOW + timedelta(hours=1)))
        uow.commit()
    with make_uow() as uow:
        first, later = uow.all(OutboxJob, order_by="id")
        now = NOW + timedelta(seconds=1)
        assert uow.jobs.due_pending(now) == [first.id]
        assert uow.jobs.claim(id_of(first), "w1", now, now + timedelta(minutes=5))
        assert not uow.jobs.claim(id_of(first), "w2", now, now + timedelta(minutes=5))
        assert not uow.jobs.claim(id_of(later), "w2", now, now + timedelta(minutes=5))
        uow.commit()
    with make_uow() as uow:
        claimed = uow.get(OutboxJob, first.id)
        assert claimed is not None and claimed.state is JobState.RUNNING
        assert (claimed.claimed_by, claimed.attempts) == ("w1", 1)
        after = now + timedelta(minutes=6)
        assert uow.jobs.expired_leases(now) == []
        assert uow.jobs.expired_leases(after) == [first.id]
        assert uow.jobs.release_expired([id_of(first)], after) == 1
        uow.commit()
    with make_uow() as uow:
        released = uow.get(OutboxJob, first.id)
        assert released is not None and released.state is JobState.PENDING
        assert released.claimed_by is None and released.lease_until is None


def test_payout_claims_take_the_oldest_renew_release_and_are_taken_over(make_uow: Factory):
    lease = NOW + timedelta(minutes=5)
    with make_uow() as uow:
        owner = _user(uow, "payee")
        for n in range(3):
            payout = Payout(id_of(owner), f"p{n}", amount_minor=100, currency="USD")
            uow.add(payout)
        uow.flush()
        ids = [p.id for p in uow.all(Payout, order_by="id")]
        claims = uow.payouts
        assert claims.claim("b1", "proc-1", "fake", lease, 2) == ids[:2]
        assert claims.claim("b2", "proc-2", "fake", lease, 5) == ids[2:]
        assert claims.claimers() == ["proc-1", "proc-2"]
        assert claims.renew("b1", lease + timedelta(minutes=1), [ids[0]]) == {ids[0]}
        assert claims.renew("b1", lease) == set(ids[:2])
        assert claims.release("b2") == 1
        assert claims.claimers() == ["proc-1"]
        assert claims.take_over("b3", "proc-3", "fake", NOW, lease, gone=[]) == ids[2:]
        taken = claims.take_over("b4", "proc-4", "fake", NOW, lease, gone=["proc-1"])
        assert taken == ids[:2]
        uow.commit()
    # Claims are conditional updates: the rows are read afresh to see them.
    with make_uow() as uow:
        held = uow.all(Payout, order_by="id")
        assert [(p.batch_id, p.state) for p in held] == [
            ("b4", PayoutState.SENDING),
            ("b4", PayoutState.SENDING),
            ("b3", PayoutState.SENDING),
        ]
