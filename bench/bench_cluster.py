"""One web process against three, on one box, through the same HAProxy (issue 12 §3).

Starts the cluster of ``tests/cluster.py`` (moto S3, ``datatrust db upgrade`` and ``demo``
on a fresh PostgreSQL database, a Redis queue, three ``datatrust serve`` and three
``datatrust worker`` processes, HAProxy), then drives a signed-in mix with CLIENTS
concurrent clients (threads in four forked processes, so the load generator is not held
by one GIL; each its own keep-alive connection, bearer tokens) for
SECONDS per round: contributors list tasks, their items and their statement, open an
item's passport and the tasks page (HTML); the buyer browses the catalogue and reads the
signed revocation feed; one request in ten is a buyer declaring an order (a write).

Rounds alternate the proxy's ``single`` frontend (web process 1 only) and its ``cluster``
frontend (round-robin over all three), so both are measured in the same run, on the same
database and through the same proxy; the load generator runs on the same cores. Reports
requests/s, p50/p99 and errors per round and the ratio of the medians.

Run:  uv run python bench/bench_cluster.py [CLIENTS [SECONDS [ROUNDS]]]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_workers import database, drop

from cluster import Cluster, free_port
from datatrust.domain.clock import utcnow
from datatrust.domain.permissions import ROLE_PERMISSIONS, Role
from datatrust.services.demo import DEMO_PASSWORD

REDIS_URL = os.environ.get("DATATRUST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PROCESSES = 4  # load-generating processes
BENCH_DIR = Path(__file__).resolve().parent
# The floor: bench_load's bare FastAPI route (one indexed read on the same database with
# the service's engine settings), run as processes like the service's.
PEER = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); " + (
    "from bench_load import serve_peer; serve_peer({port})"
)
TRAINING = {
    "action": "train",
    "purpose": "model_training",
    "industry": "technology",
    "territory": "GB",
    # Orders for training state what the model will do and output (issue 16 §2).
    "task": "scene_understanding",
    "outputs": ["labels"],
}
PEOPLE = {
    "sipho@demo.datatrust": Role.CONTRIBUTOR,
    "priya@demo.datatrust": Role.CONTRIBUTOR,
    "marcus@demo.datatrust": Role.CONTRIBUTOR,
    "buyer@demo.datatrust": Role.BUYER,
}


def tokens(url: str, email: str, role: Role, count: int) -> list[dict[str, str]]:
    """``count`` API tokens of one person (one sign-in): every client its own, as
    thousands of people would have, so no two clients share a token's row."""
    made = []
    with httpx.Client(base_url=url, timeout=60) as browser:
        signed = browser.post("/api/auth/sign-in", json={"email": email, "password": DEMO_PASSWORD})
        signed.raise_for_status()
        for n in range(count):
            new = browser.post(
                "/api/tokens",
                headers={"X-CSRF-Token": signed.json()["csrf_token"]},
                json={
                    "name": f"bench-{n}",
                    "scopes": sorted(p.value for p in ROLE_PERMISSIONS[role]),
                },
            )
            new.raise_for_status()
            made.append({"Authorization": f"Bearer {new.json()['token']}"})
    return made


Request = tuple[str, str, dict[str, str], dict | None]


def mixes(url: str, clients: int) -> list[list[Request]]:
    """For each client, ten requests (method, path, headers, JSON body) it cycles through,
    with its own tokens."""
    made = {email: tokens(url, email, role, clients) for email, role in PEOPLE.items()}
    with httpx.Client(base_url=url, timeout=60) as http:
        item = http.get("/api/items", headers=made["sipho@demo.datatrust"][0]).json()[0]["id"]
    start = utcnow().replace(microsecond=0)
    use = {
        **TRAINING,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=30)).isoformat(),
    }
    out = []
    for n in range(clients):
        sipho, priya, marcus, buyer = (made[email][n] for email in PEOPLE)
        out.append(
            [
                ("GET", "/api/campaigns", sipho, None),
                ("GET", "/api/items", priya, None),
                ("GET", "/api/me/statement", marcus, None),
                ("GET", f"/api/items/{item}/passport", sipho, None),
                ("GET", "/tasks", priya, None),
                ("GET", f"/api/buyers/catalogue?{urlencode(TRAINING)}", buyer, None),
                ("GET", "/api/buyers/feed", buyer, None),
                ("GET", "/api/campaigns", marcus, None),
                ("POST", "/api/buyers/orders", buyer, use),
                ("GET", "/api/items", sipho, None),
            ]
        )
    return out


