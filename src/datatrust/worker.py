"""The job worker: a Huey consumer in the foreground (``datatrust worker``)."""

from __future__ import annotations

from datatrust.bootstrap import Services
from datatrust.logs import configure_logging


def run_worker(services: Services, workers: int = 2) -> None:
    """Consume jobs until stopped. SIGTERM finishes the running jobs first (a second
    SIGTERM stops at once); SIGINT stops at once. A job cut off either way stays
    ``running`` until its lease runs out, and then the sweeper runs it again."""
    configure_logging()
    services.sweep_leftovers()  # a worker killed here before left its scratch behind
    services.warn_missing_media_tools()
    services.queue.consumer(workers=workers).run()
