"""Removing what a contributor marked as missed from a de-identified version.

Pure functions over bytes: text spans are replaced by ``[REMOVED]``; photo regions are
pixelated beyond recognition (16 px blocks, then blurred) and the photo re-encoded as JPEG
without metadata; stretches of a recording are replaced by a tone (``audio.Muffler``), an
audio file re-encoded (FLAC or Opus), a video's soundtrack re-encoded and its picture
copied.
"""

from __future__ import annotations

import io
import json

import av
from PIL import Image, ImageFilter

from datatrust.domain.errors import InvalidInput
from datatrust.pipeline.audio import muffle_audio
from datatrust.pipeline.deidentify_media import bleep_soundtrack

REMOVED = "[REMOVED]"
BLOCK_PX = 16
JPEG_QUALITY = 90


def find_spans(shipped: str, words: str, *, json_document: bool) -> list[tuple[int, int]]:
    """Every place ``words`` occurs in ``shipped`` (case as typed), as (start, end). In a
    JSON document the words are looked for as JSON writes them inside a string."""
    needle = json.dumps(words, ensure_ascii=False)[1:-1] if json_document else words
    spans, at = [], shipped.find(needle)
    while needle and at >= 0:
        spans.append((at, at + len(needle)))
        at = shipped.find(needle, at + len(needle))
    return spans


def remove_spans(shipped: str, spans: list[tuple[int, int]], *, json_document: bool) -> str:
    """``shipped`` with each span replaced by ``[REMOVED]``. Overlapping spans are merged.
    In a JSON document a span must lie inside a string: ``InvalidInput`` when removing it
    would break the document (a mark across a message's quotes)."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, last = [], 0
    for s, e in merged:
        out += [shipped[last:s], REMOVED]
        last = e
    text = "".join(out) + shipped[last:]
    if json_document:
        try:
            json.loads(text)
        except ValueError:
            raise InvalidInput(
                "mark only words inside one message, not the chat's structure", field="start"
            ) from None
    return text


def blur_regions(jpeg: bytes, boxes: list[tuple[int, int, int, int]], scale: int) -> bytes:
    """``jpeg`` with each box (left, top, width, height in 1/``scale`` of the photo's size)
    pixelated and blurred; re-encoded without EXIF."""
    with Image.open(io.BytesIO(jpeg)) as im:
        im = im.convert("RGB")
        w, h = im.size
        for left, top, bw, bh in boxes:
            x0, y0 = left * w // scale, top * h // scale
            x1, y1 = max(x0 + 1, (left + bw) * w // scale), max(y0 + 1, (top + bh) * h // scale)
            region = im.crop((x0, y0, x1, y1))
            small = region.resize(
                (max(1, (x1 - x0) // BLOCK_PX), max(1, (y1 - y0) // BLOCK_PX)),
                Image.Resampling.BILINEAR,
            )
            hidden = small.resize(region.size, Image.Resampling.NEAREST)
            im.paste(hidden.filter(ImageFilter.GaussianBlur(BLOCK_PX / 2)), (x0, y0))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=JPEG_QUALITY)
        return buf.getvalue()


def soundtrack_ms(recording: bytes) -> int | None:
    """How long the recording's sound lasts, in milliseconds; None when it has none (a video
    whose soundtrack was left out) or it cannot be read."""
    try:
        with av.open(io.BytesIO(recording), mode="r", metadata_errors="ignore") as c:
            if not c.streams.audio:
                return None
            stream = c.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return int(stream.duration * stream.time_base * 1000)
            if c.duration is not None:
                return int(c.duration // 1000)  # AV_TIME_BASE: microseconds
            rate = stream.codec_context.sample_rate or 1
            return sum(f.samples for f in c.decode(stream)) * 1000 // rate
    except av.FFmpegError:
        return None


def bleep_spans(recording: bytes, fmt: str, spans: list[tuple[float, float]]) -> tuple[bytes, str]:
    """``recording`` (what ships, in format ``fmt``: ``mp4`` or an audio format) with each
    span (seconds from the start) replaced by a tone; returns (bytes, format). A video keeps
    its picture as it is; audio becomes FLAC when it was lossless, Opus otherwise."""
    merged = tuple(sorted(spans))
    if fmt == "mp4":
        return bleep_soundtrack(io.BytesIO(recording), merged), "mp4"
    return muffle_audio(io.BytesIO(recording), fmt, (), merged)
