"""Resumable uploads: the official tus client (tuspy) against a real server on a free port,
including an upload cut off halfway and resumed."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import stat
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn
from sqlalchemy import event
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

import ingest_media as media
from datatrust.domain.campaigns import CampaignState
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Problem
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.uploads import ResumableUpload
from datatrust.i18n import render_problem
from datatrust.web.app import create_app
from support import stored_campaign

TUS = {"Tus-Resumable": "1.0.0"}
# Plain requests with a generous time-out: httpx's default 5 s was once too short for a
# refusal on a CI machine at load average 10.
http = httpx.Client(timeout=60.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(services):
    """The app under uvicorn on 127.0.0.1, in a thread; yields its base URL."""
    yield from serve(services)


def serve(services):
    """Serve ``services`` under uvicorn in a thread: yields its base URL, stops after."""
    port = free_port()
    config = uvicorn.Config(
        create_app(services, start_worker=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def meta(kind: str, filename: str, **extra: str) -> dict[str, str]:
    return {"kind": kind, "filename": filename, **extra}


def item_for(services, upload_url: str) -> Item:
    upload_id = urlparse(upload_url).path.rsplit("/", 1)[-1]
    with services.uow() as uow:
        upload = uow.get(ResumableUpload, upload_id)
        assert upload is not None and upload.item_id is not None
        return uow.get(Item, upload.item_id)


def test_the_server_advertises_tus_1_0_and_its_extensions(server):
    response = http.options(f"{server}/files/")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "expiration",
        "checksum",
        "termination",
    }
    assert "sha1" in response.headers["Tus-Checksum-Algorithm"].split(",")
    assert int(response.headers["Tus-Max-Size"]) >= 1024**3


def test_tuspy_uploads_a_photo_that_becomes_a_processed_item(server, services, people):
    owner = people["owner"]
    data = media.photo(seed=40)
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)
    uploader = tus.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=64 * 1024,
        metadata=meta("photo", "me.jpg", title="my street"),
        upload_checksum=True,
    )
    uploader.upload()
    item = item_for(services, uploader.url)
    assert item.size == len(data) and item.original_sha256 == services.storage.cipher.content_id(
        hashlib.sha256(data).hexdigest()
    )
    assert item.status is ItemStatus.ACCEPTED and item.title != "my street"  # sealed at rest
    with services.uow() as uow:
        assert services.storage.open_text(uow, item.owner_id, item.title) == "my street"
    head = http.head(uploader.url, headers={**owner.headers, **TUS})
    assert head.headers["Upload-Offset"] == str(len(data))
    assert head.headers["Datatrust-Item-Id"] == str(item.id)


def test_an_upload_cut_off_halfway_resumes_where_the_server_stopped(server, services, people):
    owner = people["owner"]
    data = media.ambient(seed=41)
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)
    first = tus.uploader(
        file_stream=io.BytesIO(data), chunk_size=256 * 1024, metadata=meta("ambient", "a.wav")
    )
    first.upload_chunk()  # one chunk, then the phone loses its connection

    # A PATCH that dies mid-body: the headers promise the rest, half of it is sent.
    url = urlparse(first.url)
    offset = first.offset
    half = (len(data) - offset) // 2
    with socket.create_connection((url.hostname, url.port)) as raw:
        headers = {
            **owner.headers,
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(len(data) - offset),
        }
        head = f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        raw.sendall(head.encode() + data[offset : offset + half])
        time.sleep(0.3)
    kept = 0
    for _ in range(50):  # the server notices the disconnect and keeps what arrived
        kept = int(http.head(first.url, headers={**owner.headers, **TUS}).headers["Upload-Offset"])
        if kept == offset + half:
            break
        time.sleep(0.05)
    assert kept == offset + half

    # A new client session (after an app restart, say) resumes from the same URL.
    resumed = tus.uploader(file_stream=io.BytesIO(data), url=first.url, chunk_size=256 * 1024)
    assert resumed.offset == kept
    resumed.upload()
    item = item_for(services, first.url)
    assert item.original_sha256 == services.storage.cipher.content_id(
        hashlib.sha256(data).hexdigest()
    )
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]


def test_an_upload_over_the_kinds_limit_is_refused_at_creation(server, people):
    headers = {
        **people["owner"].headers,
        **TUS,
        "Upload-Length": str(41 * 1024 * 1024),
        "Upload-Metadata": "kind "
        + base64.b64encode(b"photo").decode()
        + ",filename "
        + base64.b64encode(b"huge.jpg").decode(),
    }
    response = http.post(f"{server}/files/", headers=headers)
    assert response.status_code == 413
    assert "a photo upload may be at most 40 MB" in response.json()["error"]["message"]


def test_creation_without_kind_or_length_names_each_problem(server, people):
    response = http.post(f"{server}/files/", headers={**people["owner"].headers, **TUS})
    assert response.status_code == 422
    problems = " ".join(response.json()["error"]["details"]["problems"])
    assert "Upload-Length" in problems and "kind" in problems and "filename" in problems


def test_a_chunk_with_a_wrong_checksum_is_refused_and_not_kept(server, people):
    headers = {**people["owner"].headers, **TUS}
    tus = tus_client.TusClient(f"{server}/files/", headers=people["owner"].headers)
    uploader = tus.uploader(file_stream=io.BytesIO(b"x" * 100), metadata=meta("chat", "c.txt"))
    uploader.set_url(uploader.create_url())
    bad = http.patch(
        uploader.url,
        headers={
            **headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(b"y").digest()).decode(),
        },
        content=b"x" * 50,
    )
    assert bad.status_code == 460
    body = bad.json()  # a problem details body like every refusal, with tus's own status
    assert (body["status"], body["title"]) == (460, "Checksum Mismatch")
    assert body["error"]["code"] == "checksum_mismatch"
    assert http.head(uploader.url, headers=headers).headers["Upload-Offset"] == "0"
    wrong_offset = http.patch(
        uploader.url,
        headers={
            **headers,
            "Upload-Offset": "7",
            "Content-Type": "application/offset+octet-stream",
        },
        content=b"x",
    )
    assert wrong_offset.status_code == 409


def test_termination_deletes_the_upload_and_its_bytes(server, services, people):
    owner = people["owner"]
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)
    uploader = tus.uploader(
        file_stream=io.BytesIO(b"a" * 1000), chunk_size=400, metadata=meta("chat", "c.txt")
    )
    uploader.upload_chunk()
    upload_id = urlparse(uploader.url).path.rsplit("/", 1)[-1]
    staged = services.settings.data_dir / "uploads" / f"{upload_id}.part"
    assert staged.stat().st_size > 400  # 400 bytes, sealed (encrypted) as they arrived
    assert stat.S_IMODE(os.stat(staged).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(staged.parent).st_mode) == 0o700
    assert http.delete(uploader.url, headers={**owner.headers, **TUS}).status_code == 204
    assert not staged.exists()
    assert http.head(uploader.url, headers={**owner.headers, **TUS}).status_code == 404


def test_an_expired_upload_is_gone(server, services, people):
    owner = people["owner"]
    created = http.post(
        f"{server}/files/",
        headers={
            **owner.headers,
            **TUS,
            "Upload-Length": "10",
            "Upload-Metadata": "kind "
            + base64.b64encode(b"chat").decode()
            + ",filename "
            + base64.b64encode(b"c.txt").decode(),
        },
    )
    assert created.status_code == 201 and created.headers["Upload-Expires"].endswith("GMT")
    upload_id = created.headers["Location"].rsplit("/", 1)[-1]
    with services.uow() as uow:
        uow.get(ResumableUpload, upload_id).expires_at = utcnow() - timedelta(minutes=1)
        uow.commit()
    head = http.head(created.headers["Location"], headers={**owner.headers, **TUS})
    assert head.status_code == 404


def test_nobody_else_can_resume_or_end_someone_elses_upload(server, people):
    tus = tus_client.TusClient(f"{server}/files/", headers=people["owner"].headers)
    uploader = tus.uploader(file_stream=io.BytesIO(b"a" * 10), metadata=meta("chat", "c.txt"))
    url = uploader.create_url()
    for name in ("other", "buyer", "operator"):
        headers = {**people[name].headers, **TUS}
        assert http.head(url, headers=headers).status_code in (403, 404)
        assert http.delete(url, headers=headers).status_code in (403, 404)
    intruder = tus_client.TusClient(f"{server}/files/", headers=people["other"].headers)
    with pytest.raises(TusCommunicationError):
        intruder.uploader(file_stream=io.BytesIO(b"a" * 10), url=url).upload()


def test_a_request_without_tus_resumable_is_refused(server, people):
    response = http.post(
        f"{server}/files/", headers={**people["owner"].headers, "Upload-Length": "5"}
    )
    assert response.status_code == 412


def test_staged_bytes_are_encrypted_and_still_resume(server, services, people):
    owner = people["owner"]
    marker = b"PLAINTEXT-MARKER-+27825551234-"
    data = marker * 40  # 1200 bytes of a chat export, say
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)
    uploader = tus.uploader(
        file_stream=io.BytesIO(data), chunk_size=500, metadata=meta("chat", "c.txt")
    )
    uploader.upload_chunk()
    uploader.upload_chunk()
    upload_id = urlparse(uploader.url).path.rsplit("/", 1)[-1]
    staged = (services.settings.data_dir / "uploads" / f"{upload_id}.part").read_bytes()
    assert marker not in staged and b"PLAINTEXT" not in staged and len(staged) > 1000
    head = http.head(uploader.url, headers={**owner.headers, **TUS})
    assert head.headers["Upload-Offset"] == "1000"
    resumed = tus.uploader(file_stream=io.BytesIO(data), url=uploader.url, chunk_size=500)
    assert resumed.offset == 1000
    resumed.upload()
    with services.uow() as uow:
        upload = uow.get(ResumableUpload, upload_id)
        item = uow.get(Item, upload.item_id)
    assert item.original_sha256 == services.storage.cipher.content_id(
        hashlib.sha256(data).hexdigest()
    )


def test_a_patch_past_the_upload_length_is_refused_and_keeps_nothing(server, services, people):
    """One declared too long (refused before it is read) and one sent chunked, with no
    length, whose sixteenth 64 KB piece passes the end: neither moves the offset nor
    leaves a byte more in the staged file."""
    headers = {**people["owner"].headers, **TUS}
    tus = tus_client.TusClient(f"{server}/files/", headers=people["owner"].headers)
    length = 1024 * 1024
    uploader = tus.uploader(file_stream=io.BytesIO(b"x" * length), metadata=meta("chat", "c.txt"))
    uploader.set_url(uploader.create_url())
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    first = http.patch(uploader.url, headers={**patch, "Upload-Offset": "0"}, content=b"x" * 1000)
    assert first.status_code == 204
    staged = services.settings.data_dir / "uploads" / f"{urlparse(uploader.url).path[7:]}.part"
    size_before = staged.stat().st_size

    declared = http.patch(
        uploader.url, headers={**patch, "Upload-Offset": "1000"}, content=b"y" * length
    )

    def chunks():
        for _ in range(16):
            yield b"z" * (64 * 1024)

    streamed = http.patch(
        uploader.url, headers={**patch, "Upload-Offset": "1000"}, content=chunks()
    )

    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "too_large"
        assert f"Upload-Length of {length} bytes" in error["message"]
        assert "room for 1047576 more; nothing of it was kept" in error["message"]
    assert http.head(uploader.url, headers=headers).headers["Upload-Offset"] == "1000"
    assert staged.stat().st_size == size_before


@pytest.fixture
def committed(databases, settings):
    """Services over a database of its own whose units of work really commit: two requests
    at once need two connections (the rolled-back test transaction is one), and the
    personas."""
    from datatrust.adapters.db import migrate
    from datatrust.bootstrap import build
    from support import make_settings, personas

    svc = build(
        make_settings(settings.data_dir.parent / "committed", database_url=databases.create()),
        upgrade_embedded=False,
    )
    migrate.upgrade(svc.engine)
    yield svc, personas(svc)
    svc.close()


def test_two_tabs_resuming_one_upload_assemble_it_once_and_the_other_is_told_in_its_language(
    committed, monkeypatch
):
    """One person resumes the same upload in two tabs at once, from the same offset. Tab A
    writes; tab B, sent while A is still writing, is refused (409 ``upload.busy``: another
    tab or device is sending it, in words in the reader's language where a page shows it)
    and keeps nothing. B tries again with the last byte already there
    while the server is still assembling the item from A's upload: refused again, never a
    second assembly. Once the item is made B is told the upload is complete. One item,
    its bytes exactly the file's."""
    from datatrust.services.contributions import uploads

    services, people = committed
    server = next(serve(services))
    owner = people["owner"]
    data = media.ambient(seed=43)
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)
    started = tus.uploader(
        file_stream=io.BytesIO(data), chunk_size=256 * 1024, metadata=meta("ambient", "a.wav")
    )
    started.upload_chunk()
    offset = started.offset
    patch = {**owner.headers, **TUS, "Content-Type": "application/offset+octet-stream"}

    # The item is assembled when the last byte is in; hold that step (before it opens a
    # transaction) until B has asked.
    assembling, b_asked_again = threading.Event(), threading.Event()
    complete = uploads._complete

    def held_complete(*args, **kwargs):
        if not assembling.is_set():
            assembling.set()
            b_asked_again.wait(20)
        return complete(*args, **kwargs)

    monkeypatch.setattr(uploads, "_complete", held_complete)

    b_asked = threading.Event()

    def slowly():
        yield data[offset : offset + 1000]
        b_asked.wait(20)
        yield data[offset + 1000 :]

    answers: dict[str, httpx.Response] = {}

    def tab_a() -> None:
        with httpx.Client(timeout=60.0) as tab:
            answers["a"] = tab.patch(
                started.url, headers={**patch, "Upload-Offset": str(offset)}, content=slowly()
            )

    a = threading.Thread(target=tab_a)
    a.start()
    for _ in range(200):  # A's first piece is in: A is writing
        held = http.head(started.url, headers={**owner.headers, **TUS}).headers["Upload-Offset"]
        if int(held) == offset + 1000:
            break
        time.sleep(0.05)
    assert int(held) == offset + 1000

    busy = http.patch(
        started.url,
        headers={**patch, "Upload-Offset": str(offset)},
        content=data[offset:],
    )
    b_asked.set()
    assert busy.status_code == 409, busy.text
    assert busy.json()["problems"][0]["code"] == "upload.busy"
    assert "another tab or device is sending this upload" in busy.json()["detail"]
    assert "दूसरे टैब" in render_problem(Problem(None, "upload.busy"), "hi")  # another tab

    assert assembling.wait(20), "the server never began to assemble A's upload"
    again = http.patch(
        started.url,
        headers={**patch, "Upload-Offset": str(len(data))},
        content=b"",
    )
    b_asked_again.set()
    a.join(30)
    assert again.status_code == 409, again.text  # never a second assembly
    assert again.json()["problems"][0]["code"] == "upload.busy"
    assert "elinye ithebhu" in render_problem(Problem(None, "upload.busy"), "zu")
    assert answers["a"].status_code == 204, answers["a"].text
    item_id = int(answers["a"].headers["Datatrust-Item-Id"])

    done = http.patch(
        started.url,
        headers={**patch, "Upload-Offset": str(len(data))},
        content=b"",
    )
    assert done.status_code == 409 and done.json()["problems"][0]["code"] == "upload.complete"
    assert render_problem(Problem(None, "upload.complete"), "zu") == "lokhu kulayisha sekuqediwe"

    content_id = services.storage.cipher.content_id(hashlib.sha256(data).hexdigest())
    with services.uow() as uow:
        made = uow.all(Item, owner_id=owner.actor.user_id)
        assert [i.id for i in made if i.original_sha256 == content_id] == [item_id]
        assert len(made) == 1
    assert item_for(services, started.url).status is ItemStatus.ACCEPTED


