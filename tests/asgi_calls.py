"""Calling the app as ASGI with a body made on demand, piece by piece, so that a test sees
exactly how much of the body the server pulled in before it answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

PIECE = 64 * 1024


def call(
    app, method: str, path: str, headers: dict[str, str], pieces: Iterator[bytes], query: str = ""
):
    """(status, JSON body or text, bytes of the request body the app pulled in)."""
    pulled = 0
    pending = iter(pieces)
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        piece = next(pending, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(piece)
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    # In a thread of its own: a browser test's Playwright keeps an event loop running in
    # this thread for the whole session, and asyncio.run refuses to start inside one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    try:
        return status, json.loads(body), pulled
    except ValueError:
        return status, body.decode(errors="replace"), pulled


def pieces(total: int) -> Iterator[bytes]:
    for start in range(0, total, PIECE):
        yield b" " * min(PIECE, total - start)


BOUNDARY = "datatrust-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(
    fields: dict[str, str], filename: str, file_size: int, after: dict[str, str] | None = None
) -> tuple[int, Iterator[bytes]]:
    """A multipart body of ``fields``, one file of ``file_size`` bytes, then the fields
    ``after`` it, made piece by piece: (its length, its pieces)."""

    def parts(values: dict[str, str]) -> bytes:
        return b"".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in values.items()
        )

    head = (
        parts(fields)
        + (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
    )
    tail = b"\r\n" + parts(after or {}) + f"--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from pieces(file_size)
        yield tail

    return len(head) + file_size + len(tail), body()
