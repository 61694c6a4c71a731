"""One upload resumed in two tabs at once, in Chromium: the second tab is refused (409
``upload.busy``) while the first is still sending. It said "Connection lost, trying
again…" and kept asking; it now says, in the page's language, that another tab or device
is sending the upload, and stops. The first tab's upload completes."""

from __future__ import annotations

import threading

import pytest
from test_browser_uploads import _clip, _to_capture

from datatrust.domain.errors import Problem
from datatrust.i18n import render_problem, translator

pytestmark = pytest.mark.browser


def test_a_second_tab_resuming_an_upload_the_first_is_sending_is_told_so_and_stops(
    phone, open_task, live_services, tmp_path, monkeypatch
):
    """Tab A sends a file; the server is held while it writes A's first chunk (the staged
    file locked, as for any PATCH in flight). Tab B of the same browser, in Hindi, chooses
    the same file: tus-js-client resumes A's upload (its address kept in localStorage),
    and the server answers B's PATCH 409 ``upload.busy``. B shows the server's sentence for
    that code in Hindi and sends nothing more; once A is let go, A's upload completes."""
    from datatrust.services.contributions import uploads

    clip = _clip(tmp_path, seed=61)
    capture = _to_capture(phone, live_services, open_task, "zanele")
    writing, go_on = threading.Event(), threading.Event()
    seal = uploads.seal_record

    def held_seal(*args, **kwargs):
        if not writing.is_set():  # A's first chunk: hold it, the file locked
            writing.set()
            go_on.wait(60)
        return seal(*args, **kwargs)

    monkeypatch.setattr(uploads, "seal_record", held_seal)
    b_patches: list[int] = []
    try:
        phone.get_by_label("Choose a file or take one now").set_input_files(str(clip))
        phone.locator("#upload button[type=submit]").click()
        assert writing.wait(30), "tab A's PATCH never reached the server"

        second = phone.context.new_page()
        second.on(
            "response",
            lambda r: b_patches.append(r.status) if r.request.method == "PATCH" else None,
        )
        second.goto(capture + "&lang=hi")
        second.locator("#upload input[type=file]").set_input_files(str(clip))
        second.locator("#upload button[type=submit]").click()
        said = render_problem(Problem(None, "upload.busy"), "hi")
        second.wait_for_function(
            "said => document.getElementById('progress-text').textContent === said",
            arg=said,
            timeout=15_000,
        )
        # Stopped: no second try (record.js's first retries come after 0 s and 1 s).
        second.wait_for_timeout(3_000)
        assert b_patches == [409]
        shown = second.locator("#progress-text").inner_text()
        assert shown == said
        assert translator("hi").gettext("Connection lost, trying again…") != shown
    finally:
        go_on.set()
    phone.wait_for_url("**/my/items/*", timeout=60_000)  # A's upload completed
    assert phone.locator("#file-size").get_attribute("value") == str(clip.stat().st_size)
    assert b_patches == [409] and "/capture" in second.url
