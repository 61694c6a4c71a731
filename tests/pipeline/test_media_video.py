"""Video: re-encoded to a tag-free MP4 file with faces blurred, frame pHashes sampled."""

from __future__ import annotations

import os
from pathlib import Path

import av
import cv2
import h3
import numpy as np
import pytest

from datatrust.pipeline.faces import detect_faces
from datatrust.pipeline.fingerprint import is_near_duplicate
from datatrust.pipeline.media import process_media
from datatrust.pipeline.media_spec import MediaSpec

# Each decodes, blurs and re-encodes a whole video (about ten seconds a test, quiet).
pytestmark = pytest.mark.slow


def _frames(path: str, every: int = 5) -> list[np.ndarray]:
    with av.open(path) as c:
        return [
            f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i % every == 0
        ]


def _face_sharpness(frames: list[np.ndarray], boxes: list[tuple[int, int, int, int]]) -> float:
    vals = []
    for frame, (x, y, w, h) in zip(frames, boxes, strict=True):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[y : y + h, x : x + w]
        vals.append(cv2.Laplacian(gray, cv2.CV_64F).var())
    return float(np.median(vals))


def test_video_is_reencoded_with_faces_blurred_and_tags_removed(
    face_video_file: Path, tmp_path: Path
):
    r = process_media(face_video_file, "video", output_dir=str(tmp_path))

    assert r.accepted, r.rejections
    assert r.format == "mov" and r.output_format == "mp4"
    assert r.output_path and Path(r.output_path).parent == tmp_path
    assert r.removed["frames"] == 45
    assert r.removed["faces_blurred"] >= 40  # found in (nearly) every frame
    assert {"GPS", "TAGS"} <= set(r.removed["metadata_removed"])
    assert r.h3_cell == h3.latlng_to_cell(52.3676, 4.9041, 8)

    with av.open(r.output_path) as c:
        tags = {k.lower() for k in c.metadata}
        assert "location" not in tags and "title" not in tags
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio  # the audio track was carried over

    before = _frames(str(face_video_file))
    after = _frames(r.output_path)
    assert len(before) == len(after)
    boxes = []
    for frame in before:
        found = detect_faces(frame, (frame.shape[1], frame.shape[0]))
        boxes.append(found[0])
    assert _face_sharpness(after, boxes) < _face_sharpness(before, boxes) / 10

    fps = r.fingerprints
    assert 3 <= len(fps.frame_phashes) <= 4  # one per second of a 3 s clip
    assert fps.sha256_output and fps.sha256_output != fps.sha256_original
    assert r.quality == {
        "width": 640.0,
        "height": 360.0,
        "duration_s": r.quality["duration_s"],
        "fps": 15.0,
    }


def test_reencoded_video_matches_its_original_by_frame_hashes(
    face_video_file: Path, video_file: Path, tmp_path: Path
):
    first = process_media(face_video_file, "video", output_dir=str(tmp_path))
    again = process_media(first.output_path, "video", output_dir=str(tmp_path))
    other = process_media(video_file, "video", output_dir=str(tmp_path))
    assert again.accepted and other.accepted
    existing = {
        "first": first.fingerprints.frame_phashes,
        "other": other.fingerprints.frame_phashes,
    }
    hit = is_near_duplicate(again.fingerprints.frame_phashes, existing)
    assert hit is not None and hit.key == "first"


def test_video_bytes_input_and_default_output_dir(video_file: Path):
    r = process_media(video_file.read_bytes(), "video")
    try:
        assert r.accepted, r.rejections
        assert os.path.getsize(r.output_path) > 1000
    finally:
        os.remove(r.output_path)
        os.rmdir(os.path.dirname(r.output_path))


