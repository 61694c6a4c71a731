"""The contributor's journey without dead ends (issue 18 §4) in Chromium at 360 px, in
Hindi: the task's recording rules are checked in the browser before anything is
uploaded, for a chosen file and for a recording made in the page."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf
from contributor_steps import delete_one_item, search
from test_browser_journeys import PHONE, sign_in, sign_up, unique_email

import ingest_media as media
from datatrust.services.demo import DEMO_PASSWORD, STREET_SOUNDS

pytestmark = pytest.mark.browser
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


def wav(seconds: float) -> bytes:
    noise = media.street_noise(seconds, seed=4).mean(axis=0)
    buf = io.BytesIO()
    sf.write(buf, np.asarray(noise, dtype=np.float32), media.RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def street_task_capture(page) -> None:
    """Priya, in Hindi, on the capture page of the demo's street-sounds task (at least
    5 s, at most 60 s)."""
    sign_in(page, "priya@demo.datatrust", DEMO_PASSWORD)
    page.wait_for_url("**/my/items")
    page.goto("/tasks?lang=hi")
    page.get_by_role("link", name=STREET_SOUNDS["title"]).first.click()
    rules = page.locator("section.rules")
    assert "5 सेकंड से 1 मिनट के बीच" in rules.inner_text()  # shown before recording
    page.locator("form[action$='/accept'] button").click()
    page.wait_for_url("**/capture?offer=*")


def uploads_seen(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/files/" in r.url else None)
    return seen


def test_a_chosen_file_under_the_minimum_is_stopped_in_the_browser_in_hindi(
    browser, live_server, check
):
    context = browser.new_context(viewport=PHONE, base_url=live_server, locale="en-GB")
    page = context.new_page()
    street_task_capture(page)
    seen = uploads_seen(page)
    message = page.locator("#precheck-error")

    page.set_input_files(
        "#f-file", files=[{"name": "short.wav", "mimeType": "audio/wav", "buffer": wav(2.9)}]
    )
    message.wait_for(state="visible")
    text = message.inner_text()
    assert "2.9" in text and "5 सेकंड" in text and DEVANAGARI.search(text)
    assert page.locator("#f-file").get_attribute("aria-invalid") == "true"
    check(page, "capture_precheck_hi")
    page.locator("#upload button[type=submit]").click()
    page.wait_for_timeout(1000)
    assert seen == [] and "/capture" in page.url  # nothing was sent

    page.set_input_files(
        "#f-file", files=[{"name": "photo.heic", "mimeType": "image/heic", "buffer": b"\0" * 64}]
    )
    page.wait_for_function(
        "() => document.getElementById('precheck-error').textContent.includes('.wav')"
    )
    assert DEVANAGARI.search(message.inner_text())

    page.set_input_files(
        "#f-file", files=[{"name": "long-enough.wav", "mimeType": "audio/wav", "buffer": wav(6)}]
    )
    message.wait_for(state="hidden")
    assert page.locator("#f-file").get_attribute("aria-invalid") is None
    context.close()


def test_a_recording_made_in_the_page_under_the_minimum_cannot_be_sent(
    recording_browser, live_server
):
    context = recording_browser.new_context(
        viewport=PHONE, base_url=live_server, locale="en-GB", permissions=["microphone"]
    )
    page = context.new_page()
    street_task_capture(page)
    seen = uploads_seen(page)
    page.locator("#rec-start").click()
    page.wait_for_timeout(1500)
    page.locator("#rec-stop").click()
    message = page.locator("#precheck-error")
    message.wait_for(state="visible")
    assert "5 सेकंड" in message.inner_text()
    assert page.locator("#rec-send").is_disabled()
    assert seen == []
    context.close()


def test_a_contributor_deletes_one_item_after_reading_what_it_does_in_hindi(
    phone, live_server, live_services, check
):
    from datatrust.domain.accounts import User
    from datatrust.services.accounts.accounts import actor_for
    from datatrust.services.contributions import items

    email = unique_email("thandi")
    sign_up(phone, live_services, email)
    phone.wait_for_url("**/my/items")
    with live_services.uow() as unit:
        me = actor_for(unit, unit.one(User, email=email))
        item = items.receive_item(
            unit,
            live_services.storage,
            me,
            kind="ambient",
            filename="corner.ogg",
            content_type="audio/ogg",
            chunks=[media.ambient(seed=9, fmt="opus")],
            title="Street corner",
        )
    phone.goto(f"/my/items/{item.id}?lang=hi")  # the language sticks from here on
    effects = delete_one_item(phone, item.id, lambda name: check(phone, f"{name}_hi"))
    assert DEVANAGARI.search(effects) and "वापस नहीं किया जा सकता" in effects
    assert phone.locator("#deleted-notice").inner_text() == "आइटम मिटा दिया गया।"
    assert "Street corner" not in phone.locator("main").inner_text()


def test_a_visitor_browses_and_searches_tasks_before_signing_up_at_360px(phone, check):
    phone.goto("/tasks?lang=hi")
    assert phone.locator("#sign-up-prompt").is_visible()
    check(phone, "tasks_anonymous_hi")
    search(phone, "काम में शब्द", "Street")
    assert "/tasks?q=Street" in phone.url
    phone.get_by_role("link", name=STREET_SOUNDS["title"]).first.click()
    assert phone.locator("section.rules").is_visible()
    assert phone.locator("#sign-up-prompt").is_visible()
    assert phone.locator("form[action$='/accept']").count() == 0
    check(phone, "task_anonymous_hi")


def test_my_items_filters_and_an_items_next_step_read_at_360px_in_hindi(phone, check):
    sign_in(phone, "priya@demo.datatrust", DEMO_PASSWORD)
    phone.wait_for_url("**/my/items")
    # Listed items only: other journeys on the shared demo withdraw a contributor's first item.
    phone.goto("/my/items?lang=hi&status=listed")
    assert DEVANAGARI.search(phone.locator("#found-count").inner_text())
    check(phone, "my_items_filters_hi")
    phone.locator("main .card h2 a").first.click()
    phone.wait_for_url("**/my/items/*")
    assert DEVANAGARI.search(phone.locator("#next-step").inner_text())
    check(phone, "item_next_step_hi")
