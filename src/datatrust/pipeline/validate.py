"""Decide from headers alone whether a file may be processed at all.

``validate(source, spec, filename=None) -> Validation`` never decodes pixels or samples. It
checks, in order: empty, size, real type from magic bytes (archives rejected), that the
type is one the campaign accepts, that the file name's extension does not contradict the
content, then the structure of the format:

- JPEG/PNG: walked segment by segment (chunk by chunk) to the end marker, so a cut-off file
  is ``truncated``; dimensions come from SOF/IHDR before Pillow sees the file, so a
  100k × 100k PNG is a ``decompression_bomb`` without a byte being inflated. Bytes after the
  image's end that hold an archive signature, or a ZIP directory closing the file, make it a
  ``polyglot``.
- MP4/MOV: top-level boxes walked (a box running past the end is ``truncated``, a missing
  ``moov`` means the recording was never finalised); durations from ``mvhd``/``mdhd`` and
  frame sizes from ``tkhd``/``stsd`` are checked before any decoder opens the file.
- Everything time-based is then opened with PyAV (headers only) to check duration, frame
  size, frame rate, sample rate and channels against the kind's limits.

It never raises for a bad file: problems come back as ``Validation.rejections`` (it stops at
the first structural problem, since later checks would be noise). Decoding errors found
later (a JPEG whose entropy data is garbage) are reported by the stage that decodes.
"""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

import av
from PIL import Image

from datatrust.pipeline.media_spec import MediaSpec
from datatrust.pipeline.rejection import Rejected, Rejection
from datatrust.pipeline.sniff import (
    ARCHIVE,
    OTHER,
    SNIFF_BYTES,
    UNKNOWN,
    Sniffed,
    archive_signature_in,
    extension_matches,
    has_zip_directory_at_end,
    sniff,
)
from datatrust.pipeline.source import MediaSource

# A JPEG/PNG needing more than this many pixels per byte of file is a bomb, not a big photo:
# real photos are 2-20 pixels per byte, a crafted PNG of zeros millions.
_BOMB_PIXELS_PER_BYTE = 500


@dataclass(frozen=True)
class Probe:
    """What the headers say. Fields that do not apply, or that a header leaves out, are None."""

    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    has_video: bool = False
    has_audio: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    image_end: int | None = None  # byte offset just past an image's end marker


