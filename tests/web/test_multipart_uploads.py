"""The plain multipart uploads (the pages' fallback without JavaScript, and the API's):
files up to their kind's limit stream to storage, past the 1 MB limit every other route
keeps; over the kind's limit is a 413 naming it, shown next to the file field in the
page's language, before the body is read when its declared length is already over, and
as soon as the file passes the limit when it streams in."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

import ingest_media as media
from asgi_calls import MULTIPART, PIECE, call, multipart
from datatrust.domain.items import ItemKind
from datatrust.services.contributions import upload_limits
from datatrust.web.app import create_app
from support import fund_and_open, sign_up_page

MB = 1024 * 1024
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ACTION = re.compile(r'<form id="upload" method="post" action="([^"]+)"')


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
def photo_task(client, services, people):
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
    signed_up = sign_up_page(client, services, "thandi@example.org")
    assert signed_up.status_code == 303
    task = client.get(f"/tasks/{campaign_id}")
    accepted = client.post(
        f"/tasks/{campaign_id}/accept",
        data={"csrf_token": CSRF.search(task.text).group(1)},
        follow_redirects=False,
    )
    assert accepted.status_code == 303, accepted.text
    capture = client.get(accepted.headers["location"])
    url = ACTION.search(capture.text).group(1)
    assert re.fullmatch(rf"/tasks/{campaign_id}/upload\?offer=\d+", url)
    return url, {"csrf_token": CSRF.search(capture.text).group(1)}


def stored_files(services) -> list[str]:
    return sorted(str(p) for p in services.store.root.rglob("*") if p.is_file())


@pytest.fixture
def small_photo_limit(monkeypatch):
    """Photos limited to 1 MB (other kinds keep theirs, so the middleware's limit, the
    largest of any kind, stays 2 GiB)."""
    real = upload_limits.max_bytes
    monkeypatch.setattr(
        upload_limits, "max_bytes", lambda kind: MB if kind is ItemKind.PHOTO else real(kind)
    )
    assert upload_limits.multipart_body_limit() > 2 * 1024 * MB
    return MB


def declaring(client, url, length, **request):
    """A POST whose Content-Length header says ``length``, whatever its body holds."""
    built = client.build_request("POST", url, **request)
    built.headers["content-length"] = str(length)
    return client.send(built, follow_redirects=False)


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
    # Refused as the file passed the limit, so its size is not known: the sentence says
    # so, next to the field (the error the file input is described by), what was typed kept.
    assert re.search(
        r'<p class="error" id="e-file-1">This file is too large; a file for this task '
        r'\(Photo\) may be at most 40 MB.</p>\s*<input id="f-file" name="file" type="file"'
        r'[^>]*aria-describedby="e-file-1"',
        response.text,
    )
    assert 'value="Kept"' in response.text
    assert client.get("/api/items").json() == []  # nothing was kept


def test_a_declared_length_over_the_kinds_limit_is_refused_before_the_body_is_read(
    client, services, photo_task
):
    """1.9 GB declared to a photo task (40 MB): under the middleware's 2 GiB, so only the
    route can refuse it. The body sent is a small photo with its CSRF token, which would
    have been stored had the body been read."""
    url, form = photo_task
    files_before = stored_files(services)
    response = declaring(
        client,
        url,
        1_900_000_000,
        data={**form, "title": "Tiny"},
        files={"file": ("tiny.jpg", media.photo(), "image/jpeg")},
    )
    assert response.status_code == 413
    assert re.search(
        r'<p class="error" id="e-file-1">This file is 1,812 MB; a file for this task '
        r"\(Photo\) may be at most 40 MB.</p>",
        response.text,
    )
    offer = url.rsplit("=", 1)[1]
    assert f'name="offer_id" value="{offer}"' in response.text  # the task stays accepted
    assert client.get("/api/items").json() == []
    assert stored_files(services) == files_before


@pytest.mark.parametrize(
    "lang, sentence",
    [
        (
            "hi",
            "यह फ़ाइल 2 MB की है; इस काम (फ़ोटो) के लिए फ़ाइल ज़्यादा से ज़्यादा 1 MB की हो सकती है।",
        ),
        (
            "zu",
            "Leli fayela lingu-2 MB; ifayela lalo msebenzi (Isithombe) lingaba kuze kufike "
            "ku-1 MB.",
        ),
    ],
)
def test_the_413_reads_in_the_pages_language(client, photo_task, small_photo_limit, lang, sentence):
    url, form = photo_task
    response = client.post(
        f"{url}&lang={lang}",
        data=form,
        files={"file": ("big.jpg", b"\xff" * (2 * MB), "image/jpeg")},
    )
    assert response.status_code == 413
    assert f'<p class="error" id="e-file-1">{sentence}</p>' in response.text
    assert client.get("/api/items").json() == []


def test_a_file_within_a_small_limit_uploads_and_one_past_it_is_not_kept_whatever_its_length_says(
    client, services, photo_task, small_photo_limit
):
    url, form = photo_task
    within = media.photo()
    assert len(within) < small_photo_limit
    uploaded = client.post(
        url,
        data=form,
        files={"file": ("ok.jpg", within, "image/jpeg")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text[:500]
    kept = client.get("/api/items").json()
    assert [i["size"] for i in kept] == [len(within)]
    files_before = stored_files(services)
    # The length says 1 KB; the body holds 3 MB. The form is read, the file counted, and
    # it is refused before anything reaches storage.
    lying = declaring(
        client,
        url,
        1024,
        data=form,
        files={"file": ("big.jpg", big_photo(), "image/jpeg")},
    )
    assert lying.status_code == 413
    assert "may be at most 1 MB." in lying.text
    assert client.get("/api/items").json() == kept
    assert stored_files(services) == files_before


@pytest.mark.parametrize("token", [None, "wrong"])
def test_the_upload_form_needs_its_csrf_token(client, services, photo_task, token):
    url, _form = photo_task
    files_before = stored_files(services)
    response = client.post(
        url,
        data={"csrf_token": token} if token else {},
        files={"file": ("ok.jpg", media.photo(), "image/jpeg")},
    )
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert client.get("/api/items").json() == []
    assert stored_files(services) == files_before


@pytest.mark.parametrize(
    "token, body, status",
    [("right", b"", 303), ("wrong", b"", 403), ("right", b"\xff" * (MB + 1), 413)],
)
def test_the_spooled_file_is_closed_whatever_the_answer(
    client, photo_task, small_photo_limit, monkeypatch, token, body, status
):
    import tempfile

    import starlette.formparsers

    spooled = []

    class Recorded(tempfile.SpooledTemporaryFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            spooled.append(self)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", Recorded)
    url, form = photo_task
    response = declaring(  # a length within the limit, so that the form is read
        client,
        url,
        1024,
        data={"csrf_token": form["csrf_token"] if token == "right" else token},
        files={"file": ("a.jpg", body or media.photo(), "image/jpeg")},
    )
    assert response.status_code == status
    assert len(spooled) == 1 and spooled[0].closed


def test_without_a_size_the_sentence_still_names_the_kind_and_its_limit():
    from datatrust.domain.permissions import ANONYMOUS
    from datatrust.i18n import translator
    from datatrust.web.pages.common import Page
    from datatrust.web.pages.contributor import too_large

    hindi = Page(None, ANONYMOUS, "hi")  # too_large reads only the page's language
    chat = translator("hi").gettext("Chat export")
    assert too_large(hindi, ItemKind.CHAT, None, upload_limits.max_bytes(ItemKind.CHAT)) == (
        f"यह फ़ाइल बहुत बड़ी है; इस काम ({chat}) के लिए फ़ाइल ज़्यादा से ज़्यादा 50 MB की हो सकती है।"
    )


def test_a_second_file_is_a_400_and_nothing_is_kept(client, photo_task):
    url, form = photo_task
    response = client.post(
        url,
        data=form,
        files=[
            ("file", ("a.jpg", media.photo(), "image/jpeg")),
            ("file", ("b.jpg", media.photo(seed=1), "image/jpeg")),
        ],
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert client.get("/api/items").json() == []


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
    # Refused as the file streamed past the limit (the kind came first), size not known.
    assert refused.json()["error"]["message"] == (
        "a chat upload may be at most 50 MB; this one is larger"
    )


def test_every_other_route_keeps_the_1_mb_limit(client, photo_task):
    url, form = photo_task
    accept_url = url.split("?")[0].replace("/upload", "/accept")
    response = client.post(accept_url, data={**form, "padding": "x" * (3 * MB)})
    assert response.status_code == 413


def test_bytes_past_the_limit_are_refused_while_streaming_when_no_size_was_declared(
    services, people
):
    from datatrust.domain.items import Item
    from datatrust.services.contributions import items

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


SENTENCES = {
    "en": (
        "This file is {size}; a file for this task (Photo) may be at most 40 MB.",
        "This file is too large; a file for this task (Photo) may be at most 40 MB.",
    ),
    "hi": (
        "यह फ़ाइल {size} की है; इस काम (फ़ोटो) के लिए फ़ाइल ज़्यादा से ज़्यादा 40 MB की हो सकती है।",
        "यह फ़ाइल बहुत बड़ी है; इस काम (फ़ोटो) के लिए फ़ाइल ज़्यादा से ज़्यादा 40 MB की हो सकती है।",
    ),
    "zu": (
        "Leli fayela lingu-{size}; ifayela lalo msebenzi (Isithombe) lingaba kuze kufike ku-40 MB.",
        "Leli fayela likhulu kakhulu; ifayela lalo msebenzi (Isithombe) lingaba kuze kufike "
        "ku-40 MB.",
    ),
}


def upload_in_pieces(client, services, url, form, lang, file_size, *, declare: bool):
    """The capture page's form with a file of ``file_size`` bytes made on demand, sent
    to the app as ASGI: (status, page, bytes of the body it pulled in)."""
    path, _, query = url.partition("?")
    length, body = multipart(
        {"csrf_token": form["csrf_token"], "title": "Kept"}, "big.jpg", file_size
    )
    headers = {
        "content-type": MULTIPART,
        "cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items()),
    }
    if declare:
        headers["content-length"] = str(length)
    app = create_app(services, start_worker=False)
    return call(app, "POST", path, headers, body, query=f"{query}&lang={lang}")


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "chunked"])
@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_a_45_mb_photo_is_refused_early_in_the_pages_language(
    client, services, photo_task, lang, declare
):
    """Declared, it is refused before a byte of the body is read, naming its size; sent
    without a length, as soon as the file passes 40 MB, its size not known yet."""
    url, form = photo_task
    status, page, pulled = upload_in_pieces(
        client, services, url, form, lang, 45 * MB, declare=declare
    )
    assert status == 413
    limit = 40 * MB
    if declare:
        assert pulled == 0
        sentence = SENTENCES[lang][0].format(size="45 MB")
    else:
        assert limit < pulled <= limit + 2 * PIECE  # the form's fields, the file to 40 MB
        sentence = SENTENCES[lang][1]
        assert 'value="Kept"' in page  # what was typed stays
    assert f'<p class="error" id="e-file-1">{sentence}</p>' in page
    assert client.get("/api/items").json() == []


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_a_size_just_over_the_limit_never_reads_as_the_limit(lang):
    """41,943,041 bytes (40 MB and one byte) read "40 MB" before, next to "at most 40 MB"."""
    from datatrust.domain.permissions import ANONYMOUS
    from datatrust.web.pages.common import Page
    from datatrust.web.pages.contributor import too_large

    size = 40 * MB + 1
    page = Page(None, ANONYMOUS, lang)
    assert too_large(page, ItemKind.PHOTO, size, 40 * MB) == SENTENCES[lang][0].format(
        size="40.1 MB"
    )
    assert upload_limits.too_large(ItemKind.PHOTO, size).message == (
        "a photo upload may be at most 40 MB; this one is 40.1 MB"
    )
    assert upload_limits.human(45 * MB + 300, over=40 * MB) == "45 MB"
    assert upload_limits.human(40 * MB) == "40 MB"


def api_upload(services, persona, fields, file_size, *, after=None, declare=True):
    length, body = multipart(fields, "big.bin", file_size, after=after)
    headers = {"content-type": MULTIPART, **persona.headers}
    if declare:
        headers["content-length"] = str(length)
    return call(create_app(services, start_worker=False), "POST", "/api/items", headers, body)


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "chunked"])
def test_the_api_refuses_a_45_mb_photo_as_soon_as_it_passes_40_mb(services, people, declare):
    status, answer, pulled = api_upload(
        services, people["owner"], {"kind": "photo"}, 45 * MB, declare=declare
    )
    assert status == 413
    assert answer["error"]["message"] == "a photo upload may be at most 40 MB; this one is larger"
    assert 40 * MB < pulled <= 40 * MB + 2 * PIECE
    assert stored_files(services) == []


def test_the_api_names_the_size_of_a_file_whose_kind_came_after_it(services, people):
    """41,943,041 bytes: read (the kind was not known yet), then refused naming 40.1 MB."""
    status, answer, _ = api_upload(
        services, people["owner"], {}, 40 * MB + 1, after={"kind": "photo"}
    )
    assert status == 413
    assert answer["error"]["message"] == "a photo upload may be at most 40 MB; this one is 40.1 MB"
    assert stored_files(services) == []


def test_the_api_names_each_missing_field(client, people):
    response = client.post("/api/items", headers=people["owner"].headers, data={"title": "x"})
    assert response.status_code == 422, response.text
    problems = response.json()["error"]["details"]["problems"]
    assert any(p.startswith("kind") for p in problems)
    no_file = client.post("/api/items", headers=people["owner"].headers, data={"kind": "photo"})
    assert no_file.status_code == 422
    assert any(p.startswith("file") for p in no_file.json()["error"]["details"]["problems"])
