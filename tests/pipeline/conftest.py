"""Generated media for the media pipeline tests: nothing is downloaded.

Photos come from scikit-image's bundled astronaut (a real face), audio from numpy tones and
noise (speech from ``espeak-ng`` when installed), video from frames written with PyAV.
Factories are fixtures returning functions so tests can vary the parameters.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from support import require_service

GPS_AMSTERDAM = (52.3676, 4.9041)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round((value - d - m / 60) * 3600, 2)
    return (float(d), float(m), s)


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    """The 512×512 astronaut scaled to 1024×1024 (above the default 640×480 photo minimum)."""
    return Image.fromarray(skdata.astronaut()).resize((1024, 1024), Image.Resampling.LANCZOS)


@pytest.fixture(scope="session")
def make_jpeg(astronaut: Image.Image) -> Callable[..., bytes]:
    def make(
        image: Image.Image | None = None,
        gps: tuple[float, float] | None = None,
        quality: int = 92,
        orientation: int | None = None,
    ) -> bytes:
        im = image or astronaut
        exif = Image.Exif()
        exif[0x010F] = "ExamplePhone"  # Make
        exif[0x0110] = "Model 7"  # Model
        exif[0x0131] = "Camera 1.0"  # Software
        if orientation:
            exif[0x0112] = orientation
        if gps:
            ifd = exif.get_ifd(0x8825)
            ifd.update(
                {
                    1: "N" if gps[0] >= 0 else "S",
                    2: _dms(gps[0]),
                    3: "E" if gps[1] >= 0 else "W",
                    4: _dms(gps[1]),
                }
            )
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, exif=exif)
        return buf.getvalue()

    return make


@pytest.fixture(scope="session")
def png_bytes(astronaut: Image.Image) -> bytes:
    buf = io.BytesIO()
    astronaut.save(buf, "PNG")
    return buf.getvalue()


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + ctype
        + payload
        + struct.pack(">I", zlib.crc32(ctype + payload) & 0xFFFFFFFF)
    )


@pytest.fixture(scope="session")
def png_bomb() -> bytes:
    """A PNG whose IHDR claims 100,000 × 100,000 pixels; the file is a few hundred bytes.
    (Fully inflating its IDAT would need 10 GB for one bit per pixel.)"""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * (100_000 // 8)
    idat = zlib.compress(row * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- audio

RATE = 48_000


def tones(seconds: float, rate: int = RATE, seed: int = 0, level: float = 0.2) -> np.ndarray:
    """A melody of 250 ms tones over soft noise, shaped (2, n): fingerprintable, no speech."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    notes = rng.choice([220, 262, 294, 330, 392, 440, 523, 587, 659], size=int(seconds * 4) + 1)
    freq = notes[(t * 4).astype(int)]
    x = level * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(n)
    right = np.roll(x, 100) * 0.9
    return np.stack([x, right]).astype(np.float32)


