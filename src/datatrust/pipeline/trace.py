"""Tracing a leaked copy back to an item (issue 17 §3): a file someone found (a photo, a
video clip, an audio clip; re-encoded, cropped, trimmed, a few seconds long) against the
fingerprints the pipeline keeps, plus what the stored fingerprints cannot do alone.

- Audio: the clip's Chromaprint words slid over the *whole* of each item's words (the
  near-duplicate check aligns only within ~5 s, as two uploads of one recording start
  together; a trimmed piece may come from anywhere), scored over the clip's length.
- Photos: pHash first (a re-encoded or resized copy); a crop changes the pHash, so then
  ORB keypoints of the clip are matched against the item's de-identified image with a
  RANSAC similarity transform (scale, rotation, shift): a crop is a subset of the image's
  keypoints at one scale. The count of geometric inliers decides.
- Video: about one frame a second, each frame's pHash against the item's frame pHashes;
  a trimmed clip's frames each find a close frame in the item.

No per-buyer mark is embedded in delivered copies (nothing available offline survives a
re-encode, DESIGN §4): a match names the item, and the delivery log names who received it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import cv2
import numpy as np
from PIL import Image, ImageOps

from datatrust.pipeline.fingerprint import (
    CHROMAPRINT,
    FINGERPRINT_RATE,
    MIN_COMPARED_BITS,
    AudioFingerprint,
    _words,
    audio_fingerprint,
    hamming,
    phash,
)
from datatrust.pipeline.quality import analysis_copy

# A trimmed audio clip matches where this share of its bits equals the item's at the best
# offset (measured in bench/bench_trace.py; see bench/RESULTS.md).
AUDIO_TRACE_SIMILARITY = 0.85
IMAGE_TRACE_BITS = 10  # pHash distance for an uncropped copy
ORB_MIN_INLIERS = 25  # geometric inliers for a cropped copy
VIDEO_TRACE_BITS = 12  # median of each clip frame's closest pHash distance
MAX_TRACE_SECONDS = 120
MAX_TRACE_PIXELS = 40_000_000


class Untraceable(ValueError):
    """The file is not a photo, video or audio this can read. ``reason`` says why as a code
    (``unreadable``, ``no_media``, ``no_frame``, ``no_sound``), the message in English."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Query:
    kind: str  # "photo" | "video" | "audio"
    phash: str | None = None
    gray: np.ndarray | None = None  # photos: the analysis copy, for keypoint matching
    frame_phashes: tuple[str, ...] = ()
    audio: AudioFingerprint | None = None


@dataclass(frozen=True)
class Score:
    matched: bool
    how: str  # "phash", "keypoints", "frames", "audio"
    value: float  # bits, inliers or similarity, as ``how`` says


def read_query(data: bytes) -> Query:
    """Fingerprints of a file to trace. Raises ``Untraceable`` naming the problem."""
    Image.MAX_IMAGE_PIXELS = MAX_TRACE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as im:
            if getattr(im, "n_frames", 1) == 1:
                rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
                gray = analysis_copy(rgb)
                return Query("photo", phash=phash(gray), gray=gray)
    except (OSError, Image.DecompressionBombError, ValueError):
        pass  # not a still picture: try it as video or audio
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if container.streams.video:
                return Query("video", frame_phashes=_frame_phashes(container))
            if container.streams.audio:
                return Query("audio", audio=audio_fingerprint(_pcm16_mono(container)))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        message = f"this file cannot be read as a photo, video or audio ({exc})"
        raise Untraceable("unreadable", message) from None
    raise Untraceable("no_media", "this file holds no picture, video or sound")


def _frame_phashes(container: av.container.InputContainer) -> tuple[str, ...]:
    stream = container.streams.video[0]
    out, next_at = [], 0.0
    for frame in container.decode(stream):
        t = float(frame.time or 0.0)
        if t > MAX_TRACE_SECONDS:
            break
        if t >= next_at:
            out.append(phash(analysis_copy(frame.to_ndarray(format="rgb24"))))
            next_at = t + 1.0
    if not out:
        raise Untraceable("no_frame", "the video has no frame that decodes")
    return tuple(out)


