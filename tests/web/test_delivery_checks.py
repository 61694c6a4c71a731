"""Every delivery checks the licence again (outside review, session 10).

A withdrawal or erasure while a snapshot is still being built leaves the item out of it and
still reaches the buyer; a download is refused once an item's consent is no longer active
(with or without a notice yet), once an item's licence ended, or once the order's declared
use ended, in the reader's language; the deadline check that tells holders of ended
licences runs on the hourly schedule. The download path stays one query per file whatever
the snapshot's size.
"""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta

import pytest
from test_feed_protocol import make_holder
from test_seed_story import (
    TRAINING,
    WALK,
    buyer,
    fund,
    license_training_only,
    listed_item,
    year_of_use,
)

from datatrust.adapters.queue import SCHEDULE
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import PermissionDenied
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.orders import AgreementRow, Order
from datatrust.domain.snapshots import Revocation, Snapshot
from datatrust.pipeline.snapshot import record_key
from datatrust.services.market import revocations
from datatrust.services.market import snapshots as snaps
from support import statements_sent


def _order(client, services, people, *owners, name: str = "trainer"):
    """A funded buyer's bought order of one walk per owner: the buyer and the items."""
    trainer, _ = buyer(services, people, name, ["model_training"], ["technology"])
    walks = []
    for n, owner in enumerate(owners):
        media = WALK + name.encode() + bytes([n]) * 8
        item = listed_item(services, people[owner], media, f"walk {name} {n}")
        license_training_only(client, people[owner], item.id)
        walks.append(item)
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    bought = client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    assert bought.status_code == 200, bought.text
    return trainer, order, walks


def _build_held(client, services, trainer, order) -> list[int]:
    """Ask for a build and keep its shard jobs back (the build is still in progress)."""
    dispatch, held = services.queue.dispatch, []
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: held.append(outbox_id)
    try:
        built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    finally:
        services.queue.dispatch = dispatch
    assert built.status_code == 201, built.text
    return held


def _run_everything(services, held: list[int]) -> None:
    for outbox_id in held:
        services.run_job(outbox_id)
    for _ in range(10):  # a shard written again queues its finalise again
        with services.uow() as uow:
            pending = [j.id for j in uow.all(OutboxJob) if j.state == JobState.PENDING]
        if not pending:
            return
        for job_id in pending:
            services.run_job(job_id)


def _snapshot(client, trainer) -> dict:
    [snap] = client.get("/api/buyers/snapshots", headers=trainer.headers).json()
    return snap


def _feed_hashes(client, trainer) -> list[str]:
    got = client.get("/api/buyers/feed", headers=trainer.headers)
    assert got.status_code == 200, got.text
    return [n["content_sha256"] for n in got.json()["claims"]["revoked"]]


def _shard_members(client, snap: dict) -> set[str]:
    files = client.get(f"/api/buyers/snapshots/{snap['id']}", headers=snap["_headers"]).json()
    members: set[str] = set()
    for name, meta in files["downloads"]["files"].items():
        got = client.get(meta["url"])
        assert got.status_code == 200, (name, got.text)
        if name.endswith(".tar"):
            with tarfile.open(fileobj=io.BytesIO(got.content)) as tar:
                members |= set(tar.getnames())
    return members


def _keys(members: set[str]) -> set[str]:
    return {m.split(".")[0] for m in members}


def test_an_item_withdrawn_while_its_snapshot_builds_is_left_out_and_its_buyer_is_told(
    client, services, people
):
    trainer, order, (walk, park) = _order(client, services, people, "owner", "other")
    held = _build_held(client, services, trainer, order)
    gone = client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    assert gone.status_code == 200, gone.text
    # The notice reaches a buyer whose build is still in progress (it ran at once).
    assert _feed_hashes(client, trainer) == [walk.deidentified_sha256]
    _run_everything(services, held)
    snap = _snapshot(client, trainer)
    assert snap["state"] == "ready"
    assert snap["items"] == 1 and list(snap["dropped"]) == [str(walk.id)]
    assert "item_withdrawn" in snap["dropped"][str(walk.id)]
    snap["_headers"] = trainer.headers
    members = _shard_members(client, snap)
    assert _keys(members) == {record_key(park.id)}
    # Told about an item it never received, it can attest with no copy to name.
    attested = client.post(
        "/api/buyers/attestations",
        headers=trainer.headers,
        json={
            "content_sha256": [walk.deidentified_sha256],
            "statement": "never received it",
            "models": "none_trained",
        },
    )
    assert attested.status_code == 201, attested.text


