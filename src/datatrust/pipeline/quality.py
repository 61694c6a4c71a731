"""Quality figures and the campaign's pass/fail verdict on them.

Pure functions over decoded data. Figures are plain floats in a dict so they can be stored
and shown as they are; each ``*_quality`` function returns a ``QualityResult`` whose
``failures`` are rejections naming the figure, its value and the threshold. A threshold of
``None`` in ``QualityThresholds`` switches its check off.

Loudness is ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms blocks with 75 %
overlap, absolute gate -70 LUFS, relative gate -10 LU) computed with two biquads in
scipy; all channels are weighted 1.0 (surround weights are not applied). ``LoudnessMeter``
takes audio in chunks so a long call never has to be held in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import signal

from datatrust.pipeline.media_spec import QualityThresholds
from datatrust.pipeline.rejection import Rejection

ANALYSIS_LONG_SIDE = 1024
SILENCE_DBFS = -60.0
CLIP_LEVEL = 0.999


@dataclass(frozen=True)
class QualityResult:
    figures: dict[str, float] = field(default_factory=dict)
    failures: tuple[Rejection, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures


# ---------------------------------------------------------------- images


def analysis_copy(rgb: np.ndarray, long_side: int = ANALYSIS_LONG_SIDE) -> np.ndarray:
    """Grayscale uint8 copy scaled (down only) so its long side is at most ``long_side``."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    h, w = gray.shape[:2]
    scale = long_side / max(h, w)
    if scale < 1:
        gray = cv2.resize(
            gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    return gray


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: low for blurred or out-of-focus pictures."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def image_quality(
    gray_small: np.ndarray, width: int, height: int, t: QualityThresholds
) -> QualityResult:
    """Figures: width, height, megapixels, sharpness, mean_luminance (0-255) and
    clipped_fraction (share of pixels at ≤2 or ≥253). ``gray_small`` is ``analysis_copy``."""
    mean = float(gray_small.mean())
    clipped = float(np.count_nonzero((gray_small <= 2) | (gray_small >= 253)) / gray_small.size)
    figures = {
        "width": float(width),
        "height": float(height),
        "megapixels": width * height / 1e6,
        "sharpness": sharpness(gray_small),
        "mean_luminance": mean,
        "clipped_fraction": clipped,
    }
    fails: list[Rejection] = []
    _resolution(fails, width, height, t)
    if t.min_sharpness is not None and figures["sharpness"] < t.min_sharpness:
        fails.append(
            Rejection(
                "blurry",
                f"The photo is blurred or out of focus (sharpness "
                f"{figures['sharpness']:.0f}, needs {t.min_sharpness:g}).",
            )
        )
    if t.min_mean_luminance is not None and mean < t.min_mean_luminance:
        fails.append(
            Rejection(
                "too_dark",
                f"The photo is too dark (mean brightness {mean:.0f}"
                f"/255, needs {t.min_mean_luminance:g}).",
            )
        )
    if t.max_mean_luminance is not None and mean > t.max_mean_luminance:
        fails.append(
            Rejection(
                "too_bright",
                f"The photo is too bright (mean brightness "
                f"{mean:.0f}/255, at most {t.max_mean_luminance:g}).",
            )
        )
    if t.max_clipped_fraction is not None and clipped > t.max_clipped_fraction:
        fails.append(
            Rejection(
                "overexposed",
                f"{clipped:.0%} of the photo is pure black or "
                f"white (at most {t.max_clipped_fraction:.0%}).",
            )
        )
    return QualityResult(figures, tuple(fails))


def _resolution(fails: list[Rejection], width: int, height: int, t: QualityThresholds) -> None:
    # Portrait and landscape both count: compare long with long and short with short.
    need_long = max(t.min_width or 0, t.min_height or 0)
    need_short = min(t.min_width or 0, t.min_height or 0)
    if max(width, height) < need_long or min(width, height) < need_short:
        fails.append(
            Rejection(
                "low_resolution",
                f"The resolution is {width}×{height}; at least {need_long}×{need_short} is needed.",
            )
        )


# ---------------------------------------------------------------- video


def video_quality(
    width: int, height: int, duration_s: float, fps: float, t: QualityThresholds
) -> QualityResult:
    """Figures: width, height, duration_s, fps."""
    figures = {"width": float(width), "height": float(height), "duration_s": duration_s, "fps": fps}
    fails: list[Rejection] = []
    _resolution(fails, width, height, t)
    _duration(fails, duration_s, t)
    if t.min_fps is not None and fps < t.min_fps:
        fails.append(
            Rejection(
                "low_frame_rate",
                f"The video runs at {fps:.1f} fps; at least {t.min_fps:g} fps is needed.",
            )
        )
    return QualityResult(figures, tuple(fails))


