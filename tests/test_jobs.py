"""The outbox job system against real backends (DESIGN §4, jobs paragraph).

Every test works on committed data in a fresh, migrated database (SQLite, or PostgreSQL with
``DATATRUST_TEST_DB=postgres``), because workers are other processes. Worker processes run
``python -m datatrust.cli worker`` directly (no ``uv`` wrapper), so the pid the test kills
is the worker's. Effects are counted as audit events about subject type ``test-job``
(see ``job_plugins``); the tests poll the database with bounded timeouts and never assert
how long anything took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, update
from sqlalchemy.pool import NullPool

import job_plugins
from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine, normalise_url
from datatrust.adapters.db.tables.audit import audit_events
from datatrust.adapters.db.tables.jobs import outbox
from datatrust.bootstrap import Services, build
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.jobs import JobState, OutboxJob, backoff
from support import REDIS_URL, FreshDatabase, make_settings, redis_reachable, require_service

TESTS_DIR = Path(__file__).resolve().parent
LEASE_SECONDS = 2  # the workers' lease in these tests: short, so a dead worker is noticed
TIMEOUT = 180.0  # the most any poll waits: a worker starts slowly on a loaded machine (a cold
# interpreter imported the pipeline in ~40 s at load 15 on 2 cores); passing runs never wait it out


# -- a fresh database, a queue, and eyes on both ----------------------------------------
@dataclass
class Rig:
    """One fresh migrated database and one queue; ``services`` is this process's view."""

    url: str
    backend: str
    data_dir: Path
    queue_name: str
    services: Services
    reader: Engine  # plain reads that never take SQLite's write lock
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def enqueue(self, job: str, payload: dict[str, Any], *, key: str | None = None) -> int:
        key = key or f"{job}:{uuid.uuid4().hex}"
        with self.services.uow() as uow:
            uow.enqueue(job, payload, key=key)
            uow.commit()
        with self.reader.connect() as connection:
            return connection.scalar(select(outbox.c.id).where(outbox.c.idempotency_key == key))

    def row(self, job_id: int) -> Any:
        with self.reader.connect() as connection:
            return connection.execute(select(outbox).where(outbox.c.id == job_id)).one()

    def effects(self, n: object | None = None) -> int:
        stmt = (
            select(func.count())
            .select_from(audit_events)
            .where(audit_events.c.subject_type == job_plugins.SUBJECT)
        )
        if n is not None:
            stmt = stmt.where(audit_events.c.subject_id == str(n))
        with self.reader.connect() as connection:
            return int(connection.scalar(stmt) or 0)

    def outbox_rows(self) -> int:
        with self.reader.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(outbox)) or 0)

    def set_row(self, job_id: int, **values: Any) -> None:
        """Move a row by hand (a test's stand-in for time passing)."""
        with self.reader.begin() as connection:
            connection.execute(update(outbox).where(outbox.c.id == job_id).values(**values))

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            for proc in self.workers:
                if proc.poll() is not None and proc.returncode not in (-signal.SIGKILL, 0):
                    pytest.fail(f"worker exited with {proc.returncode}\n{self.worker_log()}")
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}\n{self.worker_log()}")

    def wait_state(self, job_id: int, state: JobState, timeout: float = TIMEOUT) -> Any:
        self.wait_for(f"job {job_id} to be {state}", lambda: self.row(job_id).state == state)
        return self.row(job_id)

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATATRUST_")}
        env.update(
            DATATRUST_DEV_MODE="1",
            DATATRUST_DATABASE_URL=self.url,
            DATATRUST_DATA_DIR=str(self.data_dir),
            DATATRUST_QUEUE_BACKEND=self.backend,
            DATATRUST_REDIS_URL=REDIS_URL,
            DATATRUST_QUEUE_NAME=self.queue_name,
            DATATRUST_JOB_PLUGINS="job_plugins",
            DATATRUST_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
            PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")])),
        )
        env.update(extra)
        return env

    @contextmanager
    def worker(self, threads: int = 2, **env: str) -> Iterator[subprocess.Popen[bytes]]:
        """A real Huey consumer in its own process; always stopped when the block ends."""
        log = (self.data_dir / f"worker-{len(self.workers)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "datatrust.cli", "worker", "--dev", "--workers", str(threads)],
            env=self.worker_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            log.close()

    def worker_log(self) -> str:
        logs = sorted(self.data_dir.glob("worker-*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in logs)


def fresh_database(databases: FreshDatabase) -> str:
    url = databases.create()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@contextmanager
def rig(databases: FreshDatabase, tmp_path: Path, backend: str, **overrides: Any) -> Iterator[Rig]:
    if backend == "redis":
        require_service("Redis", redis_reachable())
    url = fresh_database(databases)
    data_dir = tmp_path / "var"
    queue_name = f"dt-test-{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        tmp_path,
        database_url=url,
        data_dir=data_dir,
        queue_backend=backend,
        queue_name=queue_name,
        job_plugins="job_plugins",  # what the workers load too (``worker_env``)
        **overrides,
    )
    services = build(settings, upgrade_embedded=False)
    reader = create_engine(normalise_url(url), poolclass=NullPool)
    the_rig = Rig(url, backend, data_dir, queue_name, services, reader)
    try:
        yield the_rig
    finally:
        for proc in the_rig.workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        if backend == "redis":
            services.queue.huey.storage.flush_all()
        reader.dispose()
        services.close()


@pytest.fixture(params=["sqlite", "redis"])
def queued(request: pytest.FixtureRequest, databases: FreshDatabase, tmp_path: Path):
    """A rig on each real queue backend: Huey with SQLite storage, and with Redis storage."""
    with rig(databases, tmp_path, request.param) as the_rig:
        yield the_rig


@pytest.fixture
def local(databases: FreshDatabase, tmp_path: Path):
    """A rig on the SQLite queue with no consumer: messages wait, the test runs jobs itself."""
    with rig(databases, tmp_path, "sqlite", job_max_attempts=3) as the_rig:
        yield the_rig


# -- through real workers ---------------------------------------------------------------
@pytest.mark.slow
def test_a_job_runs_to_done_exactly_once_through_a_real_worker(queued: Rig) -> None:
    job_id = queued.enqueue("test.record", {"n": 1})
    with queued.worker():
        row = queued.wait_state(job_id, JobState.DONE)
    assert row.attempts == 1
    assert row.finished_at is not None and row.lease_until is None
    assert queued.effects(1) == 1


@pytest.mark.slow
def test_a_job_whose_worker_was_killed_mid_run_completes_once_after_the_sweep(
    queued: Rig,
) -> None:
    job_id = queued.enqueue("test.slow", {"n": 7, "seconds": 60, "first_only": True})
    with queued.worker() as doomed:
        queued.wait_state(job_id, JobState.RUNNING)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    row = queued.row(job_id)
    assert row.state == JobState.RUNNING and row.attempts == 1
    assert queued.effects(7) == 0
    # Huey delivered the message at most once: it died with the worker.
    lease_until = as_utc(row.lease_until)
    queued.wait_for("the dead worker's lease to run out", lambda: utcnow() > lease_until)

    report = queued.services.sweep()

    assert report.released == 1
    with queued.worker():
        row = queued.wait_state(job_id, JobState.DONE)
    assert row.attempts == 2
    assert queued.effects(7) == 1


@pytest.mark.slow
def test_sigterm_lets_a_worker_finish_its_running_job_before_it_exits(
    databases: FreshDatabase, tmp_path: Path
) -> None:
    with rig(databases, tmp_path, "sqlite") as the_rig:
        job_id = the_rig.enqueue("test.slow", {"n": 3, "seconds": 2})
        with the_rig.worker() as proc:
            the_rig.wait_state(job_id, JobState.RUNNING)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=TIMEOUT)
            assert proc.returncode == 0, the_rig.worker_log()
        assert the_rig.row(job_id).state == JobState.DONE
        assert the_rig.effects(3) == 1


@pytest.mark.slow
def test_a_failing_handler_never_takes_the_worker_down(
    databases: FreshDatabase, tmp_path: Path
) -> None:
    with rig(databases, tmp_path, "sqlite") as the_rig:
        broken = the_rig.enqueue("test.broken", {"n": 1})
        unknown = the_rig.enqueue("test.no-such-job", {"n": 2})
        after = the_rig.enqueue("test.record", {"n": 3})
        with the_rig.worker(threads=1) as proc:
            the_rig.wait_state(after, JobState.DONE)
            assert proc.poll() is None
        for job_id, error in ((broken, "ValueError: broken on purpose"), (unknown, "LookupError")):
            row = the_rig.row(job_id)
            assert row.state == JobState.PENDING and row.attempts == 1
            assert error in row.last_error
        assert the_rig.effects(1) == 0 and the_rig.effects(3) == 1


# -- retries, failure, idempotency, claims (this process runs the jobs) ------------------
def _due_now(the_rig: Rig, job_id: int) -> None:
    the_rig.set_row(job_id, run_after=utcnow() - timedelta(seconds=1))


def test_a_flaky_job_is_retried_with_backoff_until_it_succeeds(local: Rig) -> None:
    job_id = local.enqueue("test.flaky", {"n": 5, "fail": 2})
    for attempt in (1, 2):
        before = utcnow()
        assert local.services.run_job(job_id) == "retry"
        after = utcnow()
        row = local.row(job_id)
        assert row.state == JobState.PENDING and row.attempts == attempt
        assert f"flaky failure on attempt {attempt}" in row.last_error
        assert before + backoff(attempt) <= as_utc(row.run_after) <= after + backoff(attempt)
        assert row.lease_until is None and row.claimed_by is None
        assert local.services.run_job(job_id) == "skipped"  # not due yet
        assert local.effects(5) == 0  # the failed attempt's effect rolled back
        _due_now(local, job_id)

    assert local.services.run_job(job_id) == "done"
    row = local.row(job_id)
    assert row.state == JobState.DONE and row.attempts == 3
    assert "attempt 2" in row.last_error  # the history of the last failure stays
    assert local.effects(5) == 1


def test_the_queue_reschedules_a_retry_no_earlier_than_the_row_allows(local: Rig) -> None:
    job_id = local.enqueue("test.flaky", {"n": 6, "fail": 1})
    huey = local.services.queue.huey
    huey.storage.flush_queue()  # this test delivers the message itself

    assert local.services.queue._execute(job_id) == "retry"

    (message,) = huey.pending()  # a delayed message: the consumer holds it until its eta
    assert message.args == (job_id,)
    run_after = as_utc(local.row(job_id).run_after)
    assert message.eta is not None
    assert message.eta.replace(tzinfo=run_after.tzinfo) >= run_after.replace(microsecond=0)


def test_a_job_that_always_fails_ends_failed_after_max_attempts_with_an_audit_event(
    local: Rig,
) -> None:
    job_id = local.enqueue("test.broken", {"n": 9})
    outcomes = []
    for _ in range(3):
        outcomes.append(local.services.run_job(job_id))
        _due_now(local, job_id)
    assert outcomes == ["retry", "retry", "failed"]
    row = local.row(job_id)
    assert row.state == JobState.FAILED and row.attempts == 3 and row.max_attempts == 3
    assert row.finished_at is not None and "broken on purpose" in row.last_error
    assert local.services.run_job(job_id) == "skipped"
    with local.services.uow() as uow:
        failures = [e for e in uow.audit.events() if e.tag == AuditTag.JOB_FAIL]
    assert [(e.subject_type, e.subject_id, e.data["job"]) for e in failures] == [
        ("job", str(job_id), "test.broken")
    ]
    assert local.effects(9) == 0


def test_enqueueing_the_same_idempotency_key_twice_keeps_one_row_and_one_message(
    local: Rig,
) -> None:
    first = local.enqueue("test.record", {"n": 1}, key="only-once")
    second = local.enqueue("test.record", {"n": 2}, key="only-once")
    with local.services.uow() as uow:
        uow.enqueue("test.record", {"n": 3}, key="same-transaction")
        uow.enqueue("test.record", {"n": 4}, key="same-transaction")
        uow.commit()
    assert first == second
    with local.services.uow() as uow:
        rows = uow.all(OutboxJob, order_by="id")
    assert [(r.idempotency_key, r.payload["n"]) for r in rows] == [
        ("only-once", 1),
        ("same-transaction", 3),
    ]
    assert local.services.queue.pending_messages() == 2


def test_a_unit_of_work_that_is_not_committed_leaves_no_row_and_dispatches_nothing(
    local: Rig,
) -> None:
    with local.services.uow() as uow:
        uow.enqueue("test.record", {"n": 1})
    with local.services.uow() as uow:
        uow.enqueue("test.record", {"n": 2})
        uow.rollback()
    assert local.outbox_rows() == 0
    assert local.services.queue.pending_messages() == 0
    assert local.services.queue.pending_messages() == 0


def test_a_job_enqueued_before_a_rollback_is_neither_written_nor_sent_by_a_later_commit(
    local: Rig,
) -> None:
    with local.services.uow() as uow:
        uow.enqueue("test.record", {"n": 2})
        uow.rollback()
        uow.commit()
    assert local.outbox_rows() == 0
    assert local.services.queue.pending_messages() == 0


def test_of_two_claims_on_one_job_only_one_wins(local: Rig) -> None:
    job_id = local.enqueue("test.record", {"n": 1})
    now = utcnow()
    wins = []
    for worker in ("a", "b"):
        with local.services.uow() as uow:
            wins.append(uow.jobs.claim(job_id, worker, now, now + timedelta(minutes=5)))
            uow.commit()
    assert wins == [True, False]
    row = local.row(job_id)
    assert row.claimed_by == "a" and row.attempts == 1 and row.state == JobState.RUNNING


def test_of_many_concurrent_claims_on_one_job_only_one_wins(local: Rig) -> None:
    job_id = local.enqueue("test.record", {"n": 1})
    now = utcnow()
    barrier = threading.Barrier(6)
    wins: list[bool] = []

    def claim(worker: str) -> None:
        barrier.wait()
        with local.services.uow() as uow:
            won = uow.jobs.claim(job_id, worker, now, now + timedelta(minutes=5))
            uow.commit()
        wins.append(won)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert sorted(wins) == [False] * 5 + [True]
    assert local.row(job_id).attempts == 1


def test_running_a_job_that_is_already_done_is_skipped_and_its_effect_not_repeated(
    local: Rig,
) -> None:
    job_id = local.enqueue("test.record", {"n": 4})
    assert local.services.run_job(job_id) == "done"
    assert local.services.run_job(job_id) == "skipped"
    assert local.services.sweep().released == 0
    assert local.services.run_job(job_id) == "skipped"
    assert local.effects(4) == 1
    assert local.row(job_id).attempts == 1


@contextmanager
def gated_run(the_rig: Rig, job_id: int) -> Iterator[list[str]]:
    """``run_job`` in a thread whose handler waits (first attempt) until the block ends."""
    outcome: list[str] = []
    job_plugins.GATE.clear()
    thread = threading.Thread(target=lambda: outcome.append(the_rig.services.run_job(job_id)))
    thread.start()
    try:
        the_rig.wait_state(job_id, JobState.RUNNING)
        yield outcome
    finally:
        job_plugins.GATE.set()
        thread.join(timeout=TIMEOUT)


def test_a_running_job_keeps_renewing_its_lease_so_the_sweeper_leaves_it_alone(
    databases: FreshDatabase, tmp_path: Path
) -> None:
    with rig(databases, tmp_path, "sqlite", job_lease_seconds=3) as the_rig:
        job_id = the_rig.enqueue("test.gated", {"n": 8})
        with gated_run(the_rig, job_id) as outcome:
            first_lease = as_utc(the_rig.row(job_id).lease_until)
            the_rig.wait_for("the first lease to pass", lambda: utcnow() > first_lease)
            the_rig.wait_for(
                "a renewed lease", lambda: as_utc(the_rig.row(job_id).lease_until) > utcnow()
            )
            assert the_rig.services.sweep().released == 0
        assert outcome == ["done"]
        row = the_rig.row(job_id)
        assert row.state == JobState.DONE and row.attempts == 1
        assert the_rig.effects(8) == 1


def test_a_worker_whose_job_was_taken_from_it_commits_nothing_and_the_rerun_counts(
    databases: FreshDatabase, tmp_path: Path
) -> None:
    with rig(databases, tmp_path, "sqlite", job_lease_seconds=1) as the_rig:
        job_id = the_rig.enqueue("test.gated", {"n": 8})
        with gated_run(the_rig, job_id) as outcome:
            # What the sweeper does once a lease runs out (say the worker stalled in a
            # long pause and could not renew it): the job is pending again and re-run.
            the_rig.set_row(
                job_id,
                state=JobState.PENDING.value,
                lease_until=None,
                claimed_by=None,
                run_after=utcnow() - timedelta(seconds=1),
            )
            assert the_rig.services.run_job(job_id) == "done"  # the second attempt
        assert outcome == ["skipped"]
        row = the_rig.row(job_id)
        assert row.state == JobState.DONE and row.attempts == 2
        assert the_rig.effects(8) == 1


def test_a_job_whose_worker_died_on_its_last_attempt_fails_instead_of_running_for_ever(
    local: Rig,
) -> None:
    last = local.enqueue("test.record", {"n": 1})
    earlier = local.enqueue("test.record", {"n": 2})
    local.set_row(last, attempts=2)  # max_attempts is 3 here
    for job_id in (last, earlier):
        now = utcnow()
        with local.services.uow() as uow:  # a worker claims it, then dies (lease long gone)
            assert uow.jobs.claim(job_id, "dead", now, now - timedelta(seconds=1))
            uow.commit()
    local.services.queue.huey.storage.flush_queue()

    report = local.services.sweep()

    assert (report.released, report.failed, report.redispatched) == (1, 1, 1)
    row = local.row(last)
    assert row.state == JobState.FAILED and row.attempts == 3
    assert "died" in row.last_error and row.finished_at is not None
    assert local.row(earlier).state == JobState.PENDING
    assert [task.args for task in local.services.queue.huey.pending()] == [(earlier,)]
    with local.services.uow() as uow:
        failures = [e for e in uow.audit.events() if e.tag == AuditTag.JOB_FAIL]
    assert [e.subject_id for e in failures] == [str(last)]


def test_the_sweeper_redispatches_a_pending_job_whose_message_was_lost(local: Rig) -> None:
    job_id = local.enqueue("test.record", {"n": 2})
    local.services.queue.huey.storage.flush_queue()  # the message is lost
    assert local.services.sweep().redispatched == 0  # within the grace period
    local.set_row(job_id, run_after=utcnow() - timedelta(minutes=5))
    assert local.services.sweep().redispatched == 1
    assert local.services.queue.pending_messages() == 1