def ambient_noise(seconds: float, rate: int = RATE, seed: int = 1) -> np.ndarray:
    """Brown-ish street noise around -35 dBFS, shaped (1, n)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(int(seconds * rate))
    b = np.cumsum(w)
    b -= np.convolve(b, np.ones(4801) / 4801, mode="same")  # remove drift
    b = b / np.abs(b).max() * 0.05
    return b[None, :].astype(np.float32)


_AUDIO_CODECS = {
    "mp3": ("mp3", "libmp3lame", None),
    "opus": ("ogg", "libopus", 48_000),
    "wav": ("wav", "pcm_s16le", None),
    "flac": ("flac", "flac", None),
    "m4a": ("ipod", "aac", None),
}


def encode_audio(
    samples: np.ndarray, rate: int, fmt: str, tags: dict[str, str] | None = None
) -> bytes:
    """Encode float samples shaped (channels, n) to ``fmt`` (mp3, opus, wav, flac, m4a)."""
    container, codec, fixed_rate = _AUDIO_CODECS[fmt]
    samples = np.atleast_2d(samples).astype(np.float32)
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    out_rate = fixed_rate or rate
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        for k, v in (tags or {}).items():
            out.metadata[k] = v
        stream = out.add_stream(codec, rate=out_rate, layout=layout)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=out_rate)
        step = 4096
        for i in range(0, samples.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, i : i + step]), format="fltp", layout=layout
            )
            frame.sample_rate = rate
            for f in resampler.resample(frame):
                out.mux(stream.encode(f))
        for f in resampler.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return buf.getvalue()


@pytest.fixture(scope="session")
def speech_16k(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """About 4 s of synthetic English speech from espeak-ng, mono float at 48 kHz."""
    binary = shutil.which("espeak-ng")
    require_service("espeak-ng (apt-get install espeak-ng)", binary is not None)
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    text = "Hello, my name is Anna and I live at twelve Baker Street. Call me tomorrow."
    subprocess.run([binary, "-w", str(path), text], check=True, capture_output=True)
    import soundfile as sf

    x, rate = sf.read(str(path), dtype="float32")
    # Resample 22050 → 48000 with PyAV's resampler, the same code path as uploads.
    frame = av.AudioFrame.from_ndarray(x[None, :].copy(), format="fltp", layout="mono")
    frame.sample_rate = rate
    res = av.AudioResampler(format="fltp", layout="mono", rate=RATE)
    parts = [f.to_ndarray() for f in res.resample(frame)] + [
        f.to_ndarray() for f in res.resample(None)
    ]
    y = np.concatenate(parts, axis=1)[0]
    return (y / np.abs(y).max() * 0.5).astype(np.float32)


# ---------------------------------------------------------------- video


def write_video(
    path: Path,
    seconds: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (640, 360),
    face: Image.Image | None = None,
    tags: dict[str, str] | None = None,
    fmt: str = "mp4",
    with_audio: bool = True,
    soundtrack: np.ndarray | None = None,
) -> Path:
    """A short H.264 video of a moving gradient (plus ``face`` pasted in, if given) with an
    AAC tone track, or ``soundtrack`` (stereo float at 48 kHz) instead of the tones."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), mode="w", format=fmt) as out:
        for k, v in (tags or {}).items():
            out.metadata[k] = v
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        a_stream = out.add_stream("aac", rate=RATE, layout="stereo") if with_audio else None
        face_arr = np.asarray(face) if face is not None else None
        for i in range(int(seconds * fps)):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (xx + i * 4) % 256
            img[..., 1] = (yy * 2 + i) % 256
            img[..., 2] = 128
            if face_arr is not None:
                fh, fw = face_arr.shape[:2]
                x0 = 40 + i  # drifts slowly, like a hand-held camera
                img[20 : 20 + fh, x0 : x0 + fw] = face_arr
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if a_stream is not None:
            audio = tones(seconds) if soundtrack is None else soundtrack
            res = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
            for s in range(0, audio.shape[1], 4096):
                f = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(audio[:, s : s + 4096]), format="fltp", layout="stereo"
                )
                f.sample_rate = RATE
                for g in res.resample(f):
                    out.mux(a_stream.encode(g))
            out.mux(a_stream.encode(None))
    return path


@pytest.fixture(scope="session")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "walk.mp4")


@pytest.fixture(scope="session")
def face_video_file(tmp_path_factory: pytest.TempPathFactory, astronaut: Image.Image) -> Path:
    face = astronaut.crop((256, 0, 768, 512)).resize((300, 300))
    return write_video(
        tmp_path_factory.mktemp("video") / "face.mov",
        face=face,
        tags={"location": "+52.3676+004.9041/", "title": "my walk"},
        fmt="mov",
    )


@pytest.fixture(scope="session")
def media_kit() -> SimpleNamespace:
    """The generators above, for tests (test modules cannot import this conftest by name
    reliably: the top-level tests/conftest.py has the same module name)."""
    return SimpleNamespace(
        encode_audio=encode_audio, tones=tones, ambient_noise=ambient_noise, write_video=write_video
    )