def test_an_erased_contributors_item_is_left_out_of_a_build_in_progress(client, services, people):
    trainer, order, (walk, park) = _order(client, services, people, "owner", "other")
    held = _build_held(client, services, trainer, order)
    erased = client.post(
        "/api/me/erase", headers=people["owner"].headers, json={"confirm": "erase me"}
    )
    assert erased.status_code == 200, erased.text
    _run_everything(services, held)  # the erased bytes cannot be read: never tried
    snap = _snapshot(client, trainer)
    assert (snap["state"], snap["items"], list(snap["dropped"])) == ("ready", 1, [str(walk.id)])
    assert snap["dropped"][str(walk.id)]
    assert _feed_hashes(client, trainer) == [walk.deidentified_sha256]
    snap["_headers"] = trainer.headers
    assert _keys(_shard_members(client, snap)) == {record_key(park.id)}


def test_a_build_whose_only_item_was_withdrawn_ends_empty_saying_why(client, services, people):
    trainer, order, (walk,) = _order(client, services, people, "owner")
    held = _build_held(client, services, trainer, order)
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    _run_everything(services, held)
    snap = _snapshot(client, trainer)
    assert (snap["state"], snap["items"]) == ("ready", 0)
    assert "item_withdrawn" in snap["dropped"][str(walk.id)]
    snap["_headers"] = trainer.headers
    assert _shard_members(client, snap) == set()


def test_an_item_withdrawn_after_the_shards_were_written_is_left_out_at_finalise(
    client, services, people
):
    trainer, order, (walk, park) = _order(client, services, people, "owner", "other")
    held = _build_held(client, services, trainer, order)
    dispatch, later = services.queue.dispatch, []
    services.queue.dispatch = lambda job_id, delay_seconds=0: later.append(job_id)
    try:
        for outbox_id in held:  # shards written; finalise queued, not run
            services.run_job(outbox_id)
    finally:
        services.queue.dispatch = dispatch
    with services.uow() as uow:
        assert [j.job for j in uow.all(OutboxJob, id__in=later)] == [snaps.FINALISE_JOB]
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    _run_everything(services, later)
    snap = _snapshot(client, trainer)
    assert (snap["state"], snap["items"], list(snap["dropped"])) == ("ready", 1, [str(walk.id)])
    snap["_headers"] = trainer.headers
    assert _keys(_shard_members(client, snap)) == {record_key(park.id)}


def _links(client, trainer) -> tuple[dict, dict]:
    snap = _snapshot(client, trainer)
    got = client.get(f"/api/buyers/snapshots/{snap['id']}", headers=trainer.headers)
    assert got.status_code == 200, got.text
    return snap, got.json()["downloads"]["files"]


def test_a_download_is_refused_once_consent_is_withdrawn_even_before_any_notice(
    client, services, people
):
    trainer, walk, _park = make_holder(client, services, people)
    _snap, files = _links(client, trainer)
    url = next(iter(files.values()))["url"]
    assert client.get(url).status_code == 200
    dispatch = services.queue.dispatch
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: None  # notices held back
    try:
        gone = client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    finally:
        services.queue.dispatch = dispatch
    assert gone.status_code == 200, gone.text
    with services.uow() as uow:
        assert uow.all(Revocation) == []
    refused = client.get(url)
    assert refused.status_code == 403
    assert refused.json()["problems"][0]["code"] == "download.withdrawn_items"


def _end(services, *, licence: bool = False, use: bool = False) -> None:
    """Make every agreement's licence, or the order's declared use, end a minute ago."""
    past = utcnow() - timedelta(minutes=1)
    with services.uow() as uow:
        if licence:
            for agreement in uow.all(AgreementRow):
                agreement.valid_until = past
        if use:
            for order in uow.all(Order):
                order.use = {**order.use, "ends_at": past.isoformat()}
        uow.commit()


@pytest.mark.parametrize(
    ("ended", "code", "hindi", "zulu"),
    [
        ({"licence": True}, "download.licence_ended", "लाइसेंस समाप्त", "ilayisensi yezinto ezithile"),
        ({"use": True}, "download.use_ended", "बताया गया उपयोग", "ukusetshenziswa okushiwo"),
    ],
)
def test_downloads_and_links_are_refused_once_a_licence_or_the_use_ended_in_words(
    client, services, people, ended, code, hindi, zulu
):
    trainer, _walk, _park = make_holder(client, services, people)
    snap, files = _links(client, trainer)
    url = next(iter(files.values()))["url"]
    _end(services, **ended)
    refused = client.get(url)
    assert refused.status_code == 403
    assert refused.json()["problems"][0]["code"] == code
    links = client.get(f"/api/buyers/snapshots/{snap['id']}", headers=trainer.headers)
    assert links.status_code == 403 and links.json()["problems"][0]["code"] == code
    # The buyer's page says why in the reader's language, and offers no link.
    for lang, words in (("hi", hindi), ("zu", zulu)):
        page = client.get(f"/buyer/snapshots?lang={lang}", headers=trainer.headers)
        assert page.status_code == 200 and words in page.text and "/files/" not in page.text


