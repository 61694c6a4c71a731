"""Generated uploads for the ingest, campaign, tus and CLI tests: one per kind, plus the
hostile files. Nothing is downloaded: faces from scikit-image's astronaut, sound from numpy
(speech from espeak-ng), chats from a template. Importable as ``ingest_media``."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tempfile
import zlib
from functools import cache
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image
from skimage import data as skdata

from support import require_service

RATE = 48_000
AMSTERDAM = (52.3676, 4.9041)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), round((value - d - m / 60) * 3600, 2))


@cache
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut()).resize((1024, 1024), Image.Resampling.LANCZOS)


def photo(seed: int = 0, gps: tuple[float, float] | None = AMSTERDAM) -> bytes:
    """A 1024² JPEG with a face, camera EXIF and (by default) a GPS position. Different
    seeds give pictures far apart in pHash (different crops and mirrorings)."""
    im = astronaut()
    if seed:
        rng = np.random.default_rng(seed)
        arr = np.asarray(im).copy()
        arr = np.rot90(arr, k=seed % 4).copy()
        block = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
        pattern = np.kron(block, np.ones((128, 128, 1), dtype=np.uint8))
        arr = ((arr.astype(np.uint16) + pattern) // 2).astype(np.uint8)
        im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x010F] = "ExamplePhone"
    if gps:
        exif.get_ifd(0x8825).update(
            {
                1: "N" if gps[0] >= 0 else "S",
                2: _dms(gps[0]),
                3: "E" if gps[1] >= 0 else "W",
                4: _dms(gps[1]),
            }
        )
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def tones(seconds: float, seed: int = 0, level: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    notes = rng.choice([220, 262, 294, 330, 392, 440, 523, 587, 659], size=int(seconds * 4) + 1)
    x = level * np.sin(2 * np.pi * notes[(t * 4).astype(int)] * t) + 0.01 * rng.standard_normal(n)
    return np.stack([x, np.roll(x, 100) * 0.9]).astype(np.float32)


def street_noise(seconds: float = 8, seed: int = 1) -> np.ndarray:
    """Brown-ish street noise, stereo, around -25 LUFS: ambient audio with no speech."""
    rng = np.random.default_rng(seed)
    b = np.cumsum(rng.standard_normal(int(seconds * RATE)))
    b -= np.convolve(b, np.ones(4801) / 4801, mode="same")
    b = b / np.abs(b).max() * 0.2
    return np.stack([b, b]).astype(np.float32)


_CODECS = {
    "mp3": ("mp3", "libmp3lame", None),
    "opus": ("ogg", "libopus", 48_000),
    "m4a": ("ipod", "aac", None),
}


def encode(
    samples: np.ndarray, fmt: str = "wav", tags: dict[str, str] | None = None, rate: int = RATE
) -> bytes:
    """Float samples shaped (channels, n) at ``rate`` → wav (soundfile) or mp3/opus/m4a
    (PyAV)."""
    samples = np.atleast_2d(samples).astype(np.float32)
    if fmt == "wav":
        buf = io.BytesIO()
        sf.write(buf, samples.T, rate, format="WAV", subtype="PCM_16")
        return buf.getvalue()
    container, codec, fixed = _CODECS[fmt]
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        for k, v in (tags or {}).items():
            out.metadata[k] = v
        stream = out.add_stream(codec, rate=fixed or rate, layout=layout)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=fixed or rate)
        for i in range(0, samples.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, i : i + 4096]), format="fltp", layout=layout
            )
            frame.sample_rate = rate
            for f in resampler.resample(frame):
                out.mux(stream.encode(f))
        for f in resampler.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return buf.getvalue()


def ambient(seed: int = 1, fmt: str = "wav") -> bytes:
    return encode(street_noise(8, seed), fmt, tags={"title": "Anna at home"})


GREETING = "Hello, my name is Anna and I live near the market. Call me tomorrow."


@cache
def speech(text: str = GREETING, voice: str | None = None) -> np.ndarray:
    """``text`` read by espeak-ng (about 4 s for the greeting), mono float at 48 kHz
    (skips without espeak-ng outside CI). ``voice``: an espeak-ng voice such as en-us."""
    binary = shutil.which("espeak-ng")
    require_service("espeak-ng (apt-get install espeak-ng)", binary is not None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        args = [binary, *(["-v", voice] if voice else []), "-w", str(path), text]
        subprocess.run(args, check=True, capture_output=True)
        x, rate = sf.read(str(path), dtype="float32")
    frame = av.AudioFrame.from_ndarray(x[None, :].copy(), format="fltp", layout="mono")
    frame.sample_rate = rate
    res = av.AudioResampler(format="fltp", layout="mono", rate=RATE)
    parts = [f.to_ndarray() for f in res.resample(frame)] + [
        f.to_ndarray() for f in res.resample(None)
    ]
    y = np.concatenate(parts, axis=1)[0]
    return (y / np.abs(y).max() * 0.5).astype(np.float32)


# Different sentences, to be read by one voice: unrelated recordings that sound alike.
SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank today.",
    "Please remember to bring your umbrella because it might rain this afternoon.",
    "My grandmother planted tomatoes and beans in the garden behind the house.",
    "The train to the city leaves at seven o'clock every morning except Sunday.",
)


def sentence(text: str, seconds: float, voice: str = "en-us") -> np.ndarray:
    """The first ``seconds`` of ``text`` read by espeak-ng ``voice``, from its first sound,
    over a faint noise floor (a microphone's): mono float at 48 kHz shaped (1, n)."""
    s = speech(text, voice)
    start = int(np.argmax(np.abs(s) > 0.01))
    x = s[start : start + int(seconds * RATE)]
    rng = np.random.default_rng(len(text))
    return (x + 0.001 * rng.standard_normal(x.size)).astype(np.float32)[None, :]


def audio_copies(x: np.ndarray) -> dict[str, bytes]:
    """What a re-upload of the mono clip ``x`` (48 kHz) may be: re-encoded (MP3 and Opus at
    the encoders' default rates, about 64 kbit/s mono), a fifth of a second cut from the
    start, 3 dB quieter, resampled to 44.1 kHz."""
    n = x.shape[1] * 147 // 160
    at_44k = np.interp(np.arange(n) * 160 / 147, np.arange(x.shape[1]), x[0])[None, :]
    return {
        "mp3": encode(x, "mp3"),
        "opus": encode(x, "opus"),
        "0.2 s cut, wav": encode(x[:, RATE // 5 :], "wav"),
        "0.2 s cut, opus": encode(x[:, RATE // 5 :], "opus"),
        "-3 dB, mp3": encode(x * 10 ** (-3 / 20), "mp3"),
        "44.1 kHz, mp3": encode(at_44k, "mp3", rate=44_100),
    }


def voice(fmt: str = "opus") -> bytes:
    s = speech()
    rng = np.random.default_rng(3)
    x = np.concatenate([s, s]) + 0.002 * rng.standard_normal(2 * s.size).astype(np.float32)
    return encode(x[None, :], fmt)


def call(fmt: str = "m4a") -> bytes:
    return encode((np.tile(speech(), 4) + 0.002)[None, :], fmt)


CALL_TRANSCRIPT = (
    "Agent: Hello, this is Maria from the bank. Can I have your number?\n"
    "Me: Sure, it is +44 20 7946 0958 and my email is jan.devries@example.com.\n"
)


def video(path: Path, seconds: float = 3.0, with_face: bool = True, seed: int = 0) -> Path:
    """A short H.264 MP4 of a moving gradient with the astronaut's face pasted in and a
    location tag in the container."""
    w, h, fps = 640, 360, 15
    yy, xx = np.mgrid[0:h, 0:w]
    face = np.asarray(astronaut().crop((256, 0, 768, 512)).resize((200, 200)))
    with av.open(str(path), mode="w", format="mp4") as out:
        out.metadata["location"] = "+52.3676+004.9041/"
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        for i in range(int(seconds * fps)):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (xx * (1 + seed) + i * 4) % 256
            img[..., 1] = (yy * 2 + i + seed * 50) % 256
            img[..., 2] = 128
            if with_face:
                img[20:220, 40 + i : 240 + i] = face
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(vs.encode(None))
    return path


def video_bytes(seed: int = 0) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return video(Path(tmp) / "walk.mp4", seed=seed).read_bytes()


def whatsapp_chat(lines: int = 6, me: str = "Priya Sharma") -> bytes:
    """A WhatsApp Android export between the contributor and a friend, full of PII."""
    rows = [
        "12/31/23, 9:41 PM - Messages and calls are end-to-end encrypted. Tap to learn more.",
        f"12/31/23, 9:41 PM - Sipho Nkosi: Hi {me.split()[0]}, my number is +27 82 555 1234",
        f"12/31/23, 9:42 PM - {me}: Thanks Sipho! Mail me at priya.sharma@example.com",
    ]
    for i in range(lines):
        who = me if i % 2 else "Sipho Nkosi"
        rows.append(
            f"1/1/24, 10:{i:02d} AM - {who}: message {i} about the market near +91 98765 43210"
        )
    return ("\n".join(rows) + "\n").encode()


# --------------------------------------------------------------------------- hostile files


def truncated_jpeg() -> bytes:
    data = photo(seed=7)
    return data[: len(data) // 2]


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + ctype
        + payload
        + struct.pack(">I", zlib.crc32(ctype + payload) & 0xFFFFFFFF)
    )


def png_bomb() -> bytes:
    """A few hundred bytes claiming 100,000 × 100,000 pixels."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 1, 0, 0, 0, 0)
    idat = zlib.compress((b"\x00" + b"\x00" * (100_000 // 8)) * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
