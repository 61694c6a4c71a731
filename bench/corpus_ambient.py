"""A generated evaluation set for speech detection in ambient sound.

Backgrounds are synthesised with numpy (no recording of a place is downloaded): white, pink
and brown noise, mains hum with harmonics, traffic rumble with passing vehicles, rain,
air-conditioning, café clatter, music-like tones and birdsong. Speech is espeak-ng
(several languages and voices, a synthesiser nobody here wrote) mixed in at +10, 0 and
-5 dB SNR, either one utterance covering about a tenth of the recording ("sparse") or
several covering about a third ("dense"); a third of the recordings have no speech.

The set has two halves that share no sentence, language, voice or random seed: ``tuning``
(English US, Hindi, Afrikaans, Spanish) is the only one thresholds may be chosen on;
``measured`` (English GB, Swahili, Setswana, Tamil, German) is only ever measured.

Reference labels come from the clean speech before mixing: 10 ms frames whose level is within
40 dB of the utterance's peak, pauses of up to 0.3 s inside an utterance bridged (the
pipeline muffles whole phrases, not syllables).
"""

from __future__ import annotations

import functools
import itertools
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

RATE = 16_000
SECONDS = 20.0
LABEL_HOP = 0.01  # reference frames of 10 ms
SNRS_DB = (10, 0, -5)
BACKGROUND_DBFS = -30.0

SENTENCES: dict[str, dict[str, list[str]]] = {
    "tuning": {
        "en-us": [
            "Can you tell me where the bus stops on the way to the market?",
            "I will call you back after lunch, the line is really bad here.",
            "My sister moved to the city last year and she loves her new job.",
        ],
        "hi": [
            "क्या आप मुझे बता सकते हैं कि स्टेशन कितनी दूर है?",
            "मैं कल सुबह दस बजे दफ़्तर पहुँच जाऊँगा।",
            "आज बाज़ार में बहुत भीड़ थी और सब्ज़ियाँ महँगी थीं।",
        ],
        "af": [
            "Ek gaan more vroeg winkel toe om brood en melk te koop.",
            "Die trein was weer laat, so ons het lank op die perron gewag.",
        ],
        "es": [
            "Nos vemos mañana en la plaza, delante de la biblioteca.",
            "Hace mucho calor hoy, vamos a buscar un poco de sombra.",
        ],
    },
    "measured": {
        "en-gb": [
            "Could you pass me the timetable, I think we have missed the last train.",
            "The shop on the corner closes early on Sundays, so we should hurry.",
            "We walked along the river until the rain started again.",
        ],
        "sw": [
            "Habari za asubuhi, tutakutana sokoni saa nne kamili.",
            "Mvua ilinyesha usiku wote na barabara imejaa maji.",
        ],
        "tn": [
            "Ke tla go bona kwa mmarakeng ka moso ka nako ya bone.",
            "Pula e nnile bosigo jotlhe mme ditsela di tletse metsi.",
        ],
        "ta": [
            "நாளை காலை பத்து மணிக்கு சந்தையில் சந்திப்போம்.",
            "இன்று மிகவும் வெயிலாக இருக்கிறது, நிழலில் உட்காரலாம்.",
        ],
        "de": [
            "Wir treffen uns morgen um neun Uhr vor dem Bahnhof.",
            "Der Bus ist heute schon wieder zu spät gekommen.",
        ],
    },
}
VOICES = {"tuning": ("m1", "f2", "m3", "f4"), "measured": ("m2", "f1", "m4", "f3", "m7")}
SEEDS = {"tuning": 1000, "measured": 2000}


# ---------------------------------------------------------------- backgrounds


def _shaped_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), 20 Hz up."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec *= np.where(f < 20, 0.0, np.maximum(f, 20.0) ** (-exponent / 2))
    return np.fft.irfft(spec, n)


