"""Two Huey workers on Redis against one: jobs per second through the real outbox.

Each worker is ``python -m datatrust.cli worker --workers THREADS`` in its own process,
on a Redis queue and (when reachable) a fresh PostgreSQL database, else a SQLite file.
The job is ``bench.io`` (``bench/bench_job_plugins.py``): it waits ``SECONDS`` as an
I/O-bound job does (a remote object store, a payout rail), then records an audit event in
its own transaction; so what is measured is whether the platform's per-job work (claim by
conditional update, lease, handler transaction, audit chain lock, Redis hand-off) lets a
second worker add throughput, not the 2-core host's CPU.

For each round: N jobs are enqueued in one transaction; the clock runs from its commit
until the last is ``done`` (polled in the database). Rounds alternate one worker and two
(the second started and warmed up outside the clock, then stopped again). Reports the
median jobs/s for each and the ratio (target ≥ 1.6×).
Run:  uv run python bench/bench_workers.py [N [SECONDS [THREADS]]]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine, normalise_url
from datatrust.adapters.db.tables.jobs import outbox
from datatrust.bootstrap import build
from datatrust.config import Settings
from datatrust.domain.jobs import JobState

BENCH_DIR = Path(__file__).resolve().parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("DATATRUST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ROUNDS = 2  # of each configuration


def database(tmp: Path) -> tuple[str, str]:
    """A fresh PostgreSQL database if reachable, else a SQLite file; (url, label)."""
    try:
        admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
        name = f"dt_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, "postgresql"
    except Exception:
        return f"sqlite:///{tmp / 'bench.db'}", "sqlite"


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()


class Bench:
    def __init__(self, url: str, tmp: Path, threads: int) -> None:
        self.url, self.tmp, self.threads = url, tmp, threads
        self.queue_name = f"dt-bench-{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DATATRUST_")}
        self.env.update(
            DATATRUST_DEV_MODE="1",
            DATATRUST_DATABASE_URL=url,
            DATATRUST_DATA_DIR=str(tmp / "var"),
            DATATRUST_QUEUE_BACKEND="redis",
            DATATRUST_REDIS_URL=REDIS_URL,
            DATATRUST_QUEUE_NAME=self.queue_name,
            DATATRUST_JOB_PLUGINS="bench_job_plugins",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])
            ),
        )
        os.environ["DATATRUST_JOB_PLUGINS"] = "bench_job_plugins"
        sys.path.insert(0, str(BENCH_DIR))
        self.services = build(
            Settings(
                dev_mode=True,
                database_url=url,
                data_dir=tmp / "var",
                queue_backend="redis",
                redis_url=REDIS_URL,
                queue_name=self.queue_name,
                embedded_worker=False,
            ),
            upgrade_embedded=False,
        )
        self.reader = create_engine(normalise_url(url), poolclass=NullPool)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "datatrust.cli", "worker", "--workers", str(self.threads)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGTERM)  # finishes its running jobs, then exits
        proc.wait(timeout=60)

    def enqueue(self, n: int, seconds: float) -> str:
        batch = uuid.uuid4().hex[:8]
        with self.services.uow() as uow:
            for i in range(n):
                uow.enqueue("bench.io", {"n": i, "seconds": seconds}, key=f"bench:{batch}:{i}")
            uow.commit()  # dispatches every job to Redis
        return batch

    def wait_done(self, batch: str, n: int, timeout: float = 300) -> set[str]:
        """Until the batch's n jobs are done; returns the workers that ran them."""
        pattern = f"bench:{batch}:%"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.reader.connect() as c:
                done = c.scalar(
                    select(func.count())
                    .select_from(outbox)
                    .where(outbox.c.idempotency_key.like(pattern))
                    .where(outbox.c.state == JobState.DONE.value)
                )
            if done == n:
                with self.reader.connect() as c:
                    rows = c.scalars(
                        select(outbox.c.claimed_by).where(outbox.c.idempotency_key.like(pattern))
                    )
                    return {r.rsplit(":", 1)[-1] for r in rows if r}
            for proc in self.procs:
                if proc.poll() not in (None, 0):
                    raise SystemExit(f"a worker exited with {proc.returncode}; see {self.tmp}")
            time.sleep(0.02)
        raise SystemExit(f"timed out waiting for {n} jobs; worker logs in {self.tmp}")

    def warm(self, workers: int, seconds: float) -> None:
        """Run batches until every running worker has taken jobs (imports done, consuming)."""
        size = 4 * self.threads * workers
        for _ in range(30):
            if len(self.wait_done(self.enqueue(size, seconds), size)) >= workers:
                return
        raise SystemExit("a worker never took jobs")

    def timed(self, n: int, seconds: float) -> tuple[float, int]:
        started = time.perf_counter()
        ran = self.wait_done(self.enqueue(n, seconds), n)
        return time.perf_counter() - started, len(ran)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        self.services.queue.huey.storage.flush_all()
        self.reader.dispose()
        self.services.close()


def main() -> None:
    args = sys.argv[1:]
    n = int(args[0]) if args else 200
    seconds = float(args[1]) if len(args) > 1 else 0.1
    threads = int(args[2]) if len(args) > 2 else 2
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, label = database(tmp)
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        bench = Bench(url, tmp, threads)
        one_t, two_t = [], []
        try:
            first = bench.start_worker()  # runs throughout; a second joins every other round
            bench.warm(1, seconds)
            for _ in range(ROUNDS):
                elapsed, ran = bench.timed(n, seconds)
                assert ran == 1, ran
                one_t.append(elapsed)
                second = bench.start_worker()
                bench.warm(2, seconds)
                elapsed, ran = bench.timed(n, seconds)
                assert ran == 2, f"{ran} workers ran the batch"
                two_t.append(elapsed)
                bench.stop(second)
            bench.stop(first)
        finally:
            bench.close()
            drop(url)
    one, two = statistics.median(one_t), statistics.median(two_t)
    result = {
        "db": label,
        "queue": "redis",
        "jobs": n,
        "job_wait_s": seconds,
        "threads_per_worker": threads,
        "one_worker_s": round(one, 3),
        "two_workers_s": round(two, 3),
        "one_worker_jobs_s": round(n / one, 1),
        "two_workers_jobs_s": round(n / two, 1),
        "ideal_one_worker_s": round(n * seconds / threads, 3),
        "ratio": round(one / two, 2),
        "rounds": {"one": [round(t, 3) for t in one_t], "two": [round(t, 3) for t in two_t]},
    }
    print("| db | jobs | wait s | threads/worker | 1 worker jobs/s | 2 workers jobs/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {label} | {n} | {seconds} | {threads} | {result['one_worker_jobs_s']} | "
        f"{result['two_workers_jobs_s']} | {result['ratio']}× |"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
