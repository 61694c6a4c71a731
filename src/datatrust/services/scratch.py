"""Scratch files that nothing outlives: a worker's folder for one job, a writer's temporary
file, and a private copy of decrypted bytes.

Each scratch entry (a folder or a file) is held under an exclusive ``flock`` by the
process using it for as long as it is in use. The kernel drops the lock when that
process exits, however it exits (SIGKILL and OOM kills included), so ``sweep_dead`` can
tell a live writer's entry (its lock is held) from a dead one's (its lock is free)
without trusting pids, clocks or host names. ``flock`` locks conflict between any two
open file descriptions, even inside one process, so a sweep running in a live worker's
own process leaves that worker's entries alone too.

An entry is created under a name starting with ``PENDING``, locked, and only then renamed
to its real name: the sweeper never sees an entry of the live kind that is not locked yet.
A ``PENDING`` entry is left alone until it is ``STALE_SECONDS`` old (nothing stays pending
longer than a few system calls; one that does was left by a process that died just then,
and holds no data yet).

This relies on ``flock`` being local to the host: the folders swept here are the
process's own data directory, never a folder shared between machines.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

PENDING = ".pending-"
STALE_SECONDS = 3600


def _lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and unnamed: nobody else holds it


def held_file(folder: Path, prefix: str = "", suffix: str = "") -> tuple[int, Path]:
    """A new empty file in ``folder`` (``0600``), open for writing and held: returns the
    descriptor and the path. Closing the descriptor releases it; the caller removes or
    renames the file first."""
    fd, pending = tempfile.mkstemp(dir=folder, prefix=PENDING)
    try:
        _lock(fd)
        path = Path(folder) / f"{prefix}{uuid.uuid4().hex}{suffix}"
        os.rename(pending, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pending)
        os.close(fd)
        raise
    return fd, path


@contextlib.contextmanager
def scratch_dir(root: Path, prefix: str = "") -> Iterator[Path]:
    """A private (``0700``) folder under ``root``, held while the block runs and removed
    with everything in it when the block ends, however it ends. Should the process be
    killed instead, ``sweep_dead(root)`` removes it."""
    Path(root).mkdir(parents=True, exist_ok=True, mode=0o700)
    pending = tempfile.mkdtemp(dir=root, prefix=PENDING)
    fd = os.open(pending, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _lock(fd)
        path = Path(root) / f"{prefix}{uuid.uuid4().hex}"
        os.rename(pending, path)
    except BaseException:
        shutil.rmtree(pending, ignore_errors=True)
        os.close(fd)
        raise
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


@contextlib.contextmanager
def unnamed_copy(folder: Path, chunks: Iterable[bytes]) -> Iterator[str]:
    """``chunks`` written to a private file in ``folder`` whose name is removed before the
    block runs: the block gets a path that opens it (``/proc/self/fd/N``) for as long as
    it runs, and the bytes are freed when the block ends or the process dies, however it
    dies, with no sweep needed. For decrypted originals, which must never be left on disk.

    Where ``/proc`` is missing (not Linux) the file keeps its name: it lies in ``folder``,
    a ``scratch_dir``, and is removed with it or by the sweep after a kill."""
    fd, path = held_file(Path(folder))
    try:
        with open(fd, "wb", closefd=False) as f:
            for chunk in chunks:
                f.write(chunk)
        proc_path = f"/proc/self/fd/{fd}"
        if os.path.exists(proc_path):
            os.unlink(path)
            yield proc_path
        else:
            yield str(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def sweep_dead(folder: Path, *, now: float | None = None) -> int:
    """Remove every entry of ``folder`` whose holder has died (its lock is free), and
    ``PENDING`` entries older than ``STALE_SECONDS``; returns how many. Entries held by a
    live process, in this one or another, are left alone. A missing folder is empty.
    Safe to run anywhere, at any time, any number of times."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    now = time.time() if now is None else now
    removed = 0
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if entry.name.startswith(PENDING) and now - info.st_mtime < STALE_SECONDS:
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if is_dir else 0)
            fd = os.open(entry.path, flags)
        except (FileNotFoundError, NotADirectoryError):
            continue  # its owner finished meanwhile
        except OSError:
            log.warning("cannot check scratch entry %s", entry.path, exc_info=True)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process holds it
            if is_dir:
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            removed += 1
        finally:
            os.close(fd)
    if removed:
        log.info("removed %s entries left by dead processes in %s", removed, folder)
    return removed
