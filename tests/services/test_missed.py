""" "You missed something": a contributor marks what de-identification left in their own
item; it is held back, re-done without it, and the mark keeps no personal detail."""

from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest
from PIL import Image

import ingest_media as media
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.missed import MarkState, MissedMark
from datatrust.services.contributions import ingest, missed
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


def _decoded(data: bytes) -> tuple[np.ndarray, int]:
    """The first audio stream of ``data`` as (mono float samples, rate)."""
    with av.open(io.BytesIO(data)) as c:
        rate = c.streams.audio[0].codec_context.sample_rate
        res = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        frames = [g for f in c.decode(audio=0) for g in res.resample(f)] + res.resample(None)
    return np.concatenate([g.to_ndarray()[0] for g in frames]), rate


def _tone_share(x: np.ndarray, rate: int, hz: float = 1000.0) -> float:
    """The share of ``x``'s energy within 20 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    return float(spectrum[np.abs(freqs - hz) < 20].sum() / spectrum.sum())


@pytest.fixture
def ambient_item(services, people):
    item = receive_upload(services, people["owner"], "ambient", media.ambient(), "a.wav")
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    return item


def test_a_stretch_of_a_recording_is_bleeped_and_the_rest_left_as_it_was(
    services, people, ambient_item
):
    before, rate = _decoded(_preview(services, people["owner"], ambient_item.id))
    made = _mark(
        services, people["owner"], ambient_item.id, category="name", start_ms=2000, end_ms=4000
    )
    assert [(m.kind.value, m.start, m.end, m.length) for m in made] == [("time", 2000, 4000, 2000)]

    after, after_rate = _decoded(_preview(services, people["owner"], ambient_item.id))
    assert after_rate == rate and abs(after.size - before.size) < rate // 10
    inside = slice(int(2.1 * rate), int(3.9 * rate))
    assert _tone_share(after[inside], rate) > 0.95  # nothing but the tone is left there
    assert _tone_share(before[inside], rate) < 0.05
    for outside in (slice(int(0.2 * rate), int(1.9 * rate)), slice(int(4.1 * rate), 7 * rate)):
        assert np.abs(after[outside] - before[outside]).max() < 1e-3  # lossless: as it was
    with services.uow() as uow:
        item = uow.get(Item, ambient_item.id)
        mark = uow.all(MissedMark, item_id=ambient_item.id)[0]
        assert item.report["removed"]["marked_missed"] == 1
        # A WAV comes back as FLAC, and the download says so.
        assert (item.shipped_format, item.shipped_content_type) == ("flac", "audio/flac")
        assert item.deidentified_sha256 != ambient_item.deidentified_sha256
    assert mark.state is MarkState.APPLIED and mark.box is None


def _talking_video() -> bytes:
    """A 3 s H.264 video of a moving gradient with an AAC soundtrack of noise."""
    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=15)
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        a_stream = out.add_stream("aac", rate=48000, layout="mono")
        yy, xx = np.mgrid[0:360, 0:640]
        for i in range(45):
            img = np.stack([(xx + 4 * i) % 256, (2 * yy + i) % 256, np.full_like(xx, 128)], -1)
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")))
        out.mux(vs.encode(None))
        noise = (0.1 * rng.standard_normal((1, 3 * 48000))).astype(np.float32)
        for s in range(0, noise.shape[1], 1024):
            f = av.AudioFrame.from_ndarray(noise[:, s : s + 1024], format="fltp", layout="mono")
            f.sample_rate = 48000
            out.mux(a_stream.encode(f))
        out.mux(a_stream.encode(None))
    return buf.getvalue()


def _video_packets(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def test_a_stretch_of_a_videos_soundtrack_is_bleeped_and_its_picture_copied(services, people):
    item = receive_upload(services, people["owner"], "video", _talking_video(), "v.mp4")
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    shipped = _preview(services, people["owner"], item.id)
    _mark(services, people["owner"], item.id, category="phone", start_ms=1000, end_ms=2000)

    after = _preview(services, people["owner"], item.id)
    assert _video_packets(after) == _video_packets(shipped)  # the picture is not re-encoded
    sound, rate = _decoded(after)
    assert _tone_share(sound[int(1.1 * rate) : int(1.9 * rate)], rate) > 0.95
    assert _tone_share(sound[int(2.1 * rate) : int(2.9 * rate)], rate) < 0.05
    with services.uow() as uow:
        assert uow.get(Item, item.id).shipped_format == "mp4"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_ms": 2000, "end_ms": 2000},
        {"start_ms": 7000, "end_ms": 8001},  # the recording lasts 8 s
        {"start_ms": 1000},
        {"words": "Anna"},  # a recording has no words to look for
    ],
)
def test_a_stretch_that_does_not_fit_the_recording_is_refused(
    services, people, ambient_item, kwargs
):
    with pytest.raises(InvalidInput) as err:
        _mark(services, people["owner"], ambient_item.id, category="name", **kwargs)
    assert err.value.details.get("field") == "start_ms"
    with services.uow() as uow:
        assert uow.count(MissedMark, item_id=ambient_item.id) == 0
        assert uow.get(Item, ambient_item.id).deidentified_key == ambient_item.deidentified_key


def test_stretches_are_marked_through_the_api_and_counted_by_category(client, people, ambient_item):
    path = f"/api/items/{ambient_item.id}/missed"
    body = {"category": "name", "start_ms": 500, "end_ms": 1500}
    assert client.post(path, json=body, headers=people["other"].headers).status_code == 404
    made = client.post(path, json=body, headers=people["owner"].headers)
    assert made.status_code == 201, made.text
    assert made.json()[0] | {"id": 0} == {
        "id": 0,
        "kind": "time",
        "category": "name",
        "start": None,
        "end": None,
        "length": 0,
        "box": None,
        "start_ms": 500,
        "end_ms": 1500,
        "state": "pending",  # as made; the job that bleeps it runs after the commit
    }
    listed = client.get(path, headers=people["owner"].headers).json()
    assert [(m["kind"], m["state"]) for m in listed] == [("time", "applied")]
    late = client.post(path, json=body | {"end_ms": 10**6}, headers=people["owner"].headers)
    assert late.status_code == 422 and "start_ms" in late.text
    counts = client.get("/api/audit/missed", headers=people["operator"].headers).json()
    assert {"item_kind": "ambient", "mark_kind": "time", "category": "name", "count": 1} in counts


def test_the_recordings_page_asks_where_in_isizulu_and_bleeps_what_is_given(
    client, people, ambient_item, services
):
    url = f"/my/items/{ambient_item.id}"
    headers = people["owner"].headers
    zulu = client.get(f"{url}?lang=zu", headers=headers).text
    assert "Kuphi kokuqoshiwe?" in zulu and 'name="from_time"' in zulu
    assert "Where in the recording?" not in zulu and 'name="words"' not in zulu
    wrong = client.post(
        f"{url}/missed?lang=zu",
        data={"category": "name", "from_time": "0:05", "to_time": "0:99"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert "Bhala lapho kuqala khona" in wrong.text
    done = client.post(
        f"{url}/missed",
        data={"category": "name", "from_time": "0:02", "to_time": "0:04.5"},
        headers=headers,
        follow_redirects=False,
    )
    assert done.status_code == 303
    with services.uow() as uow:
        mark = uow.all(MissedMark, item_id=ambient_item.id)[0]
    assert (mark.kind.value, mark.start, mark.end, mark.state) == (
        "time",
        2000,
        4500,
        MarkState.APPLIED,
    )
    hindi = client.get(f"{url}?lang=hi", headers=headers).text
    assert "रिकॉर्डिंग में कहाँ?" in hindi
    assert "आपकी चिह्नित की गई 1 चीज़ हटाई गई" in hindi  # the one stretch, counted
