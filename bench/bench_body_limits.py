"""What an anonymous chunked body past the limit costs the server (issue 12 §5).

Starts the app under uvicorn on 127.0.0.1 (embedded SQLite, a temporary data folder) and
sends ``POST /api/items/1/consent`` anonymously as a chunked body of 200 MB, then, as the
peer in the same run, one of 1 MB (within the limit). Reports the answer and how much the
server process's resident memory grew during each.
Run: ``uv run python bench/bench_body_limits.py``
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from datatrust.bootstrap import build
from datatrust.config import Settings
from datatrust.web.app import create_app

MB = 1024 * 1024
PIECE = b" " * 65536


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def send_chunked(port: int, total: int) -> dict[str, object]:
    before, started = rss(), time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            b"POST /api/items/1/consent HTTP/1.1\r\nHost: bench\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        try:
            while sent < total:
                conn.sendall(b"%x\r\n" % len(PIECE) + PIECE + b"\r\n")
                sent += len(PIECE)
            conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        conn.settimeout(30)
        reply = conn.recv(65536)
    return {
        "body_mb": round(total / MB, 2),
        "status": reply.split(b"\r\n")[0].decode(),
        "seconds": round(time.perf_counter() - started, 2),
        "server_rss_growth_mb": round((rss() - before) / MB, 1),
    }


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-body-"))
    settings = Settings(
        dev_mode=True, data_dir=data_dir, queue_backend="immediate", embedded_worker=False
    )
    app = create_app(build(settings), start_worker=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    refused = send_chunked(port, 200 * MB)
    peer = send_chunked(port, 1 * MB - 2 * len(PIECE))
    server.should_exit = True
    print(json.dumps({"refused": refused, "peer_within_limit": peer}))


if __name__ == "__main__":
    main()
