"""A buyer's order path costs a fixed number of statements whatever the order's size (issue
12): declaring a use, building a snapshot and the build's jobs run as many statements for
an order of 30 items as for one of 3. Per-item reads (each item's consent, its events, its
notices) made a real order of 10,000 items run tens of thousands of statements in one
request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from test_seed_story import (
    TRAINING,
    WALK,
    buyer,
    fund,
    listed_item,
    offer_training_only,
    year_of_use,
)

from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.snapshots import Snapshot
from support import statements_sent

SIZES = (3, 30)


def _list_items(client, services, people, count: int, offers: dict[str, dict]) -> None:
    """``count`` more walks, listed under the training-only offer of their owner (two
    owners, taking turns), each consented to."""
    for n in range(count):
        owner = ("owner", "other")[n % 2]
        persona = people[owner]
        item = listed_item(services, persona, WALK + bytes([n]) * 8 + owner.encode(), f"walk {n}")
        given = client.post(
            f"/api/items/{item.id}/consent",
            headers=persona.headers,
            json={"offer_id": offers[owner]["id"]},
        )
        assert given.status_code == 201, given.text


def _held(services) -> tuple[list[int], Callable[[], None]]:
    """Keep dispatched jobs back (to run, and count, apart from the request)."""
    dispatch, held = services.queue.dispatch, []

    def keep(outbox_id: int, delay_seconds: int = 0) -> None:
        held.append(outbox_id)

    services.queue.dispatch = keep

    def restore() -> None:
        services.queue.dispatch = dispatch

    return held, restore


def _run_jobs(services, held: list[int]) -> None:
    """Run the held jobs, and those they queue, until none is pending."""
    for outbox_id in held:
        services.run_job(outbox_id)
    for _ in range(10):
        with services.uow() as uow:
            pending = [j.id for j in uow.all(OutboxJob) if j.state == JobState.PENDING]
        if not pending:
            return
        for job_id in pending:
            services.run_job(job_id)


def _order_path(client, services, people) -> dict[str, Any]:
    """For each of ``SIZES``: a new buyer declares a use that selects every listed walk
    (there are that many), buys and builds; the statements each step ran."""
    offers = {name: offer_training_only(client, people[name]) for name in ("owner", "other")}
    counted: dict[str, Any] = {
        "items": [],
        "declare": [],
        "offers_read": [],
        "build": [],
        "jobs": [],
    }
    listed = 0
    for n, size in enumerate(SIZES):
        _list_items(client, services, people, size - listed, offers)
        listed = size
        trainer, _ = buyer(services, people, f"trainer{n}", ["model_training"], ["technology"])
        fund(services, trainer)
        with statements_sent(services.session_factory.kw["bind"]) as declare:
            declared = client.post(
                "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
            )
        assert declared.status_code == 201, declared.text
        order = declared.json()
        bought = client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
        assert bought.status_code == 200, bought.text
        held, restore = _held(services)
        try:
            with statements_sent(services.session_factory.kw["bind"]) as build:
                built = client.post(
                    f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers
                )
            assert built.status_code == 201, built.text
            with statements_sent(services.session_factory.kw["bind"]) as jobs:
                _run_jobs(services, held)
        finally:
            restore()
        with services.uow() as uow:
            snapshot = uow.get(Snapshot, built.json()["id"])
            assert snapshot is not None and snapshot.ready, snapshot
            counted["items"].append(len(snapshot.item_ids))
        counted["declare"].append(len(declare))
        counted["offers_read"].append(sum("FROM licence_offers" in s for s in declare))
        counted["build"].append(len(build))
        counted["jobs"].append(len(jobs))
    return counted


def test_declaring_a_use_building_and_its_jobs_cost_the_same_statements_for_3_or_30_items(
    client, services, people
):
    counted = _order_path(client, services, people)
    assert counted["items"] == list(SIZES), counted
    steps = ("declare", "build", "jobs")
    assert [counted[s][0] for s in steps] == [counted[s][1] for s in steps], counted
    # The quote prices the selection under the licences the selection judged: the offers
    # are read once.
    assert counted["offers_read"] == [1, 1], counted