def test_low_frame_rate_and_short_videos_fail_quality(media_kit, tmp_path: Path):
    slow = media_kit.write_video(tmp_path / "slow.mp4", seconds=4, fps=5, with_audio=False)
    r = process_media(slow, "video")
    assert "low_frame_rate" in r.codes and r.output_path is None
    short = media_kit.write_video(tmp_path / "short.mp4", seconds=1, with_audio=False)
    assert "too_short" in process_media(short, "video").codes


def test_video_limits_come_from_the_campaign(video_file: Path):
    spec = MediaSpec.from_campaign("video", {"limits": {"max_duration_s": 2}})
    assert process_media(video_file, "video", spec).codes == ("duration_out_of_range",)


def _soundtrack(path) -> np.ndarray:
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="fltp", layout="mono", rate=48_000)
        parts = [f.to_ndarray()[0] for fr in c.decode(audio=0) for f in res.resample(fr)]
    return np.concatenate(parts)


def _band_energy(x: np.ndarray, lo: float = 800.0) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / 48_000)
    return float(spectrum[freqs > lo].sum())


def test_speech_in_a_videos_soundtrack_is_muffled(tmp_path, media_kit, speech_16k):
    seconds, start = 8.0, 48_000
    mono = media_kit.ambient_noise(seconds)[0] * 0.2
    mono[start : start + speech_16k.size] += speech_16k
    path = media_kit.write_video(
        tmp_path / "talk.mp4", seconds=seconds, soundtrack=np.stack([mono, mono])
    )

    r = process_media(str(path), "video", output_dir=str(tmp_path))

    assert r.accepted, r.rejections
    assert r.removed["speech_segments_muffled"] >= 1
    assert r.removed["speech_seconds_muffled"] >= 0.5 * speech_16k.size / 48_000
    before, after = _soundtrack(path), _soundtrack(r.output_path)
    window = slice(start + 4800, start + speech_16k.size - 4800)
    assert _band_energy(after[window]) < _band_energy(before[window]) / 10
    quiet = slice(int(6.6 * 48_000), int(7.6 * 48_000))  # after the speech: left alone
    assert _band_energy(after[quiet]) > _band_energy(before[quiet]) / 3


def test_a_soundtrack_that_cannot_be_checked_is_left_out(tmp_path, video_file, monkeypatch):
    from datatrust.pipeline import audio
    from datatrust.pipeline.rejection import Rejected

    def undecodable(*_args, **_kwargs):
        raise Rejected("corrupt", "The audio could not be decoded.")

    monkeypatch.setattr(audio, "analyze_audio", undecodable)
    r = process_media(str(video_file), "video", output_dir=str(tmp_path))

    assert r.accepted, r.rejections
    assert r.removed["audio_dropped"] == "the soundtrack could not be checked for speech"
    with av.open(r.output_path) as c:
        assert not c.streams.audio and c.streams.video


def test_a_face_the_detector_misses_for_a_while_stays_blurred(
    face_video_file: Path, tmp_path: Path, monkeypatch
):
    """Detections come five times a second (every 3rd frame at 15 fps); here the detector
    finds the face only in every 4th detection, so without the tracker's hold 3 of every
    4 detection intervals would show the face sharp."""
    from datatrust.pipeline import deidentify_media

    calls = []
    real = deidentify_media.detect_faces

    def flaky(rgb, size):
        calls.append(1)
        return real(rgb, size) if len(calls) % 4 == 1 else []

    monkeypatch.setattr(deidentify_media, "detect_faces", flaky)
    r = process_media(face_video_file, "video", output_dir=str(tmp_path))

    assert r.accepted and len(calls) == 15  # 45 frames, one detection every 3rd
    before, after = _frames(str(face_video_file), every=1), _frames(r.output_path, every=1)
    boxes = [detect_faces(f, (f.shape[1], f.shape[0]))[0] for f in before]
    per_frame = [
        _face_sharpness([a], [b]) / _face_sharpness([f], [b])
        for f, a, b in zip(before, after, boxes, strict=True)
    ]
    assert max(per_frame) < 0.2, per_frame  # every frame blurred, none sharp
