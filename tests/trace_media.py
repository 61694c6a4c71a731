"""Media for misuse-tracing tests and bench/bench_trace.py, made by other programs than
the code under test: photos from scikit-image's bundled pictures, speech from espeak-ng
(several voices), video clips that move a camera over those photos (``walk_video``: no
sample video ships with any package here); and the edits a leaked copy goes through
(PyAV and Pillow re-encodes, crops, trims)."""

from __future__ import annotations

import io
import subprocess

import av
import numpy as np
from PIL import Image

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "moon",
    "page",
    "text",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "horse",
    "clock",
    "grass",
    "gravel",
    "brick",
    "colorwheel",
    "cell",
    "logo",
)  # fmt: skip  ("cat" is "chelsea" again: left out)
SENTENCES = (
    "The morning market opens before the sun is up and the stalls fill with fruit.",
    "Buses pass the corner every few minutes while people queue for tea.",
    "A dog barks at the gate and the children laugh on their way to school.",
    "Rain on the tin roof drowns out the radio in the kitchen.",
    "The ferry horn sounds twice as it leaves the harbour for the island.",
    "Someone is practising the piano upstairs, the same four bars again and again.",
    "The night shift hands over to the day shift at six, with coffee and complaints.",
    "At the station a voice announces that the eight fifteen is running late again.",
    "Grandmother sorts the beans on the porch and tells the story of the flood.",
    "A street vendor calls out prices for mangoes, three for the price of two.",
)
VOICES = ("en", "en-us", "en-gb-x-rp", "en-029", "en-gb-scotland")
RATE = 16_000


def photo(name: str) -> np.ndarray:
    import skimage.data

    rgb = getattr(skimage.data, name)()
    if rgb.dtype != np.uint8:  # a few are boolean or floating point
        rgb = (rgb.astype(np.float64) / max(1e-9, float(rgb.max())) * 255).astype(np.uint8)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.ascontiguousarray(rgb[..., :3])


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def cropped_copy(rgb: np.ndarray, box=(0.1, 0.25, 0.8, 0.95), scale=0.8, quality=60) -> bytes:
    """A crop (top, left, bottom, right as shares), rescaled and re-saved as a JPEG."""
    h, w = rgb.shape[:2]
    part = rgb[int(h * box[0]) : int(h * box[2]), int(w * box[1]) : int(w * box[3])]
    size = (max(8, int(part.shape[1] * scale)), max(8, int(part.shape[0] * scale)))
    return jpeg(np.asarray(Image.fromarray(part).resize(size)), quality)


def speech(index: int, sentences: int = 3) -> np.ndarray:
    """About 12-15 s of one voice reading ``sentences`` sentences, 16 kHz mono int16."""
    voice = VOICES[index % len(VOICES)]
    parts = []
    for j in range(sentences):
        text = SENTENCES[(index * sentences + j) % len(SENTENCES)]
        wav = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
            capture_output=True,
            check=True,
        ).stdout
        parts.append(pcm16(wav))
    return np.concatenate(parts)


def pcm16(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        out = bytearray()
        for frame in container.decode(audio=0):
            for o in resampler.resample(frame):
                out += o.to_ndarray().tobytes()
        for o in resampler.resample(None):
            out += o.to_ndarray().tobytes()
    return np.frombuffer(bytes(out), dtype=np.int16)


def encoded(pcm: np.ndarray, fmt: str = "mp3") -> bytes:
    """``pcm`` (16 kHz mono int16) as an MP3 (libmp3lame), Ogg Opus or WAV file."""
    codec, rate = {
        "mp3": ("libmp3lame", RATE),
        "ogg": ("libopus", 48_000),
        "wav": ("pcm_s16le", RATE),
    }[fmt]
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for f in resampler.resample(frame):
            for packet in stream.encode(f):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def trimmed_copy(pcm: np.ndarray, start_s: float, seconds: float, fmt: str = "mp3") -> bytes:
    a = int(start_s * RATE)
    return encoded(pcm[a : a + int(seconds * RATE)], fmt)


VIDEO_FPS = 10


def walk_video(rgb: np.ndarray, seconds: float = 12.0, size=(320, 240)) -> list[np.ndarray]:
    """Frames of a camera walking over ``rgb``: a window of 60 % of the picture pans from
    its left edge to its right, bobs up and down and slowly zooms in (to 45 %),
    ``VIDEO_FPS`` frames a second."""
    h, w = rgb.shape[:2]
    image = Image.fromarray(rgb)
    frames = []
    count = int(seconds * VIDEO_FPS)
    for i in range(count):
        t = i / max(1, count - 1)
        scale = 0.6 - 0.15 * t
        cw, ch = int(w * scale), int(h * scale)
        left = int((w - cw) * t)
        top = int((h - ch) * (0.5 + 0.25 * np.sin(2 * np.pi * t)))  # a gentle bob
        crop = image.crop((left, top, left + cw, top + ch)).resize(size)
        frames.append(np.asarray(crop.convert("RGB")))
    return frames


def mp4(frames: list[np.ndarray], crf: int = 23, start_s: float = 0.0, seconds=None) -> bytes:
    """``frames`` (``VIDEO_FPS`` a second) from ``start_s`` for ``seconds`` as an H.264 MP4
    (libx264 at ``crf``), even-sized."""
    first = int(start_s * VIDEO_FPS)
    last = len(frames) if seconds is None else first + int(seconds * VIDEO_FPS)
    part = frames[first:last]
    height, width = (d - d % 2 for d in part[0].shape[:2])
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in part:
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(rgb[:height, :width]), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def reframed(frames: list[np.ndarray], box=(0.1, 0.1, 0.9, 0.9), scale=1.0) -> list[np.ndarray]:
    """Every frame cropped to ``box`` (top, left, bottom, right as shares) and rescaled."""
    out = []
    for rgb in frames:
        h, w = rgb.shape[:2]
        part = rgb[int(h * box[0]) : int(h * box[2]), int(w * box[1]) : int(w * box[3])]
        size = (max(16, int(part.shape[1] * scale)), max(16, int(part.shape[0] * scale)))
        out.append(np.asarray(Image.fromarray(part).resize(size)))
    return out
