"""The job queue on Huey: SQLite storage on one box, Redis storage on many.

Huey only carries outbox ids. It delivers at most once (a worker killed mid-task loses
the message), which is why a job's state lives in our database and ``services.jobs.sweep``
re-dispatches what was lost; a periodic task runs the sweeper every minute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

log = logging.getLogger(__name__)

RUN_TASK = "datatrust.run_job"
SWEEP_TASK = "datatrust.sweep"
# Scheduled jobs: (task name, when, outbox job it enqueues). The periodic task only
# enqueues the outbox job (keyed by time slot, so several schedulers enqueue it once); the
# job itself runs like any other, with retries and the sweeper behind it.
AUTO_APPROVE_TASK = "datatrust.auto_approve"
WEEKLY_PAYOUTS_TASK = "datatrust.weekly_payouts"
INCIDENT_REMINDERS_TASK = "datatrust.incident_reminders"
REVOCATION_DEADLINES_TASK = "datatrust.revocation_deadlines"
SCHEDULE: tuple[tuple[str, crontab, str], ...] = (
    (AUTO_APPROVE_TASK, crontab(minute="*/5"), "items.auto_approve"),
    # Mondays 06:00 UTC: everyone at or above the minimum payout is paid.
    (WEEKLY_PAYOUTS_TASK, crontab(day_of_week="1", hour="6", minute="0"), "payouts.weekly"),
    # Hourly: operators are reminded of incidents whose 72-hour clock is running.
    (INCIDENT_REMINDERS_TASK, crontab(minute="7"), "incidents.remind"),
    # Hourly: holders of items whose licence ended (or whose withdrawal was missed) get
    # their notice, and buyers past a deletion deadline are suspended. Without this an
    # ended licence reached no buyer: the check ran only at an existing notice's deadline.
    (REVOCATION_DEADLINES_TASK, crontab(minute="37"), "revocations.check_deadlines"),
)


class HueyQueue:
    """``dispatch`` sends an outbox id; ``run`` (given by bootstrap) executes it."""

    def __init__(
        self,
        huey: Huey,
        run: Callable[[int], str],
        sweep: Callable[[], object],
        retry_delay: Callable[[int], int],
        schedule: Callable[[str], object] | None = None,
        scheduled: Sequence[tuple[str, crontab, str]] = SCHEDULE,
    ) -> None:
        self.huey = huey
        self._run = run
        self._retry_delay = retry_delay
        self._task = huey.task(name=RUN_TASK)(self._execute)
        huey.periodic_task(crontab(minute="*"), name=SWEEP_TASK)(sweep)
        if schedule is not None:
            for task_name, when, job_name in scheduled:
                huey.periodic_task(when, name=task_name)(_enqueuer(schedule, job_name))

    def _execute(self, outbox_id: int) -> str:
        outcome = self._run(outbox_id)
        if outcome == "retry":
            self.dispatch(outbox_id, self._retry_delay(outbox_id))
        return outcome

    def dispatch(self, outbox_id: int, delay_seconds: int = 0) -> None:
        if delay_seconds > 0:
            self._task.schedule(args=(outbox_id,), delay=delay_seconds)
        else:
            self._task(outbox_id)

    def check(self) -> None:
        self.huey.storage.queue_size()

    def pending_messages(self) -> int:
        return int(self.huey.storage.queue_size())

    def consumer(self, workers: int = 2, worker_type: str = "thread") -> Consumer:
        """A consumer whose SIGTERM (what systemd, Docker and Kubernetes send) finishes the
        running jobs before exiting; SIGINT stops at once. Idle workers poll at least once
        a second (Huey's default backs off to 10 s, a long wait on SQLite storage, which
        cannot block on a read the way Redis storage does)."""
        return self.huey.create_consumer(
            workers=workers,
            worker_type=worker_type,
            periodic=True,
            check_worker_health=True,
            graceful_signal="TERM",
            max_delay=1.0,
        )


def _enqueuer(schedule: Callable[[str], object], job_name: str) -> Callable[[], object]:
    def enqueue() -> object:
        return schedule(job_name)

    enqueue.__name__ = f"enqueue_{job_name.replace('.', '_')}"
    return enqueue


def make_huey(backend: str, *, name: str, data_dir: Path, redis_url: str) -> Huey:
    if backend == "redis":
        return RedisHuey(name, url=redis_url, results=False, utc=True)
    if backend == "immediate":
        return MemoryHuey(name, immediate=True, results=False, utc=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(data_dir / "queue.db"), results=False, utc=True)


class EmbeddedConsumer:
    """Huey's consumer on threads inside the web process. ``Consumer.start`` installs
    signal handlers, which only the main thread may do, so the threads are started here."""

    def __init__(self, queue: HueyQueue, workers: int = 2) -> None:
        self._consumer = queue.consumer(workers=workers)

    def start(self) -> None:
        self._consumer.scheduler.start()
        for _, worker in self._consumer.worker_threads:
            worker.start()
        log.info("embedded job consumer started")

    def stop(self) -> None:
        self._consumer.stop(graceful=True)