@dataclass(frozen=True)
class Validation:
    sniffed: Sniffed
    probe: Probe
    rejections: tuple[Rejection, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.rejections


def validate(source: MediaSource, spec: MediaSpec, filename: str | None = None) -> Validation:
    """Check ``source`` against ``spec.limits``; see the module docstring for the order.

    ``filename`` is the name the client sent (its extension is compared with the content);
    when omitted, the source's path name is used."""
    sniffed = UNKNOWN
    try:
        size = source.size()
        if size == 0:
            raise Rejected("empty_file", "The file is empty (0 bytes); the upload may have failed.")
        limits = spec.limits
        if size > limits.max_bytes:
            raise Rejected(
                "file_too_large",
                f"The file is {size / 1e6:.1f} MB; this campaign accepts at most "
                f"{limits.max_bytes / 1e6:.0f} MB.",
            )
        sniffed = sniff(source.head(SNIFF_BYTES))
        _check_type(sniffed, spec, filename or source.name)
        if sniffed.family == "image":
            probe = _probe_image(source, sniffed, spec)
        else:
            probe = _probe_timed(source, sniffed, spec)
        return Validation(sniffed, probe)
    except Rejected as r:
        return Validation(sniffed, Probe(), (r.rejection,))
    except OSError as e:
        return Validation(
            sniffed, Probe(), (Rejection("corrupt", f"The file could not be read: {e}."),)
        )


def _check_type(sniffed: Sniffed, spec: MediaSpec, filename: str | None) -> None:
    if sniffed.family == ARCHIVE:
        raise Rejected(
            "archive",
            f"This is a {sniffed.format} archive, not a media file. Upload the "
            f"{spec.kind.family} itself, one file per item.",
        )
    if sniffed is UNKNOWN:
        raise Rejected(
            "unknown_format",
            "The file's content is not a recognised media format. Accepted: "
            + ", ".join(sorted(spec.limits.formats))
            + ".",
        )
    if sniffed.family == OTHER:
        raise Rejected(
            "unsupported_format",
            f"This is a {sniffed.format.upper()} file, not a {spec.kind.family}. Accepted: "
            + ", ".join(sorted(spec.limits.formats))
            + ".",
        )
    if sniffed.format not in spec.limits.formats:
        same_family = sniffed.family == spec.kind.family
        code = "unsupported_format" if same_family else "wrong_kind"
        what = (
            f"{sniffed.format.upper()} files are not accepted"
            if same_family
            else f"This is a {sniffed.family} ({sniffed.format}) but the campaign wants "
            f"{spec.kind.value} ({spec.kind.family})"
        )
        raise Rejected(
            code, f"{what}. Accepted: {', '.join(sorted(spec.limits.formats))}; please convert."
        )
    if extension_matches(filename, sniffed) is False:
        ext = filename.rsplit(".", 1)[1]
        raise Rejected(
            "extension_mismatch",
            f"The file is named .{ext} but its content is {sniffed.format.upper()}. "
            "Re-export it from the original app, or rename it to match its content.",
        )


# ---------------------------------------------------------------- images


def _probe_image(source: MediaSource, sniffed: Sniffed, spec: MediaSpec) -> Probe:
    data = source.read_all()
    if sniffed.format == "jpeg":
        width, height, end = _jpeg_layout(data)
    elif sniffed.format == "png":
        width, height, end = _png_layout(data)
    else:
        width, height, end = _webp_layout(data)
    if width:
        _check_dimensions(width, height, len(data), spec)
    _check_trailer(data, end)
    with warnings.catch_warnings():
        # Our own pixel limit was checked above; this turns Pillow's bomb warning into an
        # error as a second line of defence (e.g. a WebP canvas larger than its header says).
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source.open()) as im:
                if im.size != (width, height) and sniffed.format != "webp":
                    raise Rejected(
                        "corrupt",
                        f"The image header is inconsistent ({im.size} vs {width}×{height}).",
                    )
                width, height = im.size
                if getattr(im, "n_frames", 1) > 1:
                    raise Rejected(
                        "animated_image", "Animated images are not accepted; upload a still photo."
                    )
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise Rejected("decompression_bomb", f"The image declares too many pixels: {e}") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise Rejected("corrupt", f"The image header could not be read: {e}.") from e
    _check_dimensions(width, height, len(data), spec)
    return Probe(width=width, height=height, image_end=end)


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Inside entropy-coded data 0xFF is followed by 0x00 (stuffing), a restart marker or more
# 0xFF fill; any other byte after 0xFF starts the next real marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_layout(data: bytes) -> tuple[int, int, int]:
    """(width, height, offset just past EOI). Raises ``Rejected`` for a cut-off or broken file."""
    n = len(data)
    i = 2
    width = height = 0
    truncated = Rejected(
        "truncated", "The JPEG is cut off before its end marker; the upload was incomplete."
    )
    while True:
        if i >= n:
            raise truncated
        if data[i] != 0xFF:
            raise Rejected("corrupt", f"The JPEG structure is broken at byte {i}.")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            raise truncated
        marker = data[i]
        i += 1
        if marker == 0xD9:  # EOI
            if not width or not height:
                raise Rejected("corrupt", "The JPEG has no frame header (SOF).")
            return width, height, i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            raise truncated
        seglen = struct.unpack(">H", data[i : i + 2])[0]
        if seglen < 2:
            raise Rejected("corrupt", f"The JPEG has an invalid segment length at byte {i}.")
        if i + seglen > n:
            raise truncated
        if marker in _SOF_MARKERS and seglen >= 7:
            height, width = struct.unpack(">HH", data[i + 3 : i + 7])
        i += seglen
        if marker == 0xDA:  # SOS: skip the entropy-coded scan
            m = _NEXT_MARKER.search(data, i)
            if m is None:
                raise truncated
            i = m.start()


