"""Misuse tracing (issue 17 §3): a cropped, re-encoded photo and a trimmed, re-encoded
audio clip are traced to their items and the buyer that received them (snapshot,
agreement, licence); each caller searches only what it may (a contributor their own, a
buyer what it received, the operator everything); the contributor opens a misuse report
that reaches the operators and the buyer and shows in the passport."""

from __future__ import annotations

import pytest
from test_seed_story import TRAINING, buyer, fund, license_training_only, year_of_use

import trace_media
from datatrust.domain.accounts import Organisation
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.pipeline.fingerprint import audio_fingerprint, phash
from datatrust.pipeline.quality import analysis_copy


def stored_item(services, persona, kind: ItemKind, media: bytes, fingerprints: dict) -> Item:
    """An item as the pipeline leaves it: de-identified bytes stored, fingerprints, listed."""
    with services.uow() as uow:
        original = services.storage.put(uow, persona.actor.user_id, [media + b"raw"])
        deid = services.storage.put(uow, persona.actor.user_id, [media], namespace="deid")
        item = Item(
            owner_id=persona.actor.user_id,
            kind=kind,
            filename="x.jpg" if kind is ItemKind.PHOTO else "x.mp3",
            content_type="image/jpeg" if kind is ItemKind.PHOTO else "audio/mpeg",
            size=original.size,
            original_key=original.key,
            original_sha256=original.content_id,
            status=ItemStatus.LISTED,
            title=f"{kind.value} item",
            deidentified_key=deid.key,
            deidentified_sha256=deid.sha256,
            h3_cell="8928308280fffff",
            duration_seconds=14,
            report={"quality": {"score": 0.9}, "language": "en"},
            fingerprints=fingerprints,
        )
        uow.add(item)
        uow.flush()
        uow.record("item:list", "system", "item", item.id, by="test")
        uow.commit()
        return item


def photo_item(services, persona, name: str) -> tuple[Item, object]:
    rgb = trace_media.photo(name)
    item = stored_item(
        services,
        persona,
        ItemKind.PHOTO,
        trace_media.jpeg(rgb),
        {"phash": phash(analysis_copy(rgb))},
    )
    return item, rgb


def audio_item(services, persona, index: int) -> tuple[Item, object]:
    pcm = trace_media.speech(index)
    fp = audio_fingerprint(pcm.tobytes(), trace_media.RATE).as_dict()
    return stored_item(
        services, persona, ItemKind.AMBIENT, trace_media.encoded(pcm), {"audio": fp}
    ), pcm


@pytest.fixture
def delivered(client, services, people):
    """The owner's photo and audio, and another contributor's photo, all delivered to one
    buyer (Trainer Labs); a second buyer (Other Labs) received nothing."""
    owner, other = people["owner"], people["other"]
    photo, rgb = photo_item(services, owner, "astronaut")
    sound, pcm = audio_item(services, owner, 0)
    others, _ = photo_item(services, other, "coffee")
    for item, persona in ((photo, owner), (sound, owner), (others, other)):
        license_training_only(client, persona, item.id)
    trainer, org = buyer(services, people, "trainer", ["model_training"], ["technology"])
    with services.uow() as uow:
        uow.get(Organisation, org.id).contact_email = "legal@trainer.example"
        uow.commit()
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    bought = client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    assert bought.status_code == 200, bought.text
    built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    assert built.status_code == 201, built.text
    outsider, _ = buyer(services, people, "other", ["model_training"], ["technology"])
    return {
        "photo": photo,
        "rgb": rgb,
        "sound": sound,
        "pcm": pcm,
        "others": others,
        "trainer": trainer,
        "org": org,
        "outsider": outsider,
        "snapshot_id": built.json()["id"],
    }


def _trace(client, persona, data: bytes, name: str = "found.bin"):
    return client.post("/api/trace", headers=persona.headers, files={"file": (name, data)})


