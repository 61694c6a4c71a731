""" "You missed something": a contributor marks what de-identification left in their own
item; it is held back, re-done without it, and the mark keeps no personal detail."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import ingest_media as media
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.missed import MarkState, MissedMark
from datatrust.services import ingest, missed
from support import receive_upload


def _preview(services, persona, item_id) -> bytes:
    with services.uow() as uow:
        return b"".join(ingest.open_preview(uow, services.storage, persona.actor, item_id).chunks)


def _mark(services, persona, item_id, **kwargs):
    with services.uow() as uow:
        return missed.mark_missed(uow, services.storage, persona.actor, item_id, **kwargs)


@pytest.fixture
def chat_item(services, people):
    item = receive_upload(
        services, people["owner"], "chat", media.whatsapp_chat(), "chat.txt",
        metadata={"me": "Priya Sharma"},
    )  # fmt: skip
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    return item


def test_marked_words_are_removed_from_what_ships_and_the_mark_keeps_no_text(
    services, people, chat_item
):
    before = _preview(services, people["owner"], chat_item.id).decode()
    assert "the market" in before
    made = _mark(services, people["owner"], chat_item.id, category="address", words="the market")
    assert len(made) == before.count("the market") >= 2

    after = _preview(services, people["owner"], chat_item.id).decode()
    assert "the market" not in after and "[REMOVED]" in after
    json.loads(after)  # still a valid chat document
    with services.uow() as uow:
        item = uow.get(Item, chat_item.id)
        marks = uow.all(MissedMark, item_id=chat_item.id)
        assert item.report["removed"]["marked_missed"] == len(made)
        assert item.deidentified_sha256 != chat_item.deidentified_sha256
    assert {m.state for m in marks} == {MarkState.APPLIED}
    assert {(m.category, m.length) for m in marks} == {("address", len("the market"))}
    # Nothing of the detail is kept with the mark.
    assert all("market" not in repr(vars(m)) for m in marks)


def test_a_span_by_offsets_is_removed(services, people, chat_item):
    text = _preview(services, people["owner"], chat_item.id).decode()
    start = text.index("message 1")
    _mark(services, people["owner"], chat_item.id, category="other", start=start, end=start + 9)
    assert "message 1 " not in _preview(services, people["owner"], chat_item.id).decode()


def test_while_the_job_has_not_run_the_item_has_nothing_to_ship(
    services, people, chat_item, monkeypatch
):
    monkeypatch.setattr(missed, "apply_marks", lambda *a, **k: None)  # the job "never runs"
    _mark(services, people["owner"], chat_item.id, category="name", words="the market")
    with services.uow() as uow:
        assert uow.get(Item, chat_item.id).deidentified_key is None
    with pytest.raises(NotFound):
        _preview(services, people["owner"], chat_item.id)
    # … and a second mark waits until the first is applied.
    with pytest.raises(Conflict):
        _mark(services, people["owner"], chat_item.id, category="name", words="message")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"category": "gossip", "words": "the market"}, "category"),
        ({"category": "name", "words": "not in this chat at all"}, "words"),
        ({"category": "name", "start": 5, "end": 5}, "start"),
        ({"category": "name", "start": 0, "end": 10**9}, "start"),
        ({"category": "name"}, "words"),
        ({"category": "name", "words": '", "sender'}, "words"),  # across the JSON structure
    ],
)
def test_a_mark_that_does_not_fit_the_item_is_refused_naming_the_field(
    services, people, chat_item, kwargs, field
):
    with pytest.raises(InvalidInput) as err:
        _mark(services, people["owner"], chat_item.id, **kwargs)
    assert err.value.details.get("field") in (field, "start")
    with services.uow() as uow:
        assert uow.count(MissedMark, item_id=chat_item.id) == 0
        assert uow.get(Item, chat_item.id).deidentified_key == chat_item.deidentified_key


def test_a_region_of_a_photo_is_hidden_and_the_rest_left_alone(services, people):
    rng = np.random.default_rng(4)  # fine texture everywhere, so hiding it shows
    pixels = rng.integers(40, 215, (768, 1024, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=95)
    item = receive_upload(services, people["owner"], "photo", buf.getvalue(), "p.jpg")
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    before = np.asarray(Image.open(io.BytesIO(_preview(services, people["owner"], item.id))))
    _mark(services, people["owner"], item.id, category="plate", box=(500, 500, 500, 500))
    after = np.asarray(Image.open(io.BytesIO(_preview(services, people["owner"], item.id))))
    h, w = before.shape[:2]
    region = (slice(h // 2 + 8, h), slice(w // 2 + 8, w))
    outside = (slice(0, h // 2 - 8), slice(0, w // 2 - 8))

    def detail(a: np.ndarray) -> float:  # how much fine texture is left
        g = a.astype(float).mean(axis=2)
        return float(np.abs(np.diff(g, axis=1)).mean())

    assert detail(after[region]) < 0.3 * detail(before[region])
    assert np.abs(after[outside].astype(int) - before[outside].astype(int)).mean() < 8


def test_marks_on_kinds_without_text_or_pixels_are_refused(services, people):
    item = receive_upload(services, people["owner"], "ambient", media.ambient(), "a.wav")
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    with pytest.raises(InvalidInput):
        _mark(services, people["owner"], item.id, category="name", words="x")


@pytest.mark.parametrize("persona", ["other", "buyer", "operator"])
def test_nobody_but_the_owner_can_mark_or_read_marks(services, people, chat_item, persona):
    with pytest.raises((NotFound, PermissionDenied)):
        _mark(services, people[persona], chat_item.id, category="name", words="the market")
    with services.uow() as uow, pytest.raises((NotFound, PermissionDenied)):
        missed.list_marks(uow, people[persona].actor, chat_item.id)
    with services.uow() as uow:
        assert uow.count(MissedMark, item_id=chat_item.id) == 0


def test_operators_count_marks_by_category_without_seeing_whose(services, people, chat_item):
    _mark(services, people["owner"], chat_item.id, category="address", words="the market")
    with services.uow() as uow:
        counts = missed.count_missed(uow, people["operator"].actor)
    assert counts[0]["item_kind"] == "chat" and counts[0]["category"] == "address"
    assert counts[0]["count"] >= 2 and set(counts[0]) == {
        "item_kind",
        "mark_kind",
        "category",
        "count",
    }
    for persona in ("owner", "buyer"):
        with services.uow() as uow, pytest.raises(PermissionDenied):
            missed.count_missed(uow, people[persona].actor)


def test_the_routes_answer_the_owner_and_refuse_every_other_persona(client, people, chat_item):
    path = f"/api/items/{chat_item.id}/missed"
    body = {"category": "address", "words": "the market"}
    expected = {"other": 404, "buyer": 403, "operator": 403}
    for persona, status in expected.items():
        assert client.post(path, json=body, headers=people[persona].headers).status_code == status
        assert client.get(path, headers=people[persona].headers).status_code == status
    assert client.post(path, json=body).status_code == 401
    made = client.post(path, json=body, headers=people["owner"].headers)
    assert made.status_code == 201 and made.json()[0]["category"] == "address"
    assert "market" not in made.text  # the answer does not echo the detail either
    listed = client.get(path, headers=people["owner"].headers).json()
    assert {m["state"] for m in listed} == {"applied"}
    counts = client.get("/api/audit/missed", headers=people["operator"].headers)
    assert counts.status_code == 200 and counts.json()[0]["category"] == "address"
    for persona in ("owner", "other", "buyer"):
        status = client.get("/api/audit/missed", headers=people[persona].headers).status_code
        assert status == 403
    assert client.get("/api/audit/missed").status_code == 401


def test_the_item_page_offers_the_form_in_hindi_and_removes_what_is_typed(
    client, people, chat_item, services
):
    url = f"/my/items/{chat_item.id}"
    headers = people["owner"].headers
    hindi = client.get(f"{url}?lang=hi", headers=headers).text
    assert "क्या हमसे कुछ छूट गया?" in hindi and 'name="words"' in hindi
    assert "Did we miss something?" not in hindi
    wrong = client.post(
        f"{url}/missed?lang=hi", data={"category": "name", "words": "Not there"}, headers=headers
    )
    assert wrong.status_code == 422, wrong.text[:3000]
    assert "उन्हें ठीक वैसे ही लिखें" in wrong.text
    done = client.post(
        f"{url}/missed",
        data={"category": "address", "words": "the market"},
        headers=headers,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "the market" not in _preview(services, people["owner"], chat_item.id).decode()
    page = client.get(f"{url}?lang=hi", headers=headers).text
    assert "चीज़ें हटाई गईं" in page  # "things you marked removed", counted
    other = client.post(
        f"{url}/missed", data={"category": "name", "words": "x"}, headers=people["other"].headers
    )
    assert other.status_code == 404
