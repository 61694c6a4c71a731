"""One box run as a cluster, for the cluster test and ``bench/bench_cluster.py``.

``Cluster`` starts what an operator starts (README, "One box, then many"): a moto S3 server
standing in for the object store, ``datatrust db upgrade`` and ``datatrust demo`` against
one PostgreSQL database, N ``datatrust serve`` and M ``datatrust worker`` processes sharing
a Redis queue, and HAProxy in front of the web processes. Everything listens on 127.0.0.1 on
free ports, every process is a child of this one (and is told to die with it, should this
process be killed before it can stop them), and ``stop()`` ends them all, first politely.

The processes share one ``DATA_DIR``: tus keeps a partial upload in ``DATA_DIR/uploads``
and the next PATCH may reach another web process (on several machines that folder must be
a shared volume). The secrets are real ones made here, read from ``*_FILE`` settings, not
dev mode: every process must agree on them for the cluster to work at all.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import ctypes
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If the test runner is killed (a CI timeout's SIGKILL), the kernel sends SIGTERM to
    # each child, so no server outlives its test.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def datatrust_command() -> list[str]:
    """The installed ``datatrust`` command of this environment (what an operator runs)."""
    script = Path(sys.executable).with_name("datatrust")
    return [str(script)] if script.exists() else [sys.executable, "-m", "datatrust.cli"]


def haproxy_available() -> bool:
    return Path(HAPROXY).exists()


class ClusterError(RuntimeError):
    """A process of the cluster did not start or exited; the message ends with its log."""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """``web`` serve processes and ``workers`` worker processes (``threads`` each) behind
    HAProxy. ``url`` balances over every web process; ``single_url`` reaches the first one
    only, through the same proxy (the peer a benchmark compares against)."""

    root: Path
    database_url: str
    redis_url: str
    web: int = 3
    workers: int = 3
    threads: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    # Other servers (a benchmark's floor) put behind the proxy as backends ``peer`` (all)
    # and ``peer_single`` (the first), each answering 200 on ``peer_check``.
    peer_ports: list[int] = field(default_factory=list)
    peer_check: str = "/"
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs = self.root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.web_ports = [free_port() for _ in range(self.web)]
        self.proxy_port, self.single_port, self.stats_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.proxy_port}"
        self.single_url = f"http://127.0.0.1:{self.single_port}"
        self.peer_port, self.peer_single_port = free_port(), free_port()
        self.peer_url = f"http://127.0.0.1:{self.peer_port}"
        self.peer_single_url = f"http://127.0.0.1:{self.peer_single_port}"
        self.queue_name = f"dt-cluster-{uuid.uuid4().hex[:8]}"
        self.env = self._environment()

    # ------------------------------------------------------------------ configuration

    def _secret_file(self, name: str, value: str) -> str:
        path = self.root / "secrets" / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(value)
        path.chmod(0o600)
        return str(path)

    def _environment(self) -> dict[str, str]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        signing = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATATRUST_")}
        env.update(
            PYTHONUNBUFFERED="1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            DATATRUST_DATABASE_URL=self.database_url,
            DATATRUST_DATA_DIR=str(self.root / "var"),
            DATATRUST_BASE_URL=self.url,
            DATATRUST_QUEUE_BACKEND="redis",
            DATATRUST_REDIS_URL=self.redis_url,
            DATATRUST_QUEUE_NAME=self.queue_name,
            DATATRUST_EMBEDDED_WORKER="0",
            DATATRUST_STORAGE_BACKEND="s3",
            DATATRUST_S3_BUCKET=f"dt-cluster-{uuid.uuid4().hex[:8]}",
            DATATRUST_S3_ACCESS_KEY_ID="testing",
            DATATRUST_S3_SECRET_ACCESS_KEY_FILE=self._secret_file("s3", "testing"),
            DATATRUST_SECRET_KEY_FILE=self._secret_file(
                "secret_key", base64.urlsafe_b64encode(os.urandom(32)).decode()
            ),
            DATATRUST_MASTER_KEY_FILE=self._secret_file(
                "master_key", base64.urlsafe_b64encode(os.urandom(32)).decode()
            ),
            DATATRUST_SIGNING_KEY_FILE=self._secret_file("signing_key", signing.decode()),
        )
        env.update(self.extra_env)
        return env

    def _haproxy_config(self) -> str:
        backends = [("cluster", self.proxy_port, "web", self.web_ports, "/health")]
        backends.append(("single", self.single_port, "web_single", self.web_ports[:1], "/health"))
        if self.peer_ports:
            backends.append(("peer", self.peer_port, "peer", self.peer_ports, self.peer_check))
            backends.append(
                (
                    "peer_one",
                    self.peer_single_port,
                    "peer_single",
                    self.peer_ports[:1],
                    self.peer_check,
                )
            )
        sections = []
        for frontend, port, backend, ports, check in backends:
            name = "web" if backend.startswith("web") else "peer"
            servers = "\n".join(
                f"    server {name}{i + 1} 127.0.0.1:{p} check inter 3s fall 2 rise 1"
                for i, p in enumerate(ports)
            )
            sections.append(
                f"frontend {frontend}\n    bind 127.0.0.1:{port}\n    default_backend {backend}\n\n"
                f"backend {backend}\n    balance roundrobin\n    option httpchk GET {check}\n"
                f"    http-check expect status 200\n{servers}\n\n"
            )
        return f"""\
