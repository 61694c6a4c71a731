"""Audio: loudness and quality figures, speech in ambient audio muffled (or rejected), tags
removed, and audio fingerprints that find re-encoded copies."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile as sf

import ingest_media
from datatrust.pipeline import fingerprint as fpmod
from datatrust.pipeline.fingerprint import (
    MIN_COMPARED_BITS,
    SPECTRAL,
    AudioFingerprint,
    audio_fingerprint,
    audio_similarity,
    index_keys,
    is_near_duplicate_audio,
    probe_keys,
)
from datatrust.pipeline.media import process_media
from datatrust.pipeline.media_spec import MediaSpec
from datatrust.pipeline.quality import integrated_loudness
from support import require_chromaprint

RATE = 48_000


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.audio[0]
        res = av.AudioResampler(format="fltp", layout="mono", rate=s.codec_context.sample_rate)
        parts = [f.to_ndarray() for fr in c.decode(s) for f in res.resample(fr)]
        return np.concatenate(parts, axis=1)[0], s.codec_context.sample_rate


def _band_energy_db(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    return 10 * np.log10(spec[(freqs >= lo) & (freqs < hi)].sum() + 1e-12)


def test_loudness_of_a_sine_matches_bs1770():
    t = np.arange(10 * RATE) / RATE
    for dbfs in (-6.0, -20.0, -30.0):
        x = 10 ** (dbfs / 20) * np.sin(2 * np.pi * 997 * t)
        # BS.1770: a 997 Hz sine at 0 dBFS peak in one channel reads -3.01 LUFS.
        assert integrated_loudness(x, RATE) == pytest.approx(dbfs - 3.01, abs=0.1)
    # Same at 16 kHz, to show the filter is designed for the actual rate.
    t16 = np.arange(10 * 16000) / 16000
    assert integrated_loudness(0.1 * np.sin(2 * np.pi * 997 * t16), 16000) == pytest.approx(
        -23.01, abs=0.15
    )


def test_silence_is_gated_out():
    assert integrated_loudness(np.zeros(RATE * 3), RATE) == -99.0


@pytest.mark.parametrize("fmt", ["mp3", "opus", "wav", "flac", "m4a"])
def test_ambient_recording_is_accepted_with_figures_and_tags_removed(fmt, media_kit):
    street = np.repeat(media_kit.ambient_noise(8), 2, axis=0) * 4  # stereo, about -25 LUFS
    data = media_kit.encode_audio(
        street, RATE, fmt, tags={"title": "Anna at home", "artist": "Anna Jansen"}
    )
    r = process_media(data, "ambient", metadata={"lat": 52.37, "lng": 4.90})
    assert r.accepted, r.rejections
    q = r.quality
    assert q["duration_s"] == pytest.approx(8, abs=0.1)
    assert -60 < q["loudness_lufs"] < -20  # brown noise: little energy where K-weighting looks
    assert q["clipping_ratio"] == 0 and q["silence_ratio"] < 0.1
    assert q["speech_ratio"] < 0.1
    assert "TAGS" in r.removed["metadata_removed"]
    assert r.removed["speech_segments_muffled"] == 0
    assert b"Anna" not in r.output_bytes
    with av.open(io.BytesIO(r.output_bytes)) as c:  # the copy is playable, and tag-free
        assert not {k for k in c.metadata if k.lower() in ("title", "artist")}
        assert c.streams.audio[0].codec_context.sample_rate > 0
    assert r.h3_cell is not None
    assert r.fingerprints.audio is not None


def test_speech_in_ambient_audio_is_detected_and_muffled(media_kit, speech_16k):
    street = media_kit.ambient_noise(16)[0]
    mix = street.copy()
    start = 6 * RATE
    mix[start : start + speech_16k.size] += speech_16k
    wav = media_kit.encode_audio(mix[None, :], RATE, "wav")

    r = process_media(wav, "ambient")

    assert r.accepted, r.rejections
    assert r.removed["speech_segments_muffled"] >= 1
    speech_s = speech_16k.size / RATE
    assert 0.5 * speech_s < r.removed["speech_seconds_muffled"] < speech_s + 2
    assert r.output_format == "flac"  # lossless in, lossless out

    out, rate = _decode(r.output_bytes)
    seg = slice(start, start + speech_16k.size)
    # Speech band (1-4 kHz) energy in the spoken part falls by well over 20 dB …
    before = _band_energy_db(mix[seg], RATE, 1000, 4000)
    after = _band_energy_db(out[seg], rate, 1000, 4000)
    assert before - after > 20, (before, after)
    # … while the street noise before the speech is left as it was.
    quiet = slice(RATE, 4 * RATE)
    assert (
        abs(
            _band_energy_db(mix[quiet], RATE, 100, 4000)
            - _band_energy_db(out[quiet], rate, 100, 4000)
        )
        < 1.0
    )
    # What muffling removes is the words (the 1-4 kHz band above), not the fact that
    # someone spoke: below 300 Hz the voice's pitch remains, and Silero still hears a voice
    # there (webrtcvad, used before, mostly did not), so no check on the detector here.


def test_speech_in_lossy_ambient_audio_comes_back_as_opus(media_kit, speech_16k):
    mix = media_kit.ambient_noise(24)[0]
    mix[5 * RATE : 5 * RATE + speech_16k.size] += speech_16k
    r = process_media(media_kit.encode_audio(mix[None, :], RATE, "mp3"), "ambient")
    assert r.accepted, r.rejections
    assert r.removed["speech_segments_muffled"] >= 1
    assert r.output_format == "opus" and r.output_bytes[:4] == b"OggS"


def test_ambient_audio_that_is_mostly_speech_is_rejected(media_kit, speech_16k):
    mix = media_kit.ambient_noise(speech_16k.size / RATE + 1)[0]
    mix[RATE // 2 : RATE // 2 + speech_16k.size] += speech_16k
    r = process_media(media_kit.encode_audio(mix[None, :], RATE, "flac"), "ambient")
    assert r.codes == ("speech_detected",)
    assert "Speech was detected" in r.rejections[0].message


def test_campaign_can_reject_any_speech(media_kit, speech_16k):
    mix = media_kit.ambient_noise(20)[0]
    mix[8 * RATE : 8 * RATE + speech_16k.size] += speech_16k
    spec = MediaSpec.from_campaign("ambient", {"deidentify": {"speech_policy": "reject"}})
    r = process_media(media_kit.encode_audio(mix[None, :], RATE, "wav"), "ambient", spec)
    assert r.codes == ("speech_detected",)


def test_voice_recording_keeps_its_speech(media_kit, speech_16k):
    voice = (
        np.concatenate([speech_16k, speech_16k])
        + media_kit.ambient_noise(2 * speech_16k.size / RATE)[0][: 2 * speech_16k.size] * 0.05
    )
    r = process_media(media_kit.encode_audio(voice[None, :], RATE, "opus"), "voice")
    assert r.accepted, r.rejections
    assert r.quality["speech_ratio"] > 0.5
    assert r.removed["speech_segments_muffled"] == 0


def test_voice_without_speech_fails_quality(media_kit):
    r = process_media(media_kit.encode_audio(media_kit.ambient_noise(6), RATE, "mp3"), "voice")
    assert "no_speech" in r.codes


def test_quiet_clipped_and_short_recordings_fail_quality(media_kit):
    quiet = media_kit.tones(8) * 0.001
    assert "too_quiet" in process_media(media_kit.encode_audio(quiet, RATE, "wav"), "ambient").codes
    loud = np.clip(media_kit.tones(8) * 20, -1, 1)
    assert "clipping" in process_media(media_kit.encode_audio(loud, RATE, "wav"), "ambient").codes
    short = media_kit.tones(2)
    assert "too_short" in process_media(media_kit.encode_audio(short, RATE, "wav"), "ambient").codes


def test_audio_without_header_duration_is_bounded_while_decoding(media_kit):
    spec = MediaSpec.from_campaign("ambient", {"limits": {"max_duration_s": 5}})
    data = media_kit.encode_audio(media_kit.tones(9), RATE, "mp3")
    assert process_media(data, "ambient", spec).codes == ("duration_out_of_range",)


def test_reencoded_copy_is_a_near_duplicate_and_other_audio_is_not(media_kit):
    require_chromaprint()
    # Tonal content, so "call" (no voice-activity check: webrtcvad takes tones for speech).
    clip = media_kit.tones(20, seed=11)
    original = process_media(media_kit.encode_audio(clip, RATE, "wav"), "call")
    # The same clip, quieter, as an MP3.
    copy = process_media(media_kit.encode_audio(clip * 0.5, RATE, "mp3"), "call")
    other = process_media(
        media_kit.encode_audio(media_kit.tones(20, seed=99), RATE, "opus"), "call"
    )
    assert original.accepted and copy.accepted and other.accepted
    a, b, c = (x.fingerprints.audio for x in (original, copy, other))
    assert a.engine == "chromaprint"
    assert audio_similarity(a, b) > 0.9
    assert audio_similarity(a, c) < 0.75
    hit = is_near_duplicate_audio(b, {"other": c, "first": a})
    assert hit is not None and hit.key == "first" and "similar" in hit.reason
    assert is_near_duplicate_audio(c, {"first": a}) is None


def test_spectral_fallback_when_chromaprint_is_missing(monkeypatch, media_kit):
    monkeypatch.setattr(fpmod, "HAVE_CHROMAPRINT", False)
    clip = media_kit.tones(15, seed=5)[0]

    def pcm16(x: np.ndarray) -> bytes:
        buf = io.BytesIO()
        sf.write(buf, x[::3], 16000, format="RAW", subtype="PCM_16")  # crude 48k→16k
        return buf.getvalue()

    a = audio_fingerprint(pcm16(clip), 16000)
    b = audio_fingerprint(pcm16(clip * 0.3), 16000)
    c = audio_fingerprint(pcm16(media_kit.tones(15, seed=6)[0]), 16000)
    assert a.engine == SPECTRAL
    assert audio_similarity(a, b) > 0.85
    assert audio_similarity(a, c) < 0.7
    # Never compared across engines.
    assert audio_similarity(a, AudioFingerprint("chromaprint", "AQAAAA")) == 0.0


SENTENCES = ingest_media.SENTENCES
# Voice recordings from half a second up, as a campaign may allow (a second of speech has
# too few pauses to measure the background noise by).
SHORT_VOICE = MediaSpec.from_campaign(
    "voice",
    {"limits": {"min_duration_s": 0.5}, "quality": {"min_duration_s": 0.5, "min_snr_db": 0.0}},
)


def _voice_fingerprint(data: bytes) -> AudioFingerprint:
    r = process_media(data, "voice", SHORT_VOICE)
    assert r.accepted, r.rejections
    assert r.fingerprints.audio is not None
    return r.fingerprints.audio


@pytest.mark.parametrize("seconds", [1.0, 2.0, 3.0, 5.0, 8.0])
def test_a_short_voice_clip_is_found_in_every_copy_and_other_sentences_are_not(seconds):
    # Chromaprint gives no word below about 2.5 s and 3 at 3 s: these clips went unmatched,
    # or unmatched through the index, and 3 s sentences could match each other.
    clip = ingest_media.sentence(SENTENCES[0], seconds)
    original = _voice_fingerprint(ingest_media.encode(clip, "wav"))
    assert original.short is not None
    for name, data in ingest_media.audio_copies(clip).items():
        copy = _voice_fingerprint(data)
        hit = is_near_duplicate_audio(copy, {"original": original})
        assert hit is not None, (name, audio_similarity(copy, original))
        assert probe_keys({"audio": copy}) & index_keys({"audio": original}), name
    for text in SENTENCES[1:]:  # the same voice reading something else
        other = _voice_fingerprint(ingest_media.encode(ingest_media.sentence(text, seconds), "mp3"))
        assert audio_similarity(other, original) < 0.75, text
        assert is_near_duplicate_audio(other, {"original": original}) is None


def test_long_clips_keep_to_chromaprint_alone():
    require_chromaprint()
    clip = ingest_media.sentence(" ".join(SENTENCES), 12.0)
    assert clip.shape[1] == 12 * RATE
    fp = _voice_fingerprint(ingest_media.encode(clip, "wav"))
    assert fp.engine == "chromaprint" and fp.short is None
    assert set(fp.as_dict()) == {"engine", "value"}
    assert AudioFingerprint(**fp.as_dict()) == fp


def test_too_few_compared_bits_are_no_evidence_and_shared_silence_none_either():
    def spectral(words: list[int]) -> AudioFingerprint:
        return AudioFingerprint(SPECTRAL, fpmod._b64(np.array(words, dtype=np.uint32)))

    words = [0x9E3779B9 * (i + 1) % 2**32 for i in range(MIN_COMPARED_BITS // 32)]
    assert audio_similarity(spectral(words), spectral(words)) == 1.0
    # Fewer words (a 3 s clip has 3 of Chromaprint's) are no match, however equal.
    assert audio_similarity(spectral(words[:-1]), spectral(words[:-1])) == 0.0
    # All-zero words (digital silence) on both sides count neither way: two different
    # scraps padded with silence are not alike, and silence is no index key.
    a, b = spectral(words[:4] + [0] * 40), spectral(words[4:] + [0] * 40)
    assert audio_similarity(a, b) == 0.0
    short = AudioFingerprint(SPECTRAL, "", short=a.value)
    low = (1 << fpmod.AUDIO_KEY_BITS) - 1
    assert index_keys({"audio": short}) == {(f"audio:{fpmod.SHORT}", w & low) for w in words[:4]}


def test_sentences_padded_with_digital_silence_do_not_match_on_the_silence():
    quiet = np.zeros((1, 3 * RATE), dtype=np.float32)
    a, b = (
        _voice_fingerprint(
            ingest_media.encode(np.concatenate([ingest_media.sentence(t, 1.5), quiet], 1), "wav")
        )
        for t in SENTENCES[:2]
    )
    assert a.short and b.short
    assert audio_similarity(a, b) < 0.75
    assert is_near_duplicate_audio(a, {"b": b}) is None


def test_call_recording_is_accepted_without_speech_muffling(media_kit, speech_16k):
    call = np.tile(speech_16k, 4) + 0.002
    r = process_media(media_kit.encode_audio(call[None, :], RATE, "m4a"), "call")
    assert r.accepted, r.rejections
    assert "speech_ratio" not in r.quality  # calls are all speech; not measured
    assert r.output_format == "m4a"
