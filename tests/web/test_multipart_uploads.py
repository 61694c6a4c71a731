"""The plain multipart uploads (the pages' fallback without JavaScript, and the API's):
files up to their kind's limit stream to storage, past the 1 MB limit every other route
keeps; over the kind's limit is a 413 naming it, shown next to the file field."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

import ingest_media as media
from datatrust.services import upload_limits
from datatrust.web.app import MULTIPART_OVERHEAD, body_limit
from support import fund_and_open

MB = 1024 * 1024
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def big_photo(at_least: int = 3 * MB) -> bytes:
    """A real photo (a face, so it is processed like any other) over ``at_least`` bytes."""
    rng = np.random.default_rng(1)
    face = np.asarray(media.astronaut().resize((2400, 2400)))
    grain = rng.integers(-12, 12, size=face.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(face + grain, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=97)
    assert len(buf.getvalue()) > at_least
    return buf.getvalue()


@pytest.fixture
def photo_task(client, people):
    """A signed-in contributor's capture page for an open photo campaign: (url, form)."""
    operator = people["operator"]
    created = client.post(
        "/api/campaigns",
        headers=operator.headers,
        json={
            "title": "Street portraits",
            "kind": "photo",
            "rate_minor": 50,
            "currency": "USD",
            "quota": 10,
            "pay_basis": "per_item",
            "expected_minutes_per_item": 1,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    opened = fund_and_open(client, operator.headers, campaign_id)
    assert opened.status_code == 200, opened.text
    signed_up = client.post(
        "/sign-up", data={"email": "thandi@example.org", "password": "correct horse battery"}
    )
    assert signed_up.status_code == 200
    task = client.get(f"/tasks/{campaign_id}")
    accepted = client.post(
        f"/tasks/{campaign_id}/accept",
        data={"csrf_token": CSRF.search(task.text).group(1)},
        follow_redirects=False,
    )
    assert accepted.status_code == 303, accepted.text
    capture = client.get(accepted.headers["location"])
    return f"/tasks/{campaign_id}/upload", {"csrf_token": CSRF.search(capture.text).group(1)}


def test_a_3_mb_photo_uploads_through_the_page_without_javascript(client, photo_task):
    url, form = photo_task
    data = big_photo()
    response = client.post(
        url,
        data={**form, "title": "Corner shop"},
        files={"file": ("shop.jpg", data, "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    item_id = response.headers["location"].rsplit("/", 1)[1]
    item = client.get(f"/api/items/{item_id}").json()
    assert item["size"] == len(data) and item["title"] == "Corner shop"


def test_a_photo_over_its_kinds_limit_is_a_413_next_to_the_field(client, photo_task):
    url, form = photo_task
    limit = upload_limits.max_bytes(upload_limits.ItemKind.PHOTO)
    response = client.post(
        url,
        data={**form, "title": "Kept"},
        files={"file": ("huge.jpg", b"\xff" * (limit + 1), "image/jpeg")},
    )
    assert response.status_code == 413
    assert "a photo upload may be at most 40 MB" in response.text
    # Next to the field (the error the file input is described by), what was typed kept.
    assert re.search(
        r'<p class="error" id="e-file-1">a photo upload may be at most 40 MB; this one is 40 MB'
        r'</p>\s*<input id="f-file" name="file" type="file"[^>]*aria-describedby="e-file-1"',
        response.text,
    )
    assert 'value="Kept"' in response.text
    assert client.get("/api/items").json() == []  # nothing was kept


def test_the_api_takes_3_mb_and_refuses_over_the_limit_naming_it(client, people):
    owner = people["owner"]
    data = big_photo()
    created = client.post(
        "/api/items",
        headers=owner.headers,
        data={"kind": "photo"},
        files={"file": ("shop.jpg", data, "image/jpeg")},
    )
    assert created.status_code == 201, created.text
    assert created.json()["size"] == len(data)
    chat_limit = upload_limits.max_bytes(upload_limits.ItemKind.CHAT)
    refused = client.post(
        "/api/items",
        headers=owner.headers,
        data={"kind": "chat"},
        files={"file": ("chat.txt", b"a" * (chat_limit + 1), "text/plain")},
    )
    assert refused.status_code == 413
    assert refused.json()["error"]["message"] == (
        "a chat upload may be at most 50 MB; this one is 50 MB"
    )


def test_every_other_route_keeps_the_1_mb_limit(client, photo_task):
    url, form = photo_task
    accept_url = url.replace("/upload", "/accept")
    response = client.post(accept_url, data={**form, "padding": "x" * (3 * MB)})
    assert response.status_code == 413
    assert body_limit("/api/campaigns", 1_000_000) == 1_000_000
    assert body_limit(url, 1_000_000) == upload_limits.max_size() + MULTIPART_OVERHEAD
    assert body_limit("/tasks/3/upload/extra", 1_000_000) == 1_000_000
    assert body_limit("/files/abc", 1_000_000) is None


def test_bytes_past_the_limit_are_refused_while_streaming_when_no_size_was_declared(
    services, people
):
    from datatrust.domain.items import Item
    from datatrust.services import items

    limit = upload_limits.max_bytes(upload_limits.ItemKind.CHAT)
    chunks = (b"a" * MB for _ in range(limit // MB + 1))
    too_large = pytest.raises(upload_limits.UploadTooLarge, match="this one is larger")
    with too_large, services.uow() as uow:
        items.receive_item(
            uow,
            services.storage,
            people["owner"].actor,
            kind="chat",
            filename="chat.txt",
            content_type="text/plain",
            chunks=chunks,
        )
    with services.uow() as uow:
        assert uow.all(Item, owner_id=people["owner"].actor.user_id) == []
