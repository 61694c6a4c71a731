"""One box becomes a cluster on the same code (issue 12 §3).

Three ``datatrust serve`` and three ``datatrust worker`` processes, one PostgreSQL
database, one Redis queue, an S3 server (moto) and HAProxy in front, all started here as an
operator would (``tests/cluster.py``), on free loopback ports. Through the proxy only, the
seed story: contributors upload (tus, its PATCHes spread over the web processes, and a
plain multipart upload), the workers process the recordings, peers vote them through, a
buyer buys and builds a snapshot (its shards built by the workers), a contributor withdraws
and the signed revocation feed names the item, a payout is requested, batched by a worker
and settled. Then the ledger balances, the audit chain verifies, every web process served
requests, none answered 5xx, and only the worker processes ran jobs.

It runs on the ``DATATRUST_TEST_DB=postgres DATATRUST_TEST_QUEUE=redis`` run (CI's second
leg), where PostgreSQL, Redis and HAProxy must be there; the SQLite run leaves it out.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tusclient import client as tus_client

from cluster import Cluster, haproxy_available, worker_pids
from datatrust.adapters.db.engine import make_engine
from datatrust.adapters.db.tables.jobs import outbox
from datatrust.client import verify_feed
from datatrust.domain.clock import utcnow
from datatrust.domain.permissions import ROLE_PERMISSIONS, Role
from datatrust.services.demo import DEMO_PASSWORD, STREET_SOUNDS, street_sound
from support import (
    REDIS_URL,
    TEST_DB,
    postgres_reachable,
    redis_reachable,
    require_service,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(
        TEST_DB != "postgres",
        reason="the cluster runs on PostgreSQL + Redis: the DATATRUST_TEST_DB=postgres run has it",
    ),
]

WAIT_S = 180  # the longest one step may take (processing, a snapshot, a payout batch)
TRAINING = {
    "action": "train",
    "purpose": "model_training",
    "industry": "technology",
    "task": "scene_understanding",
    "outputs": ["labels"],
}
CONTRIBUTORS = ("sipho", "priya", "marcus")


@pytest.fixture(scope="module")
def cluster(databases) -> Iterator[Cluster]:
    require_service("PostgreSQL", postgres_reachable())
    require_service("Redis", redis_reachable())
    require_service("HAProxy", haproxy_available())
    # Its own folder, not pytest's: the processes outlive this test's frame, and on a
    # machine shared by several test sessions pytest removes all but the newest three
    # sessions' folders.
    root = Path(tempfile.mkdtemp(prefix="dt-cluster-"))
    running = Cluster(
        root,
        database_url=databases.create("postgres"),
        redis_url=REDIS_URL,
        web=3,
        workers=3,
        # Demo earnings are a few dollars; the story pays one out.
        extra_env={"DATATRUST_MINIMUM_PAYOUT_MINOR": "100"},
    )
    try:
        began = time.monotonic()
        running.start()
        print(f"\n  cluster up in {time.monotonic() - began:.0f} s")
        yield running
    except BaseException:
        print(running.logs_tail())
        raise
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


class Story:
    """The demo's people, each signed in once and then using an API token."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.headers: dict[str, dict[str, str]] = {}
        for name, role in [
            *((c, Role.CONTRIBUTOR) for c in CONTRIBUTORS),
            ("buyer", Role.BUYER),
            ("operator", Role.OPERATOR),
        ]:
            self.headers[name] = self._token(f"{name}@demo.datatrust", role)

    def _token(self, email: str, role: Role) -> dict[str, str]:
        with httpx.Client(base_url=str(self.http.base_url), timeout=30) as browser:
            signed = browser.post(
                "/api/auth/sign-in", json={"email": email, "password": DEMO_PASSWORD}
            )
            assert signed.status_code == 200, signed.text
            made = browser.post(
                "/api/tokens",
                headers={"X-CSRF-Token": signed.json()["csrf_token"]},
                json={"name": "cluster", "scopes": sorted(p.value for p in ROLE_PERMISSIONS[role])},
            )
            assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    def call(self, who: str, method: str, path: str, expect: int = 200, **kw) -> dict:  # type: ignore[no-untyped-def]
        got = self.http.request(
            method, path, headers={**self.headers[who], **kw.pop("headers", {})}, **kw
        )
        assert got.status_code == expect, f"{method} {path}: {got.status_code} {got.text[:500]}"
        return got.json() if got.content else {}

    def until(self, what: str, probe, timeout: float = WAIT_S):  # type: ignore[no-untyped-def]
        """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := probe():
                return found
            time.sleep(0.25)
        pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_the_seed_story_runs_on_three_web_and_three_worker_processes(cluster, tmp_path):
    began = time.monotonic()
    http = httpx.Client(base_url=cluster.url, timeout=60)
    story = Story(http)
    street = next(
        c
        for c in story.call("sipho", "GET", "/api/campaigns")
        if c["title"] == STREET_SOUNDS["title"]
    )
    cid = street["id"]

    # 1. Uploads: two over tus in 32 KB PATCHes (round-robin spreads them over the three
    #    web processes, which share the staging folder), one as a multipart form.
    uploaded: dict[str, int] = {}
    for seed, who in enumerate(("sipho", "marcus"), start=21):
        data = street_sound(seed)
        tus = tus_client.TusClient(f"{cluster.url}/files/", headers=story.headers[who])
        uploader = tus.uploader(
            file_stream=io.BytesIO(data),
            chunk_size=32 * 1024,
            metadata={
                "kind": "ambient",
                "filename": f"{who}.wav",
                "filetype": "audio/wav",
                "campaign": str(cid),
                "title": f"{who}'s street, again",
                "lat": "-33.93",
                "lng": "18.42",
            },
            upload_checksum=True,
        )
        uploader.upload()
        head = http.head(uploader.url, headers={**story.headers[who], "Tus-Resumable": "1.0.0"})
        assert head.headers["Upload-Offset"] == str(len(data))
        uploaded[who] = int(head.headers["Datatrust-Item-Id"])
    form = story.call(
        "priya",
        "POST",
        "/api/items",
        expect=201,
        data={"kind": "ambient", "title": "priya's street, again", "campaign_id": str(cid)},
        files={"file": ("priya.wav", street_sound(23), "audio/wav")},
    )
    uploaded["priya"] = form["id"]

    # 2. The workers process them.
    for who, item_id in uploaded.items():
        item = story.until(
            f"{who}'s item {item_id} to be processed",
            lambda who=who, item_id=item_id: (
                (got := story.call(who, "GET", f"/api/items/{item_id}"))["status"]
                not in ("received", "processing")
                and got
            ),
        )
        assert item["status"] == "accepted", (who, item["report"])

    # 3. Peers vote each through (listed, paid); each owner licenses and consents.
    for owner, item_id in uploaded.items():
        for peer in CONTRIBUTORS:
            if peer != owner:
                story.call(
                    peer, "POST", f"/api/campaigns/{cid}/review/{item_id}", json={"up": True}
                )
        assert story.call(owner, "GET", f"/api/items/{item_id}")["status"] == "listed"
        start = utcnow().replace(microsecond=0) - timedelta(minutes=1)
        offer = story.call(
            owner,
            "POST",
            "/api/licences",
            expect=201,
            json={
                "template": "training_only",
                "changes": {
                    "price_minor": 300,
                    "valid_from": start.isoformat(),
                    "valid_until": (start + timedelta(days=365)).isoformat(),
                },
            },
        )
        story.call(
            owner,
            "POST",
            f"/api/items/{item_id}/consent",
            expect=201,
            json={"offer_id": offer["id"]},
        )

    # 4. A sale, and a snapshot whose shards the workers build.
    now = utcnow().replace(microsecond=0)
    order = story.call(
        "buyer",
        "POST",
        "/api/buyers/orders",
        expect=201,
        json={
            **TRAINING,
            "territory": "GB",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=180)).isoformat(),
        },
    )
    assert order["selected"] >= len(uploaded), order
    bought = story.call("buyer", "POST", f"/api/buyers/orders/{order['id']}/purchase")
    assert set(uploaded.values()) <= {a["item_id"] for a in bought["agreements"]}
    built = story.call(
        "buyer",
        "POST",
        f"/api/buyers/orders/{order['id']}/snapshots",
        expect=201,
        json={"shard_items": 1},
    )
    snapshot = story.until(
        "the snapshot to be built",
        lambda: (
            (got := story.call("buyer", "GET", f"/api/buyers/snapshots/{built['id']}"))["state"]
            == "ready"
            and got
        ),
    )
    assert snapshot["shards"] == snapshot["items"] >= len(uploaded), snapshot
    manifest = http.get(snapshot["downloads"]["files"]["croissant.json"]["url"])
    assert manifest.status_code == 200 and uploaded["sipho"] in {
        r["item_id"] for r in manifest.json()["dt:records"]
    }

    # 5. Sipho withdraws; a worker tells the buyer; the signed feed names the item.
    withdrawn_sha = next(
        r["content_sha256"]
        for r in manifest.json()["dt:records"]
        if r["item_id"] == uploaded["sipho"]
    )
    story.call("sipho", "DELETE", f"/api/items/{uploaded['sipho']}/consent")

    def revoked() -> list[dict]:
        feed = story.call("buyer", "GET", "/api/buyers/feed")
        claims = verify_feed(feed["feed"], feed["public_jwk"])  # any web process's key
        return [e for e in claims["revoked"] if e["content_sha256"] == withdrawn_sha]

    (entry,) = story.until("the withdrawal to reach the revocation feed", revoked)
    assert entry["reason"] == "withdrawn" and entry["deletion_deadline"] > utcnow().isoformat()

    # 6. A payout: requested (a retry with the same key is a replay), batched by a worker.
    balance = story.call("sipho", "GET", "/api/me/statement")["balances"]
    available = next(b for b in balance if b["currency"] == "USD")["available"]["amount_minor"]
    assert available >= 100, balance
    key = {"Idempotency-Key": f"cluster-{uuid.uuid4().hex}"}
    amount = {"amount_minor": available, "currency": "USD"}
    payout = story.call("sipho", "POST", "/api/me/payouts", expect=201, json=amount, headers=key)
    again = story.call("sipho", "POST", "/api/me/payouts", expect=201, json=amount, headers=key)
    assert again["id"] == payout["id"] and again["replayed"] is True
    story.call("operator", "POST", "/api/payouts/batches", expect=202)
    settled = story.until(
        "the payout to be settled",
        lambda: [
            p
            for p in story.call("sipho", "GET", "/api/me/payouts")
            if p["id"] == payout["id"] and p["state"] in ("settled", "failed")
        ],
    )
    assert settled[0]["state"] == "settled", settled
    csv_rows = [
        row
        for path in Path(cluster.env["DATATRUST_DATA_DIR"], "payouts").glob("*.csv")
        for row in csv.reader(path.read_text().splitlines())
        if row[0] == f"payout:{payout['id']}"
    ]
    assert len(csv_rows) == 1, csv_rows

    # 7. The books and the audit chain hold; the load was spread; no 5xx anywhere.
    ledger = story.call("operator", "GET", "/api/ledger/check")
    assert ledger["ok"] is True, ledger
    audit = story.call("operator", "GET", "/api/audit/verify")
    assert audit["ok"] is True, audit
    served = cluster.requests_per_server("web")
    assert len(served) == 3 and all(n > 0 for n in served.values()), served
    errors = {n: int(row["hrsp_5xx"] or 0) for n, row in cluster.server_stats("web").items()}
    assert sum(errors.values()) == 0, errors

    engine = make_engine(cluster.database_url)
    with engine.connect() as connection:
        jobs = connection.execute(
            select(
                outbox.c.job,
                outbox.c.state,
                outbox.c.claimed_by,
                outbox.c.payload,
                outbox.c.run_after,
            )
        ).all()
    engine.dispose()
    # Every job ran to its end, but those due later (the deletion deadline's check, in 30
    # days) and a periodic one a scheduler may have enqueued a moment ago.
    unfinished = [j for j in jobs if j.state != "done"]
    assert all(
        j.state == "pending" and (j.run_after > utcnow() or "scheduled" in j.payload)
        for j in unfinished
    ), unfinished
    ran_by = Counter(int(j.claimed_by.rsplit(":", 1)[1]) for j in jobs if j.claimed_by)
    # `datatrust demo` ran some of the seed's jobs itself; every other job, the story's
    # all, ran on a worker process.
    demo = next(p.popen.pid for p in cluster.processes if p.name == "demo")
    assert set(ran_by) <= worker_pids(cluster) | {demo}, ran_by
    story_jobs = {
        "item.process",
        "snapshots.build_shard",
        "snapshots.finalise",
        "consent.notify_holders",
        "payouts.run_batch",
    }
    assert {j.job for j in jobs} >= story_jobs
    story_pids = {int(j.claimed_by.rsplit(":", 1)[1]) for j in jobs if j.job in story_jobs}
    assert story_pids - {demo} <= worker_pids(cluster)
    for process in (*cluster.web_processes, *cluster.worker_processes):
        assert process.popen.poll() is None, f"{process.name} died:\n{process.tail()}"
    workers = {p.popen.pid: p.name for p in cluster.worker_processes} | {demo: "demo"}
    print(
        f"\n  story through the proxy in {time.monotonic() - began:.0f} s; requests per web"
        f" process: {served}; jobs run per process: "
        + str({workers[pid]: n for pid, n in sorted(ran_by.items())})
    )


def test_a_web_process_that_stops_loses_no_request(cluster):
    """One web process goes away (a deploy, a crash): the proxy sends every request to the
    others (a refused connection is retried on another server), none fails."""
    stopped = cluster.web_processes[-1]
    stopped.popen.terminate()
    stopped.popen.wait(timeout=30)
    with httpx.Client(base_url=cluster.url, timeout=60) as http:
        answers = [http.get(path).status_code for path in ("/", "/health") * 6]
    assert answers == [200] * 12
    stats = cluster.server_stats("web")
    assert int(stats[stopped.name]["hrsp_5xx"] or 0) == 0