def test_links_and_downloads_are_refused_after_the_licence_and_use_end_in_time(
    client, services, people
):
    trainer, _walk, _park = make_holder(client, services, people)
    secret = services.settings.secret_key.get_secret_value()
    with services.uow() as uow:
        [snap] = uow.all(Snapshot, org_id=trainer.actor.org_id)
        links = snaps.download_links(
            uow, trainer.actor, secret, snap.id, lifetime_seconds=500 * 86400
        )
    name = sorted(links["files"])[0]
    params = dict(p.split("=") for p in links["files"][name]["url"].split("?")[1].split("&"))
    later = utcnow() + timedelta(days=400)
    with services.uow() as uow, pytest.raises(PermissionDenied) as no_links:
        snaps.download_links(uow, trainer.actor, secret, snap.id, now=later)
    assert no_links.value.problems[0].code == "download.use_ended"
    with services.uow() as uow, pytest.raises(PermissionDenied) as no_file:
        snaps.open_download(
            uow, services.storage, trainer.actor, secret, snap.id, name, now=later, **params
        )
    assert no_file.value.problems[0].code == "download.use_ended"


def test_the_deadline_check_is_scheduled_and_tells_holders_of_an_ended_licence(
    client, services, people
):
    assert "revocations.check_deadlines" in [job for _, _, job in SCHEDULE]
    trainer, walk, park = make_holder(client, services, people)
    with services.uow() as uow:
        done = revocations.check_deadlines(uow, utcnow() + timedelta(days=400))
        uow.commit()
    assert done["noticed"] == 2
    assert sorted(_feed_hashes(client, trainer)) == sorted(
        [walk.deidentified_sha256, park.deidentified_sha256]
    )


def test_a_download_costs_the_same_statements_whatever_the_snapshots_size(client, services, people):
    """One query per download, not one per item: a snapshot of one item and one of three
    run the same number of statements (and a refused one no more than a served one)."""
    counts, sizes = [], []
    for n, owners in enumerate([("owner",), ("owner", "other", "owner")]):
        trainer, order, _ = _order(client, services, people, *owners, name=f"trainer{n}")
        _run_everything(services, _build_held(client, services, trainer, order))
        secret = services.settings.secret_key.get_secret_value()
        with services.uow() as uow:
            snap = uow.all(Snapshot, org_id=trainer.actor.org_id, order_by="-id")[0]
            sizes.append(len(snap.item_ids))
            links = snaps.download_links(uow, trainer.actor, secret, snap.id)
        name = snaps.CHECKSUMS
        query = links["files"][name]["url"].split("?")[1]
        params = dict(p.split("=") for p in query.split("&"))
        with services.uow() as uow, statements_sent(uow.session.connection()) as seen:
            snaps.open_download(
                uow, services.storage, trainer.actor, secret, snap.id, name, **params
            )
        reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
        counts.append(len(reads))
    assert sizes[0] < sizes[1] and counts[0] == counts[1], (sizes, counts)


def test_a_refused_download_costs_the_same_statements_however_many_items_were_withdrawn(
    client, services, people
):
    """Each withdrawn item of a snapshot was looked at again with a statement or two of
    its own on every download and every page of links: one withdrawn item of three and
    all three cost the same."""
    trainer, order, walks = _order(client, services, people, "owner", "other", "owner")
    _run_everything(services, _build_held(client, services, trainer, order))
    secret = services.settings.secret_key.get_secret_value()
    with services.uow() as uow:
        snap = uow.all(Snapshot, org_id=trainer.actor.org_id, order_by="-id")[0]
        links = snaps.download_links(uow, trainer.actor, secret, snap.id)
    query = links["files"][snaps.CHECKSUMS]["url"].split("?")[1]
    params = dict(p.split("=") for p in query.split("&"))
    counts = []
    for withdrawn in ([walks[0]], walks[1:]):
        for walk in withdrawn:
            owner = people["owner" if walk.owner_id == people["owner"].actor.user_id else "other"]
            gone = client.delete(f"/api/items/{walk.id}/consent", headers=owner.headers)
            assert gone.status_code == 200, gone.text
        with (
            services.uow() as uow,
            statements_sent(uow.session.connection()) as seen,
            pytest.raises(PermissionDenied) as refused,
        ):
            snaps.open_download(
                uow, services.storage, trainer.actor, secret, snap.id, snaps.CHECKSUMS, **params
            )
        assert refused.value.problems[0].code == "download.withdrawn_items"
        counts.append(len([s for s in seen if s.lstrip().upper().startswith("SELECT")]))
    # Before: 6 and 10 (two more per withdrawn item); after: 6 and 6.
    assert counts[0] == counts[1], counts