def _png_layout(data: bytes) -> tuple[int, int, int]:
    """(width, height, offset just past IEND). Raises ``Rejected`` on a cut-off or broken file."""
    n = len(data)
    if n < 33 or data[12:16] != b"IHDR":
        raise Rejected("corrupt", "The PNG does not start with an image header (IHDR).")
    width, height = struct.unpack(">II", data[16:24])
    i = 8
    chunks = 0
    while True:
        if i + 8 > n:
            raise Rejected("truncated", "The PNG is cut off before its end (IEND); re-upload it.")
        length = struct.unpack(">I", data[i : i + 4])[0]
        ctype = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > n:
            raise Rejected("truncated", "The PNG is cut off inside a chunk; re-upload it.")
        if ctype == b"acTL":
            raise Rejected("animated_image", "Animated PNGs are not accepted; upload a still.")
        if ctype == b"IEND":
            return width, height, end
        chunks += 1
        if chunks > 200_000:
            raise Rejected("corrupt", "The PNG has an absurd number of chunks.")
        i = end


def _webp_layout(data: bytes) -> tuple[int, int, int]:
    """(width, height, end) of a WebP; width/height are 0 here and read by Pillow's lazy open
    (it parses only the VP8/VP8L/VP8X header) under the bomb guard in ``_probe_image``."""
    riff_size = struct.unpack("<I", data[4:8])[0]
    end = 8 + riff_size
    if end > len(data):
        raise Rejected("truncated", "The WebP is cut off before its declared end; re-upload it.")
    return 0, 0, end + (riff_size & 1 if end < len(data) else 0)


def _check_dimensions(width: int, height: int, size: int, spec: MediaSpec) -> None:
    lim = spec.limits
    pixels = width * height
    if pixels > lim.max_pixels:
        if pixels / max(size, 1) > _BOMB_PIXELS_PER_BYTE:
            raise Rejected(
                "decompression_bomb",
                f"The image claims {width}×{height} pixels in a {size}-byte file; this is a "
                "decompression bomb and is not decoded.",
            )
        raise Rejected(
            "too_many_pixels",
            f"The image is {width}×{height} ({pixels / 1e6:.0f} MP); the limit is "
            f"{lim.max_pixels / 1e6:.0f} MP. Resize it and upload again.",
        )
    _check_sides(width, height, spec)


def _check_sides(width: int, height: int, spec: MediaSpec) -> None:
    lim = spec.limits
    short, long_ = min(width, height), max(width, height)
    if short < lim.min_side:
        raise Rejected(
            "bad_dimensions",
            f"The picture is {width}×{height} pixels; each side must be at least {lim.min_side}.",
        )
    if long_ > lim.max_side or long_ / short > lim.max_aspect:
        raise Rejected(
            "bad_dimensions",
            f"The picture is {width}×{height} pixels; sides must be at most {lim.max_side} and "
            f"the aspect ratio at most {lim.max_aspect:g}:1.",
        )


def _check_trailer(data: bytes, end: int) -> None:
    trailer = memoryview(data)[end:]
    if not len(trailer):
        return
    found = archive_signature_in(trailer)
    if found is None and has_zip_directory_at_end(bytes(trailer[-(65536 + 22) :])):
        found = "zip"
    if found:
        raise Rejected(
            "polyglot",
            f"A {found} archive is hidden after the end of the image data ({len(trailer)} "
            "extra bytes). Upload the original photo only.",
        )


# ---------------------------------------------------------------- video and audio


def _probe_timed(source: MediaSource, sniffed: Sniffed, spec: MediaSpec) -> Probe:
    if has_zip_directory_at_end(source.tail(65536 + 22)):
        raise Rejected(
            "polyglot",
            "The file also carries a ZIP archive at its end. Upload the original recording.",
        )
    header: dict[str, Any] = {}
    if sniffed.format in ("mp4", "mov", "m4a"):
        header = _bmff_header(source)
        _check_timing(header.get("duration_s"), spec, "its header")
        for w, h in header.get("frame_sizes", ()):
            _check_frame_size(w, h, spec)
    try:
        with av.open(source.open(), mode="r", metadata_errors="ignore") as c:
            probe = _probe_container(c, header)
    except av.FFmpegError as e:
        raise Rejected("corrupt", f"The media container could not be read: {e}.") from e
    _check_streams(probe, spec)
    return probe


