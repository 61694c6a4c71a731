"""Uploads through tus-js-client (the vendored copy record.js drives) in Chromium: a tab closed
mid-upload resumes from the server's offset when the same file is chosen again, every chunk
carries a SHA-1 checksum the server verifies, and a damaged chunk is refused (460) and sent
again, so the stored item is byte-identical to the file."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from test_browser_journeys import sign_up, unique_email

pytestmark = pytest.mark.browser
CHUNK = 256 * 1024  # record.js's chunk size
KEPT = "() => Object.keys(localStorage).filter(k => k.startsWith('tus::'))"  # tus-js-client's


def _clip(tmp_path: Path, seed: int) -> Path:
    """Eight seconds of street noise as WAV (about 1.5 MB: several chunks), unlike any
    other test's clip so the duplicate check lets it through."""
    import ingest_media as media

    clip = tmp_path / f"street-{seed}.wav"
    clip.write_bytes(media.ambient(seed=seed, fmt="wav"))
    assert clip.stat().st_size > 3 * CHUNK
    return clip


def _to_capture(phone, live_services, open_task, name: str) -> str:
    sign_up(phone, live_services, unique_email(name))
    phone.wait_for_url("**/my/items")
    phone.goto(f"/tasks/{open_task['id']}")
    phone.get_by_role("button", name="Accept and start").click()
    phone.wait_for_url("**/capture?offer=*")
    return phone.url


def _choose_and_send(page, clip: Path) -> None:
    page.get_by_label("Choose a file or take one now").set_input_files(str(clip))
    page.locator("#upload button[type=submit]").click()


def _stored_original(page, live_server: str) -> bytes:
    item = page.url.split("/my/items/")[1].split("?")[0].split("/")[0]
    response = page.request.get(f"{live_server}/api/items/{item}/original")
    assert response.ok, response.status
    return response.body()


def test_a_tab_closed_mid_upload_resumes_where_the_server_stopped(
    browser, live_server, open_task, tmp_path, live_services
):
    """The first chunk arrives, then the connection goes and the tab is closed. A new tab
    (same browser profile) picks the same file: tus-js-client finds the upload's address it
    kept in localStorage, asks the server for the offset (HEAD) and sends only the rest."""
    clip = _clip(tmp_path, seed=41)
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server)
    first = context.new_page()
    capture = _to_capture(first, live_services, open_task, "thandi")
    patches: list[tuple[str, int]] = []

    def one_chunk_then_offline(route):
        request = route.request
        if request.method == "PATCH":
            patches.append((request.headers["upload-offset"], len(request.post_data_buffer)))
            if len(patches) > 1:
                route.abort("internetdisconnected")
                return
        route.continue_()

    first.route("**/files/**", one_chunk_then_offline)
    with first.expect_response(
        lambda r: r.request.method == "PATCH" and r.status == 204
    ) as answered:
        _choose_and_send(first, clip)
    assert answered.value.headers["upload-offset"] == str(CHUNK)
    first.wait_for_function("() => document.getElementById('progress').value >= 17")
    assert len(first.evaluate(KEPT)) == 1  # the upload's address, kept for resuming
    first.close()  # mid-upload: the tab is gone

    second = context.new_page()
    seen: list[str] = []
    second.on("request", lambda r: seen.append(f"{r.method} {r.headers.get('upload-offset')}"))
    second.goto(capture)
    with second.expect_response(lambda r: r.request.method == "HEAD") as head:
        _choose_and_send(second, clip)
    # Where the server stopped: the first chunk, or the second when the closing tab let a
    # request still waiting for the test's network handler through (a race of page.close).
    resumed = int(head.value.headers["upload-offset"])
    assert resumed in (CHUNK, 2 * CHUNK) and resumed < clip.stat().st_size
    second.wait_for_url("**/my/items/*", timeout=60_000)
    assert not [s for s in seen if s.startswith("POST /files")]  # no second upload created
    assert f"PATCH {resumed}" in seen and "PATCH 0" not in seen
    assert patches[0] == ("0", CHUNK)
    assert _stored_original(second, live_server) == clip.read_bytes()
    assert second.evaluate(KEPT) == []  # forgotten once done
    context.close()


def test_every_chunk_carries_a_checksum_and_a_damaged_one_is_refused_and_resent(
    phone, live_server, open_task, tmp_path, live_services
):
    """One byte of the second chunk is flipped on the way (its checksum still names the
    bytes the browser sent): the server answers 460 and keeps nothing of it, tus-js-client
    asks for the offset and sends the chunk again, and the item is the file, byte for byte."""
    clip = _clip(tmp_path, seed=43)
    data = clip.read_bytes()
    _to_capture(phone, live_services, open_task, "zanele")
    answers: list[tuple[str, int]] = []
    checksums: list[tuple[str, str]] = []
    damaged: list[bool] = []

    def damage_second_chunk(route):
        request = route.request
        if request.method != "PATCH":
            route.continue_()
            return
        body = request.post_data_buffer
        offset = int(request.headers["upload-offset"])
        checksums.append((request.headers["upload-checksum"], request.headers["upload-offset"]))
        expected = base64.b64encode(hashlib.sha1(data[offset : offset + len(body)]).digest())
        assert request.headers["upload-checksum"] == "sha1 " + expected.decode()
        if offset == CHUNK and not damaged:
            damaged.append(True)
            broken = bytearray(body)
            broken[10] ^= 0xFF
            route.continue_(post_data=bytes(broken))
            return
        route.continue_()

    phone.on(
        "response",
        lambda r: (
            r.request.method == "PATCH"
            and answers.append((r.request.headers["upload-offset"], r.status))
        ),
    )
    phone.route("**/files/**", damage_second_chunk)
    _choose_and_send(phone, clip)
    phone.wait_for_url("**/my/items/*", timeout=60_000)
    assert damaged
    assert (str(CHUNK), 460) in answers  # refused: the bytes do not match their checksum
    assert answers.count((str(CHUNK), 204)) == 1  # sent again, kept once
    assert {offset for _, offset in checksums} == {str(o) for o in range(0, len(data), CHUNK)}
    assert _stored_original(phone, live_server) == data
