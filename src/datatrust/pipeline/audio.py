"""Audio: one decoding pass for all figures, then a tag-free copy or a muffled re-encode.

``analyze_audio`` decodes once (PyAV, streaming) and feeds three consumers as it goes: the
loudness/clipping/silence meter at the native rate, webrtcvad on 16 kHz mono (30 ms frames,
mode 3), and the first 120 s of that 16 kHz PCM for the fingerprint. Memory stays bounded
by those 120 s whatever the file's length.

``remux_audio`` copies the coded packets into a fresh container without any tags — no
re-encoding, so no quality loss and little cost. ``muffle_audio`` decodes again and
low-passes (300 Hz) and attenuates (-18 dB) the speech segments, with 20 ms ramps, so
bystanders' words become unintelligible while the ambience stays; it re-encodes lossless
inputs to FLAC and lossy ones to Opus.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import webrtcvad
from scipy import signal

from datatrust.pipeline.fingerprint import (
    FINGERPRINT_RATE,
    FINGERPRINT_SECONDS,
    AudioFingerprint,
    audio_fingerprint,
)
from datatrust.pipeline.quality import LoudnessMeter
from datatrust.pipeline.rejection import Rejected

VAD_FRAME_MS = 30
VAD_MODE = 3
# Speech runs closer than this are merged, and each segment is padded by this much on both
# sides: a word's soft onset is often below the detector's threshold.
MERGE_GAP_S = 0.3
PAD_S = 0.15
MIN_SEGMENT_S = 0.15  # 5 VAD frames; shorter hits are clicks or onsets, not words
MUFFLE_CUTOFF_HZ = 300.0
MUFFLE_GAIN = 10 ** (-18 / 20)
RAMP_S = 0.02

Segment = tuple[float, float]


@dataclass(frozen=True)
class AudioAnalysis:
    figures: dict[str, float]  # LoudnessMeter figures + speech_ratio, sample_rate, channels
    speech_segments: tuple[Segment, ...]
    fingerprint: AudioFingerprint


class SpeechDetector:
    """Streaming webrtcvad over 16 kHz mono s16 PCM; ``segments()`` gives merged, padded
    (start_s, end_s) runs of speech."""

    def __init__(self, mode: int = VAD_MODE) -> None:
        self.vad = webrtcvad.Vad(mode)
        self.frame_bytes = FINGERPRINT_RATE * VAD_FRAME_MS // 1000 * 2
        self.buf = b""
        self.flags: list[bool] = []

    def feed(self, pcm: bytes) -> None:
        self.buf += pcm
        n = len(self.buf) // self.frame_bytes
        fb = self.frame_bytes
        is_speech = self.vad.is_speech
        self.flags.extend(
            is_speech(self.buf[i * fb : (i + 1) * fb], FINGERPRINT_RATE) for i in range(n)
        )
        self.buf = self.buf[n * fb :]

    def segments(self, duration_s: float) -> tuple[Segment, ...]:
        step = VAD_FRAME_MS / 1000
        runs: list[list[float]] = []
        for i, speech in enumerate(self.flags):
            if not speech:
                continue
            start = i * step
            if runs and start - runs[-1][1] <= MERGE_GAP_S:
                runs[-1][1] = start + step
            else:
                runs.append([start, start + step])
        return tuple(
            (max(0.0, s - PAD_S), min(duration_s, e + PAD_S))
            for s, e in runs
            if e - s >= MIN_SEGMENT_S
        )


def _planar(frame: av.AudioFrame) -> np.ndarray:
    return frame.to_ndarray()  # resampled to fltp: shape (channels, samples)


def analyze_audio(src: Any, max_duration_s: float, detect_speech: bool = True) -> AudioAnalysis:
    """Decode ``src`` (file object or path) once. Raises ``Rejected`` when it cannot be
    decoded or runs past ``max_duration_s`` (durations in headers can be missing or lie)."""
    meter: LoudnessMeter | None = None
    vad = SpeechDetector() if detect_speech else None
    fp_pcm = bytearray()
    fp_limit = FINGERPRINT_RATE * 2 * FINGERPRINT_SECONDS
    t = 0.0
    try:
        with av.open(src, mode="r", metadata_errors="ignore") as c:
            stream = c.streams.audio[0]
            stream.thread_type = "AUTO"
            rate = stream.codec_context.sample_rate
            channels = stream.codec_context.channels
            # One-second output frames: the per-frame Python work (meter, VAD) then runs 1/s
            # instead of for every 1152-sample MP3 frame, which cost more than decoding.
            native = av.AudioResampler(
                format="fltp", layout=stream.layout, rate=rate, frame_size=rate
            )
            to16k = av.AudioResampler(
                format="s16", layout="mono", rate=FINGERPRINT_RATE, frame_size=FINGERPRINT_RATE
            )
            meter = LoudnessMeter(rate, channels)

            def consume(second: av.AudioFrame | None) -> None:
                # The 16 kHz copy is made from the one-second frames, not from every coded
                # frame: 60 resampler calls a minute instead of ~2,500 for MP3.
                nonlocal fp_pcm
                if second is not None:
                    meter.feed(_planar(second))
                for f in to16k.resample(second):
                    pcm = f.to_ndarray().tobytes()
                    if vad is not None:
                        vad.feed(pcm)
                    if len(fp_pcm) < fp_limit:
                        fp_pcm += pcm

            for frame in c.decode(stream):
                frame.pts = None  # let the resamplers count samples themselves
                for second in native.resample(frame):
                    consume(second)
                t = meter.samples / rate
                if t > max_duration_s + 1:
                    raise Rejected(
                        "duration_out_of_range",
                        "The recording is longer than "
                        f"the limit of {max_duration_s / 60:g} minutes.",
                    )
            for second in native.resample(None):
                consume(second)
            consume(None)
    except av.FFmpegError as e:
        raise Rejected("corrupt", f"The audio could not be decoded at {t:.1f} s: {e}.") from e
    if meter is None or meter.samples == 0:
        raise Rejected("corrupt", "The audio has no decodable samples.")
    figures = meter.figures()
    segments = vad.segments(figures["duration_s"]) if vad is not None else ()
    if vad is not None:
        speech = sum(e - s for s, e in segments)
        figures["speech_ratio"] = speech / max(figures["duration_s"], 1e-9)
    figures["sample_rate"] = float(meter.rate)
    figures["channels"] = float(meter.channels)
    return AudioAnalysis(figures, segments, audio_fingerprint(bytes(fp_pcm)))


# ---------------------------------------------------------------- output

# input format -> (output container, file extension) for a stream copy
_REMUX = {
    "mp3": ("mp3", "mp3"),
    "opus": ("ogg", "opus"),
    "vorbis": ("ogg", "ogg"),
    "ogg": ("ogg", "ogg"),
    "flac": ("flac", "flac"),
    "wav": ("wav", "wav"),
    "aac": ("adts", "aac"),
    "m4a": ("ipod", "m4a"),
    "mp4": ("ipod", "m4a"),
    "mov": ("ipod", "m4a"),
    "webm": ("webm", "webm"),
    "matroska": ("matroska", "mka"),
}
_LOSSLESS = {"wav", "flac"}
# Without these the muxers write an encoder tag, an ID3 header or a Xing frame we do not need.
_MUX_OPTIONS = {"fflags": "+bitexact"}


def remux_audio(src: Any, fmt: str) -> tuple[bytes, str]:
    """Copy the audio packets of ``src`` into a new container with no tags; returns (bytes,
    extension). Raises ``av.FFmpegError`` if the packets cannot be muxed."""
    container, ext = _REMUX[fmt]
    buf = io.BytesIO()
    opts = dict(_MUX_OPTIONS)
    if container == "mp3":
        opts["id3v2_version"] = "0"
    with (
        av.open(src, mode="r", metadata_errors="ignore") as inp,
        av.open(buf, mode="w", format=container, options=opts) as out,
    ):
        a_in = inp.streams.audio[0]
        a_out = out.add_stream_from_template(a_in)
        a_out.metadata.clear()
        for packet in inp.demux(a_in):
            if packet.dts is None:
                continue
            packet.stream = a_out
            out.mux(packet)
    return buf.getvalue(), ext


def _speech_mask(n0: int, n: int, rate: int, segments: tuple[Segment, ...]) -> np.ndarray:
    """Weight 0..1 for samples n0..n0+n: 1 inside speech, linear ramps of RAMP_S outside."""
    t = (n0 + np.arange(n)) / rate
    mask = np.zeros(n, dtype=np.float32)
    for s, e in segments:
        if e + RAMP_S < t[0] or s - RAMP_S > t[-1]:
            continue
        up = np.clip((t - (s - RAMP_S)) / RAMP_S, 0, 1)
        down = np.clip(((e + RAMP_S) - t) / RAMP_S, 0, 1)
        np.maximum(mask, np.minimum(up, down), out=mask)
    return mask


class Muffler:
    """Muffles ``segments`` (seconds from the start) of a stream of planar float frames
    (channels × samples, in order): a 300 Hz low-pass 18 dB down inside speech, ramped at
    the edges, the rest untouched. Used for ambient audio and a video's soundtrack."""

    def __init__(self, rate: int, segments: tuple[Segment, ...]) -> None:
        self.rate, self.segments = rate, segments
        self.sos = signal.butter(4, MUFFLE_CUTOFF_HZ, btype="low", fs=rate, output="sos")
        self.zi: np.ndarray | None = None
        self.n0 = 0

    def apply(self, x: np.ndarray) -> np.ndarray:
        if self.zi is None:
            self.zi = np.zeros((self.sos.shape[0], x.shape[0], 2))
        low, self.zi = signal.sosfilt(self.sos, x, axis=1, zi=self.zi)
        m = _speech_mask(self.n0, x.shape[1], self.rate, self.segments)
        self.n0 += x.shape[1]
        return np.ascontiguousarray((x * (1 - m) + low * MUFFLE_GAIN * m).astype(np.float32))


