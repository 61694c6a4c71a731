"""Many clients at once on the embedded default: reads beside a writer, an event loop that
database waits cannot block, a write lock that times out as a 503, never a hang.

These run on their own SQLite file (not the shared rolled-back connection), since what
they test is how separate connections to one database file get along."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from datatrust.adapters.db.uow import ReadOnlyViolation
from datatrust.bootstrap import Services, build
from datatrust.cli.instance import server_options
from datatrust.domain.accounts import ApiToken, User
from datatrust.domain.permissions import Role
from datatrust.web.app import create_app
from support import make_persona, make_settings


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Services]:
    """An instance on its own SQLite file, migrated, with a short busy timeout."""
    svc = build(make_settings(tmp_path, db_busy_timeout_seconds=1.0))
    yield svc
    svc.close()


@contextmanager
def write_lock_held(svc: Services) -> Iterator[None]:
    """Another process's writer: a raw connection holding SQLite's write lock."""
    path = svc.settings.effective_database_url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def served(svc: Services) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in a thread; yields its URL."""
    app = create_app(svc, start_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **server_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_read_only_unit_of_work_reads_while_another_connection_writes(embedded):
    person = make_persona(embedded, "reader", Role.CONTRIBUTOR)
    with write_lock_held(embedded), embedded.uow(read_only=True) as uow:
        assert uow.get(User, person.actor.user_id) is not None


def test_a_writer_that_cannot_get_the_lock_in_time_is_reported_as_unavailable(embedded):
    person = make_persona(embedded, "writer", Role.CONTRIBUTOR)
    with write_lock_held(embedded), embedded.uow() as uow, pytest.raises(Exception) as caught:
        uow.get(User, person.actor.user_id)
    assert embedded.is_unavailable(caught.value)


def test_a_read_only_unit_of_work_refuses_to_change_a_row(embedded):
    person = make_persona(embedded, "careful", Role.CONTRIBUTOR)
    with embedded.uow(read_only=True) as uow:
        user = uow.get(User, person.actor.user_id)
        user.display_name = "changed"
        with pytest.raises(ReadOnlyViolation):
            uow.commit()
    with embedded.uow(read_only=True) as uow:
        assert uow.get(User, person.actor.user_id).display_name != "changed"


def test_a_read_only_unit_of_work_still_records_what_it_was_asked_to_audit(embedded):
    with embedded.uow(read_only=True) as uow:
        uow.record("instance:update", "system", "setting", 1, value=1)
        uow.commit()
    with embedded.uow(read_only=True) as uow:
        assert [e.tag for e in uow.audit.events()][-1] == "instance:update"


def test_reading_phase_holds_no_write_lock_and_writes_happen_after_it(embedded):
    person = make_persona(embedded, "job", Role.CONTRIBUTOR)
    with embedded.uow() as uow:
        # The phase reads beside another writer, as a job decoding media does.
        with uow.reading(), write_lock_held(embedded):
            assert uow.get(User, person.actor.user_id) is not None
        fresh = uow.get_for_update(User, person.actor.user_id)
        fresh.display_name = "after"
        uow.commit()
    with embedded.uow(read_only=True) as uow:
        assert uow.get(User, person.actor.user_id).display_name == "after"


def test_reading_phase_refuses_a_change_and_keeps_nothing_of_it(embedded):
    person = make_persona(embedded, "strict", Role.CONTRIBUTOR)
    with embedded.uow() as uow, pytest.raises(ReadOnlyViolation), uow.reading():
        uow.get(User, person.actor.user_id).display_name = "inside"
        uow.flush()
    with embedded.uow(read_only=True) as uow:
        assert uow.get(User, person.actor.user_id).display_name != "inside"


def test_signed_in_reads_are_answered_while_another_connection_holds_the_write_lock(embedded):
    person = make_persona(embedded, "browser", Role.CONTRIBUTOR)
    with TestClient(create_app(embedded, start_worker=False)) as client, write_lock_held(embedded):
        assert client.get("/api/items", headers=person.headers).status_code == 200
        assert client.get("/api/campaigns", headers=person.headers).status_code == 200


def test_a_write_that_cannot_get_the_lock_gets_503_with_retry_after(embedded):
    person = make_persona(embedded, "queued", Role.CONTRIBUTOR)
    with TestClient(create_app(embedded, start_worker=False)) as client, write_lock_held(embedded):
        answer = client.post(
            "/api/tokens", headers=person.headers, json={"name": "x", "scopes": ["item:read"]}
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "unavailable"
    assert int(answer.headers["retry-after"]) > 0


def test_a_request_waiting_for_the_database_does_not_block_other_requests(tmp_path):
    """While one signed-in write waits for the write lock, /health and a signed-in read
    are answered. The lock is released only after they were, so on a blocked event loop
    they would wait until the writer gave up (a 503 after its busy timeout): the writer
    would no longer be waiting, and its answer would not be 201."""
    svc = build(make_settings(tmp_path, db_busy_timeout_seconds=30.0))
    person = make_persona(svc, "patient", Role.CONTRIBUTOR)
    outcome: dict[str, int] = {}
    try:
        with TestClient(create_app(svc, start_worker=False)) as client:
            # Its last use recorded now, the token needs no bookkeeping write below.
            assert client.get("/api/items", headers=person.headers).status_code == 200
            with write_lock_held(svc):

                def write() -> None:
                    answer = client.post(
                        "/api/tokens",
                        headers=person.headers,
                        json={"name": "later", "scopes": ["item:read"]},
                    )
                    outcome["write"] = answer.status_code

                writer = threading.Thread(target=write)
                writer.start()
                writer.join(0.5)  # let it reach the lock
                assert client.get("/health").status_code in (200, 503)
                assert client.get("/api/items", headers=person.headers).status_code == 200
                assert writer.is_alive(), "the write should still be waiting for the lock"
            writer.join(30)
        assert outcome["write"] == 201
    finally:
        svc.close()


def test_a_busy_token_is_written_once_per_interval_not_on_every_request(embedded):
    person = make_persona(embedded, "busy", Role.CONTRIBUTOR)
    with TestClient(create_app(embedded, start_worker=False)) as client:
        client.get("/api/items", headers=person.headers)
        with embedded.uow(read_only=True) as uow:
            first = uow.one(ApiToken, user_id=person.actor.user_id).last_used_at
        assert first is not None
        for _ in range(3):
            client.get("/api/items", headers=person.headers)
        with embedded.uow(read_only=True) as uow:
            assert uow.one(ApiToken, user_id=person.actor.user_id).last_used_at == first


def test_a_slow_tus_patch_holds_no_lock_while_its_body_arrives(embedded):
    """A resumed PATCH's first half arrives, then the client pauses until another write
    has been answered. Holding a transaction across the body (the write lock, on SQLite) would
    make that write wait out its busy timeout and get a 503."""
    import base64

    person = make_persona(embedded, "slow", Role.CONTRIBUTOR)
    body = b"\x00" * 200_000
    tus = {"Tus-Resumable": "1.0.0", **person.headers}
    with served(embedded) as base, httpx.Client(base_url=base, timeout=60) as client:
        meta = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in {"kind": "photo", "filename": "slow.jpg"}.items()
        )
        created = client.post(
            "/files/",
            headers={**tus, "Upload-Length": str(len(body)), "Upload-Metadata": meta},
        )
        assert created.status_code == 201, created.text
        patch_headers = {**tus, "Content-Type": "application/offset+octet-stream"}
        first = client.patch(
            created.headers["location"],
            content=body[:50_000],
            headers={**patch_headers, "Upload-Offset": "0"},
        )
        assert first.status_code == 204, first.text
        other_write_done = threading.Event()
        outcome: dict[str, int] = {}

        def slow_body() -> Iterator[bytes]:
            yield body[50_000:100_000]
            other_write_done.wait(30)
            yield body[100_000:150_000]

        def patch() -> None:
            answer = httpx.patch(
                created.headers["location"],
                content=slow_body(),
                headers={
                    **patch_headers,
                    "Upload-Offset": "50000",
                    "Content-Length": "100000",
                },
                timeout=60,
            )
            outcome["patch"] = answer.status_code

        patcher = threading.Thread(target=patch)
        patcher.start()
        patcher.join(1.0)  # its first bytes are in, the rest is pending
        token = client.post(
            "/api/tokens", headers=person.headers, json={"name": "y", "scopes": ["item:read"]}
        )
        outcome["write"] = token.status_code
        other_write_done.set()
        patcher.join(30)
        assert outcome == {"write": 201, "patch": 204}


def test_more_clients_than_threads_and_connections_are_all_answered(tmp_path):
    """Forty signed-in reads at once on 2 web threads and a pool of 2 connections. A unit
    of work kept open while its response waits for a thread to be validated holds a
    connection the threads are waiting for: the pool times out and the requests get 503s.
    Every connection is back in the pool afterwards."""
    svc = build(
        make_settings(
            tmp_path,
            web_threads=2,
            db_pool_size=2,
            db_max_overflow=0,
            db_pool_timeout_seconds=3.0,
        )
    )
    person = make_persona(svc, "crowd", Role.CONTRIBUTOR)
    try:
        # Forty threads, not an event loop: a browser test's Playwright keeps a loop
        # running in this thread for the whole session (asyncio.run would refuse).
        with (
            served(svc) as base,
            httpx.Client(base_url=base, timeout=60, limits=CROWD) as client,
            ThreadPoolExecutor(len(PATHS) * 10) as pool,
        ):
            answers = pool.map(lambda path: client.get(path, headers=person.headers), PATHS * 10)
            statuses = [a.status_code for a in answers]
        assert statuses == [200] * len(statuses)
        assert svc.engine.pool.checkedout() == 0
    finally:
        svc.close()


CROWD = httpx.Limits(max_connections=40, max_keepalive_connections=40)
PATHS = ("/api/items", "/api/campaigns", "/api/me/statement", "/api/tokens")


def test_health_is_answered_while_every_web_thread_waits(tmp_path):
    """Both web threads wait on the write lock (two signed-in writes). /health runs its
    checks in threads of its own and an anonymous caller needs no thread to be known, so
    a load balancer's probe is answered before the lock is released; queued behind the
    writers it would wait until they gave up (503s) and they would not get their 201s."""
    svc = build(make_settings(tmp_path, web_threads=2, db_busy_timeout_seconds=30.0))
    person = make_persona(svc, "writer", Role.CONTRIBUTOR)
    outcome: list[int] = []
    try:
        with served(svc) as base, httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/api/items", headers=person.headers).status_code == 200
            with write_lock_held(svc):

                def write(name: str) -> None:
                    answer = httpx.post(
                        base + "/api/tokens",
                        timeout=60,
                        headers=person.headers,
                        json={"name": name, "scopes": ["item:read"]},
                    )
                    outcome.append(answer.status_code)

                writers = [threading.Thread(target=write, args=(f"w{i}",)) for i in (1, 2)]
                for writer in writers:
                    writer.start()
                for writer in writers:
                    writer.join(0.5)  # both reach the lock, holding both threads
                assert client.get("/health", timeout=5).status_code in (200, 503)
                assert all(w.is_alive() for w in writers), "the writers should still wait"
            for writer in writers:
                writer.join(30)
        assert outcome == [201, 201]
    finally:
        svc.close()


def test_an_idle_connection_outlives_the_clients_own_keep_alive(tmp_path):
    """httpx keeps an idle connection 5 s, load balancers 60 s. A server that closes it
    first (uvicorn's default is 5 s) races a client reusing it, and the client's request
    fails as a reset: about one request a run at 256 clients. The served options keep it
    open past the client's time."""
    svc = build(make_settings(tmp_path))
    request = b"GET /health HTTP/1.1\r\nHost: datatrust\r\n\r\n"
    try:
        with served(svc) as base, connect(base) as conn:
            conn.sendall(request)
            assert answer(conn).startswith(b"HTTP/1.1 200")
            time.sleep(6)  # past httpx's keep-alive and uvicorn's own default
            conn.sendall(request)
            assert answer(conn).startswith(b"HTTP/1.1 200")
    finally:
        svc.close()


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)))


def answer(conn: socket.socket) -> bytes:
    """One HTTP/1.1 response read off a kept-alive connection (b"" if it was closed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += conn.recv(65536)
    return data
