"""Run one media file through validate → quality → de-identify → fingerprint.

``process_media(path_or_bytes, kind, spec=None, *, metadata=None, filename=None,
output_dir=None) -> MediaReport``

- ``kind``: photo, video, ambient, voice or call (``MediaKind`` or its value).
- ``spec``: the campaign's ``MediaSpec``; defaults for the kind when None.
- ``metadata``: what the client sent with the upload; ``lat``/``lng`` there take precedence
  over a position embedded in the file. Either way only the H3 cell survives.
- ``filename``: the name the client gave, checked against the content (defaults to the
  path's name).
- ``output_dir``: where a de-identified *video* is written (a new temporary directory when
  None; the caller owns and removes the file). Photos and audio come back as bytes.

It never raises for anything about the input: unreadable, hostile or broken files, decoder
errors and bugs met while processing all become a ``Rejection`` (unexpected exceptions as
``processing_error`` naming the stage), so a worker survives any file. It stops at the first
stage that rejects: a rejected file has no output and may have no fingerprints. A file that
fails only quality still reports its figures.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from datatrust.pipeline import audio as audio_mod
from datatrust.pipeline.deidentify_media import (
    blur_boxes_pil,
    choose_faces,
    classify_tags,
    coarsen_location,
    decode_image,
    deidentify_video,
    encode_image,
    parse_iso6709,
)
from datatrust.pipeline.faces import detect_faces
from datatrust.pipeline.fingerprint import AudioFingerprint, phash, sha256_bytes
from datatrust.pipeline.media_spec import MediaKind, MediaSpec
from datatrust.pipeline.plates import detect_plates
from datatrust.pipeline.quality import analysis_copy, audio_quality, image_quality, video_quality
from datatrust.pipeline.rejection import Rejected, Rejection
from datatrust.pipeline.source import MediaSource
from datatrust.pipeline.validate import Probe, validate

ACCEPTED, REJECTED = "accepted", "rejected"


@dataclass(frozen=True)
class Fingerprints:
    sha256_original: str | None = None
    sha256_output: str | None = None
    phash: str | None = None  # photos
    frame_phashes: tuple[str, ...] = ()  # videos: about one per second, up to a cap
    audio: AudioFingerprint | None = None  # engine "chromaprint" or "spectral-v1"


@dataclass(frozen=True)
class MediaReport:
    """The outcome for one file.

    ``removed`` says what de-identification took out, e.g. ``{"metadata_removed": ["EXIF",
    "GPS"], "faces_blurred": 3, "faces_kept": 0, "speech_segments_muffled": 2,
    "location": "coarsened to H3 resolution 8"}``. ``output_bytes`` holds a de-identified
    photo or audio file, ``output_path`` a de-identified video; both None when rejected.
    ``timings_ms`` gives the time spent per stage."""

    verdict: str
    kind: MediaKind
    format: str
    mime: str
    rejections: tuple[Rejection, ...] = ()
    quality: dict[str, float] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    fingerprints: Fingerprints = field(default_factory=Fingerprints)
    output_bytes: bytes | None = None
    output_path: str | None = None
    output_format: str | None = None
    h3_cell: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.rejections)


class _Run:
    """Collects what each stage produced so a failure at any point still yields a report."""

    def __init__(self, kind: MediaKind) -> None:
        self.kind = kind
        self.format = "unknown"
        self.mime = "application/octet-stream"
        self.stage = "validate"
        self.rejections: list[Rejection] = []
        self.quality: dict[str, float] = {}
        self.removed: dict[str, Any] = {}
        self.fp: dict[str, Any] = {}
        self.output_bytes: bytes | None = None
        self.output_path: str | None = None
        self.created_dir: str | None = None  # a temporary directory we made for the output
        self.output_format: str | None = None
        self.h3_cell: str | None = None
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round((now - self._t) * 1000, 3)
        self._t = now

    def report(self) -> MediaReport:
        ok = not self.rejections
        return MediaReport(
            verdict=ACCEPTED if ok else REJECTED,
            kind=self.kind,
            format=self.format,
            mime=self.mime,
            rejections=tuple(self.rejections),
            quality=self.quality,
            removed=self.removed if ok else {},
            fingerprints=Fingerprints(**self.fp),
            output_bytes=self.output_bytes if ok else None,
            output_path=self.output_path if ok else None,
            output_format=self.output_format if ok else None,
            h3_cell=self.h3_cell if ok else None,
            timings_ms=self.timings,
        )


def process_media(
    path_or_bytes: bytes | str | os.PathLike,
    kind: MediaKind | str,
    spec: MediaSpec | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
    filename: str | None = None,
    output_dir: str | None = None,
) -> MediaReport:
    """See the module docstring. ``kind`` or ``spec`` being invalid is a programming error and
    raises ``ValueError``; nothing about the file itself raises."""
    kind = MediaKind(kind)
    spec = spec or MediaSpec.for_kind(kind)
    if spec.kind != kind:
        raise ValueError(f"spec is for {spec.kind.value}, not {kind.value}")
    run = _Run(kind)
    try:
        source = MediaSource.of(path_or_bytes)
        v = validate(source, spec, filename)
        run.format, run.mime = v.sniffed.format, v.sniffed.mime
        run.lap("validate")
        if not v.ok:
            run.rejections.extend(v.rejections)
            return _cleanup(run)
        run.fp["sha256_original"] = source.sha256()
        location = _client_location(metadata)
        if kind is MediaKind.PHOTO:
            _photo(run, source, v.probe, spec, location)
        elif kind is MediaKind.VIDEO:
            _video(run, source, v.probe, spec, location, output_dir)
        else:
            _audio(run, source, v.probe, spec, location)
    except Rejected as r:
        run.rejections.append(r.rejection)
    except MemoryError:
        run.rejections.append(Rejection("processing_error", f"Out of memory during {run.stage}."))
    except Exception as e:  # a worker must survive any file; the stage is named for triage
        run.rejections.append(
            Rejection(
                "processing_error", f"Processing failed during {run.stage}: {type(e).__name__}: {e}"
            )
        )
    return _cleanup(run)


def _cleanup(run: _Run) -> MediaReport:
    if run.rejections and run.output_path and os.path.exists(run.output_path):
        os.remove(run.output_path)
        if run.created_dir:
            os.rmdir(run.created_dir)
    return run.report()


def _client_location(metadata: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if not metadata:
        return None
    lat = metadata.get("lat", metadata.get("latitude"))
    lng = metadata.get("lng", metadata.get("lon", metadata.get("longitude")))
    if lat is None or lng is None:
        return None
    return lat, lng


def _set_location(
    run: _Run,
    client: tuple[float, float] | None,
    embedded: tuple[float, float] | None,
    resolution: int,
) -> None:
    pos = client or embedded
    run.h3_cell = coarsen_location(*pos, resolution) if pos else None
    if run.h3_cell:
        run.removed["location"] = f"coarsened to H3 resolution {resolution}"


# ---------------------------------------------------------------- photo


def _photo(
    run: _Run,
    source: MediaSource,
    probe: Probe,
    spec: MediaSpec,
    location: tuple[float, float] | None,
) -> None:
    opts = spec.deidentify
    run.stage = "decode"
    data = source.read_all()
    trailing = len(data) - probe.image_end if probe.image_end else 0
    img = decode_image(data, run.format, trailing)
    run.lap("decode")

    run.stage = "quality"
    width, height = img.image.size
    small = reduced_rgb(img.image)
    gray = analysis_copy(small)
    q = image_quality(gray, width, height, spec.quality)
    run.quality = q.figures
    run.lap("quality")
    if not q.passed:
        run.rejections.extend(q.failures)
        return

    run.stage = "deidentify"
    copy = face_detection_copy(img.image, small)
    boxes = detect_faces(copy, (width, height)) if opts.blur_faces else []
    to_blur, kept = choose_faces(boxes, opts.keep_contributor_face)
    blur_boxes_pil(img.image, to_blur)
    plates = detect_plates(copy, (width, height)) if opts.blur_plates else []
    blur_boxes_pil(img.image, plates, grow=False)
    out = encode_image(img.image, run.format, img.icc_profile, opts.jpeg_quality)
    run.removed.update(
        metadata_removed=img.metadata_found,
        faces_blurred=len(to_blur),
        faces_kept=kept,
        plates_blurred=len(plates),
    )
    _set_location(run, location, img.gps, opts.h3_resolution)
    run.lap("deidentify")

    run.stage = "fingerprint"
    run.fp["sha256_output"] = sha256_bytes(out)
    run.fp["phash"] = phash(gray)  # of the original pixels: re-uploads match before blurring
    run.output_bytes, run.output_format = out, run.format
    run.lap("fingerprint")


def reduced_rgb(im: Any) -> np.ndarray:
    """An RGB array of ``im`` shrunk by Pillow's fast integer ``reduce`` to a long side of
    1024-2047 px (smaller images as they are), so the full-size image is never turned into
    an array. Quality figures, face detection and the pHash all start from it."""
    factor = max(1, max(im.size) // 1024)
    small = im.reduce(factor) if factor > 1 else im
    return np.asarray(small.convert("RGB"))


# Long side of the copy faces are looked for in. CenterFace finds faces from ~20 px across
# in its input: at 1344 px that is a head of 2 % of the photo's width. Smaller photos are
# enlarged to it (a 2 % head of a 1024 px photo is found at 1344 px, not at 1024).
PHOTO_DETECT_LONG_SIDE = 1344


def face_detection_copy(im: Any, small: np.ndarray | None = None) -> np.ndarray:
    """The RGB copy of ``im`` that faces are detected in: long side ``PHOTO_DETECT_LONG_SIDE``.
    ``small`` (``reduced_rgb(im)``) is reused when it has that size (12 MP photos) or is
    enlarged when ``im`` is smaller; otherwise ``im`` is resized (never made an array at
    full size)."""
    if small is None:
        small = reduced_rgb(im)
    scale = PHOTO_DETECT_LONG_SIDE / max(im.size)
    size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
    if (small.shape[1], small.shape[0]) == size:
        return small
    if scale > 1:
        return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
    resized = im.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(resized.convert("RGB"))


# ---------------------------------------------------------------- video


def _video(
    run: _Run,
    source: MediaSource,
    probe: Probe,
    spec: MediaSpec,
    location: tuple[float, float] | None,
    output_dir: str | None,
) -> None:
    opts = spec.deidentify
    run.stage = "quality"
    q = video_quality(
        probe.width or 0, probe.height or 0, probe.duration_s or 0.0, probe.fps or 0.0, spec.quality
    )
    run.quality = q.figures
    run.lap("quality")
    if not q.passed:
        run.rejections.extend(q.failures)
        return

    run.stage = "deidentify"
    out_dir = output_dir
    if out_dir is None:
        out_dir = run.created_dir = tempfile.mkdtemp(prefix="datatrust-video-")
    fd, out_path = tempfile.mkstemp(suffix=".mp4", dir=out_dir)
    os.close(fd)
    run.output_path = out_path
    speech = _soundtrack_speech(source, probe, spec)
    src = source.path if source.path else source.open()
    result = deidentify_video(src, out_path, opts, spec.limits, speech)
    run.removed.update(
        metadata_removed=classify_tags(probe.tags),
        faces_blurred=result.faces_blurred,
        faces_kept=result.faces_kept,
        plates_blurred=result.plates_blurred,
        frames=result.frames,
    )
    if speech is None and probe.has_audio:
        run.removed["audio_dropped"] = "the soundtrack could not be checked for speech"
    elif speech:
        run.removed["speech_segments_muffled"] = len(speech)
        run.removed["speech_seconds_muffled"] = round(sum(e - s for s, e in speech), 2)
    embedded = next(
        (
            parse_iso6709(v)
            for k, v in probe.tags.items()
            if "location" in k.lower() and parse_iso6709(v)
        ),
        None,
    )
    _set_location(run, location, embedded, opts.h3_resolution)
    run.lap("deidentify")

    run.stage = "fingerprint"
    run.fp["sha256_output"] = MediaSource(path=out_path).sha256()
    run.fp["frame_phashes"] = result.frame_phashes
    run.output_format = "mp4"
    run.lap("fingerprint")


def _soundtrack_speech(
    source: MediaSource, probe: Probe, spec: MediaSpec
) -> tuple[audio_mod.Segment, ...] | None:
    """Speech in a video's soundtrack, to be muffled as in ambient audio: () when there is
    no soundtrack or no speech, None when the soundtrack cannot be decoded (fail closed:
    the caller then leaves it out rather than ship speech unchecked)."""
    if not probe.has_audio:
        return ()
    try:
        src = source.path if source.path else source.open()
        return audio_mod.analyze_audio(src, spec.limits.max_duration_s + 1).speech_segments
    except Rejected:
        return None


# ---------------------------------------------------------------- audio


def _audio(
    run: _Run,
    source: MediaSource,
    probe: Probe,
    spec: MediaSpec,
    location: tuple[float, float] | None,
) -> None:
    opts = spec.deidentify
    run.stage = "decode"
    src = source.path if source.path else source.open()
    analysis = audio_mod.analyze_audio(
        src, spec.limits.max_duration_s, detect_speech=spec.kind is not MediaKind.CALL
    )
    run.lap("decode")

    run.stage = "quality"
    q = audio_quality(analysis.figures, spec.quality)
    run.quality = q.figures
    run.lap("quality")
    if not q.passed:
        run.rejections.extend(q.failures)
        return

    run.stage = "deidentify"
    segments = analysis.speech_segments if spec.kind is MediaKind.AMBIENT else ()
    ratio = analysis.figures.get("speech_ratio", 0.0)
    if segments and (opts.speech_policy == "reject" or ratio > opts.max_speech_ratio):
        run.rejections.append(
            Rejection(
                "speech_detected",
                f"Speech was detected in {ratio:.0%} of this ambient recording (at most "
                f"{opts.max_speech_ratio:.0%} can be muffled"
                + (", and this campaign rejects any" if opts.speech_policy == "reject" else "")
                + "). Record where nobody is talking nearby.",
            )
        )
        return
    src = source.path if source.path else source.open()
    if segments:
        out, ext = audio_mod.muffle_audio(src, run.format, segments)
    else:
        out, ext = audio_mod.remux_audio(src, run.format)
    run.removed.update(
        metadata_removed=classify_tags(probe.tags), speech_segments_muffled=len(segments)
    )
    if segments:
        run.removed["speech_seconds_muffled"] = round(sum(e - s for s, e in segments), 2)
    _set_location(run, location, None, opts.h3_resolution)
    run.lap("deidentify")

    run.stage = "fingerprint"
    run.fp["sha256_output"] = sha256_bytes(out)
    run.fp["audio"] = analysis.fingerprint
    run.output_bytes, run.output_format = out, ext
    run.lap("fingerprint")
