"""Content fingerprints and near-duplicate checks.

- ``sha256``: exact identity (of the original upload and of the de-identified output).
- Images and video frames: 64-bit pHash (imagehash) as 16 hex digits; compare with
  ``hamming``. A re-encoded or resized copy typically lands within 0-6 bits; unrelated
  pictures around 32.
- Audio: Chromaprint (libchromaprint via pyacoustid) on 11,025 Hz mono PCM, first 120 s, as
  AcoustID does. When the library is missing, an own spectral fingerprint of the same shape
  (one 32-bit word per frame from band-energy differences, Haitsma-Kalker style) is used
  instead and the engine is named ``spectral-v1`` so the two are never compared with each
  other. ``audio_similarity`` aligns two fingerprints and returns the share of equal bits.
- Short audio: Chromaprint needs about 2.4 s of context before its first word and then
  gives 8 words a second, so a 1-2.5 s clip gets an empty fingerprint and a 3 s one 3 words
  (96 bits: different espeak sentences by one voice scored up to 0.91, and copies trimmed
  by 0.2 s mostly shared no index key). Clips up to ``SHORT_AUDIO_SECONDS`` therefore also
  carry ``short``: words like ``spectral-v1``'s but from 128 ms windows every 32 ms, each
  bit comparing band energies 128 ms apart. Measured through ``analyze_audio`` on espeak
  sentences (3 voices) and noise-plus-tone clips of 1-8 s, copies as MP3 128k, Opus 64k,
  0.2 s trimmed (WAV and Opus), -3 dB, 44.1 kHz: speech copies 0.91-0.98, noise copies
  0.83-0.91, all sharing an index key but one 1 s noise clip; different sentences at most
  0.70 (the same sentence by espeak's en-us and en-gb voices, one synthesizer, up to 0.84
  at 1 s). Two clips that both have ``short`` are compared by it alone, against
  ``SHORT_NEAR_DUPLICATE_SIMILARITY``; otherwise by the main engine as before. A clip near
  the 10 s boundary and its trimmed copy may fall on either side: both then have about 60
  Chromaprint words, plenty. Whatever the words, an alignment comparing fewer than
  ``MIN_COMPARED_BITS`` bits does not count (the best of ~80 shifts of so few bits is
  noise), and words that are 0 on both sides (digital silence, in the short words) are not
  compared.

Index keys (``index_keys``/``probe_keys``) let a database find the few stored fingerprints
worth comparing instead of all of them; a candidate is then confirmed by the exact measure:

- pHash: the 64 bits in 4 bands of 16. Two hashes within ``d`` bits differ, by pigeonhole,
  in at most ``d // 4`` bits of some band, so storing each band exactly and probing every
  value within ``IMAGE_NEAR_DUPLICATE_BITS // 4`` = 2 bits of each query band (137 values
  a band) finds every hash within the threshold: no near-duplicate is ever missed. A video
  is near another when the median of its frames' closest distances is within the
  threshold, so at least one of its frames is within it of some frame of the other: keys of
  every frame, stored and probed, find it too.
- Audio: the low ``AUDIO_KEY_BITS`` bits of every 32-bit word, per engine. This is a
  probabilistic key (nothing like pigeonhole holds for "85% of bits equal at the best
  shift"): Chromaprint's low bits come from its most stable classifiers, so copies of a
  20 s clip at 83-88% similarity still shared 4-15 of their ~125 keys, while unrelated
  clips shared one in 12% of pairs (measured on generated melodies with 24 bits; the top
  24 bits shared 0-1 near the threshold, the low 20 bits matched 44% of unrelated pairs).
  A fingerprint has about 7 words a second, so a near-duplicate of a clip longer than a
  few seconds shares a key with high probability; ``tests/services/test_duplicates_index``
  checks the indexed answer against the linear one on copies up to past the threshold.
  The short words are keyed the same way (their own space, never the all-zero word of
  silence); a short clip has about 30 words a second, so copies share many.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

try:  # libchromaprint1 is a system package; the pipeline must work without it.
    import acoustid
    import chromaprint

    HAVE_CHROMAPRINT = bool(acoustid.have_chromaprint)
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_CHROMAPRINT = False

CHROMAPRINT = "chromaprint"
SPECTRAL = "spectral-v1"
SHORT = "short-v1"  # the fine spectral words of short clips (``AudioFingerprint.short``)
# Chromaprint works at 11,025 Hz: given any other rate it resamples first, which cost
# 0.27x an MP3's decode time at 16 kHz (the analysis makes this copy anyway; its 8 kHz copy
# for the speech detector is made from it). Prints of the same audio at 16 kHz and here
# differ in about 0.1 % of their bits, far inside what counts as the same recording.
FINGERPRINT_RATE = 11_025
FINGERPRINT_SECONDS = 120
SHORT_AUDIO_SECONDS = 10
SHORT_WINDOW_S = 0.128
SHORT_HOP_S = 0.032
SHORT_LAG = 4  # frames: each bit compares band energies 128 ms apart
SHORT_MAX_SHIFT_S = 1.0

IMAGE_NEAR_DUPLICATE_BITS = 10
AUDIO_NEAR_DUPLICATE_SIMILARITY = 0.85
SHORT_NEAR_DUPLICATE_SIMILARITY = 0.80
MIN_COMPARED_BITS = 256

PHASH_BANDS = 4
PHASH_BAND_BITS = 16
# Pigeonhole: within IMAGE_NEAR_DUPLICATE_BITS overall means within this in some band.
PHASH_PROBE_RADIUS = IMAGE_NEAR_DUPLICATE_BITS // PHASH_BANDS
AUDIO_KEY_BITS = 24  # see the module docstring for why the low 24


def missing_media_tools() -> dict[str, str]:
    """The media tools this machine lacks, each with what the pipeline does instead. Video
    and audio decoding (FFmpeg) ships inside the PyAV wheel; Chromaprint is a system
    library (``libchromaprint1``) that may be missing."""
    missing = {}
    if not HAVE_CHROMAPRINT:
        missing["libchromaprint"] = (
            f"audio fingerprints are made by {SPECTRAL} and compared only with other "
            f"{SPECTRAL} prints, never with {CHROMAPRINT} ones; install libchromaprint1"
        )
    return missing


@dataclass(frozen=True)
class AudioFingerprint:
    engine: str  # CHROMAPRINT or SPECTRAL
    value: str  # chromaprint's compressed base64, or base64 of little-endian uint32 words
    # Clips up to SHORT_AUDIO_SECONDS: base64 of the SHORT engine's little-endian uint32 words.
    short: str | None = None

    def as_dict(self) -> dict[str, str]:
        """As stored in an item's ``fingerprints["audio"]`` (``short`` only when there is
        one); ``AudioFingerprint(**d)`` reads it back, and reads older ones without it."""
        d = {"engine": self.engine, "value": self.value}
        if self.short is not None:
            d["short"] = self.short
        return d


@dataclass(frozen=True)
class NearDuplicate:
    """A match: which existing fingerprint (by index/key), how close, and a readable reason."""

    key: str
    distance: float
    reason: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def phash(image: Image.Image | np.ndarray) -> str:
    """64-bit perceptual hash as 16 hex digits. Pass a small copy (≤1024 px) for speed: pHash
    resizes to 32×32 anyway, so the result does not depend on the input size."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return str(imagehash.phash(image))


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two equal-length hex hashes. Raises ``ValueError``
    when the lengths differ (they come from different hash sizes and are not comparable)."""
    if len(a) != len(b):
        raise ValueError("hashes of different lengths cannot be compared")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def is_near_duplicate(
    fp: str | Sequence[str],
    existing: dict[str, str | Sequence[str]] | Iterable[str | Sequence[str]],
    threshold: int = IMAGE_NEAR_DUPLICATE_BITS,
) -> NearDuplicate | None:
    """The closest existing pHash (or sequence of video-frame pHashes) within ``threshold``
    bits, or None.

    ``existing`` is a mapping key → fingerprint or a plain iterable (keys are then the
    positions as strings). For frame sequences the distance is the median over frames of
    each frame's closest match in the other sequence, so a trimmed or re-encoded copy of a
    video still matches. Hashes of other lengths are skipped, never compared."""
    items = existing.items() if isinstance(existing, dict) else enumerate(existing)
    best: NearDuplicate | None = None
    for key, other in items:
        try:
            d = _distance(fp, other)
        except ValueError:
            continue
        if d <= threshold and (best is None or d < best.distance):
            best = NearDuplicate(
                str(key),
                d,
                f"perceptual hash within {d:g} bits of item {key} (threshold {threshold})",
            )
    return best


def _distance(a: str | Sequence[str], b: str | Sequence[str]) -> float:
    if isinstance(a, str) and isinstance(b, str):
        return float(hamming(a, b))
    seq_a = [a] if isinstance(a, str) else list(a)
    seq_b = [b] if isinstance(b, str) else list(b)
    if not seq_a or not seq_b:
        raise ValueError("empty fingerprint")
    return float(np.median([min(hamming(x, y) for y in seq_b) for x in seq_a]))


# ---------------------------------------------------------------- audio


def audio_fingerprint(pcm16_mono: bytes, rate: int = FINGERPRINT_RATE) -> AudioFingerprint:
    """Fingerprint of signed 16-bit mono PCM at ``rate``; only the first 120 s count.

    Uses Chromaprint when libchromaprint is installed, else the spectral fallback; clips up
    to ``SHORT_AUDIO_SECONDS`` get the ``short`` words too."""
    pcm16_mono = pcm16_mono[: rate * 2 * FINGERPRINT_SECONDS]
    short = None
    if len(pcm16_mono) <= rate * 2 * SHORT_AUDIO_SECONDS:
        frame, hop = round(rate * SHORT_WINDOW_S), round(rate * SHORT_HOP_S)
        short = _b64(_spectral(pcm16_mono, rate, frame, hop, SHORT_LAG))
    if HAVE_CHROMAPRINT:
        try:
            value = acoustid.fingerprint(rate, 1, iter([pcm16_mono]), FINGERPRINT_SECONDS)
            return AudioFingerprint(CHROMAPRINT, value.decode("ascii"), short)
        except acoustid.FingerprintGenerationError:
            pass  # chromaprint refused the input: fall through to our own
    # ~186 ms windows every 125 ms
    value = _spectral(pcm16_mono, rate, 4096 * rate // 11025 // 2, rate // 8, 1)
    return AudioFingerprint(SPECTRAL, _b64(value), short)


def _spectral(pcm16: bytes, rate: int, frame: int, hop: int, lag: int) -> np.ndarray:
    """One 32-bit word per ``hop``: bit m is whether the energy difference of bands m and
    m+1 (33 log-spaced bands, 300-3000 Hz) grew since ``lag`` frames before. Signs of
    differences: robust to gain and codec changes. A frame of digital silence gives 0."""
    x = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32)
    if x.size < frame + hop * lag:
        x = np.pad(x, (0, frame + hop * lag - x.size))
    frames = sliding_window_view(x, frame)[::hop] * np.hanning(frame).astype(np.float32)
    spec = scipy.fft.rfft(frames, axis=1)
    power = spec.real**2 + spec.imag**2
    freqs = np.fft.rfftfreq(frame, 1 / rate)
    edges = np.geomspace(300, min(3000, rate / 2 - 1), 34)
    in_band = [(freqs >= lo) & (freqs < hi) for lo, hi in itertools.pairwise(edges)]
    bands = power @ np.stack(in_band, axis=1).astype(np.float32)
    d = np.diff(bands, axis=1)
    bits = (d[lag:] - d[:-lag]) > 0
    return np.packbits(bits, axis=1, bitorder="little").view("<u4")[:, 0]


def _b64(words: np.ndarray) -> str:
    return base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")


def _words(fp: AudioFingerprint) -> np.ndarray:
    if fp.engine == CHROMAPRINT:
        raw, _algo = chromaprint.decode_fingerprint(fp.value.encode("ascii"))
        return np.array(raw, dtype=np.int64).astype(np.uint32)
    return np.frombuffer(base64.b64decode(fp.value), dtype="<u4")


def _short_words(fp: AudioFingerprint) -> np.ndarray:
    return np.frombuffer(base64.b64decode(fp.short or ""), dtype="<u4")


def audio_similarity(a: AudioFingerprint, b: AudioFingerprint) -> float:
    """Share of equal bits (0..1) at the best alignment; unrelated audio scores about 0.5.
    By the ``short`` words when both have them (shifts up to ``SHORT_MAX_SHIFT_S``), else by
    the main engine (up to 40 frames, ~5 s), 0.0 when the engines differ. 0.0 too when no
    alignment compares ``MIN_COMPARED_BITS`` bits over at least half the shorter one."""
    if a.short and b.short:
        max_shift = round(SHORT_MAX_SHIFT_S / SHORT_HOP_S)
        return _aligned_similarity(_short_words(a), _short_words(b), max_shift)
    if a.engine != b.engine:
        return 0.0
    return _aligned_similarity(_words(a), _words(b), 40)


def audio_threshold(a: AudioFingerprint, b: AudioFingerprint) -> float:
    """The similarity at which ``a`` and ``b`` are near-duplicates: it depends on the words
    ``audio_similarity`` compares them by."""
    if a.short and b.short:
        return SHORT_NEAR_DUPLICATE_SIMILARITY
    return AUDIO_NEAR_DUPLICATE_SIMILARITY


def _aligned_similarity(wa: np.ndarray, wb: np.ndarray, max_shift: int) -> float:
    best = 0.0
    for shift in range(-max_shift, max_shift + 1):
        x = wa[max(0, shift) :]
        y = wb[max(0, -shift) :]
        n = min(x.size, y.size)
        if n == 0 or n < min(wa.size, wb.size) // 2:
            continue
        x, y = x[:n], y[:n]
        compared = 32 * int(np.count_nonzero(x | y))  # silence on both sides says nothing
        if compared < MIN_COMPARED_BITS:
            continue
        errors = int(np.unpackbits(np.bitwise_xor(x, y).view(np.uint8)).sum())
        best = max(best, 1 - errors / compared)
    return best


def is_near_duplicate_audio(
    fp: AudioFingerprint,
    existing: dict[str, AudioFingerprint],
    threshold: float | None = None,
) -> NearDuplicate | None:
    """The most similar existing audio fingerprint at or above ``threshold`` similarity
    (by default ``audio_threshold`` of the pair), or None. ``distance`` in the result is
    1 - similarity."""
    best: NearDuplicate | None = None
    for key, other in existing.items():
        sim = audio_similarity(fp, other)
        at = audio_threshold(fp, other) if threshold is None else threshold
        if sim >= at and (best is None or 1 - sim < best.distance):
            best = NearDuplicate(
                key,
                1 - sim,
                f"audio fingerprint {sim:.0%} similar to item {key} (threshold {at:.0%})",
            )
    return best


# ---------------------------------------------------------------- index keys


def index_keys(fingerprints: dict) -> set[tuple[str, int]]:
    """The ``(space, key)`` pairs to store for an item's fingerprints (as kept on the item:
    ``phash``, ``frame_phashes``, ``audio``). Hashes of another length than 64 bits get no
    keys: they are never compared with ours anyway."""
    keys: set[tuple[str, int]] = set()
    for h in _phashes(fingerprints):
        keys.update((f"phash{i}", band) for i, band in enumerate(_bands(h)))
    audio = _audio(fingerprints)
    if audio is not None:
        low = (1 << AUDIO_KEY_BITS) - 1
        keys.update((f"audio:{audio.engine}", int(w) & low) for w in set(_words(audio).tolist()))
        short = set(_short_words(audio).tolist()) - {0}  # 0: silence, in every clip with some
        keys.update((f"audio:{SHORT}", w & low) for w in short)
    return keys


def probe_keys(fingerprints: dict) -> set[tuple[str, int]]:
    """The keys to look up for a new item: every stored item within the near-duplicate
    thresholds has at least one of them (always for pHash, with high probability for
    audio; see the module docstring)."""
    keys: set[tuple[str, int]] = set()
    for h in _phashes(fingerprints):
        for i, band in enumerate(_bands(h)):
            keys.update((f"phash{i}", near) for near in _within(band, PHASH_PROBE_RADIUS))
    keys.update(k for k in index_keys(fingerprints) if k[0].startswith("audio:"))
    return keys


def _phashes(fingerprints: dict) -> list[str]:
    hashes = [fingerprints["phash"]] if fingerprints.get("phash") else []
    hashes += list(fingerprints.get("frame_phashes") or ())
    return [h for h in hashes if isinstance(h, str) and len(h) == 16]


def _audio(fingerprints: dict) -> AudioFingerprint | None:
    value = fingerprints.get("audio")
    if not value:
        return None
    return value if isinstance(value, AudioFingerprint) else AudioFingerprint(**value)


def _bands(h: str) -> list[int]:
    value = int(h, 16)
    mask = (1 << PHASH_BAND_BITS) - 1
    return [(value >> (PHASH_BAND_BITS * i)) & mask for i in range(PHASH_BANDS)]


def _within(value: int, radius: int) -> list[int]:
    """Every ``PHASH_BAND_BITS``-bit value within ``radius`` bits of ``value``."""
    out = [value]
    for r in range(1, radius + 1):
        for bits in itertools.combinations(range(PHASH_BAND_BITS), r):
            flip = 0
            for b in bits:
                flip |= 1 << b
            out.append(value ^ flip)
    return out
