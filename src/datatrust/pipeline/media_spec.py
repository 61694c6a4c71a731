"""What a campaign accepts for one kind of media: hard limits, quality thresholds and
de-identification choices, with defaults per kind.

``MediaSpec.for_kind(kind)`` gives the defaults; ``MediaSpec.from_campaign(kind, overrides)``
applies a campaign's overrides, given as ``{"limits": {...}, "quality": {...},
"deidentify": {...}}``. An unknown kind, section or field raises ``ValueError`` at that point
(a campaign spec is configuration: it must fail loudly when written, not when a file
arrives). Limits decide whether a file may be processed at all; quality thresholds decide
whether it is good enough for the campaign.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AMBIENT = "ambient"  # sound of a place; bystanders' speech must not ship intelligibly
    VOICE = "voice"  # the contributor speaking
    CALL = "call"  # a phone call the contributor took part in

    @property
    def family(self) -> str:
        return {"photo": "image", "video": "video"}.get(self.value, "audio")


IMAGE_FORMATS = frozenset({"jpeg", "png", "webp"})
VIDEO_FORMATS = frozenset({"mp4", "mov", "webm", "matroska"})
# Audio-only MP4/WebM (Android voice recorders, browsers) pass here; a video track is rejected.
AUDIO_FORMATS = frozenset(
    {"wav", "flac", "opus", "vorbis", "ogg", "mp3", "aac", "m4a", "mp4", "mov", "webm", "matroska"}
)

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaLimits:
    """Hard limits checked from headers before anything is decoded.

    ``max_pixels`` is per image or per video frame. Durations are seconds. ``min_side``
    rejects degenerate images (1×1 tracking pixels); ``max_aspect`` rejects 1×20000 strips.
    """

    formats: frozenset[str]
    max_bytes: int
    max_pixels: int = 50_000_000
    min_side: int = 32
    max_side: int = 20_000
    max_aspect: float = 8.0
    max_duration_s: float = 0.0  # 0: not time-based media
    min_duration_s: float = 0.0
    max_fps: float = 120.0
    max_sample_rate: int = 192_000
    max_channels: int = 8


@dataclass(frozen=True)
class QualityThresholds:
    """Campaign quality bar. ``None`` switches a check off.

    Sharpness is the variance of the Laplacian on a copy scaled to at most 1024 px on the
    long side (so it does not depend on resolution); loudness is BS.1770 integrated LUFS.
    """

    min_width: int | None = None
    min_height: int | None = None
    min_sharpness: float | None = None
    min_mean_luminance: float | None = None
    max_mean_luminance: float | None = None
    max_clipped_fraction: float | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    min_fps: float | None = None
    min_loudness_lufs: float | None = None
    max_loudness_lufs: float | None = None
    max_clipping_ratio: float | None = None
    max_silence_ratio: float | None = None
    min_snr_db: float | None = None
    min_speech_ratio: float | None = None


@dataclass(frozen=True)
class DeidOptions:
    """De-identification choices.

    ``keep_contributor_face``: for likeness campaigns, leave the largest face unblurred.
    ``blur_plates``: blur the number plates ``plates.detect_plates`` finds (photos, video).
    ``speech_policy`` (ambient audio): ``muffle`` speech segments, or ``reject`` the file;
    either way a file whose speech ratio exceeds ``max_speech_ratio`` is rejected.
    """

    blur_faces: bool = True
    blur_plates: bool = True
    keep_contributor_face: bool = False
    speech_policy: str = "muffle"
    max_speech_ratio: float = 0.3
    h3_resolution: int = 8
    jpeg_quality: int = 90
    video_crf: int = 23
    max_video_fingerprint_frames: int = 32


_DEFAULT_LIMITS: dict[MediaKind, MediaLimits] = {
    MediaKind.PHOTO: MediaLimits(formats=IMAGE_FORMATS, max_bytes=40 * MB),
    MediaKind.VIDEO: MediaLimits(
        formats=VIDEO_FORMATS,
        max_bytes=2048 * MB,
        max_pixels=3840 * 2160,
        max_side=4096,
        max_aspect=4.0,
        max_duration_s=30 * 60,
        min_duration_s=0.5,
    ),
    MediaKind.AMBIENT: MediaLimits(
        formats=AUDIO_FORMATS, max_bytes=500 * MB, max_duration_s=30 * 60, min_duration_s=1.0
    ),
    MediaKind.VOICE: MediaLimits(
        formats=AUDIO_FORMATS, max_bytes=200 * MB, max_duration_s=15 * 60, min_duration_s=1.0
    ),
    MediaKind.CALL: MediaLimits(
        formats=AUDIO_FORMATS, max_bytes=1024 * MB, max_duration_s=3 * 3600, min_duration_s=1.0
    ),
}

_DEFAULT_QUALITY: dict[MediaKind, QualityThresholds] = {
    MediaKind.PHOTO: QualityThresholds(
        min_width=640,
        min_height=480,
        min_sharpness=20.0,
        min_mean_luminance=35.0,
        max_mean_luminance=225.0,
        max_clipped_fraction=0.35,
    ),
    MediaKind.VIDEO: QualityThresholds(
        min_width=640, min_height=360, min_duration_s=2.0, min_fps=15.0
    ),
    MediaKind.AMBIENT: QualityThresholds(
        min_duration_s=5.0,
        min_loudness_lufs=-60.0,
        max_loudness_lufs=-5.0,
        max_clipping_ratio=0.01,
        max_silence_ratio=0.9,
    ),
    MediaKind.VOICE: QualityThresholds(
        min_duration_s=2.0,
        min_loudness_lufs=-40.0,
        max_loudness_lufs=-5.0,
        max_clipping_ratio=0.005,
        max_silence_ratio=0.7,
        min_snr_db=10.0,
        min_speech_ratio=0.2,
    ),
    MediaKind.CALL: QualityThresholds(
        min_duration_s=10.0,
        min_loudness_lufs=-45.0,
        max_loudness_lufs=-5.0,
        max_clipping_ratio=0.01,
        max_silence_ratio=0.8,
    ),
}


@dataclass(frozen=True)
class MediaSpec:
    kind: MediaKind
    limits: MediaLimits
    quality: QualityThresholds
    deidentify: DeidOptions = field(default_factory=DeidOptions)

    @classmethod
    def for_kind(cls, kind: MediaKind | str) -> MediaSpec:
        """The defaults for ``kind``. Raises ``ValueError`` for an unknown kind."""
        k = MediaKind(kind)
        return cls(k, _DEFAULT_LIMITS[k], _DEFAULT_QUALITY[k], DeidOptions())

    @classmethod
    def from_campaign(
        cls, kind: MediaKind | str, overrides: Mapping[str, Mapping[str, Any]] | None = None
    ) -> MediaSpec:
        """Defaults for ``kind`` with a campaign's overrides applied section by section.

        Raises ``ValueError`` naming the unknown section or field, or a bad speech policy."""
        spec = cls.for_kind(kind)
        sections = {"limits": spec.limits, "quality": spec.quality, "deidentify": spec.deidentify}
        for section, values in (overrides or {}).items():
            if section not in sections:
                raise ValueError(f"unknown media spec section {section!r}")
            current = sections[section]
            names = {f.name for f in dataclasses.fields(current)}
            unknown = set(values) - names
            if unknown:
                raise ValueError(f"unknown field(s) in {section}: {', '.join(sorted(unknown))}")
            values = dict(values)
            if "formats" in values:
                values["formats"] = frozenset(values["formats"])
            sections[section] = dataclasses.replace(current, **values)
        if sections["deidentify"].speech_policy not in ("muffle", "reject"):
            raise ValueError("deidentify.speech_policy must be 'muffle' or 'reject'")
        return cls(spec.kind, sections["limits"], sections["quality"], sections["deidentify"])