def test_a_crash_right_after_the_item_is_made_leaves_one_item_when_the_client_resumes(
    server, services, people, monkeypatch
):
    """The server dies just after the transaction that made the item committed (here: the
    commit returns, then the request fails). The client resumes as tus clients do: HEAD
    says every byte is in, and the PATCH at the end with an empty body is told the upload
    is complete; it never assembles a second item from the staged bytes, which are gone
    once the upload is seen complete."""
    from datatrust.adapters.db.uow import SqlUnitOfWork
    from datatrust.services.ports import ROW_INSERTED

    owner = people["owner"]
    data = b"a chat export, line by line\n" * 40
    commit = SqlUnitOfWork.commit
    died: list[str] = []

    def dies_after_the_item(self):  # type: ignore[no-untyped-def]
        made = ROW_INSERTED in self._changed.get(Item, set())
        commit(self)
        if made and not died:
            died.append("after the item's commit")
            raise RuntimeError("the server died")

    monkeypatch.setattr(SqlUnitOfWork, "commit", dies_after_the_item)
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)
    uploader = tus.uploader(file_stream=io.BytesIO(data), metadata=meta("chat", "c.txt"))
    url = uploader.create_url()
    headers = {**owner.headers, **TUS}
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    crashed = http.patch(url, headers={**patch, "Upload-Offset": "0"}, content=data)
    assert crashed.status_code == 500 and died

    head = http.head(url, headers=headers)
    assert head.headers["Upload-Offset"] == str(len(data))
    resumed = http.patch(url, headers={**patch, "Upload-Offset": str(len(data))}, content=b"")
    assert resumed.status_code == 409, resumed.text
    assert resumed.json()["problems"][0]["code"] == "upload.complete"

    content_id = services.storage.cipher.content_id(hashlib.sha256(data).hexdigest())
    with services.uow() as uow:
        made = uow.all(Item, owner_id=owner.actor.user_id)
    assert [i.original_sha256 for i in made] == [content_id]
    assert head.headers["Datatrust-Item-Id"] == str(made[0].id)
    upload_id = urlparse(url).path.rsplit("/", 1)[-1]
    assert not (services.settings.data_dir / "uploads" / f"{upload_id}.part").exists()