global
    maxconn 4096
    stats socket {self.root / "haproxy.sock"} mode 600 level admin

defaults
    mode http
    option forwardfor
    option http-server-close
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    # A refused connection (a process stopped or restarting) is retried, the last time
    # on another server, so the client never sees it.
    retries 2
    option redispatch

{"".join(sections)}
listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /stats
"""

    # ------------------------------------------------------------------ processes

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args,
                env=env or self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                preexec_fn=_die_with_parent,
                # A session of its own, so a process of its own autogroup: with the kernel's
                # autogroup scheduling on (/proc/sys/kernel/sched_autogroup_enabled, the
                # default on desktop and many server kernels) every process of one session
                # shares one CPU share, and three web processes started from the test's
                # session got no more CPU than one (bench/RESULTS.md, "Cluster on one box").
                # Started by an init system, each service has its own anyway.
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def run(self, *args: str, timeout: float = 180) -> str:
        """Run a ``datatrust`` command with the cluster's settings; its output, or
        ``ClusterError`` with it if the command failed."""
        done = subprocess.run(
            [*datatrust_command(), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise ClusterError(
                f"datatrust {' '.join(args)} exited {done.returncode}:\n"
                + (done.stdout + done.stderr)[-4000:]
            )
        return done.stdout

    def start(self, *, demo: bool = True, timeout: float = 600) -> None:
        """Start everything and return once the proxy sends every web process traffic.
        Raises ``ClusterError`` (naming the process and its log) on any failure; call
        ``stop()`` in any case."""
        deadline = time.monotonic() + timeout
        moto_port = free_port()
        self.env["DATATRUST_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
        moto = self.spawn(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        )
        self.run("db", "upgrade")
        self._wait_http(moto, f"http://127.0.0.1:{moto_port}/moto-api/", deadline)
        # The demo seeds while the servers and workers start (the CPUs are the limit).
        seeding = self.spawn("demo", [*datatrust_command(), "demo"]) if demo else None
        for i, port in enumerate(self.web_ports):
            self.spawn(
                f"web{i + 1}",
                [*datatrust_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            )
        for i in range(self.workers):
            self.spawn(
                f"worker{i + 1}", [*datatrust_command(), "worker", "--workers", str(self.threads)]
            )
        for process, port in zip(self.web_processes, self.web_ports, strict=True):
            self._wait_http(process, f"http://127.0.0.1:{port}/health", deadline)
        peers = [p for p in self.processes if p.name.startswith("peer")]  # spawned by the caller
        for process, port in zip(peers, self.peer_ports, strict=True):
            self._wait_http(process, f"http://127.0.0.1:{port}{self.peer_check}", deadline)
        if seeding is not None:
            self._wait_exit(seeding, deadline)
        (self.root / "haproxy.cfg").write_text(self._haproxy_config())
        check = subprocess.run(
            [HAPROXY, "-c", "-q", "-f", str(self.root / "haproxy.cfg")],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise ClusterError(f"haproxy refused its configuration:\n{check.stdout}{check.stderr}")
        proxy = self.spawn("haproxy", [HAPROXY, "-db", "-f", str(self.root / "haproxy.cfg")])
        self._wait_http(proxy, f"{self.url}/health", deadline)
        backends = ("web", "peer") if self.peer_ports else ("web",)
        while not all(
            row["status"] == "UP" for b in backends for row in self.server_stats(b).values()
        ):
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"HAProxy does not see every web process up: {self.server_stats('web')}"
                )
            time.sleep(0.2)
        for process in self.worker_processes:
            self._check_alive(process)

    @property
    def web_processes(self) -> list[Process]:
        return [p for p in self.processes if p.name.startswith("web")]

    @property
    def worker_processes(self) -> list[Process]:
        return [p for p in self.processes if p.name.startswith("worker")]

    def _check_alive(self, *only: Process) -> None:
        for process in only or tuple(p for p in self.processes if p.name != "demo"):
            code = process.popen.poll()
            if code is not None:
                raise ClusterError(f"{process.name} exited with {code}:\n{process.tail()}")

    def _wait_http(self, process: Process, url: str, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            self._check_alive(process)
            if time.monotonic() > deadline:
                raise ClusterError(f"{process.name} did not answer {url}:\n{process.tail()}")
            time.sleep(0.2)

    def _wait_exit(self, process: Process, deadline: float) -> None:
        try:
            code = process.popen.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{process.name} did not finish:\n{process.tail()}") from None
        if code != 0:
            raise ClusterError(f"{process.name} exited with {code}:\n{process.tail()}")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to every process still running (the proxy first, then the web
        processes, workers, moto), then SIGKILL to any still running after ``timeout``."""
        order = sorted(
            self.processes,
            key=lambda p: ("haproxy", "web", "peer", "demo", "worker", "moto").index(
                p.name.rstrip("0123456789")
            ),
        )
        for process in order:
            if process.popen.poll() is None:
                process.popen.terminate()
        deadline = time.monotonic() + timeout
        for process in order:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
        self._forget_queue()

    def _forget_queue(self) -> None:
        """Remove this cluster's queue (and its schedule) from the shared Redis."""
        import redis

        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
            for key in client.scan_iter(match=f"*{self.queue_name}*"):
                client.delete(key)
            client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ observation

    def server_stats(self, backend: str) -> dict[str, dict[str, str]]:
        """HAProxy's statistics for each server of ``backend`` (status, requests…)."""
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5
        ) as r:
            text = r.read().decode()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def requests_per_server(self, backend: str = "web") -> dict[str, int]:
        """HTTP requests each web process of ``backend`` answered (health checks aside)."""
        return {name: int(row["req_tot"] or 0) for name, row in self.server_stats(backend).items()}

    def logs_tail(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail(15)}" for p in self.processes)


def worker_pids(cluster: Cluster) -> set[int]:
    return {p.popen.pid for p in cluster.worker_processes}


@contextlib.contextmanager
def running(cluster: Cluster, **start: object):  # type: ignore[no-untyped-def]
    """``cluster`` started, stopped on leaving however the block ends."""
    try:
        cluster.start(**start)  # type: ignore[arg-type]
        yield cluster
    finally:
        cluster.stop()
