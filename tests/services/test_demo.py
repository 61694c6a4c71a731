"""The demo that ``datatrust serve --dev --demo`` seeds: open tasks, listed and licensed
items, a sale with royalties, a balanced ledger; and seeding twice makes nothing new.

Seeding runs as ``serve`` runs it: over a committed database with the real queue
storage and no job consumer (the embedded one starts only after seeding), so the
recordings are processed only because ``seed_demo`` runs their jobs itself.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from datatrust.adapters.db import migrate
from datatrust.adapters.db.repositories import SqlItemSelection
from datatrust.bootstrap import Services, build
from datatrust.domain.accounts import User
from datatrust.domain.audit import AuditEvent
from datatrust.domain.campaigns import Campaign, CampaignState, ReviewVote
from datatrust.domain.consent import ConsentRecord
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.money import Money
from datatrust.domain.orders import AgreementRow, Order
from datatrust.domain.permissions import Actor, Role
from datatrust.domain.snapshots import Snapshot, SnapshotItem
from datatrust.services import money
from datatrust.services.accounts import accounts
from datatrust.services.accounts.accounts import actor_for
from datatrust.services.campaigns import campaigns
from datatrust.services.contributions import items
from datatrust.services.contributions.ingest import processing_key
from datatrust.services.demo import (
    BUYER,
    DEMO_PASSWORD,
    OPERATOR,
    RECORDINGS,
    STREET_SOUNDS,
    VOICE_STORY,
    seed_demo,
)
from datatrust.services.listing import PAGE_SIZE
from datatrust.services.market import orders, snapshots
from datatrust.services.trust import passport
from support import (
    TEST_QUEUE,
    FreshDatabase,
    drain_after_dispatch,
    make_settings,
    redis_reachable,
    require_service,
    statements_sent,
)

SIPHO = "sipho@demo.datatrust"
PRIYA = "priya@demo.datatrust"


@contextmanager
def fresh_services(databases: FreshDatabase, folder: Path) -> Iterator[Services]:
    """Services over a fresh committed database, with the real queue storage and nothing
    draining it."""
    if TEST_QUEUE == "redis":
        require_service("Redis", redis_reachable())
    settings = make_settings(
        folder,
        database_url=databases.create(),
        queue_backend=TEST_QUEUE if TEST_QUEUE == "redis" else "sqlite",
        queue_name=f"dt-demo-{uuid.uuid4().hex[:8]}",
    )
    svc = build(settings, upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    yield svc
    svc.queue.huey.storage.flush_all()
    svc.close()


@pytest.fixture
def fresh(databases, tmp_path) -> Iterator[Services]:
    with fresh_services(databases, tmp_path) as svc:
        yield svc


@pytest.fixture(scope="module")
def demo(databases, tmp_path_factory) -> Iterator[Services]:
    """The demo seeded once for this module (seeding processes every recording, the
    slowest part of these tests). Tests that use it only add what the others do not
    count: sessions, an FX rate, snapshot builds, and a second seeding that must make
    nothing new."""
    with fresh_services(databases, tmp_path_factory.mktemp("demo")) as svc:
        seed_demo(svc, svc.payment_rail)
        yield svc


def actor(svc: Services, email: str) -> Actor:
    # Its own unit of work: call it before opening another (SQLite begins each one
    # IMMEDIATE, so a second one opened inside the first would wait for the lock).
    with svc.uow() as uow:
        return actor_for(uow, uow.one(User, email=email))


def actors(svc: Services) -> dict[str, Actor]:
    return {email: actor(svc, email) for email in (SIPHO, PRIYA, BUYER, OPERATOR)}


def test_both_tasks_are_open_funded_and_listed_for_a_contributor(demo):
    who = actors(demo)
    with demo.uow() as uow:
        shown = [c for c in campaigns.list_campaigns(uow, who[SIPHO]) if c.state.value == "open"]
        assert {c.title for c in shown} == {STREET_SOUNDS["title"], VOICE_STORY["title"]}
        for campaign in shown:
            held = money.escrow_balance(uow, campaign.id, campaign.currency)
            # Opened only once escrow covered the quota; accepted work was paid out of it.
            assert held.is_positive
        voice = next(c for c in shown if c.title == VOICE_STORY["title"])
        assert voice.org_id == who[BUYER].org_id and voice.pay_basis.value == "per_minute"
        street = next(c for c in shown if c.title == STREET_SOUNDS["title"])
        assert street.org_id is None and street.review_mode.value == "peer"
        # The recording left waiting is on Sipho's review page, never on Priya's (hers).
        waiting = [e.item_id for _, e in campaigns.peer_review_queue(uow, who[SIPHO])]
        assert len(waiting) == 1
        assert campaigns.peer_review_queue(uow, who[PRIYA]) == []


def test_each_contributors_recording_was_processed_licensed_and_listed(demo):
    for recording in RECORDINGS:
        owner = actor(demo, recording.owner)
        with demo.uow() as uow:
            shown = items.show_my_items(uow, demo.storage, owner)
            (item,) = [i for i in shown if i.title == recording.title]
            want = ItemStatus.LISTED if recording.voted_through else ItemStatus.ACCEPTED
            assert item.status is want, (recording.title, item.report.get("reasons"))
            assert item.deidentified_key and item.h3_cell  # what the pipeline made of it
            assert uow.one(ConsentRecord, id=item.consent_id).state.value == "active"
            # Processed by its own job, which the serve's consumer will find done.
            job = uow.one(OutboxJob, idempotency_key=processing_key(item.id))
            assert job.state is JobState.DONE


def test_a_recording_whose_job_a_running_worker_took_first_is_waited_for(fresh, monkeypatch):
    """Seeding a cluster while its workers start: a worker claims a recording's job before
    the demo does (``run_job`` skips it) and finishes it a moment later. The demo waits
    for that run instead of leaving the recording out."""
    run = fresh.run_job
    taken: list[threading.Timer] = []

    def a_worker_took_it(job_id: int) -> str:
        taken.append(threading.Timer(0.3, run, args=(job_id,)))
        taken[-1].start()
        return "skipped"

    monkeypatch.setattr(fresh, "run_job", a_worker_took_it)
    seed_demo(fresh, fresh.payment_rail)
    assert len(taken) == len(RECORDINGS)
    for recording in RECORDINGS:
        owner = actor(fresh, recording.owner)
        with fresh.uow() as uow:
            shown = items.show_my_items(uow, fresh.storage, owner)
            (item,) = [i for i in shown if i.title == recording.title]
            want = ItemStatus.LISTED if recording.voted_through else ItemStatus.ACCEPTED
            assert item.status is want, recording.title


def test_the_buyer_sees_a_catalogue_and_bought_for_training(demo):
    buyer = actor(demo, BUYER)
    listed = sum(r.voted_through for r in RECORDINGS)
    with demo.uow() as uow:
        assert orders.catalogue(uow, buyer, {})["count"] == listed
        (order,) = orders.list_orders(uow, buyer)
        assert order.state == "purchased" and order.use["purpose"] == "model_training"
        assert len(uow.all(AgreementRow, order_id=order.id)) == listed


def test_a_contributor_earned_item_pay_a_bonus_and_a_royalty_shown_in_the_passport(demo):
    who = actors(demo)
    with demo.uow() as uow:
        statement = money.contributor_statement(uow, who[SIPHO])
        kinds = {line["source"]["kind"] for line in statement["lines"]}
        assert kinds == {"item", "coverage_bonus", "sale"}
        sale = next(line for line in statement["lines"] if line["source"]["kind"] == "sale")
        assert sale["amount"]["amount_minor"] > 0
        assert sale["source"]["items"][0]["royalty_percent"] == "50"
        first = items.list_my_items(uow, who[SIPHO])[0]
        steps = [e["step"] for e in passport.item_passport(uow, who[SIPHO], first.id)["events"]]
        for step in ("processed", "consent given", "listed", "selected", "sold"):
            assert step in steps, (step, steps)
        check = money.check_ledger(uow, who[OPERATOR])
        assert check.ok, check.report.problems()
        assert all(per_kind["sum"] == 0 for per_kind in check.totals.values())


def test_a_passport_reads_the_logs_events_as_rows_loading_none_as_an_object(demo):
    """The passport shows the log's own events about the item (and its snapshots'
    downloads) with their hashes, read as rows: an item's passport grows by an event per
    order that selects it, and each mapped event loaded cost about twice its row."""
    who = actors(demo)
    with demo.uow(read_only=True) as uow:
        first = items.list_my_items(uow, who[SIPHO])[0]
        loaded: list[object] = []

        def load(target: object, _context: object) -> None:
            loaded.append(target)

        event.listen(AuditEvent, "load", load)
        try:
            shown = passport.item_passport(uow, who[SIPHO], first.id)
        finally:
            event.remove(AuditEvent, "load", load)
        snapshots_of = {h.snapshot_id for h in uow.all(SnapshotItem, item_id=first.id)}
        logged = uow.audit.about("item", [str(first.id)]) + [
            e
            for e in uow.audit.about("snapshot", [str(s) for s in snapshots_of])
            if e.tag == "snapshot:download"
        ]
    assert loaded == []
    assert [(e["seq"], e["tag"], e["hash"]) for e in shown["events"]] == sorted(
        (e.seq, e.tag, e.hash)
        for e in logged
        if not (e.tag == "revocation:notify" and e.data.get("holders") == [])
    )
    assert {"selected", "sold"} <= {e["step"] for e in shown["events"]}


def test_seeding_again_makes_and_charges_nothing_new(demo):
    def counts() -> dict[str, int]:
        with demo.uow() as uow:
            return {
                cls.__name__: uow.count(cls)
                for cls in (User, Campaign, Item, ConsentRecord, Order, AgreementRow, AuditEvent)
            } | {"entries": sum(1 for _ in uow.ledger.all_entries())}

    before = counts()
    charges = dict(demo.payment_rail.charges)
    seed_demo(demo, demo.payment_rail)
    assert counts() == before
    assert demo.payment_rail.charges == charges
    assert before["Item"] == len(RECORDINGS) and before["Order"] == 1


def test_a_task_left_in_draft_is_funded_by_its_shortfall_and_opened(fresh):
    """A seed stopped after creating a task and funding part of it: the next run charges
    exactly what opening still needs, once, and opens it."""
    with fresh.uow() as uow:
        user = accounts.sign_up(
            uow,
            fresh.hasher,
            email=OPERATOR,
            password=DEMO_PASSWORD,
            role=Role.OPERATOR,
            allow_operator=True,
        )
        operator = actor_for(uow, user)
    with fresh.uow() as uow:
        draft = campaigns.create_campaign(uow, operator, **STREET_SOUNDS)
    needed = money.required_escrow(draft)
    rail = fresh.payment_rail
    with fresh.uow() as uow:
        money.fund_campaign_escrow(uow, rail, operator, draft.id, Money(1000, "USD"), "earlier")
    seed_demo(fresh, rail)
    with fresh.uow() as uow:
        assert uow.get(Campaign, draft.id).state is CampaignState.OPEN
        assert uow.count(Campaign, title=STREET_SOUNDS["title"]) == 1
    charged = sorted(amount.amount_minor for _, amount in rail.charges.values())
    assert needed.amount_minor - 1000 in charged and 1000 in charged


def test_the_demo_people_sign_in_and_see_the_tasks_page(demo):
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    with TestClient(create_app(demo, start_worker=False)) as http:
        signed = http.post("/api/auth/sign-in", json={"email": SIPHO, "password": DEMO_PASSWORD})
        assert signed.status_code == 200, signed.text
        page = http.get("/tasks")
        assert page.status_code == 200
        assert STREET_SOUNDS["title"] in page.text and VOICE_STORY["title"] in page.text
        review = http.get("/review")
        assert review.status_code == 200 and "Evening birds" not in review.text  # no titles


def test_sipho_sees_his_earnings_in_rand_at_the_operators_rate_and_each_line_explained(demo):
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    sipho, operator = actor(demo, SIPHO), actor(demo, OPERATOR)
    with demo.uow() as uow:
        assert money.home_currency(uow, sipho) == "ZAR"  # his country is ZA
        money.set_fx_rate(uow, operator, "USD", "ZAR", "18.25", date(2026, 11, 2))
        uow.commit()
    with TestClient(create_app(demo, start_worker=False)) as http:
        http.post("/api/auth/sign-in", json={"email": SIPHO, "password": DEMO_PASSWORD})
        page = http.get("/my/earnings?lang=en")
        assert page.status_code == 200
        # USD 2.60 available → about ZAR 47.45, with the rate's date, as English writes them
        assert "$2.60</strong> (about ZAR47.45 at the rate of November 2, 2026)" in page.text
        assert "Royalty: your share when item" in page.text and "Pay for item" in page.text
        assert "Sale order-" not in page.text  # the ledger memo is not what a person reads
        euros = http.get("/my/earnings?lang=hi&currency=EUR")  # no USD→EUR rate: none shown
        assert "लगभग" not in euros.text and "रॉयल्टी: आइटम" in euros.text


def test_builds_of_one_order_asked_for_at_once_each_get_a_version_of_their_own(demo):
    """Four buyers' clicks at once: each build is numbered after the one before it, none
    fails on the order's unique version (a 500 under load on PostgreSQL before the order
    row was locked)."""
    buyer = actor(demo, BUYER)
    with demo.uow(read_only=True) as uow:
        order_id = next(o.id for o in uow.all(Order) if o.state == "purchased")
    start = threading.Barrier(4)

    def build(results: list[object]) -> None:
        start.wait()
        try:
            with demo.uow() as uow:
                built = snapshots.build_snapshot(
                    uow, buyer, order_id, cipher=demo.storage.cipher, policy=demo.policy
                )
                uow.commit()
                results.append(built.version)
        except Exception as exc:  # asserted on below
            results.append(exc)

    results: list[object] = []
    threads = [threading.Thread(target=build, args=(results,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(isinstance(v, str) for v in results), results
    assert len(set(results)) == 4, results


def test_a_snapshot_is_finalised_without_holding_a_write_lock_while_its_index_is_made(
    demo, monkeypatch
):
    """finalise works out the index, manifest and compliance pack as reads. It held the
    write lock (SQLite) and the snapshot's row lock for all of it: under load every writer
    waited, and declaring a use got 503s while a first build imported Parquet's helpers."""
    buyer = actor(demo, BUYER)
    with demo.uow(read_only=True) as uow:
        order_id = next(o.id for o in uow.all(Order) if o.state == "purchased")
    free_while_indexing: list[bool] = []
    make_index = snapshots.writer.index_parquet

    def index_while_another_writer_tries(rows):
        free_while_indexing.append(another_writer_gets_in(demo))
        return make_index(rows)

    monkeypatch.setattr(snapshots.writer, "index_parquet", index_while_another_writer_tries)
    drain_after_dispatch(demo)
    try:
        with demo.uow() as uow:
            built = snapshots.build_snapshot(
                uow, buyer, order_id, cipher=demo.storage.cipher, policy=demo.policy
            )
            uow.commit()
    finally:
        monkeypatch.undo()
        del demo.queue.dispatch  # drain_after_dispatch's, on this module's shared instance
    with demo.uow(read_only=True) as uow:
        assert uow.get(Snapshot, built.id).state == "ready"
    assert free_while_indexing and all(free_while_indexing), free_while_indexing