def _probe_container(c: Any, header: dict[str, Any]) -> Probe:
    tags = {str(k): str(v) for k, v in c.metadata.items()}
    duration = c.duration / 1_000_000 if c.duration else None
    video = c.streams.video[0] if c.streams.video else None
    audio = c.streams.audio[0] if c.streams.audio else None
    width = height = fps = frames = rate = channels = None
    for s in c.streams:
        tags.update({f"{s.type}:{k}": str(v) for k, v in s.metadata.items()})
        if s.duration and s.time_base:
            d = float(s.duration * s.time_base)
            duration = max(duration or 0.0, d)
    if header.get("duration_s"):
        duration = max(duration or 0.0, header["duration_s"])
    if video is not None:
        width, height = video.codec_context.width, video.codec_context.height
        rate_q = video.average_rate or video.guessed_rate
        fps = float(rate_q) if rate_q else None
        frames = video.frames or None
    if audio is not None:
        rate, channels = audio.codec_context.sample_rate, audio.codec_context.channels
    return Probe(
        width=width,
        height=height,
        duration_s=duration,
        fps=fps,
        frame_count=frames,
        sample_rate=rate,
        channels=channels,
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=video.codec_context.name if video is not None else None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        tags=tags,
    )


def _check_streams(p: Probe, spec: MediaSpec) -> None:
    lim = spec.limits
    if spec.kind.family == "video":
        if not p.has_video:
            raise Rejected("no_video_stream", "The file has no video track.")
        _check_frame_size(p.width or 0, p.height or 0, spec)
        if not p.fps or p.fps > lim.max_fps:
            raise Rejected(
                "bad_stream_params",
                f"The frame rate ({p.fps or 0:g} fps) is missing or above {lim.max_fps:g} fps.",
            )
        if p.frame_count and p.frame_count > lim.max_duration_s * lim.max_fps:
            raise Rejected(
                "duration_out_of_range",
                f"The video holds {p.frame_count} frames, more than the "
                f"{lim.max_duration_s / 60:g}-minute limit allows.",
            )
    else:
        if p.has_video:
            raise Rejected(
                "wrong_kind",
                f"The file contains video; this {spec.kind.value} campaign wants audio only.",
            )
        if not p.has_audio:
            raise Rejected("no_audio_stream", "The file has no audio track.")
    rate_ok = p.sample_rate is not None and 8000 <= p.sample_rate <= lim.max_sample_rate
    channels_ok = p.channels is not None and 1 <= p.channels <= lim.max_channels
    if p.has_audio and not (rate_ok and channels_ok):
        raise Rejected(
            "bad_stream_params",
            f"Unsupported audio: {p.sample_rate} Hz, {p.channels} channels (8000-"
            f"{lim.max_sample_rate} Hz and at most {lim.max_channels} channels accepted).",
        )
    _check_timing(p.duration_s, spec, "the container")


def _check_timing(duration: float | None, spec: MediaSpec, where: str) -> None:
    lim = spec.limits
    if duration is None:
        return  # streams without a header duration are bounded while decoding
    if duration > lim.max_duration_s:
        raise Rejected(
            "duration_out_of_range",
            f"{where.capitalize()} says the recording lasts {_hms(duration)}; the limit for "
            f"{spec.kind.value} is {_hms(lim.max_duration_s)}. Trim it or split it.",
        )
    if duration < lim.min_duration_s:
        raise Rejected(
            "duration_out_of_range",
            f"The recording lasts {duration:.2f} s; at least {lim.min_duration_s:g} s is needed.",
        )


def _check_frame_size(width: int, height: int, spec: MediaSpec) -> None:
    if width * height > spec.limits.max_pixels:
        raise Rejected(
            "too_many_pixels",
            f"Video frames are {width}×{height}; the limit is "
            f"{spec.limits.max_pixels / 1e6:.1f} MP per frame (4K UHD). Export at a lower "
            "resolution.",
        )
    if width and height:
        _check_sides(width, height, spec)


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


# ---------------------------------------------------------------- ISO-BMFF (MP4/MOV/M4A)

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_MAX_MOOV = 64 * 1024 * 1024


