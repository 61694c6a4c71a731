"""The near-duplicate index: a new item is compared only with the items sharing one of its
probe keys, and that gives the answer comparing with every item would give."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import soundfile as sf
from PIL import Image
from sqlalchemy import text

import ingest_media as media
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.pipeline.fingerprint import (
    IMAGE_NEAR_DUPLICATE_BITS,
    PHASH_PROBE_RADIUS,
    audio_fingerprint,
    audio_similarity,
    hamming,
    index_keys,
    is_near_duplicate,
    is_near_duplicate_audio,
    probe_keys,
)
from datatrust.pipeline.run import STAGES
from datatrust.services.contributions import duplicates
from support import receive_upload, require_chromaprint

THRESHOLD = IMAGE_NEAR_DUPLICATE_BITS


def flip(h: str, bits: list[int]) -> str:
    value = int(h, 16)
    for b in bits:
        value ^= 1 << b
    return f"{value:016x}"


def near(rng: random.Random, h: str, distance: int) -> str:
    return flip(h, rng.sample(range(64), distance))


def generated_set(rng: random.Random, query: str, n: int = 300) -> dict[str, str]:
    """Unrelated hashes, and hashes at every distance from the query up to threshold + 1,
    several at exactly the threshold and one bit beyond it (the near misses)."""
    hashes = {f"r{i}": f"{rng.getrandbits(64):016x}" for i in range(n)}
    for d in range(THRESHOLD + 2):
        for j in range(4 if d in (THRESHOLD, THRESHOLD + 1) else 1):
            hashes[f"d{d}-{j}"] = near(rng, query, d)
    return hashes


def shares_a_key(query: dict, stored: dict) -> bool:
    return bool(probe_keys(query) & index_keys(stored))


def test_the_probe_radius_covers_the_threshold_by_pigeonhole():
    # 4 bands: a hash within THRESHOLD bits is within THRESHOLD // 4 bits in some band.
    assert PHASH_PROBE_RADIUS * 4 + 3 >= THRESHOLD
    keys = probe_keys({"phash": "0123456789abcdef"})
    assert len(keys) == 4 * (1 + 16 + 120)


def test_every_hash_within_the_threshold_shares_a_key_and_the_worst_spread_is_covered():
    rng = random.Random(7)
    for _ in range(300):
        query = f"{rng.getrandbits(64):016x}"
        for d in range(THRESHOLD + 1):
            assert shares_a_key({"phash": query}, {"phash": near(rng, query, d)})
        # The hardest case: the 10 bits spread as evenly as they can be (3, 3, 2, 2).
        spread = [0, 1, 2, 16, 17, 18, 32, 33, 48, 49]
        assert shares_a_key({"phash": query}, {"phash": flip(query, spread)})
    # And 3 bits in each band (12 in all) is beyond what the probes reach.
    query = "0000000000000000"
    beyond = flip(query, [0, 1, 2, 16, 17, 18, 32, 33, 34, 48, 49, 50])
    assert not shares_a_key({"phash": query}, {"phash": beyond})


def test_a_video_matching_on_its_frames_shares_a_key():
    rng = random.Random(3)
    frames = [f"{rng.getrandbits(64):016x}" for _ in range(6)]
    copy = [near(rng, f, THRESHOLD) for f in frames]
    assert is_near_duplicate(copy, {"v": frames}) is not None
    assert shares_a_key({"frame_phashes": copy}, {"frame_phashes": frames})


def add_item(uow, owner_id: int, kind: str, fingerprints: dict, n: int) -> Item:
    item = Item(
        owner_id=owner_id,
        kind=ItemKind(kind),
        filename=f"f{n}",
        content_type="application/octet-stream",
        size=1,
        original_key=f"k{n}",
        original_sha256=f"{n:064x}",
        status=ItemStatus.ACCEPTED,
        fingerprints=fingerprints,
    )
    uow.add(item)
    uow.flush()
    duplicates.index_fingerprints(uow, item)
    return item


def test_the_indexed_lookup_gives_the_linear_answer_and_compares_only_band_matches(
    services, people
):
    rng = random.Random(11)
    owner = people["owner"].actor.user_id
    with services.uow() as uow:
        query = f"{rng.getrandbits(64):016x}"
        hashes = generated_set(rng, query)
        stored = {
            name: add_item(uow, owner, "photo", {"phash": h}, i)
            for i, (name, h) in enumerate(hashes.items())
        }
        # Other kinds and items that did not get through are never candidates.
        add_item(uow, owner, "video", {"frame_phashes": [query]}, 9001)
        rejected = add_item(uow, owner, "photo", {"phash": query}, 9002)
        rejected.status = ItemStatus.REJECTED
        uow.flush()
        new = add_item(uow, owner, "photo", {}, 9003)
        new.status = ItemStatus.VALIDATED

        for target in [query, hashes["d10-0"], hashes["d11-0"], hashes["r5"]]:
            fp = {"phash": target}
            check = duplicates.check_duplicates(uow, new, fp)
            linear = is_near_duplicate(
                target, {str(i.id): i.fingerprints["phash"] for i in stored.values()}
            )
            if linear is None:
                assert check.code is None
            else:
                assert check.code == "near_duplicate"
                assert f"your item {linear.key}" in check.message
            band_matches = {
                name for name, item in stored.items() if shares_a_key(fp, item.fingerprints)
            }
            # Only the items sharing a band (within the probe radius) were compared ...
            assert check.compared == len(band_matches)
            assert check.compared < len(stored) // 10
            # ... and every item within the threshold is among them; one beyond may not be.
            within = {n for n, h in hashes.items() if hamming(target, h) <= THRESHOLD}
            assert within <= band_matches
        uow.rollback()


def test_near_misses_at_the_threshold_are_found_and_one_bit_beyond_are_not(services, people):
    rng = random.Random(5)
    owner = people["owner"].actor.user_id
    with services.uow() as uow:
        query = f"{rng.getrandbits(64):016x}"
        at = add_item(uow, owner, "photo", {"phash": near(rng, query, THRESHOLD)}, 1)
        new = add_item(uow, owner, "photo", {}, 2)
        new.status = ItemStatus.VALIDATED
        check = duplicates.check_duplicates(uow, new, {"phash": query})
        assert check.code == "near_duplicate" and f"your item {at.id}" in check.message
        at.status = ItemStatus.REJECTED  # no longer live
        add_item(uow, owner, "photo", {"phash": near(rng, query, THRESHOLD + 1)}, 3)
        assert duplicates.check_duplicates(uow, new, {"phash": query}).code is None
        uow.rollback()


RATE = 16_000


def melody(seed: int, seconds: float = 20) -> np.ndarray:
    """A quarter-second note at a random pitch after another: unrelated clips share few
    keys (tones from one small scale share many, rightly: they are alike)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = rng.uniform(150, 3000, size=int(seconds * 4) + 1)[(t * 4).astype(int)]
    return 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / RATE) + 0.01 * rng.standard_normal(n)


