"""The admission limit (``web.admission``): at most N requests worked on at once, the rest
in arrival order, a 503 with Retry-After for one that waits too long, and no slot held
while a body arrives or an answer is read.

The first tests put the limit in front of a small ASGI app whose requests wait until the
test lets them go, under a real uvicorn; the last ones run the service itself. Nothing
here measures time: each step waits for the state it needs (a request inside the app, a
request in the line), with a deadline only so that a broken limit fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from datatrust.bootstrap import build
from datatrust.domain.permissions import Role
from datatrust.web.admission import AdmissionLimit, Slots
from support import make_persona, make_settings

T = TypeVar("T")

DEADLINE_S = 30.0


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition``; fail (rather than hang) if it never comes."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


class Gated:
    """An ASGI app that notes the order requests enter it. ``/hold`` waits until
    ``release`` is set; ``/upload`` echoes how many bytes its body had; ``/download``
    sends its first chunk, then waits for ``release`` before the rest."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release = threading.Event()
        self.upload_begun = threading.Event()

    async def _wait(self) -> None:
        while not self.release.is_set():
            await asyncio.sleep(0.01)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        self.entered.append(path)
        if path == "/hold":
            await self._wait()
        if path == "/upload":
            size, more = 0, True
            while more:
                message = await receive()
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
                self.upload_begun.set()
            await _answer(send, str(size).encode())
            return
        if path == "/download":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first,", "more_body": True})
            await self._wait()
            await send({"type": "http.response.body", "body": b"rest"})
            return
        await _answer(send, path.encode())


async def _answer(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serving(
    limit: int = 1, wait_seconds: float = 4 * DEADLINE_S
) -> Iterator[tuple[str, Gated, Slots]]:
    """The gated app behind the limit, under uvicorn on a free loopback port. A request
    waits for its turn longer than ``until`` waits for anything, unless a test says less."""
    gated = Gated()
    limited = AdmissionLimit(gated, limit=limit, wait_seconds=wait_seconds)
    assert limited.slots is not None
    config = uvicorn.Config(limited, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started, "the server started")
    try:
        yield (
            f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}",
            gated,
            limited.slots,
        )
    finally:
        gated.release.set()
        server.should_exit = True
        thread.join(10)


