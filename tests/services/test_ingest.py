"""The item.process job: every kind through the pipeline, hostile files rejected with a
reason, near-duplicates caught, and the worker surviving whatever it is given."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import ingest_media as media
from datatrust.domain.audit import AuditEvent
from datatrust.domain.errors import InvalidInput, NotFound, PermissionDenied
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.pipeline import run
from datatrust.services.contributions import ingest
from support import receive_upload

receive = receive_upload


def reload(services, item_id) -> Item:
    with services.uow() as uow:
        return uow.get(Item, item_id)


def preview_bytes(services, persona, item_id, part="media") -> bytes:
    with services.uow() as uow:
        preview = ingest.open_preview(uow, services.storage, persona.actor, item_id, part)
        return b"".join(preview.chunks)


def tags_for(services, item_id) -> list[str]:
    with services.uow() as uow:
        events = uow.all(AuditEvent, order_by="seq", subject_type="item", subject_id=str(item_id))
        return [e.tag for e in events]


def test_a_received_photo_is_processed_in_a_job_and_accepted(services, people):
    item = receive(services, people["owner"], "photo", media.photo(), "me.jpg")
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    assert tags_for(services, item.id) == [
        "item:create",
        "item:process",
        "item:accept",
    ]
    report = item.report
    assert {name: s["result"] for name, s in report["stages"].items()} == {
        "validate": "passed",
        "quality": "passed",
        "deidentify": "passed",
        "fingerprint": "passed",
        "duplicates": "passed",
        "store": "passed",
    }
    assert report["removed"]["faces_blurred"] >= 1
    assert "GPS removed" in report["removed_summary"]
    assert item.h3_cell and item.fingerprints["phash"]
    assert item.deidentified_key.startswith(f"c/{item.owner_id}/deidentified/")
    with services.uow() as uow:
        job = uow.one(OutboxJob, idempotency_key=f"item.process:{item.id}")
    assert job.state is JobState.DONE


def test_the_preview_is_the_deidentified_photo_without_gps(services, people):
    item = receive(services, people["owner"], "photo", media.photo(), "me.jpg")
    shipped = preview_bytes(services, people["owner"], item.id)
    assert shipped != media.photo()
    image = Image.open(io.BytesIO(shipped))
    assert not image.getexif().get_ifd(0x8825)  # no GPS
    assert image.size == (1024, 1024)


def test_nobody_but_the_owner_sees_the_preview_or_what_was_removed(services, people):
    item = receive(services, people["owner"], "photo", media.photo(), "me.jpg")
    for name in ("other", "operator", "buyer"):
        with pytest.raises((NotFound, PermissionDenied)), services.uow() as uow:
            ingest.open_preview(uow, services.storage, people[name].actor, item.id)
        with pytest.raises((NotFound, PermissionDenied)), services.uow() as uow:
            ingest.removed_from(uow, people[name].actor, item.id)
    with services.uow() as uow:
        removed = ingest.removed_from(uow, people["owner"].actor, item.id)
    assert "GPS removed" in removed["summary"]


@pytest.mark.parametrize(
    ("kind", "make", "filename", "extra"),
    [
        ("photo", lambda: media.photo(seed=3), "p.jpg", {}),
        (
            "video",
            lambda: media.video_bytes(),
            "walk.mp4",
            {"metadata": {"lat": 52.37, "lng": 4.9}},
        ),
        (
            "ambient",
            lambda: media.ambient(),
            "street.wav",
            {"metadata": {"lat": 19.07, "lng": 72.87}},
        ),
        ("voice", lambda: media.voice(), "voice.ogg", {}),
        ("call", lambda: media.call(), "call.m4a", {"transcript": media.CALL_TRANSCRIPT}),
        ("chat", lambda: media.whatsapp_chat(), "chat.txt", {"metadata": {"me": "Priya Sharma"}}),
    ],
)
def test_every_kind_is_accepted_with_a_preview(services, people, kind, make, filename, extra):
    item = receive(services, people["owner"], kind, make(), filename, **extra)
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    shipped = preview_bytes(services, people["owner"], item.id)
    assert shipped and item.deidentified_sha256
    assert item.report["stages"]["store"]["result"] == "passed"
    if kind in ("video", "ambient"):
        assert item.h3_cell is not None
        assert "lat" not in str(item.report["upload"])  # only the cell was kept
    if kind == "chat":
        assert b"+27 82 555 1234" not in shipped and b"Sipho" not in shipped
        assert b"CONTRIBUTOR" in shipped
    if kind == "call":
        text = preview_bytes(services, people["owner"], item.id, "transcript").decode()
        assert "7946" not in text and "example.com" not in text and "[PHONE]" in text
        assert any("in the transcript" in line for line in item.report["removed_summary"])


@pytest.mark.parametrize(
    ("name", "data", "filename", "code"),
    [
        ("truncated JPEG", media.truncated_jpeg, "cut.jpg", "truncated"),
        ("PNG bomb", media.png_bomb, "bomb.png", "decompression_bomb"),
        ("wrong extension", lambda: media.photo(seed=5), "song.mp3", "extension_mismatch"),
        ("text as a photo", lambda: b"hello, not a picture" * 10, "x.jpg", "unknown_format"),
        ("binary as a chat", lambda: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "c.txt", None),
    ],
)
def test_a_hostile_file_is_rejected_with_a_reason_and_the_next_item_still_processed(
    services, people, name, data, filename, code
):
    kind = "chat" if filename == "c.txt" else "photo"
    bad = receive(services, people["owner"], kind, data(), filename)
    assert bad.status is ItemStatus.REJECTED, name
    reasons = bad.report["reasons"]
    assert reasons and all(r["message"] for r in reasons)
    if code:
        assert reasons[0]["code"] == code, reasons
    assert bad.deidentified_key is None
    assert tags_for(services, bad.id)[-1] == "item:reject"
    good = receive(services, people["owner"], "photo", media.photo(seed=11), "next.jpg")
    assert good.status is ItemStatus.ACCEPTED


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        (
            "Telegram JSON nesting 100,000 arrays",
            lambda: b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "chat_too_deep",
        ),
        (
            "30 MB on one line",
            lambda: b"12/31/23, 9:41 PM - Ana: " + b"x" * 30_000_000,
            "chat_line_too_long",
        ),
        (
            "JSON with a 10,000-digit number",
            lambda: b'{"messages": [' + b"9" * 10_000 + b"]}",
            "unreadable_chat",
        ),
    ],
)
def test_a_chat_file_outside_the_bounds_ends_in_a_rejection_and_the_worker_goes_on(
    services, people, name, data, code
):
    bad = receive(services, people["owner"], "chat", data(), "chat.txt")
    assert bad.status is ItemStatus.REJECTED, name
    reason = bad.report["reasons"][0]
    assert reason["code"] == code, reason
    assert "Recursion" not in reason["message"]
    good = receive(
        services,
        people["owner"],
        "chat",
        media.whatsapp_chat(),
        "chat.txt",
        metadata={"me": "Priya Sharma"},
    )
    assert good.status is ItemStatus.ACCEPTED, good.report["reasons"]


def test_a_zero_byte_upload_is_refused_at_once(services, people):
    with pytest.raises(InvalidInput, match="empty"):
        receive(services, people["owner"], "photo", b"", "empty.jpg")


def test_a_crash_inside_the_pipeline_becomes_a_rejection_not_a_dead_worker(
    services, people, monkeypatch
):
    def explode(*_args, **_kwargs):
        raise RuntimeError("decoder blew up")

    monkeypatch.setattr(run, "process_media", explode)
    bad = receive(services, people["owner"], "photo", media.photo(seed=2), "a.jpg")
    assert bad.status is ItemStatus.REJECTED
    assert bad.report["reasons"][0]["code"] == "processing_error"
    assert "RuntimeError" in bad.report["reasons"][0]["message"]
    monkeypatch.undo()
    good = receive(services, people["owner"], "photo", media.photo(seed=4), "b.jpg")
    assert good.status is ItemStatus.ACCEPTED


def test_a_near_duplicate_of_someone_elses_photo_is_rejected_without_naming_it(services, people):
    first = receive(services, people["other"], "photo", media.photo(seed=6), "a.jpg")
    assert first.status is ItemStatus.ACCEPTED
    # The same picture re-encoded, without GPS: different bytes, same pixels.
    image = Image.open(io.BytesIO(media.photo(seed=6)))
    buf = io.BytesIO()
    image.resize((1000, 1000)).save(buf, "JPEG", quality=80)
    copy = receive(services, people["owner"], "photo", buf.getvalue(), "b.jpg")
    assert copy.status is ItemStatus.REJECTED
    reason = copy.report["reasons"][0]
    assert reason["code"] == "near_duplicate"
    assert "another contributor" in reason["message"] and str(first.id) not in reason["message"]


def test_the_same_file_twice_from_one_contributor_is_a_duplicate_of_their_item(services, people):
    data = media.ambient(seed=9)
    first = receive(services, people["owner"], "ambient", data, "a.wav")
    second = receive(services, people["owner"], "ambient", data, "b.wav")
    assert first.status is ItemStatus.ACCEPTED
    assert second.report["reasons"][0] == {
        "code": "duplicate",
        "message": f"This exact file is already your item {first.id}.",
    }


def test_processing_twice_changes_nothing(services, people):
    item = receive(services, people["owner"], "photo", media.photo(seed=8), "a.jpg")
    before = (item.status, item.deidentified_key, len(tags_for(services, item.id)))
    with services.uow() as uow:
        ingest.process_item(uow, services.storage, item.id, work_root=services.settings.data_dir)
    after = reload(services, item.id)
    assert (after.status, after.deidentified_key, len(tags_for(services, item.id))) == before


def test_a_chat_without_the_contributors_name_is_rejected_with_what_to_do(services, people):
    item = receive(services, people["owner"], "chat", media.whatsapp_chat(), "chat.txt")
    assert item.status is ItemStatus.REJECTED
    assert item.report["reasons"][0]["code"] == "sender_unknown"
    assert "which sender" in item.report["reasons"][0]["message"]


def test_a_rejected_item_has_no_preview(services, people):
    bad = receive(services, people["owner"], "photo", media.png_bomb(), "bomb.png")
    with pytest.raises(NotFound, match="rejected"), services.uow() as uow:
        ingest.open_preview(uow, services.storage, people["owner"].actor, bad.id)


def test_what_was_removed_reads_as_plain_words():
    words = run.describe_removed(
        {
            "faces_blurred": 3,
            "metadata_removed": ["EXIF", "GPS"],
            "pii_redacted": {"PHONE": 2, "EMAIL": 1},
        }
    )
    assert words == [
        "3 faces blurred",
        "GPS removed",
        "metadata removed (exif)",
        "1 email address redacted",
        "2 phone numbers redacted",
    ]


def test_an_item_whose_processing_fails_every_retry_is_rejected_with_what_to_do(
    services, people, monkeypatch
):
    from datatrust.domain.clock import utcnow

    def crash(*_args, **_kwargs):
        raise RuntimeError("worker fell over outside the pipeline's guard")

    monkeypatch.setattr(ingest, "process_item", crash)
    item = receive(services, people["owner"], "photo", media.photo(seed=12), "a.jpg")
    assert item.status is ItemStatus.RECEIVED  # first attempt failed: a retry is due
    with services.uow() as uow:
        job = uow.one(OutboxJob, idempotency_key=f"item.process:{item.id}")
        job.attempts = job.max_attempts - 1  # the next attempt is the last
        job.run_after = utcnow()
        uow.commit()
        job_id = job.id
    assert services.run_job(job_id) == "failed"
    rejected = reload(services, item.id)
    assert rejected.status is ItemStatus.REJECTED
    [reason] = rejected.report["reasons"]
    assert reason["code"] == "processing_failed" and "Upload the file again" in reason["message"]
    assert tags_for(services, item.id)[-1] == "item:reject"
