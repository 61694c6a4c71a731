"""Test-only, loaded in a worker through ``DATATRUST_JOB_PLUGINS``: the first
``item.process`` pauses inside the pipeline, with the original decrypted, so that a test
can kill the worker there. The pause writes ``pid path work_dir`` to the file named by
``DATATRUST_TEST_PAUSE``; while that file exists, jobs run straight through."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from datatrust.services.contributions import ingest

_run_pipeline = ingest.run_pipeline


def _paused(path: Any, kind: Any, **kwargs: Any) -> Any:
    marker = Path(os.environ["DATATRUST_TEST_PAUSE"])
    if not marker.exists():
        written = marker.with_suffix(".part")
        written.write_text(f"{os.getpid()} {path} {kwargs['work_dir']}")
        os.replace(written, marker)
        time.sleep(120)
    return _run_pipeline(path, kind, **kwargs)


ingest.run_pipeline = _paused