def pcm16(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1).astype(np.float32), RATE, format="RAW", subtype="PCM_16")
    return buf.getvalue()


def test_audio_keys_find_the_near_duplicates_a_linear_scan_finds():
    """Generated clips and copies of them from barely changed to past the threshold:
    comparing only with the originals sharing a key gives the linear answer."""
    require_chromaprint()
    rng = np.random.default_rng(0)
    clips = {str(seed): melody(seed) for seed in range(10)}
    everyone = {k: audio_fingerprint(pcm16(clip), RATE) for k, clip in clips.items()}
    found = near_threshold = beyond = compared = 0
    for seed, clip in list(clips.items())[:6]:
        for level in (0.0, 0.1, 0.2, 0.25, 0.28, 0.35):
            noisy = 0.7 * clip + level * rng.standard_normal(clip.size)
            for variant in (noisy, noisy[RATE // 3 :]):  # and with a third of a second cut
                fp = audio_fingerprint(pcm16(variant), RATE)
                sharing = {
                    k: f
                    for k, f in everyone.items()
                    if probe_keys({"audio": fp}) & index_keys({"audio": f})
                }
                linear = is_near_duplicate_audio(fp, everyone)
                assert is_near_duplicate_audio(fp, sharing) == linear, (seed, level)
                found += linear is not None
                compared += len(sharing)
                sim = audio_similarity(fp, everyone[seed])
                near_threshold += 0.85 <= sim < 0.88
                beyond += sim < 0.85
    # The set reaches the threshold from both sides, and most clips were never compared.
    assert found >= 40 and near_threshold >= 2 and beyond >= 2
    assert compared < 0.2 * 72 * len(everyone)


def receive(services, persona, data: bytes, name: str, kind: str = "photo") -> Item:
    return receive_upload(services, persona, kind, data, name)


def test_an_owners_near_duplicate_names_their_item_and_compares_with_few(services, people):
    owner, other = people["owner"], people["other"]
    others = [receive(services, other, media.photo(seed=s), f"{s}.jpg") for s in (21, 22, 23)]
    first = receive(services, owner, media.photo(seed=24), "a.jpg")
    assert all(i.status is ItemStatus.ACCEPTED for i in [*others, first])
    image = Image.open(io.BytesIO(media.photo(seed=24)))
    buf = io.BytesIO()
    image.resize((800, 800)).save(buf, "JPEG", quality=75)
    copy = receive(services, owner, buf.getvalue(), "b.jpg")
    assert copy.status is ItemStatus.REJECTED
    assert copy.report["reasons"][0]["code"] == "near_duplicate"
    assert f"your item {first.id}" in copy.report["reasons"][0]["message"]
    fresh = receive(services, owner, media.photo(seed=25), "c.jpg")
    assert fresh.status is ItemStatus.ACCEPTED
    assert fresh.report["stages"]["duplicates"]["compared"] < 4
    assert STAGES[-2] == "duplicates"


def test_a_short_voice_recording_uploaded_again_is_found_through_the_index(services, people):
    """A 3 s sentence (Chromaprint: 3 words) re-encoded, cut or resampled is rejected as a
    near-duplicate of the stored item, found by its keys; other sentences by the same voice
    are not, and the contributor's own item is named."""
    owner, other = people["owner"], people["other"]
    clip = media.sentence(media.SENTENCES[0], 3.0)
    first = receive(services, owner, media.encode(clip, "wav"), "first.wav", "voice")
    assert first.status is ItemStatus.ACCEPTED, first.report["reasons"]
    assert first.fingerprints["audio"]["short"]
    for name, data in media.audio_copies(clip).items():
        copy = receive(services, owner, data, f"copy {name}", "voice")
        assert copy.status is ItemStatus.REJECTED, (name, copy.report["stages"])
        reason = copy.report["reasons"][0]
        assert reason["code"] == "near_duplicate", name
        assert f"your item {first.id}" in reason["message"], name
        assert "sounds the same" in reason["message"]
    # Someone else's copy is caught too, without naming the item.
    theirs = receive(services, other, media.audio_copies(clip)["opus"], "theirs.ogg", "voice")
    reason = theirs.report["reasons"][0]
    assert reason["code"] == "near_duplicate" and str(first.id) not in reason["message"]
    for i, words in enumerate(media.SENTENCES[1:3]):  # the same voice reading something else
        data = media.encode(media.sentence(words, 3.0), "mp3")
        fresh = receive(services, owner, data, f"other {i}.mp3", "voice")
        assert fresh.status is ItemStatus.ACCEPTED, (words, fresh.report["reasons"])


def test_migration_0010_indexes_the_fingerprints_of_existing_items(databases):
    from datatrust.adapters.db import migrate
    from datatrust.adapters.db.engine import make_engine

    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0008")
        at = "2026-01-01 00:00:00"
        photo = {"phash": "0123456789abcdef"}
        with engine.begin() as c:
            c.exec_driver_sql(
                "INSERT INTO users (id, email, password_hash, role, display_name, language, "
                f"created_at) VALUES (1, 'a@example.org', 'x', 'contributor', '', 'en', '{at}')"
            )
            for item_id, fingerprints in [(1, json.dumps(photo)), (2, None)]:
                c.execute(
                    text(
                        "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                        "content_type, size, original_key, original_sha256, report, "
                        "fingerprints, created_at, updated_at) VALUES (:id, 1, 'photo', "
                        "'listed', '', 'f', 'image/jpeg', 1, 'k', 's', '{}', :fp, :at, :at)"
                    ),
                    {"id": item_id, "fp": fingerprints, "at": at},
                )
        migrate.upgrade(engine, "0010")
        with engine.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT space, key, item_id FROM fingerprint_keys ORDER BY space"
            ).all()
        assert [tuple(r) for r in rows] == [
            ("phash0", 0xCDEF, 1),
            ("phash1", 0x89AB, 1),
            ("phash2", 0x4567, 1),
            ("phash3", 0x0123, 1),
        ]
        assert sorted(rows) == sorted((s, k, 1) for s, k in index_keys(photo))
    finally:
        engine.dispose()


def test_audio_prints_of_different_engines_are_never_compared(services, people, monkeypatch):
    """An instance that lost (or gained) libchromaprint makes prints of another engine: the
    same recording printed by each is neither a candidate for nor a match of the other,
    while a print of the same engine is found."""
    require_chromaprint()
    import datatrust.pipeline.fingerprint as fpmod

    clip = pcm16(melody(21, seconds=12))
    chroma = audio_fingerprint(clip, RATE)
    assert chroma.engine == fpmod.CHROMAPRINT
    monkeypatch.setattr(fpmod, "HAVE_CHROMAPRINT", False)
    spectral = audio_fingerprint(clip, RATE)
    assert spectral.engine == fpmod.SPECTRAL
    owner = people["owner"].actor.user_id
    with services.uow() as uow:
        add_item(uow, owner, "ambient", {"audio": chroma.as_dict()}, 1)
        new = add_item(uow, owner, "ambient", {}, 2)
        new.status = ItemStatus.VALIDATED
        other_engine = duplicates.check_duplicates(uow, new, {"audio": spectral.as_dict()})
        assert other_engine.compared == 0 and other_engine.code is None
        same_engine = duplicates.check_duplicates(uow, new, {"audio": chroma.as_dict()})
        assert same_engine.compared == 1 and same_engine.code == "near_duplicate"