class Background:
    """Requests sent from threads of their own; ``results`` by name."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.results: dict[str, httpx.Response] = {}
        self.threads: list[threading.Thread] = []

    def send(self, name: str, method: str = "GET", path: str | None = None, **kw: object) -> None:
        def go() -> None:
            self.results[name] = httpx.request(
                method, self.base + (path or f"/{name}"), timeout=DEADLINE_S, **kw
            )

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(DEADLINE_S)


def test_requests_past_the_limit_wait_and_are_admitted_in_arrival_order():
    with serving(limit=1) as (base, app, slots):
        sent = Background(base)
        sent.send("hold")
        until(lambda: app.entered == ["/hold"], "the first request is inside")
        for i, name in enumerate(("a", "b", "c", "d")):
            sent.send(name)
            until(lambda i=i: slots.waiting == i + 1, f"{name} waits in line")
        assert app.entered == ["/hold"], "nobody passes the limit while the slot is held"
        app.release.set()
        sent.join()
    assert app.entered == ["/hold", "/a", "/b", "/c", "/d"]
    assert {name: r.status_code for name, r in sent.results.items()} == dict.fromkeys(
        ("hold", "a", "b", "c", "d"), 200
    )
    assert (slots.in_use, slots.waiting) == (0, 0)


def test_health_and_static_files_are_answered_while_every_slot_is_taken():
    with serving(limit=1) as (base, app, slots):
        sent = Background(base)
        sent.send("hold")
        until(lambda: app.entered == ["/hold"], "the slot is taken")
        sent.send("queued")
        until(lambda: slots.waiting == 1, "a request waits in line")
        assert httpx.get(base + "/health", timeout=DEADLINE_S).status_code == 200
        assert httpx.get(base + "/static/app.css", timeout=DEADLINE_S).status_code == 200
        assert "/queued" not in app.entered and slots.waiting == 1
        app.release.set()
        sent.join()
    assert sent.results["queued"].status_code == 200


def test_a_request_that_waits_too_long_gets_503_with_retry_after_and_never_runs():
    with serving(limit=1, wait_seconds=0.2) as (base, app, slots):
        sent = Background(base)
        sent.send("hold")
        until(lambda: app.entered == ["/hold"], "the slot is taken")
        refused = httpx.post(base + "/late", json={"a": 1}, timeout=DEADLINE_S)
        app.release.set()
        sent.join()
        after = httpx.get(base + "/after", timeout=DEADLINE_S)
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"]["code"] == "unavailable"
    assert [p["code"] for p in refused.json()["problems"]] == ["service.unavailable"]
    assert "/late" not in app.entered
    assert sent.results["hold"].status_code == 200
    assert after.status_code == 200, "the slot came back after the refusal"
    assert (slots.in_use, slots.waiting) == (0, 0)


def test_a_streaming_upload_holds_no_slot_while_its_body_arrives():
    """A chunked upload pauses after its first chunk (a slow client) until another request
    has been answered; with the upload holding the only slot, that request would wait in
    line until its 503."""
    body = bytes(range(256)) * 1024
    resume = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield body[:100_000]
        resume.wait(DEADLINE_S)
        yield body[100_000:]

    with serving(limit=1, wait_seconds=5) as (base, app, slots):
        sent = Background(base)
        sent.send("upload", "POST", content=slow_body())
        until(app.upload_begun.is_set, "the upload is inside, reading its body")
        other = httpx.get(base + "/other", timeout=DEADLINE_S)
        resume.set()
        sent.join()
    assert other.status_code == 200
    assert sent.results["upload"].status_code == 200
    assert sent.results["upload"].text == str(len(body))
    assert (slots.in_use, slots.waiting) == (0, 0)


def test_a_download_holds_no_slot_while_its_answer_is_sent():
    with (
        serving(limit=1, wait_seconds=5) as (base, app, slots),
        httpx.stream("GET", base + "/download", timeout=DEADLINE_S) as download,
    ):
        chunks = download.iter_raw()
        assert next(chunks) == b"first,"
        other = httpx.get(base + "/other", timeout=DEADLINE_S)
        app.release.set()
        rest = b"".join(chunks)
    assert other.status_code == 200
    assert rest == b"rest"
    assert (slots.in_use, slots.waiting) == (0, 0)


def test_a_client_that_leaves_while_waiting_is_dropped_from_the_line_unrun():
    with serving(limit=1) as (base, app, slots):
        sent = Background(base)
        sent.send("hold")
        until(lambda: app.entered == ["/hold"], "the slot is taken")
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(b"GET /left HTTP/1.1\r\nHost: test\r\n\r\n")
            until(lambda: slots.waiting == 1, "the request waits in line")
        until(lambda: slots.waiting == 0, "the request left the line with its client")
        app.release.set()
        sent.join()
        after = httpx.get(base + "/after", timeout=DEADLINE_S)
    assert after.status_code == 200
    assert app.entered == ["/hold", "/after"]


def run_alone(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: a test before this one in the same worker
    (Playwright's synchronous API) can leave an event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_turn_given_up_passes_the_slot_to_the_next_in_line():
    async def scenario() -> list[str]:
        slots = Slots(1)
        order: list[str] = []
        assert await slots.take()

        async def wait(name: str) -> None:
            if await slots.take():
                order.append(name)

        quitter = asyncio.create_task(wait("quitter"))
        patient = asyncio.create_task(wait("patient"))
        await asyncio.sleep(0)
        assert slots.waiting == 2
        quitter.cancel()
        slots.give()  # handed to the quitter's place in line, which is gone
        await patient
        assert slots.in_use == 1 and slots.waiting == 0
        slots.give()
        assert slots.in_use == 0
        return order

    assert run_alone(scenario()) == ["patient"]


def test_a_returning_holder_goes_ahead_of_new_arrivals():
    async def scenario() -> list[str]:
        slots = Slots(1)
        order: list[str] = []
        assert await slots.take()

        async def wait(name: str, first: bool) -> None:
            await slots.take(first=first)
            order.append(name)
            slots.give()

        newcomer = asyncio.create_task(wait("newcomer", False))
        await asyncio.sleep(0)
        uploader = asyncio.create_task(wait("uploader, body arrived", True))
        await asyncio.sleep(0)
        slots.give()
        await asyncio.gather(newcomer, uploader)
        return order

    assert run_alone(scenario()) == ["uploader, body arrived", "newcomer"]


# --- the service itself ----------------------------------------------------------------


@contextmanager
def served_service(tmp_path: Path, **settings: object) -> Iterator[tuple[str, object]]:
    from datatrust.cli.instance import server_options
    from datatrust.web.app import create_app

    svc = build(make_settings(tmp_path, **settings))
    app = create_app(svc, start_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **server_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started, "the service started")
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", svc
    finally:
        server.should_exit = True
        thread.join(10)
        svc.close()


def test_the_service_answers_while_a_slow_tus_patch_is_its_only_active_request(tmp_path):
    """One active request at a time: a resumed PATCH whose body pauses halfway must not keep
    a signed-in read (or /health) out until the read's 503."""
    with served_service(tmp_path, web_active_requests=1, web_queue_seconds=5) as (base, svc):
        person = make_persona(svc, "slow", Role.CONTRIBUTOR)  # type: ignore[arg-type]
        body = b"\x00" * 200_000
        tus = {"Tus-Resumable": "1.0.0", **person.headers}
        meta = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in {"kind": "photo", "filename": "slow.jpg"}.items()
        )
        with httpx.Client(base_url=base, timeout=DEADLINE_S) as client:
            created = client.post(
                "/files/",
                headers={**tus, "Upload-Length": str(len(body)), "Upload-Metadata": meta},
            )
            assert created.status_code == 201, created.text
            location = created.headers["location"]
            read_done = threading.Event()

            def slow_body() -> Iterator[bytes]:
                yield body[:100_000]
                read_done.wait(DEADLINE_S)
                yield body[100_000:]

            sent = Background(base)
            sent.send(
                "patch",
                "PATCH",
                location.removeprefix(base),
                content=slow_body(),
                headers={
                    **tus,
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": "0",
                    "Content-Length": str(len(body)),
                },
            )

            staged = svc.settings.data_dir / "uploads"  # type: ignore[attr-defined]

            def first_bytes_staged() -> bool:
                return any(p.stat().st_size > 0 for p in staged.iterdir() if p.is_file())

            until(lambda: first_bytes_staged() or "patch" in sent.results, "the first bytes")
            assert "patch" not in sent.results, "the PATCH should wait for the rest of its body"
            items = client.get("/api/items", headers=person.headers)
            health = client.get("/health")
            read_done.set()
            sent.join()
            final = client.head(location, headers=tus)
    assert items.status_code == 200, items.text
    assert health.status_code == 200
    assert sent.results["patch"].status_code == 204, sent.results["patch"].text
    assert final.headers["upload-offset"] == str(len(body))