def test_a_cropped_re_encoded_photo_is_traced_to_its_item_and_the_buyer_that_received_it(
    client, people, delivered
):
    leaked = trace_media.cropped_copy(delivered["rgb"])
    got = _trace(client, people["owner"], leaked, "found.jpg")
    assert got.status_code == 200, got.text
    [match] = got.json()["matches"]
    assert match["item_id"] == delivered["photo"].id and match["how"] == "keypoints"
    [receipt] = match["received_by"]
    assert receipt["buyer"] == "Trainer Labs Ltd"
    assert receipt["snapshot_id"] == delivered["snapshot_id"] and receipt["version"] == "1.0.0"
    assert receipt["agreement_id"] and receipt["licence_id"]
    assert receipt["content_sha256"] == delivered["photo"].deidentified_sha256
    # The operator finds it among every item, with the same delivery.
    got = _trace(client, people["operator"], leaked).json()
    assert [m["item_id"] for m in got["matches"]] == [delivered["photo"].id]
    assert got["matches"][0]["received_by"][0]["buyer"] == "Trainer Labs Ltd"


def test_a_trimmed_re_encoded_audio_clip_is_traced_to_its_item_and_the_buyer(
    client, people, delivered
):
    leaked = trace_media.trimmed_copy(delivered["pcm"], start_s=5.0, seconds=5.0, fmt="ogg")
    got = _trace(client, people["owner"], leaked, "clip.ogg")
    assert got.status_code == 200, got.text
    [match] = got.json()["matches"]
    assert match["item_id"] == delivered["sound"].id and match["how"] == "audio"
    assert match["score"] >= 0.85
    assert [r["buyer"] for r in match["received_by"]] == ["Trainer Labs Ltd"]


def test_each_caller_searches_only_what_it_may_see(client, people, delivered):
    leaked = trace_media.cropped_copy(delivered["rgb"])
    # Another contributor's search does not reach the owner's photo.
    assert _trace(client, people["other"], leaked).json()["matches"] == []
    # The buyer that received it finds it, with only its own delivery.
    mine = _trace(client, delivered["trainer"], leaked).json()["matches"]
    assert [m["item_id"] for m in mine] == [delivered["photo"].id]
    assert {r["buyer"] for r in mine[0]["received_by"]} == {"Trainer Labs Ltd"}
    # A buyer that received nothing finds nothing.
    assert _trace(client, delivered["outsider"], leaked).json() == {
        "kind": "photo",
        "searched": 0,
        "matches": [],
    }
    assert client.post("/api/trace", files={"file": ("x", leaked)}).status_code == 401


def test_an_unrelated_photo_matches_nothing(client, people, delivered):
    stranger = trace_media.cropped_copy(trace_media.photo("rocket"))
    assert _trace(client, people["operator"], stranger).json()["matches"] == []


def test_a_file_that_is_no_media_is_refused_with_its_reason(client, people, delivered):
    got = _trace(client, people["owner"], b"this is a text file, not a photo")
    assert got.status_code == 422
    assert "cannot be read as a photo, video or audio" in got.text


def test_the_contributor_opens_a_misuse_report_that_reaches_operator_and_buyer(
    client, services, people, delivered
):
    owner, photo, org = people["owner"], delivered["photo"], delivered["org"]
    sent = client.post(
        f"/api/items/{photo.id}/misuse-reports",
        headers=owner.headers,
        json={"org_id": org.id, "note": "found on a stock photo site"},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["received_in"][0]["snapshot_id"] == delivered["snapshot_id"]
    mails = {m["To"]: m for m in services.mailer.sent()}
    assert {people["operator"].email, "legal@trainer.example"} <= set(mails)
    body = mails["legal@trainer.example"].get_content()
    assert f"item {photo.id}" in body and "found on a stock photo site" in body
    passport = client.get(f"/api/items/{photo.id}/passport", headers=owner.headers).json()
    assert "misuse reported" in [e["step"] for e in passport["events"]]

    # Only the owner, and only against a buyer that received the item.
    refused = client.post(
        f"/api/items/{photo.id}/misuse-reports",
        headers=people["other"].headers,
        json={"org_id": org.id},
    )
    assert refused.status_code == 404
    outsider_org = delivered["outsider"].actor.org_id
    refused = client.post(
        f"/api/items/{photo.id}/misuse-reports",
        headers=owner.headers,
        json={"org_id": outsider_org},
    )
    assert refused.status_code == 404 and "did not receive" in refused.text