def muffle_audio(src: Any, fmt: str, segments: tuple[Segment, ...]) -> tuple[bytes, str]:
    """Re-encode ``src`` with ``segments`` muffled; returns (bytes, extension). Lossless inputs
    become FLAC, others Opus in Ogg at 48 kHz. No tags are written."""
    lossless = fmt in _LOSSLESS
    container, ext, codec = ("flac", "flac", "flac") if lossless else ("ogg", "opus", "libopus")
    buf = io.BytesIO()
    with (
        av.open(src, mode="r", metadata_errors="ignore") as inp,
        av.open(buf, mode="w", format=container, options=dict(_MUX_OPTIONS)) as out,
    ):
        a_in = inp.streams.audio[0]
        rate = a_in.codec_context.sample_rate if lossless else 48_000
        layout = a_in.layout.name if a_in.codec_context.channels <= 2 else "stereo"
        a_out = out.add_stream(codec, rate=rate, layout=layout)
        if not lossless:
            a_out.bit_rate = 96_000
            # libopus' default effort (10) took ~0.6 s per audio-minute; 5 is about twice as
            # fast and inaudibly different at 96 kb/s for ambience.
            a_out.options = {"compression_level": "5"}
        a_out.metadata.clear()
        to_float = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=rate)
        muffler = Muffler(rate, segments)

        def process(frames: list[av.AudioFrame]) -> None:
            for f in frames:
                of = av.AudioFrame.from_ndarray(
                    muffler.apply(f.to_ndarray()), format="fltp", layout=layout
                )
                of.sample_rate = rate
                out.mux(a_out.encode(of))

        for frame in inp.decode(a_in):
            frame.pts = None
            process(to_float.resample(frame))
        process(to_float.resample(None))
        out.mux(a_out.encode(None))
    return buf.getvalue(), ext