def _duration(fails: list[Rejection], duration_s: float, t: QualityThresholds) -> None:
    if t.min_duration_s is not None and duration_s < t.min_duration_s:
        fails.append(
            Rejection(
                "too_short",
                f"The recording lasts {duration_s:.1f} s; the "
                f"campaign needs at least {t.min_duration_s:g} s.",
            )
        )
    if t.max_duration_s is not None and duration_s > t.max_duration_s:
        fails.append(
            Rejection(
                "too_long",
                f"The recording lasts {duration_s:.1f} s; the "
                f"campaign takes at most {t.max_duration_s:g} s.",
            )
        )


# ---------------------------------------------------------------- audio


def k_weighting_sos(rate: int) -> np.ndarray:
    """BS.1770 K-weighting (high shelf + high pass) as second-order sections for ``rate``.

    Uses the analogue prototype parameters (4 dB shelf at 1.5 kHz, Q 0.707; high pass at
    38 Hz, Q 0.5) so any sample rate works, as pyloudnorm does; at 48 kHz they match the
    standard's coefficients to within 0.01 dB in the pass band."""
    a_gain = 10 ** (4.0 / 40)
    w0 = 2 * math.pi * 1500.0 / rate
    alpha = math.sin(w0) / (2 * (1 / math.sqrt(2)))
    cw, sa = math.cos(w0), 2 * math.sqrt(a_gain) * alpha
    shelf_b = [
        a_gain * ((a_gain + 1) + (a_gain - 1) * cw + sa),
        -2 * a_gain * ((a_gain - 1) + (a_gain + 1) * cw),
        a_gain * ((a_gain + 1) + (a_gain - 1) * cw - sa),
    ]
    shelf_a = [
        (a_gain + 1) - (a_gain - 1) * cw + sa,
        2 * ((a_gain - 1) - (a_gain + 1) * cw),
        (a_gain + 1) - (a_gain - 1) * cw - sa,
    ]
    w0 = 2 * math.pi * 38.0 / rate
    alpha = math.sin(w0) / (2 * 0.5)
    cw = math.cos(w0)
    hp_b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
    hp_a = [1 + alpha, -2 * cw, 1 - alpha]
    return np.array(
        [
            [*np.divide(shelf_b, shelf_a[0]), *np.divide(shelf_a, shelf_a[0])],
            [*np.divide(hp_b, hp_a[0]), *np.divide(hp_a, hp_a[0])],
        ]
    )


