"""Hostile and broken files: each is rejected with a clear reason, and nothing raises."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datatrust.pipeline.media import process_media
from datatrust.pipeline.rejection import CODES


def assert_rejected(report, code: str) -> None:
    assert report.verdict == "rejected", report
    assert report.codes[0] == code, report.rejections
    assert report.rejections[0].message  # a sentence a contributor can act on
    assert report.output_bytes is None and report.output_path is None


def test_zero_byte_file_is_rejected_as_empty():
    r = process_media(b"", "photo")
    assert_rejected(r, "empty_file")
    assert "empty" in r.rejections[0].message


def test_zero_byte_path_is_rejected_as_empty(tmp_path: Path):
    p = tmp_path / "x.jpg"
    p.write_bytes(b"")
    assert_rejected(process_media(p, "photo"), "empty_file")


def test_missing_path_is_rejected_not_raised(tmp_path: Path):
    r = process_media(tmp_path / "nope.jpg", "photo")
    assert r.verdict == "rejected" and r.codes[0] in CODES


def test_truncated_jpeg_is_rejected(make_jpeg):
    data = make_jpeg()
    r = process_media(data[: len(data) // 2], "photo")
    assert_rejected(r, "truncated")
    assert "cut off" in r.rejections[0].message


def test_truncated_png_is_rejected(png_bytes: bytes):
    r = process_media(png_bytes[: len(png_bytes) * 2 // 3], "photo")
    assert_rejected(r, "truncated")


def test_truncated_mp4_is_rejected(video_file: Path):
    data = video_file.read_bytes()
    r = process_media(data[: int(len(data) * 0.6)], "video")
    assert_rejected(r, "truncated")


def test_one_pixel_image_is_rejected_for_its_dimensions():
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buf, "PNG")
    r = process_media(buf.getvalue(), "photo")
    assert_rejected(r, "bad_dimensions")
    assert "1×1" in r.rejections[0].message


def test_absurd_aspect_ratio_is_rejected():
    buf = io.BytesIO()
    Image.new("L", (12000, 40)).save(buf, "PNG")
    assert_rejected(process_media(buf.getvalue(), "photo"), "bad_dimensions")


def test_png_decompression_bomb_is_rejected_before_decoding(png_bomb: bytes):
    assert len(png_bomb) < 10_000
    r = process_media(png_bomb, "photo")
    assert_rejected(r, "decompression_bomb")
    assert "100000×100000" in r.rejections[0].message
    assert r.timings_ms["validate"] < 1000  # nothing was inflated


def test_pixel_limit_comes_from_the_campaign(make_jpeg):
    from datatrust.pipeline.media_spec import MediaSpec

    spec = MediaSpec.from_campaign("photo", {"limits": {"max_pixels": 500_000}})
    assert_rejected(process_media(make_jpeg(), "photo", spec), "too_many_pixels")


def test_wrong_extension_is_rejected(png_bytes: bytes):
    r = process_media(png_bytes, "photo", filename="holiday.jpg")
    assert_rejected(r, "extension_mismatch")
    assert ".jpg" in r.rejections[0].message and "PNG" in r.rejections[0].message


def test_wrong_extension_on_disk_is_rejected(png_bytes: bytes, tmp_path: Path):
    p = tmp_path / "holiday.mp3"
    p.write_bytes(png_bytes)
    assert_rejected(process_media(p, "photo"), "extension_mismatch")


def test_executable_renamed_to_jpg_is_named_and_rejected():
    r = process_media(b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "photo", filename="cat.jpg")
    assert_rejected(r, "unsupported_format")
    assert "ELF" in r.rejections[0].message


def test_random_bytes_are_an_unknown_format():
    rng = np.random.default_rng(3)
    data = b"\x00\x01" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert_rejected(process_media(data, "ambient"), "unknown_format")


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.txt", "not a photo " * 100)
    return buf.getvalue()


def test_zip_archive_is_rejected():
    r = process_media(_zip_bytes(), "photo")
    assert_rejected(r, "archive")


@pytest.mark.parametrize(
    "name,data",
    [
        ("gzip", b"\x1f\x8b\x08\x00" + b"\x00" * 100),
        ("7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 100),
        ("rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 100),
        ("tar", b"a.txt".ljust(257, b"\x00") + b"ustar\x0000" + b"\x00" * 300),
    ],
)
def test_other_archives_are_rejected(name: str, data: bytes):
    r = process_media(data, "video")
    assert_rejected(r, "archive")
    assert name in r.rejections[0].message


def test_jpeg_with_zip_appended_is_a_polyglot(make_jpeg):
    data = make_jpeg() + _zip_bytes()
    assert zipfile.is_zipfile(io.BytesIO(data))  # really readable as both
    r = process_media(data, "photo")
    assert_rejected(r, "polyglot")
    assert "zip" in r.rejections[0].message


def test_png_with_7z_appended_is_a_polyglot(png_bytes: bytes):
    data = png_bytes + b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64
    assert_rejected(process_media(data, "photo"), "polyglot")


def test_mp4_with_zip_appended_is_a_polyglot(video_file: Path):
    data = video_file.read_bytes() + _zip_bytes()
    assert_rejected(process_media(data, "video"), "polyglot")


def test_audio_with_zip_appended_is_a_polyglot(media_kit):
    data = media_kit.encode_audio(media_kit.tones(6), 48_000, "mp3") + _zip_bytes()
    assert_rejected(process_media(data, "ambient"), "polyglot")


def test_jpeg_with_harmless_trailer_is_accepted_and_trailer_dropped(make_jpeg):
    r = process_media(make_jpeg() + b"\x00" * 1000, "photo")
    assert r.accepted, r.rejections
    assert "TRAILING_DATA" in r.removed["metadata_removed"]


def _patch_durations(data: bytes, seconds: int) -> bytes:
    """Rewrite the duration in mvhd and every mdhd/tkhd (version 0 boxes) to ``seconds``."""
    buf = bytearray(data)
    for box in (b"mvhd", b"mdhd"):
        at = buf.find(box)
        while at >= 0:
            body = at + 4
            assert buf[body] == 0, "version 1 boxes not expected from PyAV"
            timescale = struct.unpack(">I", buf[body + 12 : body + 16])[0]
            buf[body + 16 : body + 20] = struct.pack(">I", seconds * timescale)
            at = buf.find(box, at + 4)
    at = buf.find(b"tkhd")
    while at >= 0:
        body = at + 4
        buf[body + 20 : body + 24] = struct.pack(">I", 0xFFFFFFFF)
        at = buf.find(b"tkhd", at + 4)
    return bytes(buf)


def test_mp4_claiming_ten_hours_is_rejected_before_decoding(video_file: Path):
    data = _patch_durations(video_file.read_bytes(), 10 * 3600)
    r = process_media(data, "video")
    assert_rejected(r, "duration_out_of_range")
    assert "10h00m00s" in r.rejections[0].message
    assert "decode" not in r.timings_ms and "deidentify" not in r.timings_ms


def test_video_frame_size_is_checked_before_decoding(video_file: Path):
    from datatrust.pipeline.media_spec import MediaSpec

    spec = MediaSpec.from_campaign("video", {"limits": {"max_pixels": 320 * 240}})
    r = process_media(video_file, "video", spec)
    assert_rejected(r, "too_many_pixels")
    assert "640×360" in r.rejections[0].message


def test_audio_uploaded_to_a_photo_campaign_is_the_wrong_kind(media_kit):
    r = process_media(media_kit.encode_audio(media_kit.tones(3), 48_000, "wav"), "photo")
    assert_rejected(r, "wrong_kind")


def test_video_uploaded_to_a_voice_campaign_is_the_wrong_kind(video_file: Path):
    assert_rejected(process_media(video_file, "voice"), "wrong_kind")


def test_gif_is_named_and_unsupported():
    buf = io.BytesIO()
    Image.new("RGB", (800, 600)).save(buf, "GIF")
    r = process_media(buf.getvalue(), "photo")
    assert_rejected(r, "unsupported_format")
    assert "GIF" in r.rejections[0].message


def test_animated_png_is_rejected():
    frames = [Image.new("RGB", (800, 600), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    assert_rejected(process_media(buf.getvalue(), "photo"), "animated_image")


def test_file_over_the_size_limit_is_rejected(make_jpeg):
    from datatrust.pipeline.media_spec import MediaSpec

    spec = MediaSpec.from_campaign("photo", {"limits": {"max_bytes": 10_000}})
    assert_rejected(process_media(make_jpeg(), "photo", spec), "file_too_large")


def test_corrupt_jpeg_scan_data_is_rejected_or_decoded_never_raised(make_jpeg):
    data = bytearray(make_jpeg())
    sos = data.find(b"\xff\xda")
    data[sos + 20 : sos + 4000] = b"\xff\x00" * 1990  # garbage entropy data
    r = process_media(bytes(data), "photo")
    assert r.verdict in ("accepted", "rejected")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["photo", "video", "ambient"])
def test_fuzzed_files_never_raise(kind: str, make_jpeg, video_file: Path, media_kit):
    """Cut and corrupt real files at many points; every outcome is a report."""
    base = {
        "photo": make_jpeg(),
        "video": video_file.read_bytes(),
        "ambient": media_kit.encode_audio(media_kit.tones(6), 48_000, "mp3"),
    }[kind]
    rng = np.random.default_rng(7)
    for i in range(12):
        data = bytearray(base)
        if i % 2:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            for at in rng.integers(0, len(data), 20):
                data[at] = int(rng.integers(0, 256))
        r = process_media(bytes(data), kind)
        assert r.verdict in ("accepted", "rejected")
        assert all(x.code in CODES for x in r.rejections)
