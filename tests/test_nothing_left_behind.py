"""Nothing left behind when a process is killed (issue 12 §5): a worker killed mid-job
leaves no decrypted original on disk, its scratch folder is swept, and the job still
completes once the sweeper returns it to the queue; a writer killed mid-put leaves a
temporary file that is swept, while a live writer's is kept; a server starting sweeps
both.

The worker test uses the real-worker rig of ``test_jobs``: a fresh migrated database
(SQLite, or PostgreSQL with ``DATATRUST_TEST_DB=postgres``), the SQLite queue, worker
processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import ingest_media as media
from datatrust.adapters.objectstore import LocalObjectStore
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.permissions import Role
from datatrust.services import scratch
from datatrust.web.app import create_app
from support import FreshDatabase, make_persona, receive_upload
from test_jobs import rig

# A writer that has put 8 MB of an object and waits (for the rest of a slow upload, say).
WRITER = """
import sys, time
from pathlib import Path
from datatrust.adapters.objectstore import LocalObjectStore
def chunks():
    yield b"x" * (8 << 20)
    print("writing", flush=True)
    time.sleep(120)
LocalObjectStore(Path(sys.argv[1])).put("c/1/big", chunks())
"""


def files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_no_decrypted_original_and_the_job_completes_later(
    databases: FreshDatabase, tmp_path: Path
) -> None:
    with rig(databases, tmp_path, "sqlite") as the_rig:
        svc, work = the_rig.services, the_rig.data_dir / "work"
        owner = make_persona(svc, "owner", Role.CONTRIBUTOR)
        original = media.photo()
        needle = original[len(original) // 2 :][:64]  # image data, not a common header
        item = receive_upload(svc, owner, "photo", original, "me.jpg")
        with svc.uow() as uow:
            job_id = uow.one(OutboxJob, idempotency_key=f"item.process:{item.id}").id
        marker = tmp_path / "paused"
        plugins = "job_plugins,pause_plugins"
        env = {"DATATRUST_JOB_PLUGINS": plugins, "DATATRUST_TEST_PAUSE": str(marker)}
        with the_rig.worker(**env) as doomed:
            # A worker loading the media models starts slowly on a loaded machine.
            the_rig.wait_for("the job to pause inside the pipeline", marker.exists, timeout=300)
            pid, path, work_dir = marker.read_text().split()
            # The worker is reading the decrypted original now, through a file that has no
            # name: only its open descriptor reaches it.
            assert path.startswith("/proc/self/fd/")
            held = f"/proc/{pid}/fd/{path.rsplit('/', 1)[1]}"
            assert os.readlink(held).endswith("(deleted)")
            assert Path(held).read_bytes() == original
            assert Path(work_dir).parent == work and Path(work_dir).is_dir()
            assert files_holding(the_rig.data_dir, needle) == []
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=30)
        assert Path(work_dir).is_dir()  # what the kill left: the (now empty) folder

        assert svc.sweep_leftovers() == 1
        assert list(work.iterdir()) == []
        assert files_holding(the_rig.data_dir, needle) == []

        lease_until = as_utc(the_rig.row(job_id).lease_until)
        the_rig.wait_for("the dead worker's lease to run out", lambda: utcnow() > lease_until)
        assert svc.sweep().released == 1
        with the_rig.worker(**env):
            done = lambda: the_rig.row(job_id).state == JobState.DONE  # noqa: E731
            the_rig.wait_for(f"job {job_id} to be done", done, timeout=300)
        assert the_rig.row(job_id).attempts == 2
        with svc.uow() as uow:
            assert uow.get(Item, item.id).status is ItemStatus.ACCEPTED
        assert list(work.iterdir()) == []
        assert files_holding(the_rig.data_dir, needle) == []


def killed_writer(store: LocalObjectStore) -> Path:
    """The temporary file of a put whose process was SIGKILLed halfway."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "writing\n"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    [left] = store.temporary.iterdir()
    return left


def test_the_temporary_file_of_a_killed_writer_is_swept_and_a_live_writer_s_kept(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    dead = killed_writer(store)
    assert dead.stat().st_size == 8 << 20
    during: list[object] = []

    def live():
        yield b"y" * 1000
        during.append(store.sweep_temporary())  # while this put holds its file
        during.append(list(store.temporary.iterdir()))
        yield b"z"

    store.put("c/1/other", live())
    assert during[0] == 1
    assert len(during[1]) == 1 and during[1] != [dead]  # the live writer's own file
    assert b"".join(store.get("c/1/other")) == b"y" * 1000 + b"z"
    assert not store.exists("c/1/big")
    assert list(store.temporary.iterdir()) == []


def test_a_server_starting_sweeps_what_killed_processes_left(services, tmp_path):
    dead_temporary = killed_writer(services.store)
    work = services.settings.data_dir / "work"
    with scratch.scratch_dir(work, prefix="item-9-") as live_folder:
        dead_folder = work / "item-8-left-by-a-kill"  # no holder: its process is gone
        dead_folder.mkdir()
        (dead_folder / "output.mp4").write_bytes(b"half a video")
        with TestClient(create_app(services, start_worker=False)):
            assert not dead_temporary.exists() and not dead_folder.exists()
            assert list(work.iterdir()) == [live_folder]
