"""Scratch space nothing outlives: folders removed however their block ends, entries of
dead processes swept while live ones (in this process or another) stay, and decrypted
copies that never have a name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datatrust.services import scratch

# A child that holds a scratch folder and a held file, says where they are, and waits
# to be killed.
HOLDER = """
import sys, time
from pathlib import Path
from datatrust.services import scratch
root = Path(sys.argv[1])
with scratch.scratch_dir(root, prefix="item-1-") as folder:
    (folder / "output.bin").write_bytes(b"half done")
    fd, path = scratch.held_file(root, suffix=".tmp")
    print(folder, path, flush=True)
    time.sleep(120)
"""


def killed_holder(root: Path) -> tuple[Path, Path]:
    """A scratch folder and a held file whose process was SIGKILLed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        folder, path = proc.stdout.readline().split()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    return Path(folder), Path(path)


def test_a_scratch_folder_is_removed_when_its_block_raises(tmp_path):
    with pytest.raises(RuntimeError), scratch.scratch_dir(tmp_path, prefix="item-7-") as folder:
        (folder / "original").write_bytes(b"secret")
        assert folder.name.startswith("item-7-") and oct(folder.stat().st_mode)[-3:] == "700"
        raise RuntimeError("the pipeline crashed")
    assert list(tmp_path.iterdir()) == []


def test_the_sweep_removes_a_killed_process_s_entries_and_keeps_live_ones(tmp_path):
    dead_folder, dead_file = killed_holder(tmp_path)
    assert dead_folder.is_dir() and dead_file.is_file()  # what a SIGKILL leaves
    with scratch.scratch_dir(tmp_path, prefix="item-2-") as live_folder:
        fd, live_file = scratch.held_file(tmp_path, suffix=".tmp")
        try:
            assert scratch.sweep_dead(tmp_path) == 2
            assert sorted(tmp_path.iterdir()) == sorted([live_folder, live_file])
            assert scratch.sweep_dead(tmp_path) == 0  # held here: left alone
        finally:
            os.unlink(live_file)
            os.close(fd)
    assert list(tmp_path.iterdir()) == []


def test_an_entry_nobody_holds_is_swept_but_a_fresh_pending_one_is_not(tmp_path):
    """What older code left (no lock at all) goes; an entry being created (pending, not
    locked yet) stays until it is an hour old."""
    (tmp_path / "item-3-old").mkdir()
    (tmp_path / ".a.tmp").write_bytes(b"x")
    pending = tmp_path / f"{scratch.PENDING}abc"
    pending.write_bytes(b"")
    assert scratch.sweep_dead(tmp_path) == 2
    assert list(tmp_path.iterdir()) == [pending]
    later = time.time() + scratch.STALE_SECONDS + 1
    assert scratch.sweep_dead(tmp_path, now=later) == 1
    assert list(tmp_path.iterdir()) == []
    assert scratch.sweep_dead(tmp_path / "missing") == 0


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_an_unnamed_copy_is_readable_through_its_path_but_has_no_name(tmp_path):
    with scratch.unnamed_copy(tmp_path, [b"decrypted ", b"original"]) as path:
        assert list(tmp_path.iterdir()) == []
        assert Path(path).read_bytes() == b"decrypted original"
        with open(path, "rb") as again:  # decoders open it more than once
            again.seek(10)
            assert again.read() == b"original"
    assert list(tmp_path.iterdir()) == []
