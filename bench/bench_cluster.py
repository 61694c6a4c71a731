"""One web process against three, on one box, through the same HAProxy (issue 12 §3).

Starts the cluster of ``tests/cluster.py`` (moto S3, ``datatrust db upgrade`` and ``demo``
on a fresh PostgreSQL database, a Redis queue, three ``datatrust serve`` and three
``datatrust worker`` processes, HAProxy), then drives a signed-in mix with CLIENTS
concurrent clients (threads, each its own keep-alive connection, bearer tokens) for
SECONDS per round: contributors list tasks, their items and their statement, open an
item's passport and the tasks page (HTML); the buyer browses the catalogue and reads the
signed revocation feed; one request in ten is a buyer declaring an order (a write).

Rounds alternate the proxy's ``single`` frontend (web process 1 only) and its ``cluster``
frontend (round-robin over all three), so both are measured in the same run, on the same
database and through the same proxy; the load generator runs in this process on the same
cores. Reports requests/s, p50/p99 and errors per round and the ratio of the medians.

Run:  uv run python bench/bench_cluster.py [CLIENTS [SECONDS [ROUNDS]]]
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_workers import database, drop

from cluster import Cluster
from datatrust.domain.clock import utcnow
from datatrust.domain.permissions import ROLE_PERMISSIONS, Role
from datatrust.services.demo import DEMO_PASSWORD

REDIS_URL = "redis://127.0.0.1:6379/14"
PEOPLE = {
    "sipho@demo.datatrust": Role.CONTRIBUTOR,
    "priya@demo.datatrust": Role.CONTRIBUTOR,
    "marcus@demo.datatrust": Role.CONTRIBUTOR,
    "buyer@demo.datatrust": Role.BUYER,
}


def token(url: str, email: str, role: Role) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=60) as browser:
        signed = browser.post("/api/auth/sign-in", json={"email": email, "password": DEMO_PASSWORD})
        signed.raise_for_status()
        made = browser.post(
            "/api/tokens",
            headers={"X-CSRF-Token": signed.json()["csrf_token"]},
            json={"name": "bench", "scopes": sorted(p.value for p in ROLE_PERMISSIONS[role])},
        )
        made.raise_for_status()
    return {"Authorization": f"Bearer {made.json()['token']}"}


def mix(url: str) -> list[tuple[str, str, dict[str, str], dict | None]]:
    """Ten requests (method, path, headers, JSON body) a client cycles through."""
    headers = {email: token(url, email, role) for email, role in PEOPLE.items()}
    sipho, buyer = headers["sipho@demo.datatrust"], headers["buyer@demo.datatrust"]
    with httpx.Client(base_url=url, timeout=60) as http:
        item = http.get("/api/items", headers=sipho).json()[0]["id"]
    start = utcnow().replace(microsecond=0)
    use = {
        "action": "train",
        "purpose": "model_training",
        "industry": "technology",
        "territory": "GB",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=30)).isoformat(),
    }
    priya, marcus = headers["priya@demo.datatrust"], headers["marcus@demo.datatrust"]
    return [
        ("GET", "/api/campaigns", sipho, None),
        ("GET", "/api/items", priya, None),
        ("GET", "/api/me/statement", marcus, None),
        ("GET", f"/api/items/{item}/passport", sipho, None),
        ("GET", "/tasks", priya, None),
        ("GET", "/api/buyers/catalogue?purpose=model_training", buyer, None),
        ("GET", "/api/buyers/feed", buyer, None),
        ("GET", "/api/campaigns", marcus, None),
        ("POST", "/api/buyers/orders", buyer, use),
        ("GET", "/api/items", sipho, None),
    ]


def drive(url: str, requests: list, clients: int, seconds: float) -> dict:
    """``clients`` threads loop over ``requests`` for ``seconds``; latencies and errors."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = n  # clients start at different points of the mix
            while time.monotonic() < stop:
                method, path, headers, body = requests[i % len(requests)]
                i += 1
                began = time.perf_counter()
                try:
                    got = http.request(method, path, headers=headers, json=body)
                    if got.status_code >= 400:
                        errors[n].append(f"{method} {path}: {got.status_code}")
                except httpx.HTTPError as exc:
                    errors[n].append(f"{method} {path}: {type(exc).__name__}")
                latencies[n].append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    done = sorted(x for per in latencies for x in per)
    failed = [e for per in errors for e in per]
    return {
        "requests": len(done),
        "rps": round(len(done) / elapsed, 1),
        "p50_ms": round(1000 * done[len(done) // 2], 1) if done else None,
        "p99_ms": round(1000 * done[int(len(done) * 0.99)], 1) if done else None,
        "errors": len(failed),
        "error_sample": sorted(set(failed))[:5],
    }


def main() -> None:
    args = sys.argv[1:]
    clients = int(args[0]) if args else 16
    seconds = float(args[1]) if len(args) > 1 else 10.0
    rounds = int(args[2]) if len(args) > 2 else 2
    root = Path(tempfile.mkdtemp(prefix="dt-bench-cluster-"))
    url, label = database(root)
    if label != "postgresql":
        raise SystemExit("the cluster needs PostgreSQL on 127.0.0.1:5432")
    cluster = Cluster(
        root,
        database_url=url,
        redis_url=REDIS_URL,
        web=3,
        workers=3,
    )
    results: dict[str, list[dict]] = {"single": [], "cluster": []}
    try:
        started = time.monotonic()
        cluster.start()
        print(f"cluster up in {time.monotonic() - started:.0f} s", file=sys.stderr)
        requests = mix(cluster.url)
        drive(cluster.url, requests, clients, 3)  # warm every process (imports, pools)
        for _ in range(rounds):
            for name, target in (("single", cluster.single_url), ("cluster", cluster.url)):
                results[name].append(drive(target, requests, clients, seconds))
                print(name, results[name][-1], file=sys.stderr)
        served = cluster.requests_per_server("web")
    finally:
        cluster.stop()
        drop(url)
        shutil.rmtree(root, ignore_errors=True)
    one = statistics.median(r["rps"] for r in results["single"])
    three = statistics.median(r["rps"] for r in results["cluster"])
    summary = {
        "clients": clients,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "single_rps": one,
        "cluster_rps": three,
        "ratio": round(three / one, 2),
        "errors": sum(r["errors"] for rs in results.values() for r in rs),
        "cluster_requests_per_web_process": served,
        "results": results,
    }
    print("| web processes | clients | req/s (median) | p50 ms | p99 ms | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, count in (("single", 1), ("cluster", 3)):
        runs = results[name]
        print(
            f"| {count} | {clients} | {statistics.median(r['rps'] for r in runs)} | "
            f"{statistics.median(r['p50_ms'] for r in runs)} | "
            f"{statistics.median(r['p99_ms'] for r in runs)} | {sum(r['errors'] for r in runs)} |"
        )
    print(f"ratio 3/1: {summary['ratio']}×")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