def _pcm16_mono(container: av.container.InputContainer, rate: int = FINGERPRINT_RATE) -> bytes:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    pcm = bytearray()
    for frame in container.decode(container.streams.audio[0]):
        for out in resampler.resample(frame):
            pcm += out.to_ndarray().tobytes()
        if len(pcm) > rate * 2 * MAX_TRACE_SECONDS:
            break
    for out in resampler.resample(None):
        pcm += out.to_ndarray().tobytes()
    if not pcm:
        raise Untraceable("no_sound", "the audio has no sound that decodes")
    return bytes(pcm)


def audio_location(query: AudioFingerprint, item: AudioFingerprint) -> float:
    """The share of equal bits between the clip and the item at the offset where they
    agree most, over the clip's whole length (the clip may come from anywhere in the
    item). 0.0 when the engines differ or the clip is too short to say."""
    if query.engine != item.engine or query.engine != CHROMAPRINT:
        return 0.0
    q, w = _words(query), _words(item)
    if q.size == 0 or 32 * q.size < MIN_COMPARED_BITS or w.size < q.size // 2:
        return 0.0
    best = 0.0
    for start in range(-(q.size // 2), max(1, w.size - q.size // 2)):
        x = q[max(0, -start) :]
        y = w[max(0, start) :]
        n = min(x.size, y.size)
        if n < q.size // 2:
            continue
        bits = int(np.unpackbits(np.bitwise_xor(x[:n], y[:n]).view(np.uint8)).sum())
        best = max(best, 1 - bits / (32 * n))
    return best


def score_audio(query: Query, item: AudioFingerprint) -> Score:
    assert query.audio is not None
    sim = audio_location(query.audio, item)
    return Score(sim >= AUDIO_TRACE_SIMILARITY, "audio", round(sim, 3))


def score_frames(query: Query, item_frames: list[str]) -> Score:
    if not query.frame_phashes or not item_frames:
        return Score(False, "frames", 64.0)
    closest = [min(hamming(f, g) for g in item_frames) for f in query.frame_phashes]
    median = float(np.median(closest))
    return Score(median <= VIDEO_TRACE_BITS, "frames", median)


def score_phash(query: Query, item_phash: str) -> Score:
    assert query.phash is not None
    bits = hamming(query.phash, item_phash)
    return Score(bits <= IMAGE_TRACE_BITS, "phash", float(bits))


_ORB = None


def _keypoints(gray: np.ndarray) -> tuple[list, np.ndarray | None]:
    global _ORB
    if _ORB is None:
        _ORB = cv2.ORB_create(nfeatures=1500)
    return _ORB.detectAndCompute(gray, None)


def score_keypoints(query: Query, item_image: bytes) -> Score:
    """Geometric inliers between the clip and the item's image (a crop, rescaled and
    re-encoded, keeps hundreds; unrelated photos a handful)."""
    assert query.gray is not None
    try:
        with Image.open(io.BytesIO(item_image)) as im:
            gray = analysis_copy(np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    except (OSError, ValueError):
        return Score(False, "keypoints", 0.0)
    kq, dq = _keypoints(query.gray)
    ki, di = _keypoints(gray)
    if dq is None or di is None or len(kq) < 8 or len(ki) < 8:
        return Score(False, "keypoints", 0.0)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(dq, di, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 8:
        return Score(False, "keypoints", float(len(good)))
    src = np.float32([kq[m.queryIdx].pt for m in good])
    dst = np.float32([ki[m.trainIdx].pt for m in good])
    _m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=5)
    if inliers is None:
        return Score(False, "keypoints", 0.0)
    kept = [m for m, ok in zip(good, inliers.ravel(), strict=True) if ok]
    # Distinct points on both sides: an image with few keypoints (a smooth one) otherwise
    # "matches" many query points to the same few of its own.
    count = min(
        len({m.queryIdx for m in kept}),
        len({round(ki[m.trainIdx].pt[0]) * 10_000 + round(ki[m.trainIdx].pt[1]) for m in kept}),
    )
    return Score(count >= ORB_MIN_INLIERS, "keypoints", float(count))