def another_writer_gets_in(svc: Services) -> bool:
    """Whether another connection could write the newest snapshot's row right now,
    without waiting: SQLite's one write lock, PostgreSQL's row lock."""
    if svc.engine.dialect.name == "sqlite":
        path = svc.settings.effective_database_url.split("///", 1)[1]
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            other.close()
    with svc.engine.connect() as connection:
        try:
            connection.execute(
                text("SELECT id FROM snapshots ORDER BY id DESC LIMIT 1 FOR UPDATE NOWAIT")
            )
            return True
        except DBAPIError:
            return False
        finally:
            connection.rollback()


def test_the_catalogues_area_and_price_are_narrowed_in_the_database(demo, monkeypatch):
    """Searching by an area or a price reads only the items it finds: the area is ranges
    of the cell column, the price judged once per offer and applied by offer (the old code
    read every listed item and judged both on each). The answers are the same."""
    read: list[int] = []
    entries = SqlItemSelection.entries

    def counted(self, status, among, wanted):
        found = entries(self, status, among, wanted)
        read.append(len(found))
        return found

    buyer = actor(demo, BUYER)
    monkeypatch.setattr(SqlItemSelection, "entries", counted)
    with demo.uow() as uow:
        every = orders.catalogue(uow, buyer, {}, page=1)
        assert every["count"] <= PAGE_SIZE  # every item is on the one page
        listed = every["count"]
        assert read == [listed]
        regions = Counter(s["region"] for s in every["sample"])
        region, there = regions.most_common()[-1]
        assert region and there < listed  # items elsewhere are left out
        read.clear()
        found = orders.catalogue(uow, buyer, {"region": region})
        assert found["count"] == there and found["facets"]["region"] == {region: there}
        assert read == [there]
        currency = every["sample"][0]["currency"]
        cheapest = min(s["price_minor"] for s in every["sample"] if s["currency"] == currency)
        cheap = [
            s for s in every["sample"] if s["currency"] == currency and s["price_minor"] <= cheapest
        ]
        assert 0 < len(cheap) < listed
        read.clear()
        found = orders.catalogue(uow, buyer, {"max_price_minor": cheapest, "currency": currency})
        assert found["count"] == len(cheap)
        assert read == [len(cheap)]
        read.clear()
        both = orders.catalogue(uow, buyer, {"region": region, "max_price_minor": 0})
        assert both["count"] == 0 and read == [0]