def test_the_sweep_deletes_what_a_crash_after_the_item_left_staged_when_the_client_never_returns(
    server, services, people, monkeypatch
):
    """As above, but the client never comes back: the periodic sweep (and every start)
    deletes the made upload's staged bytes, while an upload still in progress keeps its
    own, and so does a staged file whose row is not committed yet."""
    from datatrust.adapters.db.uow import SqlUnitOfWork
    from datatrust.services.ports import ROW_INSERTED

    owner = people["owner"]
    data = b"a chat export, line by line\n" * 40
    commit = SqlUnitOfWork.commit

    def dies_after_the_item(self):  # type: ignore[no-untyped-def]
        made = ROW_INSERTED in self._changed.get(Item, set())
        commit(self)
        if made:
            raise RuntimeError("the server died")

    headers = {**owner.headers, **TUS}
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    tus = tus_client.TusClient(f"{server}/files/", headers=owner.headers)

    def started() -> tuple[str, str]:
        url = tus.uploader(
            file_stream=io.BytesIO(data), metadata=meta("chat", "c.txt")
        ).create_url()
        return url, urlparse(url).path.rsplit("/", 1)[-1]

    in_progress, in_progress_id = started()
    half = len(data) // 2
    sent = http.patch(in_progress, headers={**patch, "Upload-Offset": "0"}, content=data[:half])
    assert sent.status_code == 204
    made, made_id = started()
    monkeypatch.setattr(SqlUnitOfWork, "commit", dies_after_the_item)
    crashed = http.patch(made, headers={**patch, "Upload-Offset": "0"}, content=data)
    assert crashed.status_code == 500
    monkeypatch.setattr(SqlUnitOfWork, "commit", commit)
    staged = services.settings.data_dir / "uploads"
    being_created = staged / "0123456789abcdef0123456789abcdef.part"
    being_created.touch()
    assert (staged / f"{made_id}.part").exists()

    services.sweep_leftovers()
    assert not (staged / f"{made_id}.part").exists()
    assert (staged / f"{in_progress_id}.part").exists() and being_created.exists()
    rest = http.patch(
        in_progress, headers={**patch, "Upload-Offset": str(half)}, content=data[half:]
    )
    assert rest.status_code == 204 and "Datatrust-Item-Id" in rest.headers


