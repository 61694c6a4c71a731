"""Media pipeline cost against the cheapest thing that touches the same bytes.

(a) Photos: ``process_media(jpeg, "photo")`` (validate, decode, quality, face detection and
    blurring, re-encode at quality 90, hashes) per megapixel, against the floor of Pillow
    decoding and re-encoding the same JPEG at quality 90. Target: at most 2.5× the floor.
(b) Audio: ``process_media(file, "ambient")`` (validate, decode, loudness, VAD, Chromaprint,
    tag-free remux) per audio-minute, against decoding the same MP3/Opus file with PyAV.
    Target: at most 4× the floor. A row with speech (muffled, so re-encoded) is shown too.

Each case runs floor and pipeline alternately, several rounds, and keeps the median. Test
data is generated (no downloads). Run:  uv run python bench/bench_media.py
Prints a table and one line of JSON; keeps to a few tens of seconds on 2 cores.
``--one-core``: only the CPU seconds of a 12 MP photo with one thread, against its floor.
``--audio``: only the audio rows.
"""

from __future__ import annotations

import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from datatrust.pipeline.media import process_media

RATE = 48_000
ROUNDS = 5


def _photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG: the astronaut (a face) on a textured, noisy background."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(skdata.astronaut()).resize((width, height), Image.Resampling.BICUBIC)
    arr = np.asarray(base).astype(np.int16)
    arr += rng.normal(0, 6, arr.shape).astype(np.int16)  # sensor noise: realistic JPEG size
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _floor_photo(data: bytes) -> None:
    im = Image.open(io.BytesIO(data))
    im.load()
    im.save(io.BytesIO(), "JPEG", quality=90)


def _time(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def _pipeline(data: bytes, kind: str) -> None:
    r = process_media(data, kind)
    if not r.accepted:
        raise SystemExit(f"benchmark input was rejected: {r.rejections}")


def bench_photos() -> list[dict]:
    rows = []
    for label, (w, h), count in (("photo 12 MP", (4032, 3024), 3), ("photo 3 MP", (2048, 1536), 4)):
        images = [_photo(w, h, i) for i in range(count)]
        mp = w * h / 1e6
        process_media(images[0], "photo")  # warm up: loads the face model once
        floor, pipe = [], []
        for _ in range(ROUNDS):
            for data in images:
                floor.append(_time(_floor_photo, data) / mp)
                pipe.append(_time(_pipeline, data, "photo") / mp)
        rows.append(_row(label, "ms/MP", floor, pipe, 2.5))
    return rows


def _audio(seconds: int, speech: np.ndarray | None = None) -> np.ndarray:
    """Street-like ambience: brown noise plus passing 'cars' (swelling band noise)."""
    rng = np.random.default_rng(1)
    n = seconds * RATE
    b = np.cumsum(rng.standard_normal(n))
    b -= np.convolve(b, np.ones(4801) / 4801, mode="same")
    x = b / np.abs(b).max() * 0.1
    t = np.arange(n) / RATE
    x += 0.03 * rng.standard_normal(n) * (0.5 + 0.5 * np.sin(2 * np.pi * t / 7) ** 2)
    if speech is not None:
        for at in (10, 35):
            x[at * RATE : at * RATE + speech.size] += speech
    return np.stack([x, np.roll(x, 200)]).astype(np.float32)


def _encode(samples: np.ndarray, fmt: str) -> bytes:
    container, codec = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus")}[fmt]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        s = out.add_stream(codec, rate=RATE, layout="stereo")
        s.bit_rate = 128_000
        for i in range(0, samples.shape[1], 9600):
            f = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, i : i + 9600]), format="fltp", layout="stereo"
            )
            f.sample_rate = RATE
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return buf.getvalue()


def _floor_audio(data: bytes) -> None:
    with av.open(io.BytesIO(data)) as c:
        for _ in c.decode(audio=0):
            pass


def _speech() -> np.ndarray | None:
    binary = shutil.which("espeak-ng")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.wav"
        subprocess.run([binary, "-w", str(p), "Meet me at the station at nine."], check=True)
        with av.open(str(p)) as c:
            res = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            parts = [f.to_ndarray()[0] for fr in c.decode(audio=0) for f in res.resample(fr)]
    y = np.concatenate(parts)
    return (y / np.abs(y).max() * 0.4).astype(np.float32)


def bench_audio() -> list[dict]:
    seconds = 60
    rows = []
    cases = [(f"ambient {fmt}", _encode(_audio(seconds), fmt)) for fmt in ("mp3", "opus")]
    speech = _speech()
    if speech is not None:
        cases.append(("ambient opus + speech (muffled)", _encode(_audio(seconds, speech), "opus")))
    for label, data in cases:
        _pipeline(data, "ambient")
        floor, pipe = [], []
        for _ in range(3):
            floor.append(_time(_floor_audio, data) * 60 / seconds)
            pipe.append(_time(_pipeline, data, "ambient") * 60 / seconds)
        target = None if "speech" in label else 4.0
        rows.append(_row(label, "ms/audio-min", floor, pipe, target))
    return rows


def _row(label: str, unit: str, floor: list[float], pipe: list[float], target) -> dict:
    f, p = statistics.median(floor) * 1000, statistics.median(pipe) * 1000
    return {
        "case": label,
        "unit": unit,
        "floor": round(f, 2),
        "pipeline": round(p, 2),
        "ratio": round(p / f, 2),
        "target": target,
        "meets_target": None if target is None else p / f <= target,
    }


def one_core_12mp() -> dict:
    """CPU seconds of one 12 MP photo on one core (onnxruntime runs one thread by the
    pipeline's setting; OpenCV is set to one here): issue 13's budget is 0.5 s."""
    cv2.setNumThreads(1)
    data = _photo(4032, 3024, 1)
    process_media(data, "photo")  # model load outside the timing
    floor, pipe = [], []
    for _ in range(ROUNDS):
        t = time.process_time()
        _floor_photo(data)
        floor.append(time.process_time() - t)
        t = time.process_time()
        process_media(data, "photo")
        pipe.append(time.process_time() - t)
    f, p = statistics.median(floor), statistics.median(pipe)
    return {
        "case": "photo 12 MP, CPU s on one core",
        "floor_s": round(f, 3),
        "pipeline_s": round(p, 3),
        "ratio": round(p / f, 2),
        "target_s": 0.5,
    }


def main() -> None:
    if "--one-core" in sys.argv:
        print(json.dumps(one_core_12mp()))
        return
    rows = ([] if "--audio" in sys.argv else bench_photos()) + bench_audio()
    print(f"{'case':34} {'unit':13} {'floor':>9} {'pipeline':>9} {'ratio':>6} target")
    for r in rows:
        target = (
            "-"
            if r["target"] is None
            else f"≤{r['target']}× {'ok' if r['meets_target'] else 'MISSED'}"
        )
        print(
            f"{r['case']:34} {r['unit']:13} {r['floor']:9.2f} {r['pipeline']:9.2f} "
            f"{r['ratio']:5.2f}× {target}"
        )
    print(json.dumps({"bench": "media", "rows": rows}))


if __name__ == "__main__":
    main()
