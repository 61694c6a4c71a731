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
