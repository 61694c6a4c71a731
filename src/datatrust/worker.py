"""The job worker: a Huey consumer in the foreground (``datatrust worker``)."""

from __future__ import annotations

from datatrust.bootstrap import Services
from datatrust.logs import configure_logging


def run_worker(services: Services, workers: int = 2) -> None:
    """Consume jobs until stopped (SIGINT/SIGTERM finish the running jobs first)."""
    configure_logging()
    services.queue.consumer(workers=workers).run()