def _statement(sql: str) -> str:
    """``VERB table`` of a statement (``SELECT items``, ``UPDATE audit_head``)."""
    words = sql.replace("(", " ").split()
    verb = words[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    after = {"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}[verb]
    table = words[[w.upper() for w in words].index(after) + 1]
    return f"{verb} {'count' if 'count(' in sql else table}"


def test_a_whole_upload_runs_a_known_list_of_statements_and_commits(
    server, services, people, monkeypatch
):
    """A campaign upload as the load mix sends it (creation, then two PATCHes), each
    request's SQL listed. Creation reads the campaign once and makes the staging key; a
    PATCH reads its upload once and writes nothing until the last byte (the expiry moved
    by seconds); the last PATCH reads the contributor's key and the campaign once, and the
    item and the upload's link to it commit together. (Each unit of work's commit is a
    RELEASE of its savepoint in these tests.)"""
    monkeypatch.setattr(services.queue, "dispatch", lambda *_a, **_k: None)  # no processing
    campaign = stored_campaign(
        services, people["buyer"].actor, kind=ItemKind.CHAT, state=CampaignState.OPEN
    )
    owner = people["owner"]
    with services.uow() as uow:  # their key, made by what they stored before
        services.storage.seal_text(uow, owner.actor.uid, "an earlier upload")
        uow.commit()
    headers = {**owner.headers, **TUS}
    assert http.head(f"{server}/files/nothing", headers=headers).status_code == 404  # signed in
    data = b"a chat export, line by line\n" * 40
    connection = services.session_factory.kw["bind"]
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(_statement(statement))

    def run(request):  # type: ignore[no-untyped-def]
        seen.clear()
        event.listen(connection, "before_cursor_execute", count)
        try:
            response = request()
        finally:
            event.remove(connection, "before_cursor_execute", count)
        assert response.status_code in (201, 204), response.text
        return response, [s for s in seen if s != "SAVEPOINT"]

    encoded = {"kind": "chat", "filename": "c.txt", "campaign": str(campaign.id)}
    metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in encoded.items())
    created, creation = run(
        lambda: http.post(
            f"{server}/files/",
            headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": metadata},
        )
    )
    url = created.headers["Location"]
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    half = len(data) // 2
    _, first = run(
        lambda: http.patch(url, headers={**patch, "Upload-Offset": "0"}, content=data[:half])
    )
    done, last = run(
        lambda: http.patch(url, headers={**patch, "Upload-Offset": str(half)}, content=data[half:])
    )
    audit = ["UPDATE audit_head", "INSERT audit_events", "UPDATE audit_head"]
    campaign_check = ["SELECT campaigns", "SELECT count", "SELECT campaign_pay_terms"]
    assert creation == [
        *campaign_check,
        "SELECT resumable_uploads",  # expired uploads, deleted as new ones come
        "SELECT contributor_keys",
        "INSERT resumable_uploads",
        *audit,
        "RELEASE",
    ], creation
    assert first == ["SELECT resumable_uploads", "RELEASE"], first
    assert last == [
        "SELECT resumable_uploads",
        "RELEASE",  # before the body streams
        "SELECT contributor_keys",
        *campaign_check,
        "RELEASE",  # before the item's object is written
        "INSERT items",
        "SELECT task_starts",
        "SELECT outbox",
        "INSERT outbox",
        "SELECT resumable_uploads",
        "UPDATE resumable_uploads",
        *audit,
        "RELEASE",
    ], last
    with services.uow() as uow:
        upload = uow.get(ResumableUpload, url.rsplit("/", 1)[-1])
        assert str(upload.item_id) == done.headers["Datatrust-Item-Id"]


def test_the_expiry_slides_with_progress_once_it_moves_by_a_minute_or_more(
    server, services, people
):
    """A PATCH keeps a slow upload alive: its expiry moves to a whole lifetime from now.
    It is written when that moves it by a minute or more: a PATCH 20 seconds after the
    upload began leaves it as it was (no write, no commit), one two minutes after moves it."""
    headers = {**people["owner"].headers, **TUS}
    created = http.post(
        f"{server}/files/",
        headers={
            **headers,
            "Upload-Length": "100",
            "Upload-Metadata": "kind "
            + base64.b64encode(b"chat").decode()
            + ",filename "
            + base64.b64encode(b"c.txt").decode(),
        },
    )
    url = created.headers["Location"]
    upload_id = url.rsplit("/", 1)[-1]

    def began_earlier(by: timedelta):  # type: ignore[no-untyped-def]
        with services.uow() as uow:
            upload = uow.get(ResumableUpload, upload_id)
            upload.created_at -= by
            upload.expires_at -= by
            uow.commit()
            return upload.created_at, upload.expires_at

    def patch(offset: int) -> datetime:
        sent = http.patch(
            url,
            headers={
                **headers,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
            content=b"x" * 10,
        )
        assert sent.status_code == 204, sent.text
        with services.uow() as uow:
            return uow.get(ResumableUpload, upload_id).expires_at

    _, expires = began_earlier(timedelta(seconds=20))
    assert patch(0) == expires
    began, expires = began_earlier(timedelta(minutes=2))
    slid = patch(10)
    lifetime = expires - began
    assert slid - expires >= timedelta(minutes=1)
    assert abs(slid - (utcnow() + lifetime)) < timedelta(seconds=30)