def _client_process(url: str, mine: list[list[Request]], stop_at: float, first: int) -> tuple:
    """One load process: a thread per request list, looping over it until ``stop_at``
    (wall clock). Returns (latencies, errors)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(n: int, requests: list[Request]) -> None:
        took: list[float] = []
        failed: list[str] = []
        with httpx.Client(base_url=url, timeout=30) as http:
            i = n  # clients start at different points of the mix
            while time.time() < stop_at:
                method, path, headers, body = requests[i % len(requests)]
                i += 1
                began = time.perf_counter()
                try:
                    got = http.request(method, path, headers=headers, json=body)
                    if got.status_code >= 400:
                        failed.append(f"{method} {path}: {got.status_code}")
                except httpx.HTTPError as exc:
                    failed.append(f"{method} {path}: {type(exc).__name__}")
                took.append(time.perf_counter() - began)
        with lock:
            latencies.extend(took)
            errors.extend(failed)

    pool = [
        threading.Thread(target=client, args=(first + n, requests))
        for n, requests in enumerate(mine)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, errors


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def drive(url: str, clients: list[list[Request]], seconds: float, pids: list[int] = ()) -> dict:
    """The clients (threads in up to PROCESSES forked processes, so that the load
    generator is not one GIL) loop over their requests for ``seconds``. ``server_cores``:
    the CPU the server processes ``pids`` used, in cores (one process cannot pass 1 by
    much: the GIL); ``load``: the host's load average meanwhile."""
    processes = min(PROCESSES, len(clients))
    shares = [clients[i::processes] for i in range(processes)]
    cpu_before = cpu_seconds(list(pids))
    began = time.time()
    stop_at = began + seconds
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        parts = list(
            pool.map(
                _client_process,
                [url] * processes,
                shares,
                [stop_at] * processes,
                [i * len(clients) for i in range(processes)],
            )
        )
    elapsed = time.time() - began
    cores = (cpu_seconds(list(pids)) - cpu_before) / elapsed
    done = sorted(x for latencies, _ in parts for x in latencies)
    failed = [e for _, errors in parts for e in errors]
    return {
        "requests": len(done),
        "rps": round(len(done) / elapsed, 1),
        "p50_ms": round(1000 * done[len(done) // 2], 1) if done else None,
        "p99_ms": round(1000 * done[int(len(done) * 0.99)], 1) if done else None,
        "errors": len(failed),
        "error_sample": sorted(set(failed))[:5],
        "server_cores": round(cores, 2),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    args = sys.argv[1:]
    clients = int(args[0]) if args else 16
    seconds = float(args[1]) if len(args) > 1 else 10.0
    rounds = int(args[2]) if len(args) > 2 else 3
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
        peer_ports=[free_port() for _ in range(3)],
        peer_check="/peer",
    )
    runs = {
        "peer, 1 process": (cluster.peer_single_url, ["peer1"]),
        "peer, 3 processes": (cluster.peer_url, ["peer1", "peer2", "peer3"]),
        "datatrust, 1 process": (cluster.single_url, ["web1"]),
        "datatrust, 3 processes": (cluster.url, ["web1", "web2", "web3"]),
    }
    results: dict[str, list[dict]] = {name: [] for name in runs}
    try:
        for n, port in enumerate(cluster.peer_ports, start=1):
            cluster.spawn(f"peer{n}", [sys.executable, "-c", PEER.format(port=port)])
        started = time.monotonic()
        cluster.start()
        print(f"cluster up in {time.monotonic() - started:.0f} s", file=sys.stderr)
        requests = mixes(cluster.url, clients)
        peer = [[("GET", "/peer", {}, None)] for _ in range(clients)]
        drive(cluster.url, requests, 3)  # warm every process (imports, pools)
        drive(cluster.peer_url, peer, 2)
        for _ in range(rounds):
            for name, (target, servers) in runs.items():
                pids = [p.popen.pid for p in cluster.processes if p.name in servers]
                mix = peer if "peer" in name else requests
                results[name].append(drive(target, mix, seconds, pids))
                print(name, results[name][-1], file=sys.stderr)
        served = cluster.requests_per_server("web")
    finally:
        cluster.stop()
        drop(url)
        shutil.rmtree(root, ignore_errors=True)
    median = {name: statistics.median(r["rps"] for r in rs) for name, rs in results.items()}
    summary = {
        "clients": clients,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "rps": median,
        "ratio_3_to_1": round(median["datatrust, 3 processes"] / median["datatrust, 1 process"], 2),
        "peer_ratio_3_to_1": round(median["peer, 3 processes"] / median["peer, 1 process"], 2),
        "errors": sum(r["errors"] for rs in results.values() for r in rs),
        "cluster_requests_per_web_process": served,
        "results": results,
    }
    print("| server | clients | req/s (median) | p50 ms | p99 ms | errors | server cores | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rs in results.items():
        cell = {
            k: statistics.median(r[k] for r in rs) for k in ("p50_ms", "p99_ms", "server_cores")
        }
        print(
            f"| {name} | {clients} | {median[name]} | {cell['p50_ms']} | {cell['p99_ms']} | "
            f"{sum(r['errors'] for r in rs)} | {cell['server_cores']} | "
            f"{statistics.median(r['load'] for r in rs):.1f} |"
        )
    print(
        f"3 processes / 1: datatrust {summary['ratio_3_to_1']}×, "
        f"peer {summary['peer_ratio_3_to_1']}×"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
