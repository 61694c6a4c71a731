"""Database faults on PostgreSQL: an outage answers 503 with Retry-After and the instance
recovers without a restart; a connection the server kills mid-request ends that request
cleanly and the next one is served.

The instance reaches PostgreSQL through a TCP relay on loopback that the test can cut
(every connection dropped, new ones refused) and restore, which is what an outage or a
failover looks like from the service's side."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.bootstrap import Services, build
from datatrust.domain.permissions import Role
from datatrust.web.app import create_app
from support import (
    PG_ADMIN_URL,
    FreshDatabase,
    make_persona,
    make_settings,
    postgres_reachable,
    require_service,
)

pytestmark = pytest.mark.postgres


def _shut(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)


class Relay:
    """Forwards loopback connections to PostgreSQL until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.up = True
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(src)
            _shut(dst)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                _shut(s)
                s.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[tuple[Services, Relay, str]]:
    require_service("PostgreSQL", postgres_reachable())
    databases = FreshDatabase(tmp_path)
    url = databases.create("postgres")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    name = url.rsplit("/", 1)[1]
    relay = Relay(("127.0.0.1", 5432))
    relayed_url = f"postgresql://postgres@127.0.0.1:{relay.port}/{name}"
    svc = build(
        make_settings(tmp_path, database_url=relayed_url, db_pool_timeout_seconds=2.0),
        upgrade_embedded=False,
    )
    try:
        yield svc, relay, name
    finally:
        svc.close()
        relay.close()
        databases.drop_all()


def test_an_outage_answers_503_with_retry_after_and_recovers_without_a_restart(relayed):
    svc, relay, _ = relayed
    person = make_persona(svc, "steady", Role.CONTRIBUTOR)
    with TestClient(create_app(svc, start_worker=False)) as client:
        assert client.get("/api/items", headers=person.headers).status_code == 200
        relay.cut()
        for path in ("/api/items", "/api/campaigns"):
            down = client.get(path, headers=person.headers)
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "unavailable"
            assert int(down.headers["retry-after"]) > 0
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["database"].startswith("error")
        relay.restore()
        assert client.get("/api/items", headers=person.headers).status_code == 200
        assert client.get("/health").json()["checks"]["database"] == "ok"


def test_a_connection_killed_by_the_server_ends_its_request_cleanly(relayed):
    svc, _, name = relayed
    person = make_persona(svc, "killed", Role.CONTRIBUTOR)
    admin = make_engine(PG_ADMIN_URL)
    with TestClient(create_app(svc, start_worker=False)) as client:
        assert client.get("/api/items", headers=person.headers).status_code == 200
        # Every connection the instance holds is terminated by the server, as a
        # restart or an operator's pg_terminate_backend would.
        with admin.connect() as c:
            c.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            c.commit()
        answers = [client.get("/api/items", headers=person.headers) for _ in range(3)]
    admin.dispose()
    # Each answer is a whole HTTP response: served (a fresh connection) or a clean 503.
    assert all(a.status_code in (200, 503) for a in answers), [a.text for a in answers]
    assert answers[-1].status_code == 200
