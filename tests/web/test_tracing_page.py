"""The misuse-tracing page (issue 17 §3): upload a file found outside, see what it matches
and who received it (as far as the reader may know), and open a misuse report from the
result; every word in the reader's language."""

from __future__ import annotations

import re

import pytest
from test_misuse_tracing import delivered  # noqa: F401  (fixture)

import trace_media

FORM_WORDS = {
    "en": ["Trace a copy", "The file you found", "Trace it"],
    "hi": ["कॉपी का पता लगाएँ", "आपको मिली फ़ाइल", "पता लगाएँ"],
    "zu": ["Landelela ikhophi", "Ifayela olithole", "Yilandelele"],
}


def _trace(client, persona, data: bytes, lang: str = "en", name: str = "found.jpg"):
    return client.post(
        f"/trace?lang={lang}",
        headers=persona.headers,
        files={"file": (name, data)},
    )


@pytest.mark.parametrize("persona", ["owner", "buyer", "operator"])
def test_the_form_is_there_for_each_role_in_each_language(client, people, persona):
    for lang, words in FORM_WORDS.items():
        page = client.get(f"/trace?lang={lang}", headers=people[persona].headers)
        assert page.status_code == 200
        assert all(w in page.text for w in words), (persona, lang)
        assert 'href="/trace"' in page.text  # reachable from the menu
        if lang != "en":
            assert "The file you found" not in page.text
    assert client.get("/trace").status_code == 401


def test_the_owner_sees_the_buyer_that_received_a_cropped_copy_and_reports_it(
    client,
    services,
    people,
    delivered,  # noqa: F811
):
    owner, photo = people["owner"], delivered["photo"]
    leaked = trace_media.cropped_copy(delivered["rgb"])
    page = _trace(client, owner, leaked, "hi")
    assert page.status_code == 200, page.text
    text = page.text
    assert f'href="/my/items/{photo.id}"' in text
    assert "Trainer Labs Ltd" in text
    assert f"स्नैपशॉट {delivered['snapshot_id']} (संस्करण 1.0.0)" in text
    assert "तस्वीर के हिस्से मेल खाते हैं" in text  # found by keypoints
    assert "फ़ाइल को एक फ़ोटो के रूप में पढ़ा गया।" in text
    assert "Report misuse" not in text and "इस खरीदार के दुरुपयोग की शिकायत करें" in text
    org_id = re.search(r'name="org_id" value="(\d+)"', text).group(1)
    assert int(org_id) == delivered["org"].id

    sent = client.post(
        f"/my/items/{photo.id}/misuse-reports",
        headers=owner.headers,
        data={"org_id": org_id, "note": "on a stock photo site"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/my/items/{photo.id}/passport"
    assert "legal@trainer.example" in {m["To"] for m in services.mailer.sent()}
    passport = client.get(f"/api/items/{photo.id}/passport", headers=owner.headers).json()
    assert "misuse reported" in [e["step"] for e in passport["events"]]
    # Only the owner, against a buyer that received it.
    other = client.post(
        f"/my/items/{photo.id}/misuse-reports",
        headers=people["other"].headers,
        data={"org_id": org_id},
    )
    assert other.status_code == 404


def test_buyers_see_only_their_own_deliveries_and_no_report_form(
    client,
    people,
    delivered,  # noqa: F811
):
    leaked = trace_media.cropped_copy(delivered["rgb"])
    mine = _trace(client, delivered["trainer"], leaked, "zu")
    assert mine.status_code == 200
    assert "Trainer Labs Ltd" in mine.text and "misuse-reports" not in mine.text
    assert f'href="/my/items/{delivered["photo"].id}"' not in mine.text
    outsider = _trace(client, delivered["outsider"], leaked, "zu")
    assert "Ayifani nanoma yiziphi izinto ongazisesha." in outsider.text
    assert "Trainer Labs Ltd" not in outsider.text


def test_a_trimmed_recording_is_traced_from_the_page_too(
    client,
    people,
    delivered,  # noqa: F811
):
    clip = trace_media.trimmed_copy(delivered["pcm"], start_s=3.0, seconds=6.0, fmt="mp3")
    page = _trace(client, people["owner"], clip, name="clip.mp3")
    assert page.status_code == 200
    assert "The sound matches" in page.text and "Trainer Labs Ltd" in page.text
    assert f'id="match-{delivered["sound"].id}"' in page.text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "This file cannot be read as a photo, a video or a sound."),
        ("hi", "इस फ़ाइल को फ़ोटो, वीडियो या आवाज़ के रूप में नहीं पढ़ा जा सकता।"),
    ],
)
def test_a_file_that_is_no_media_is_refused_in_words(client, people, lang, words):
    page = _trace(client, people["owner"], b"just some text", lang, "notes.txt")
    assert page.status_code == 422
    assert words in page.text
    empty = client.post(f"/trace?lang={lang}", headers=people["owner"].headers, data={})
    assert empty.status_code == 422
