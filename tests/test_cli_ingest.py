"""``datatrust ingest`` and ``datatrust redact-text``: the pipeline on a local file, no
server, a JSON report out."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import ingest_media as media
from datatrust.cli import app

runner = CliRunner()


def ingest(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["ingest", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("kind", "filename", "make"),
    [
        ("photo", "me.jpg", media.photo),
        ("video", "walk.mp4", media.video_bytes),
        ("ambient", "street.wav", media.ambient),
        ("voice", "voice.ogg", media.voice),
        ("chat", "chat.txt", media.whatsapp_chat),
    ],
)
def test_ingest_prints_an_accepting_report_for_every_kind(tmp_path, kind, filename, make):
    path = tmp_path / filename
    path.write_bytes(make())
    code, report = ingest(str(path), "--kind", kind, "--lat", "52.37", "--lng", "4.9")
    assert code == 0, report["reasons"]
    assert report["verdict"] == "accepted" and report["kind"] == kind
    assert report["quality"] and isinstance(report["removed_summary"], list)
    assert report["stages"]["store"]["result"] == "skipped"
    assert report["fingerprints"]["sha256_original"]
    if kind == "photo":
        assert "1 face blurred" in report["removed_summary"]
        assert "GPS removed" in report["removed_summary"]
    if kind == "chat":
        assert any("phone numbers redacted" in s for s in report["removed_summary"])


def test_ingest_redacts_a_calls_transcript(tmp_path):
    audio = tmp_path / "call.m4a"
    audio.write_bytes(media.call())
    transcript = tmp_path / "call.txt"
    transcript.write_text(media.CALL_TRANSCRIPT)
    out = tmp_path / "shipped.m4a"
    code, report = ingest(
        str(audio), "--kind", "call", "--transcript", str(transcript), "--output", str(out)
    )
    assert code == 0
    assert "[PHONE]" in report["transcript"]["text"] and "7946" not in report["transcript"]["text"]
    assert report["removed"]["transcript_pii"]["EMAIL"] == 1
    assert out.stat().st_size > 0


@pytest.mark.parametrize(
    ("filename", "data", "kind", "code"),
    [
        ("bomb.png", media.png_bomb, "photo", "decompression_bomb"),
        ("cut.jpg", media.truncated_jpeg, "photo", "truncated"),
        ("empty.jpg", lambda: b"", "photo", "empty_file"),
        ("photo.mp3", media.photo, "ambient", None),
        ("latin1.txt", lambda: "12/31/23, 9:41 PM - Zoë: hé\n".encode("latin-1"), "chat", None),
    ],
)
def test_ingest_rejects_hostile_files_with_a_reason_and_exit_code_1(
    tmp_path, filename, data, kind, code
):
    path = tmp_path / filename
    path.write_bytes(data())
    status, report = ingest(str(path), "--kind", kind)
    assert status == 1
    assert report["verdict"] == "rejected" and report["reasons"][0]["message"]
    if code:
        assert report["reasons"][0]["code"] == code


def test_redact_text_prints_the_redacted_text_and_every_span(tmp_path):
    path = tmp_path / "note.txt"
    text = "Call Priya on +91 98765 43210 or mail priya@example.com"
    path.write_text(text)
    result = runner.invoke(app, ["redact-text", str(path)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert "+91" not in report["text"] and "example.com" not in report["text"]
    types = {s["type"] for s in report["spans"]}
    assert {"PHONE", "EMAIL"} <= types
    for span in report["spans"]:
        assert 0 <= span["start"] < span["end"] <= len(text)


def test_ingest_refuses_an_unknown_kind(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(media.photo())
    result = runner.invoke(app, ["ingest", str(path), "--kind", "hologram"])
    assert result.exit_code == 2


def test_ingest_shows_what_a_call_ships_before_and_after_the_other_side_confirms(tmp_path):
    audio = tmp_path / "call.m4a"
    audio.write_bytes(media.call())
    transcript = tmp_path / "call.txt"
    transcript.write_text(media.CALL_TRANSCRIPT)
    pending_out, confirmed_out = tmp_path / "pending.out", tmp_path / "confirmed.out"
    common = [str(audio), "--kind", "call", "--transcript", str(transcript)]
    code, pending = ingest(*common, "--output", str(pending_out))
    assert code == 0 and pending["removed"]["call_audio_withheld"] is True
    assert pending["output"]["content_type"] == "text/plain"
    assert pending_out.read_text().startswith("CONTRIBUTOR:")
    code, confirmed = ingest(*common, "--confirmed", "--output", str(confirmed_out))
    assert code == 0, confirmed["reasons"]
    assert "call_audio_withheld" not in confirmed["removed"]
    assert confirmed["output"]["content_type"] == "audio/mp4"
    assert confirmed_out.read_bytes()[4:8] == b"ftyp"
    lines = confirmed["transcript"]["text"].splitlines()
    assert lines[0].startswith("PARTICIPANT_1:") and lines[1].startswith("CONTRIBUTOR:")


def test_ingest_refuses_confirmed_for_anything_but_a_call(tmp_path):
    path = tmp_path / "me.jpg"
    path.write_bytes(media.photo())
    result = runner.invoke(app, ["ingest", str(path), "--kind", "photo", "--confirmed"])
    assert result.exit_code == 2 and "--confirmed is for --kind call" in result.stderr