def _band(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    sos = signal.butter(4, [lo, hi], btype="band", fs=RATE, output="sos")
    return signal.sosfilt(sos, rng.standard_normal(n))


def white(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


def pink(rng: np.random.Generator, n: int) -> np.ndarray:
    return _shaped_noise(rng, n, 1.0)


def brown(rng: np.random.Generator, n: int) -> np.ndarray:
    return _shaped_noise(rng, n, 2.0)


def hum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and its first 12 harmonics (odd ones stronger, as from a
    transformer), a slow wobble in level, a faint noise floor."""
    t = np.arange(n) / RATE
    f0 = rng.choice([50.0, 60.0]) * (1 + rng.uniform(-0.002, 0.002))
    x = np.zeros(n)
    for k in range(1, 13):
        amp = (1.0 if k % 2 else 0.35) / k**0.7 * rng.uniform(0.5, 1.5)
        x += amp * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
    x *= 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    return x + 0.01 * np.std(x) * rng.standard_normal(n)


def traffic(rng: np.random.Generator, n: int) -> np.ndarray:
    """A rumble of distant traffic with vehicles passing: each swells and fades over a few
    seconds with engine harmonics that glide (Doppler) and tyre hiss."""
    t = np.arange(n) / RATE
    x = _shaped_noise(rng, n, 2.0)
    x *= 0.3 / (np.std(x) + 1e-12)
    for _ in range(int(n / RATE / 4) + 1):
        at, width = rng.uniform(0, n / RATE), rng.uniform(1.5, 4.0)
        env = np.exp(-0.5 * ((t - at) / width) ** 2)
        f_engine = rng.uniform(25, 90) * (1 + 0.05 * np.tanh((at - t) / width))
        phase = 2 * np.pi * np.cumsum(f_engine) / RATE
        engine = sum(np.sin(k * phase) / k for k in range(1, 6))
        hiss = _band(rng, n, 400, 4000)
        x += env * (0.5 * engine + 1.5 * hiss / (np.std(hiss) + 1e-12))
    return x


def rain(rng: np.random.Generator, n: int) -> np.ndarray:
    """Drops (short decaying bursts of high-passed noise, hundreds a second) over a hiss."""
    x = 0.3 * _band(rng, n, 1000, 7000)
    drops = np.zeros(n)
    count = int(n / RATE * rng.uniform(200, 800))
    drops[rng.integers(0, n, count)] = rng.exponential(1.0, count) * rng.choice([-1, 1], count)
    kernel_t = np.arange(int(0.004 * RATE)) / RATE
    kernel = np.exp(-kernel_t / 0.0008) * rng.standard_normal(kernel_t.size)
    x += signal.sosfilt(
        signal.butter(2, 1500, btype="high", fs=RATE, output="sos"), np.convolve(drops, kernel)[:n]
    )
    return x


def aircon(rng: np.random.Generator, n: int) -> np.ndarray:
    """Air-conditioning: low-passed broadband air noise, a fan's blade tone and harmonics,
    a compressor's hum."""
    t = np.arange(n) / RATE
    air = signal.sosfilt(signal.butter(2, 1200, fs=RATE, output="sos"), rng.standard_normal(n))
    air /= np.std(air) + 1e-12
    blade = rng.uniform(90, 260)
    fan = sum(0.4 / k * np.sin(2 * np.pi * blade * k * t + rng.uniform(0, 6)) for k in range(1, 5))
    comp = 0.3 * np.sin(2 * np.pi * rng.choice([100.0, 120.0]) * t)
    return air + fan + comp


def clatter(rng: np.random.Generator, n: int) -> np.ndarray:
    """A café's clatter: cups, plates and cutlery (decaying inharmonic rings at 1.5-7 kHz),
    one or two a second, over a soft pink bed."""
    x = 0.2 * _shaped_noise(rng, n, 1.0)
    x /= np.std(x) / 0.2 + 1e-12
    for _ in range(int(n / RATE * rng.uniform(1.0, 2.5))):
        at = int(rng.integers(0, n))
        dur = int(rng.uniform(0.05, 0.4) * RATE)
        tt = np.arange(min(dur, n - at)) / RATE
        ring = sum(
            np.sin(2 * np.pi * rng.uniform(1500, 7000) * tt) * rng.uniform(0.3, 1.0)
            for _ in range(3)
        )
        x[at : at + tt.size] += rng.uniform(0.5, 3.0) * ring * np.exp(-tt / rng.uniform(0.02, 0.1))
    return x


def music(rng: np.random.Generator, n: int) -> np.ndarray:
    """Music-like tones: a melody with vibrato (the most voice-like) over chords and a bass
    line, notes from a major scale with attack-decay envelopes, 2-5 notes a second."""
    x = np.zeros(n)
    scale = 220.0 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16]) / 12)
    t_all = np.arange(n) / RATE
    pos = 0
    while pos < n:
        dur = int(RATE / rng.uniform(2, 5))
        end = min(n, pos + dur)
        tt = t_all[pos:end] - t_all[pos]
        env = np.minimum(tt / 0.02, 1.0) * np.exp(-tt / rng.uniform(0.2, 0.8))
        f = rng.choice(scale)
        vib = 1 + 0.006 * np.sin(2 * np.pi * 5.5 * tt)
        phase = 2 * np.pi * np.cumsum(f * vib) / RATE
        x[pos:end] += env * sum(np.sin(k * phase) / k**1.2 for k in range(1, 7))
        pos = end
    for start in range(0, n, 2 * RATE):
        end = min(n, start + 2 * RATE)
        root = rng.choice(scale[:5]) / 2
        tt = t_all[start:end] - t_all[start]
        for ratio in (1.0, 1.26, 1.5):
            x[start:end] += 0.25 * np.sin(2 * np.pi * root * ratio * tt)
        x[start:end] += 0.4 * np.sin(2 * np.pi * root / 2 * tt) * np.exp(-tt / 0.5)
    return x


