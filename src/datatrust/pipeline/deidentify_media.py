"""De-identify photos and videos: drop metadata, blur bystanders' faces, coarsen location.

- ``decode_image`` opens a validated image, notes which metadata it carries (EXIF, GPS, XMP,
  IPTC, comments, maker notes, thumbnails), reads its GPS position, applies the EXIF
  orientation to the pixels (so dropping EXIF does not turn the photo sideways) and clears
  everything but the ICC colour profile.
- ``blur_boxes_*`` blur the faces ``faces.detect_faces`` found, at full resolution (pixelate
  then smooth, on a box grown to take in forehead, hair and ears). With
  ``keep_largest`` the largest face — the contributor's in a likeness campaign — is left
  alone.
- ``encode_image`` writes the pixels in the input's format with no EXIF/XMP, keeping ICC.
- ``coarsen_location`` turns a position into an H3 cell and nothing else.
- ``deidentify_video`` re-encodes every frame (H.264, faces blurred) into an MP4 file, copies
  the audio packets, writes no container or stream tags, and samples frame pHashes on the
  way. It streams: one frame in memory at a time.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import av
import cv2
import h3
import numpy as np
from PIL import ExifTags, Image, ImageOps

from datatrust.pipeline.audio import Muffler, Segment
from datatrust.pipeline.faces import Box, FaceTracker, detect_faces
from datatrust.pipeline.fingerprint import phash
from datatrust.pipeline.media_spec import DeidOptions, MediaLimits
from datatrust.pipeline.plates import detect_plates
from datatrust.pipeline.quality import analysis_copy
from datatrust.pipeline.rejection import Rejected

# ---------------------------------------------------------------- location


def coarsen_location(lat: float, lng: float, resolution: int = 8) -> str | None:
    """The H3 cell (hex string) containing the point, or None for a missing position:
    non-finite, out of range, or exactly (0, 0), which phones write when they had no fix.
    The coordinates themselves are not kept anywhere."""
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng)) or (lat, lng) == (0.0, 0.0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return h3.latlng_to_cell(lat, lng, resolution)


_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def parse_iso6709(value: str) -> tuple[float, float] | None:
    """(lat, lng) from an ISO 6709 string such as ``+37.7749-122.4194+010.0/`` (the form
    phones put in MP4 ``location`` tags), or None."""
    m = _ISO6709.match(value or "")
    return (float(m.group(1)), float(m.group(2))) if m else None


# ---------------------------------------------------------------- images


@dataclass
class DecodedImage:
    """A decoded, upright image with its metadata already cleared (only ICC kept)."""

    image: Image.Image
    format: str
    icc_profile: bytes | None
    metadata_found: list[str] = field(default_factory=list)
    gps: tuple[float, float] | None = None


_GPS_IFD, _EXIF_IFD, _MAKERNOTE, _ORIENTATION = 0x8825, 0x8769, 0x927C, 0x0112


def decode_image(data: bytes, fmt: str, trailing_bytes: int = 0) -> DecodedImage:
    """Fully decode an image that passed validation. Raises ``Rejected("corrupt"|
    "truncated")`` when the pixel data cannot be decoded."""
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except OSError as e:
        code = "truncated" if "truncated" in str(e).lower() else "corrupt"
        raise Rejected(code, f"The image data could not be decoded ({e}); re-export it.") from e
    found: list[str] = []
    gps = None
    exif = im.getexif()
    orientation = exif.get(_ORIENTATION, 1)
    if len(exif):
        found.append("EXIF")
        gps_ifd = exif.get_ifd(_GPS_IFD)
        if gps_ifd:
            found.append("GPS")
            gps = _gps_position(gps_ifd)
        if _MAKERNOTE in exif.get_ifd(_EXIF_IFD):
            found.append("MAKERNOTE")
        if exif.get_ifd(ExifTags.IFD.IFD1):
            found.append("THUMBNAIL")
    info = im.info
    if "xmp" in info or "XML:com.adobe.xmp" in info:
        found.append("XMP")
    if "photoshop" in info or "iptc" in info:
        found.append("IPTC")
    if "comment" in info:
        found.append("COMMENT")
    if getattr(im, "text", None):
        found.append("TEXT")
    if trailing_bytes:
        found.append("TRAILING_DATA")
    icc = info.get("icc_profile")
    if orientation in range(2, 9):
        im = ImageOps.exif_transpose(im)
    if im.mode not in ("RGB", "RGBA"):
        has_alpha = "A" in im.mode or "transparency" in im.info
        if im.mode == "CMYK":
            icc = None  # a CMYK profile would misdescribe the converted RGB pixels
        im = im.convert("RGBA" if has_alpha and fmt != "jpeg" else "RGB")
    im.info = {}  # nothing from the original travels with the pixels (Pillow re-saves XMP)
    return DecodedImage(im, fmt, icc, found, gps)


def _gps_position(gps: dict[int, Any]) -> tuple[float, float] | None:
    try:
        lat = _dms(gps[2]) * (-1 if str(gps.get(1, "N")).upper().startswith("S") else 1)
        lng = _dms(gps[4]) * (-1 if str(gps.get(3, "E")).upper().startswith("W") else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return lat, lng


def _dms(v: Any) -> float:
    d, m, s = (float(x) for x in v)
    return d + m / 60 + s / 3600


def encode_image(im: Image.Image, fmt: str, icc: bytes | None, quality: int = 90) -> bytes:
    """Re-save without EXIF/XMP (Pillow writes them only when passed or left in ``info``)."""
    buf = io.BytesIO()
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        im.save(buf, "JPEG", quality=quality, **extra)
    elif fmt == "webp":
        im.save(buf, "WEBP", quality=quality, **extra)
    else:
        im.save(buf, "PNG", compress_level=6, **extra)
    return buf.getvalue()


# ---------------------------------------------------------------- faces


def blur_area(box: Box, width: int, height: int) -> Box:
    """The area to blur for a detected face: the detector's box runs from brow to chin, so
    it is extended by 40 % of its height upwards (forehead and hair), 10 % downwards and
    15 % of its width to each side (ears), then clipped to the picture."""
    x, y, w, h = box
    x0, y0 = max(0, x - int(w * 0.15)), max(0, y - int(h * 0.4))
    x1, y1 = min(width, x + w + int(w * 0.15)), min(height, y + h + int(h * 0.1))
    return x0, y0, x1 - x0, y1 - y0


def _clipped(box: Box, width: int, height: int) -> Box:
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(width, box[0] + box[2]), min(height, box[1] + box[3])
    return x0, y0, x1 - x0, y1 - y0


def _obscure(region: np.ndarray) -> np.ndarray:
    """Shrink to ~8 cells across (the identity is gone at that size), smooth those few
    pixels, and scale back up bilinearly, which leaves no block edges. All the work is at the
    small size: a full-resolution Gaussian on a large face cost more than the JPEG encode."""
    h, w = region.shape[:2]
    cells = max(1, min(w, h) // 8)
    small = cv2.resize(
        region, (max(1, w // cells), max(1, h // cells)), interpolation=cv2.INTER_AREA
    )
    if min(small.shape[:2]) >= 3:
        small = cv2.GaussianBlur(small, (3, 3), 0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def blur_boxes_pil(im: Image.Image, boxes: list[Box], grow: bool = True) -> None:
    """Blur each box of ``im`` in place (crop → blur → paste, so the full image is never
    converted to an array). ``grow``: the boxes are faces, blurred with ``blur_area``."""
    for box in boxes:
        x, y, w, h = blur_area(box, *im.size) if grow else _clipped(box, *im.size)
        if w < 2 or h < 2:
            continue
        region = np.asarray(im.crop((x, y, x + w, y + h)))
        im.paste(Image.fromarray(_obscure(region)), (x, y))


def blur_boxes_array(frame: np.ndarray, boxes: list[Box], grow: bool = True) -> None:
    """Blur each box of an H×W×C or H×W array in place (``grow`` as for ``blur_boxes_pil``)."""
    height, width = frame.shape[:2]
    for box in boxes:
        x, y, w, h = blur_area(box, width, height) if grow else _clipped(box, width, height)
        if w >= 2 and h >= 2:
            frame[y : y + h, x : x + w] = _obscure(frame[y : y + h, x : x + w])


def choose_faces(boxes: list[Box], keep_largest: bool) -> tuple[list[Box], int]:
    """(boxes to blur, number kept). ``boxes`` come largest first from ``detect_faces``."""
    if keep_largest and boxes:
        return boxes[1:], 1
    return boxes, 0


# ---------------------------------------------------------------- video

_STRUCTURAL_TAGS = {
    "major_brand",
    "minor_version",
    "compatible_brands",
    "handler_name",
    "vendor_id",
    "language",
    "duration",
    "encoder",
    "creation_time",
}


def classify_tags(tags: dict[str, str]) -> list[str]:
    """Metadata categories present in container/stream tags: GPS, DEVICE, DATES, TAGS.
    Structural keys (brands, handler names, language) are not personal and not listed."""
    out: set[str] = set()
    for key in tags:
        k = key.split(":", 1)[-1].lower()
        if "location" in k or "xyz" in k or "gps" in k:
            out.add("GPS")
        elif any(s in k for s in ("make", "model", "software", "android", "device")):
            out.add("DEVICE")
        elif "date" in k or "creation_time" in k:
            out.add("DATES")
        elif k not in _STRUCTURAL_TAGS:
            out.add("TAGS")
    if any(k.split(":", 1)[-1].lower() == "creation_time" for k in tags):
        out.add("DATES")
    return sorted(out)


@dataclass(frozen=True)
class VideoDeid:
    frames: int
    faces_blurred: int  # face detections blurred, summed over frames
    faces_kept: int
    plates_blurred: int  # plate detections blurred, summed over frames
    frame_phashes: tuple[str, ...]
    duration_s: float


_COPYABLE_AUDIO = {"aac", "mp3", "opus", "alac", "ac3"}
# Faces and plates are looked for five times a second of video (every 6th frame at 30 fps)
# on a copy of at most DETECT_LONG_SIDE px, and stay blurred for TRACK_HOLD detections
# after they were last found. Frames between two detections get both detections' boxes.
# Measured on bench/bench_video.py: ten detections a second on a 960 px copy cost more
# (3.6× the decode + re-encode peer at 720p) and found a 2 % head in 74 % of the frames,
# the 1280 px copy needs a fifth more time per detection and sees those faces at 20 px.
DETECT_INTERVAL_S = 0.2
DETECT_LONG_SIDE = 1280
TRACK_HOLD = 3


def deidentify_video(
    src: Any,
    out_path: str,
    opts: DeidOptions,
    limits: MediaLimits,
    speech: tuple[Segment, ...] | None = (),
) -> VideoDeid:
    """Re-encode ``src`` (a file object or path) to an MP4 at ``out_path`` with faces blurred
    and no tags. The soundtrack is copied when ``speech`` is empty, re-encoded (AAC) with
    those segments muffled otherwise, and left out when ``speech`` is None (it could not be
    checked). Raises ``Rejected`` when decoding fails or the stream turns out longer than
    ``limits.max_duration_s`` (headers can lie); other exceptions propagate."""
    rotation = _first_frame_rotation(src)
    if hasattr(src, "seek"):
        src.seek(0)
    with (
        av.open(src, mode="r", metadata_errors="ignore") as inp,
        av.open(out_path, mode="w", format="mp4") as out,
    ):
        v_in = inp.streams.video[0]
        v_in.thread_type = "AUTO"
        a_in = inp.streams.audio[0] if inp.streams.audio and speech is not None else None
        width = v_in.codec_context.width // 2 * 2  # yuv420p needs even sides
        height = v_in.codec_context.height // 2 * 2
        rate = v_in.average_rate or v_in.guessed_rate or 30
        v_out = out.add_stream("libx264", rate=rate)
        v_out.width, v_out.height, v_out.pix_fmt = width, height, "yuv420p"
        v_out.codec_context.time_base = v_in.time_base
        v_out.options = {"crf": str(opts.video_crf), "preset": "veryfast"}
        a_out = None
        a_transcode = False
        muffle: _SoundtrackMuffler | None = None
        if a_in is not None:
            if a_in.codec_context.name in _COPYABLE_AUDIO and not speech:
                a_out = out.add_stream_from_template(a_in)
            else:
                rate_a = a_in.codec_context.sample_rate
                layout = a_in.layout.name if a_in.codec_context.channels <= 2 else "stereo"
                a_out = out.add_stream("aac", rate=rate_a, layout=layout)
                a_transcode = True
                if speech:
                    muffle = _SoundtrackMuffler(rate_a, layout, speech)
            a_out.metadata.clear()
        v_out.metadata.clear()
        if rotation:
            # Frames are encoded as stored; the display matrix tells players to turn them.
            v_out.set_display_rotation(rotation)

        frames = blurred = kept = plates = 0
        hashes: list[str] = []
        next_sample = 0.0
        max_frames = limits.max_duration_s * limits.max_fps
        last_t = 0.0
        streams = [v_in] + ([a_in] if a_in is not None else [])
        every = max(1, round(float(rate) * DETECT_INTERVAL_S))
        tracker = FaceTracker(hold=TRACK_HOLD)
        plate_tracker = FaceTracker(hold=TRACK_HOLD)  # the same bookkeeping suits plates
        # Frames since the last detection wait here until the next one, so each is blurred
        # where the faces were at the detection before it *and* the one after it: a face
        # moving between two detections stays covered without a detection per frame.
        pending: list[av.VideoFrame] = []
        before: list[Box] = []
        plates_before: list[Box] = []
        kept_now = 0

        def flush(boxes: list[Box], plate_boxes: list[Box]) -> None:
            nonlocal blurred, kept, plates
            for f in pending:
                out.mux(v_out.encode(_blurred_frame(f, boxes, plate_boxes)))
                blurred += len(boxes)
                kept += kept_now
                plates += len(plate_boxes)
            pending.clear()

        try:
            for packet in inp.demux(*streams):
                if packet.stream is a_in:
                    if a_transcode:
                        for af in packet.decode():
                            af.pts = None
                            for f in muffle.frames(af) if muffle else [af]:
                                out.mux(a_out.encode(f))
                    elif packet.dts is not None:
                        packet.stream = a_out
                        out.mux(packet)
                    continue
                for frame in packet.decode():
                    t = float(frame.time) if frame.time is not None else frames / float(rate)
                    last_t = max(last_t, t)
                    frames += 1
                    if t > limits.max_duration_s + 1 or frames > max_frames:
                        raise Rejected(
                            "duration_out_of_range",
                            "The video is longer than its header says and over the limit "
                            f"of {limits.max_duration_s / 60:g} minutes.",
                        )
                    detect = (opts.blur_faces or opts.blur_plates) and (frames - 1) % every == 0
                    sample = t >= next_sample and len(hashes) < opts.max_video_fingerprint_frames
                    yuv = frame.reformat(width=width, height=height, format="yuv420p")
                    yuv.pts, yuv.time_base = frame.pts, frame.time_base
                    pending.append(yuv)
                    if not (detect or sample):
                        continue
                    small = _detection_copy(frame, width, height, rotation)
                    if sample:
                        hashes.append(phash(analysis_copy(small)))
                        next_sample = t + 1.0
                    if detect:
                        upright = (height, width) if rotation % 180 else (width, height)
                        found = detect_faces(small, upright) if opts.blur_faces else []
                        found = [_stored_box(b, rotation, upright) for b in found]
                        to_blur, kept_now = choose_faces(found, opts.keep_contributor_face)
                        now = tracker.update(to_blur)
                        plate_found = detect_plates(small, upright) if opts.blur_plates else []
                        plates_now = plate_tracker.update(
                            [_stored_box(b, rotation, upright) for b in plate_found]
                        )
                        flush(before + now, plates_before + plates_now)
                        before, plates_before = now, plates_now
            flush(before, plates_before)  # the last frames: where things were last seen
        except av.FFmpegError as e:
            raise Rejected(
                "corrupt", f"The video could not be decoded at {last_t:.1f} s: {e}."
            ) from e
        out.mux(v_out.encode(None))
        if a_transcode:
            for f in muffle.frames(None) if muffle else []:
                out.mux(a_out.encode(f))
            out.mux(a_out.encode(None))
    if frames == 0:
        raise Rejected("corrupt", "The video has no decodable frames.")
    return VideoDeid(frames, blurred, kept, plates, tuple(hashes), last_t)


class _SoundtrackMuffler:
    """Decoded soundtrack frames → planar float frames with the speech segments muffled and
    ``bleeps`` replaced by a tone (``frames(None)`` flushes)."""

    def __init__(
        self,
        rate: int,
        layout: str,
        speech: tuple[Segment, ...],
        bleeps: tuple[Segment, ...] = (),
    ) -> None:
        self.rate, self.layout = rate, layout
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self.muffler = Muffler(rate, speech, bleeps)

    def frames(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        out = []
        for f in self.resampler.resample(frame):
            new = av.AudioFrame.from_ndarray(
                self.muffler.apply(f.to_ndarray()), format="fltp", layout=self.layout
            )
            new.sample_rate = self.rate
            out.append(new)
        return out


def bleep_soundtrack(src: Any, bleeps: tuple[Segment, ...]) -> bytes:
    """The MP4 ``src`` (a de-identified video: a file object or path) with ``bleeps``
    (seconds from the start) of its soundtrack replaced by a tone: the video packets are
    copied as they are, the soundtrack re-encoded (AAC). Raises ``ValueError`` when it has
    no soundtrack, ``av.FFmpegError`` when it cannot be read."""
    buf = io.BytesIO()
    with (
        av.open(src, mode="r", metadata_errors="ignore") as inp,
        av.open(buf, mode="w", format="mp4") as out,
    ):
        if not inp.streams.audio:
            raise ValueError("the video has no soundtrack")
        a_in = inp.streams.audio[0]
        copied = {s.index: out.add_stream_from_template(s) for s in inp.streams.video[:1]}
        rate = a_in.codec_context.sample_rate
        layout = a_in.layout.name if a_in.codec_context.channels <= 2 else "stereo"
        a_out = out.add_stream("aac", rate=rate, layout=layout)
        for stream in (*copied.values(), a_out):
            stream.metadata.clear()
        bleep = _SoundtrackMuffler(rate, layout, (), bleeps)
        for packet in inp.demux(*inp.streams.video[:1], a_in):
            if packet.dts is None:
                continue
            if packet.stream.index in copied:
                packet.stream = copied[packet.stream.index]
                out.mux(packet)
                continue
            for frame in packet.decode():
                frame.pts = None
                for f in bleep.frames(frame):
                    out.mux(a_out.encode(f))
        for f in bleep.frames(None):
            out.mux(a_out.encode(f))
        out.mux(a_out.encode(None))
    return buf.getvalue()


def _detection_copy(frame: av.VideoFrame, width: int, height: int, rotation: int) -> np.ndarray:
    """An upright RGB copy of ``frame`` with a long side of at most ``DETECT_LONG_SIDE``,
    scaled and converted in one libswscale pass (the full-size frame is never RGB)."""
    scale = min(1.0, DETECT_LONG_SIDE / max(width, height))
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    return _upright(frame.to_ndarray(format="rgb24", width=w, height=h), rotation)


def _stored_box(box: Box, rotation: int, upright: tuple[int, int]) -> Box:
    """A box found on the upright picture (``upright`` = its width, height), in the
    coordinates of the frame as stored, which ``_upright`` turned by ``rotation``."""
    x, y, w, h = box
    width, height = upright
    for _ in range(round((rotation or 0) / 90) % 4):
        # undo one np.rot90 turn (counter-clockwise): upright (x, y) came from stored
        # (height_upright - 1 - y, x) where the stored picture is height × width turned.
        x, y, w, h = height - (y + h), x, h, w
        width, height = height, width
    return x, y, w, h


def _blurred_frame(frame: av.VideoFrame, boxes: list[Box], plates: list[Box]) -> av.VideoFrame:
    """``frame`` (yuv420p) with each face box (grown by ``blur_area``) and plate box blurred
    in a copy, or ``frame`` itself when there is nothing to blur. The decoder may still read
    the frame it gave (a reference picture), so it is never written to."""
    if not boxes and not plates:
        return frame
    w, h = frame.width, frame.height
    flat = frame.to_ndarray(format="yuv420p").reshape(-1)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    luma = flat[: w * h].reshape(h, w)
    chroma = [flat[w * h + k * cw * ch : w * h + (k + 1) * cw * ch].reshape(ch, cw) for k in (0, 1)]
    # Faces are grown here, at full size, so the chroma planes get the same area halved.
    regions = [blur_area(b, w, h) for b in boxes] + [_clipped(b, w, h) for b in plates]
    blur_boxes_array(luma, regions, grow=False)
    # The chroma planes are half size: the same boxes, halved outwards.
    half = [
        (x // 2, y // 2, -(-(x + bw) // 2) - x // 2, -(-(y + bh) // 2) - y // 2)
        for x, y, bw, bh in regions
    ]
    for plane in chroma:
        blur_boxes_array(plane, half, grow=False)
    new = av.VideoFrame.from_ndarray(flat.reshape(-1, w), format="yuv420p")
    new.pts, new.time_base = frame.pts, frame.time_base
    return new


def _first_frame_rotation(src: Any) -> int:
    """Display rotation in degrees of the first video frame (phones record portrait video as
    landscape frames plus a rotation), 0 when none or undecodable."""
    try:
        with av.open(src, mode="r", metadata_errors="ignore") as c:
            for frame in c.decode(video=0):
                return round(frame.rotation or 0)
    except av.FFmpegError:
        return 0
    return 0


def _upright(rgb: np.ndarray, rotation: float | int) -> np.ndarray:
    """Rotate by the display matrix angle (degrees, multiples of 90) for detection; faces are
    only found upright. The encoded frame keeps the source orientation."""
    turns = round((rotation or 0) / 90) % 4
    return np.rot90(rgb, turns) if turns else rgb