def test_the_service_turns_away_a_request_that_waits_past_its_time(tmp_path):
    """The one active request is a write waiting for SQLite's write lock (held by another
    connection); a read queued behind it past ``web_queue_seconds`` gets the 503."""
    import sqlite3

    with served_service(
        tmp_path, web_active_requests=1, web_queue_seconds=0.3, db_busy_timeout_seconds=30.0
    ) as (base, svc):
        person = make_persona(svc, "queued", Role.CONTRIBUTOR)  # type: ignore[arg-type]
        path = svc.settings.effective_database_url.split("///", 1)[1]  # type: ignore[attr-defined]
        with httpx.Client(base_url=base, timeout=DEADLINE_S) as client:
            assert client.get("/api/items", headers=person.headers).status_code == 200
            other = sqlite3.connect(path, isolation_level=None, timeout=0)
            other.execute("BEGIN IMMEDIATE")
            try:
                sent = Background(base)
                sent.send(
                    "write",
                    "POST",
                    "/api/tokens",
                    headers=person.headers,
                    json={"name": "w", "scopes": ["item:read"]},
                )
                until(lambda: svc.engine.pool.checkedout() > 0, "the write waits for the lock")  # type: ignore[attr-defined]
                refused = client.get("/api/items", headers=person.headers)
                health = client.get("/health")
            finally:
                other.execute("ROLLBACK")
                other.close()
            sent.join()
            after = client.get("/api/items", headers=person.headers)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers.get("x-request-id"), "the refusal is logged with its request id"
    assert health.status_code == 200
    assert sent.results["write"].status_code == 201
    assert after.status_code == 200


def test_up_to_the_limit_requests_are_worked_on_side_by_side():
    with serving(limit=2) as (base, app, slots):
        sent = Background(base)
        sent.send("hold")
        until(lambda: app.entered == ["/hold"], "one inside")
        assert httpx.get(base + "/beside", timeout=DEADLINE_S).status_code == 200
        assert slots.waiting == 0
        app.release.set()
        sent.join()
    assert app.entered == ["/hold", "/beside"]
