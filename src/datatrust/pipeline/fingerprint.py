"""Content fingerprints and near-duplicate checks.

- ``sha256``: exact identity (of the original upload and of the de-identified output).
- Images and video frames: 64-bit pHash (imagehash) as 16 hex digits; compare with
  ``hamming``. A re-encoded or resized copy typically lands within 0-6 bits; unrelated
  pictures around 32.
- Audio: Chromaprint (libchromaprint via pyacoustid) on 16 kHz mono PCM, first 120 s, as
  AcoustID does. When the library is missing, an own spectral fingerprint of the same shape
  (one 32-bit word per frame from band-energy differences, Haitsma-Kalker style) is used
  instead and the engine is named ``spectral-v1`` so the two are never compared with each
  other. ``audio_similarity`` aligns two fingerprints and returns the share of equal bits.

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
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

try:  # libchromaprint1 is a system package; the pipeline must work without it.
    import acoustid
    import chromaprint

    HAVE_CHROMAPRINT = bool(acoustid.have_chromaprint)
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_CHROMAPRINT = False

CHROMAPRINT = "chromaprint"
SPECTRAL = "spectral-v1"
FINGERPRINT_RATE = 16_000
FINGERPRINT_SECONDS = 120

IMAGE_NEAR_DUPLICATE_BITS = 10
AUDIO_NEAR_DUPLICATE_SIMILARITY = 0.85

PHASH_BANDS = 4
PHASH_BAND_BITS = 16
# Pigeonhole: within IMAGE_NEAR_DUPLICATE_BITS overall means within this in some band.
PHASH_PROBE_RADIUS = IMAGE_NEAR_DUPLICATE_BITS // PHASH_BANDS
AUDIO_KEY_BITS = 24  # see the module docstring for why the low 24


@dataclass(frozen=True)
class AudioFingerprint:
    engine: str  # CHROMAPRINT or SPECTRAL
    value: str  # chromaprint's compressed base64, or base64 of little-endian uint32 words


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

    Uses Chromaprint when libchromaprint is installed, else the spectral fallback."""
    pcm16_mono = pcm16_mono[: rate * 2 * FINGERPRINT_SECONDS]
    if HAVE_CHROMAPRINT:
        try:
            value = acoustid.fingerprint(rate, 1, iter([pcm16_mono]), FINGERPRINT_SECONDS)
            return AudioFingerprint(CHROMAPRINT, value.decode("ascii"))
        except acoustid.FingerprintGenerationError:
            pass  # e.g. too short for chromaprint: fall through to our own
    return AudioFingerprint(SPECTRAL, _spectral(pcm16_mono, rate))


def _spectral(pcm16: bytes, rate: int) -> str:
    x = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32)
    frame, hop = 4096 * rate // 11025 // 2, rate // 8  # ~186 ms windows every 125 ms
    if x.size < frame + hop:
        x = np.pad(x, (0, frame + hop - x.size))
    n = 1 + (x.size - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1 / rate)
    edges = np.geomspace(300, min(3000, rate / 2 - 1), 34)
    bands = np.stack(
        [spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in itertools.pairwise(edges)],
        axis=1,
    )
    # Bit = sign of the band-difference change over time (robust to gain and codec changes).
    d = np.diff(bands, axis=1)
    bits = (d[1:] - d[:-1]) > 0
    words = (bits.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(axis=1)
    return base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")


def _words(fp: AudioFingerprint) -> np.ndarray:
    if fp.engine == CHROMAPRINT:
        raw, _algo = chromaprint.decode_fingerprint(fp.value.encode("ascii"))
        return np.array(raw, dtype=np.int64).astype(np.uint32)
    return np.frombuffer(base64.b64decode(fp.value), dtype="<u4")


def audio_similarity(a: AudioFingerprint, b: AudioFingerprint, max_shift: int = 40) -> float:
    """Share of equal bits (0..1) at the best alignment within ``max_shift`` frames; 0.0 when
    the engines differ or either is empty. Unrelated audio scores about 0.5."""
    if a.engine != b.engine:
        return 0.0
    wa, wb = _words(a), _words(b)
    if not wa.size or not wb.size:
        return 0.0
    best = 0.0
    for shift in range(-max_shift, max_shift + 1):
        x = wa[max(0, shift) :]
        y = wb[max(0, -shift) :]
        n = min(x.size, y.size)
        if n < min(wa.size, wb.size) // 2 or n == 0:
            continue
        diff = np.bitwise_xor(x[:n], y[:n])
        errors = int(np.unpackbits(diff.view(np.uint8)).sum())
        best = max(best, 1 - errors / (32 * n))
    return best


def is_near_duplicate_audio(
    fp: AudioFingerprint,
    existing: dict[str, AudioFingerprint],
    threshold: float = AUDIO_NEAR_DUPLICATE_SIMILARITY,
) -> NearDuplicate | None:
    """The most similar existing audio fingerprint at or above ``threshold`` similarity, or
    None. ``distance`` in the result is 1 - similarity."""
    best: NearDuplicate | None = None
    for key, other in existing.items():
        sim = audio_similarity(fp, other)
        if sim >= threshold and (best is None or 1 - sim < best.distance):
            best = NearDuplicate(
                key,
                1 - sim,
                f"audio fingerprint {sim:.0%} similar to item {key} (threshold {threshold:.0%})",
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