class LoudnessMeter:
    """Streaming BS.1770 meter plus peak, clipping, silence and a noise-floor SNR estimate.

    ``feed(chunk)`` takes float samples shaped (channels, n) at the rate given; ``figures()``
    may be called once at the end. Work is per 100 ms segment so state stays small."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        self.seg = max(1, rate // 10)
        # Both K-weighting sections as one 4th-order filter: lfilter runs it in ~15% less
        # time than sosfilt runs the two sections (energies equal to 1e-9 in float64).
        self.b, self.a = signal.sos2tf(k_weighting_sos(rate))
        self.zi = np.zeros((channels, self.a.size - 1))
        self._pending = np.zeros((channels, 0), dtype=np.float32)
        # per 100 ms segment: K-weighted sum of squares, summed over channels
        self._k_energy: list[np.ndarray] = []
        self._raw_rms_db: list[np.ndarray] = []
        self.samples = 0
        self.clipped = 0
        self.peak = 0.0

    def feed(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=np.float32)
        self.samples += chunk.shape[1]
        if chunk.size:
            peak = max(float(chunk.max()), -float(chunk.min()))
            self.peak = max(self.peak, peak)
            if peak >= CLIP_LEVEL:  # rare: only then is each sample's level needed
                self.clipped += int(np.count_nonzero(np.abs(chunk).max(axis=0) >= CLIP_LEVEL))
        data = np.concatenate([self._pending, chunk], axis=1) if self._pending.size else chunk
        whole = data.shape[1] // self.seg * self.seg
        self._pending = data[:, whole:]
        if whole:
            self._segments(data[:, :whole])

    def _segments(self, x: np.ndarray) -> None:
        y, self.zi = signal.lfilter(self.b, self.a, x, axis=1, zi=self.zi)
        n = x.shape[1] // self.seg
        # Sums of squares per segment over all channels, without squared temporaries.
        y = y.reshape(self.channels, n, self.seg)
        self._k_energy.append(np.einsum("csk,csk->s", y, y))
        x = x.reshape(self.channels, n, self.seg)
        raw_ms = np.einsum("csk,csk->s", x, x) / np.float32(self.channels * self.seg)
        self._raw_rms_db.append(10 * np.log10(raw_ms + 1e-12))

    def figures(self) -> dict[str, float]:
        """duration_s, loudness_lufs (-inf → -99 when all blocks are gated), peak_dbfs,
        clipping_ratio, silence_ratio (100 ms segments below -60 dBFS), snr_db (95th minus
        10th percentile of segment levels: a rough speech/noise-floor contrast)."""
        if self._pending.shape[1]:
            pad = np.zeros((self.channels, self.seg - self._pending.shape[1]), np.float32)
            self._segments(np.concatenate([self._pending, pad], axis=1))
            self._pending = np.zeros((self.channels, 0), np.float32)
        k = np.concatenate(self._k_energy) if self._k_energy else np.zeros(0)
        levels = np.concatenate(self._raw_rms_db) if self._raw_rms_db else np.zeros(0)
        return {
            "duration_s": self.samples / self.rate,
            "loudness_lufs": _gated_loudness(k, self.rate // 10 * 4),
            "peak_dbfs": 20 * math.log10(self.peak) if self.peak > 0 else -99.0,
            "clipping_ratio": self.clipped / max(self.samples, 1),
            "silence_ratio": float(np.mean(levels < SILENCE_DBFS)) if levels.size else 1.0,
            "snr_db": float(np.percentile(levels, 95) - np.percentile(levels, 10))
            if levels.size
            else 0.0,
        }


def _gated_loudness(seg_energy: np.ndarray, block_len: int) -> float:
    if seg_energy.size < 4:
        if not seg_energy.size:
            return -99.0
        z = np.array([seg_energy.sum() / (seg_energy.size * block_len / 4)])
    else:
        # 400 ms blocks = 4 consecutive 100 ms segments, hop 100 ms (75 % overlap).
        c = np.concatenate([[0.0], np.cumsum(seg_energy)])
        z = (c[4:] - c[:-4]) / block_len
    lk = -0.691 + 10 * np.log10(z + 1e-20)
    z = z[lk > -70.0]
    if not z.size:
        return -99.0
    rel = -0.691 + 10 * np.log10(z.mean()) - 10.0
    z = z[-0.691 + 10 * np.log10(z) > rel]
    return float(-0.691 + 10 * np.log10(z.mean())) if z.size else -99.0


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS of float samples shaped (n,) or (channels, n)."""
    x = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    meter = LoudnessMeter(rate, x.shape[0])
    meter.feed(x)
    return meter.figures()["loudness_lufs"]


def audio_quality(figures: dict[str, float], t: QualityThresholds) -> QualityResult:
    """Checks figures from ``LoudnessMeter.figures()`` (plus an optional ``speech_ratio``)."""
    fails: list[Rejection] = []
    _duration(fails, figures["duration_s"], t)
    lufs = figures["loudness_lufs"]
    if t.min_loudness_lufs is not None and lufs < t.min_loudness_lufs:
        fails.append(
            Rejection(
                "too_quiet",
                f"The recording is too quiet ({lufs:.1f} LUFS; at "
                f"least {t.min_loudness_lufs:g} LUFS). Hold the phone closer.",
            )
        )
    if t.max_loudness_lufs is not None and lufs > t.max_loudness_lufs:
        fails.append(
            Rejection(
                "too_loud",
                f"The recording is too loud ({lufs:.1f} LUFS; at "
                f"most {t.max_loudness_lufs:g} LUFS).",
            )
        )
    clip = figures["clipping_ratio"]
    if t.max_clipping_ratio is not None and clip > t.max_clipping_ratio:
        fails.append(
            Rejection(
                "clipping",
                f"{clip:.1%} of samples are clipped (at most "
                f"{t.max_clipping_ratio:.1%}); record at a lower level.",
            )
        )
    silence = figures["silence_ratio"]
    if t.max_silence_ratio is not None and silence > t.max_silence_ratio:
        fails.append(
            Rejection(
                "too_silent",
                f"{silence:.0%} of the recording is silence (at most {t.max_silence_ratio:.0%}).",
            )
        )
    snr = figures["snr_db"]
    if t.min_snr_db is not None and snr < t.min_snr_db:
        fails.append(
            Rejection(
                "noisy",
                f"Speech stands only {snr:.1f} dB above the background "
                f"noise (needs {t.min_snr_db:g} dB); find a quieter place.",
            )
        )
    speech = figures.get("speech_ratio")
    if t.min_speech_ratio is not None and speech is not None and speech < t.min_speech_ratio:
        fails.append(
            Rejection(
                "no_speech",
                f"Only {speech:.0%} of the recording contains "
                f"speech (needs {t.min_speech_ratio:.0%}).",
            )
        )
    return QualityResult(dict(figures), tuple(fails))