def test_the_catalogue_reads_the_licence_offers_once_with_or_without_a_price(demo):
    """The selection judges the offers of the items on offer; the catalogue read them again
    to describe the items (and, with a price asked for, to judge it): 2 reads of the
    offers each time. The answers are the same."""
    buyer = actor(demo, BUYER)
    with demo.uow(read_only=True) as uow:
        currency = orders.catalogue(uow, buyer, {})["sample"][0]["currency"]
    for asked in ({}, {"max_price_minor": 10**9, "currency": currency}):
        with demo.uow(read_only=True) as uow, statements_sent(uow.session.connection()) as seen:
            found = orders.catalogue(uow, buyer, asked)
        assert found["count"] > 0 and found["facets"]["licence"]
        assert found["sample"][0]["licence"]["title"]
        assert len([s for s in seen if "FROM licence_offers" in s]) == 1, asked


def test_a_review_queue_reads_none_of_the_reviewers_own_items_or_those_they_voted_on(demo):
    """Narrowed in the database: the old queue read every undecided item of the campaign
    and left out the reviewer's own and already voted ones afterwards."""
    who = actors(demo)
    loaded: list[int] = []

    def on_load(target: Item, context: object) -> None:
        loaded.append(id_of(target))

    # Each count in a unit of work of its own: a row already in a session loads once.
    event.listen(Item, "load", on_load)
    try:
        with demo.uow() as uow:
            ((campaign, entry),) = campaigns.peer_review_queue(uow, who[SIPHO])
            assert loaded == [entry.item_id]
        loaded.clear()
        with demo.uow() as uow:
            assert campaigns.review_queue(uow, who[PRIYA], id_of(campaign)) == []
            assert loaded == []  # her own item, waiting, was not read
        with demo.uow() as uow:
            uow.add(ReviewVote(entry.item_id, id_of(campaign), who[SIPHO].uid, up=True))
            uow.flush()
            assert campaigns.review_queue(uow, who[SIPHO], id_of(campaign)) == []
            assert loaded == []  # voted on: not read (the vote is rolled back)
    finally:
        event.remove(Item, "load", on_load)