def _bmff_header(source: MediaSource) -> dict[str, Any]:
    """Walk top-level boxes and read durations and frame sizes out of ``moov``.

    Returns ``{"duration_s": float | None, "frame_sizes": [(w, h), ...]}``."""
    size = source.size()
    offset = 0
    moov: tuple[int, int] | None = None
    boxes = 0
    while offset < size:
        hdr = source.read_at(offset, 16)
        if len(hdr) < 8:
            raise Rejected("truncated", "The file ends inside a box header; re-upload it.")
        box_size, box_type = struct.unpack(">I4s", hdr[:8])
        header_len = 8
        if box_size == 1:
            if len(hdr) < 16:
                raise Rejected("truncated", "The file ends inside a box header; re-upload it.")
            box_size = struct.unpack(">Q", hdr[8:16])[0]
            header_len = 16
        elif box_size == 0:
            box_size = size - offset
        if not all(0x20 <= b <= 0x7E for b in box_type) or box_size < header_len:
            trailer = source.read_at(offset, 1 << 20)
            found = archive_signature_in(trailer)
            if found:
                raise Rejected(
                    "polyglot",
                    f"A {found} archive is appended after the video; upload the "
                    "original recording only.",
                )
            raise Rejected("corrupt", f"The container is damaged at byte {offset}.")
        if offset + box_size > size:
            name = box_type.decode("latin-1")
            raise Rejected(
                "truncated",
                f"The file is cut off: its '{name}' box needs {box_size} bytes but only "
                f"{size - offset} remain. The upload or recording did not finish.",
            )
        if box_type == b"moov":
            moov = (offset + header_len, box_size - header_len)
        offset += box_size
        boxes += 1
        if boxes > 100_000:
            raise Rejected("corrupt", "The container has an absurd number of boxes.")
    if moov is None:
        raise Rejected(
            "truncated",
            "The file has no index (moov box): the recording was never finalised. Stop the "
            "recording normally and upload again.",
        )
    if moov[1] > _MAX_MOOV:
        raise Rejected("corrupt", "The container's index is implausibly large.")
    info: dict[str, Any] = {"duration_s": None, "frame_sizes": []}
    try:
        _walk(source.read_at(*moov), info, None)
    except (struct.error, IndexError) as e:
        raise Rejected("corrupt", "The container's index (moov) is damaged.") from e
    return info


def _walk(buf: bytes, info: dict[str, Any], track: dict[str, Any] | None) -> None:
    i = 0
    while i + 8 <= len(buf):
        box_size, box_type = struct.unpack(">I4s", buf[i : i + 8])
        hl = 8
        if box_size == 1:
            box_size = struct.unpack(">Q", buf[i + 8 : i + 16])[0]
            hl = 16
        elif box_size == 0:
            box_size = len(buf) - i
        if box_size < hl or i + box_size > len(buf):
            raise Rejected("corrupt", "The container's index (moov) is damaged.")
        body = buf[i + hl : i + box_size]
        if box_type == b"trak":
            _walk(body, info, {})
        elif box_type in _CONTAINERS:
            _walk(body, info, track)
        elif box_type in (b"mvhd", b"mdhd"):
            _duration_box(body, info)
        elif box_type == b"tkhd" and len(body) >= 84:
            w, h = struct.unpack(">II", body[-8:])
            if w >> 16 and h >> 16:
                info["frame_sizes"].append((w >> 16, h >> 16))
        elif box_type == b"stsd" and len(body) >= 8 + 8 + 28 + 4:
            entry = body[8:]
            fmt = entry[4:8]
            if fmt in (b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"vp09", b"av01", b"jpeg"):
                w, h = struct.unpack(">HH", entry[32:36])
                info["frame_sizes"].append((w, h))
        i += box_size


def _duration_box(body: bytes, info: dict[str, Any]) -> None:
    version = body[0]
    if version == 1:
        timescale, duration = struct.unpack(">IQ", body[20:32])
    else:
        timescale, duration = struct.unpack(">II", body[12:20])
    if timescale == 0:
        raise Rejected("corrupt", "The container declares a time scale of zero.")
    # 0xFFFFFFFF (or all ones in v1) means "unknown" in live/fragmented files.
    if duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return
    seconds = duration / timescale
    info["duration_s"] = max(info["duration_s"] or 0.0, seconds)