def birdsong(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chirps (fast frequency sweeps at 2-7 kHz) in short phrases over a soft breeze."""
    x = 0.05 * _shaped_noise(rng, n, 1.5)
    x /= np.std(x) / 0.05 + 1e-12
    t_phrase = 0.0
    while t_phrase < n / RATE:
        for _ in range(int(rng.integers(2, 7))):
            at = int(t_phrase * RATE)
            dur = int(rng.uniform(0.04, 0.15) * RATE)
            if at + dur >= n:
                break
            tt = np.arange(dur) / RATE
            f = np.linspace(rng.uniform(2000, 7000), rng.uniform(2000, 7000), dur)
            x[at : at + dur] += np.sin(2 * np.pi * np.cumsum(f) / RATE) * np.sin(
                np.pi * tt / tt[-1]
            )
            t_phrase += dur / RATE + rng.uniform(0.03, 0.12)
        t_phrase += rng.uniform(0.8, 3.0)
    return x


BACKGROUNDS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "white": white,
    "pink": pink,
    "brown": brown,
    "hum": hum,
    "traffic": traffic,
    "rain": rain,
    "aircon": aircon,
    "clatter": clatter,
    "music": music,
    "birdsong": birdsong,
}


# ---------------------------------------------------------------- speech


@functools.lru_cache(maxsize=256)
def espeak(voice: str, text: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's rendering of ``text`` at 16 kHz, mono float, leading and trailing
    silence trimmed. Raises ``RuntimeError`` when espeak-ng is not installed."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.wav"
        subprocess.run(
            [binary, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(p), text],
            check=True,
            capture_output=True,
        )
        x, rate = sf.read(str(p), dtype="float64")
    y = signal.resample_poly(x, RATE, rate)
    active = np.flatnonzero(np.abs(y) > 1e-3 * np.abs(y).max())
    return y[active[0] : active[-1] + 1]


def speech_frames(clean: np.ndarray) -> np.ndarray:
    """Reference labels for a clean signal: one bool per 10 ms frame, speech where the level
    is within 40 dB of the peak frame, pauses up to 0.3 s bridged."""
    hop = int(LABEL_HOP * RATE)
    frames = clean[: clean.size // hop * hop].reshape(-1, hop)
    level = 10 * np.log10((frames**2).mean(axis=1) + 1e-20)
    on = level > level.max() - 40
    idx = np.flatnonzero(on)
    for a, b in itertools.pairwise(idx):
        if 1 < b - a <= 30:
            on[a:b] = True
    return on


@dataclass(frozen=True)
class Recording:
    name: str
    half: str
    background: str
    snr_db: float | None  # None: no speech
    kind: str  # none, sparse, dense
    samples: np.ndarray  # float32 mono at RATE
    labels: np.ndarray  # bool per 10 ms frame


def _speech_track(
    rng: np.random.Generator, half: str, n: int, kind: str
) -> tuple[np.ndarray, list[str]]:
    """Clean speech laid out over ``n`` samples: one utterance (sparse) or utterances until
    about a third is covered (dense)."""
    langs = list(SENTENCES[half])
    track = np.zeros(n)
    used: list[str] = []
    target = 0.1 if kind == "sparse" else 0.33
    covered = 0
    attempts = 0
    while covered < target * n and attempts < 20:
        attempts += 1
        lang = langs[int(rng.integers(len(langs)))]
        sentences = SENTENCES[half][lang]
        text = sentences[int(rng.integers(len(sentences)))]
        voice = VOICES[half][int(rng.integers(len(VOICES[half])))]
        utt = espeak(
            f"{lang}+{voice}", text, int(rng.integers(140, 190)), int(rng.integers(30, 70))
        )
        if kind == "sparse" and utt.size > 0.12 * n:
            # "about a tenth": keep the first words of a long sentence, faded out over 50 ms.
            utt = utt[: int(0.12 * n)] * np.minimum(
                1, np.linspace(0.12 * n / 800, 0, int(0.12 * n))
            )
        at = int(rng.integers(0, n - utt.size))
        if np.any(track[at : at + utt.size]):
            continue
        track[at : at + utt.size] = utt / (np.abs(utt).max() + 1e-12)
        covered += utt.size
        used.append(lang)
        if kind == "sparse":
            break
    return track, used


def _rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x**2) + 1e-20)


def recordings(half: str, per_cell: int = 2, seconds: float = SECONDS) -> Iterator[Recording]:
    """Every background × SNR × (sparse, dense) × ``per_cell`` seeds, plus 2 × ``per_cell``
    recordings without speech per background; deterministic for a half."""
    n = int(seconds * RATE)
    seed = SEEDS[half]
    for b_idx, (bname, make) in enumerate(BACKGROUNDS.items()):
        cells: list[tuple[float | None, str]] = [(None, "none")] * (2 * per_cell)
        for snr in SNRS_DB:
            cells += [(float(snr), "sparse")] * per_cell + [(float(snr), "dense")] * per_cell
        for c_idx, (snr, kind) in enumerate(cells):
            rng = np.random.default_rng([seed, b_idx, c_idx])
            bg = make(rng, n)
            bg *= 10 ** ((BACKGROUND_DBFS - _rms_db(bg)) / 20)
            labels = np.zeros(int(n / (LABEL_HOP * RATE)), dtype=bool)
            mix = bg
            if snr is not None:
                track, _ = _speech_track(rng, half, n, kind)
                labels = speech_frames(track)
                hop = int(LABEL_HOP * RATE)
                mask = np.repeat(labels, hop)[:n]
                # SNR over the frames where someone speaks: speech power against the
                # background's power in those same frames.
                gain = 10 ** ((_rms_db(bg[mask]) + snr - _rms_db(track[mask])) / 20)
                mix = bg + gain * track
            peak = np.abs(mix).max()
            if peak > 0.98:  # keep it a valid recording, not a clipped one
                mix = mix * (0.98 / peak)
            name = f"{half}/{bname}/{kind}/{'none' if snr is None else f'{snr:+g}dB'}/{c_idx}"
            yield Recording(name, half, bname, snr, kind, mix.astype(np.float32), labels)
