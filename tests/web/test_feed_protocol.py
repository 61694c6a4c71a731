"""Withdrawal as a protocol (issue 17 §2): the revocation feed is a signed, sequenced,
expiring log; its keys are published as a JWK Set at /.well-known/jwks.json, with key
ids and rotation; the buyer's client refuses, each with its reason, a feed older than one
it has seen, a bad signature, an unknown key id, an expired feed and a feed with a notice
missing. Through the API, the client (``datatrust.client``) and ``datatrust feed check``.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from babel.dates import format_date
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_seed_story import (
    TRAINING,
    WALK,
    buyer,
    fund,
    license_training_only,
    listed_item,
    year_of_use,
)
from typer.testing import CliRunner

from datatrust.adapters.crypto import Ed25519Signer
from datatrust.cli import app
from datatrust.client import FeedError, FeedFollower, verify_feed


@pytest.fixture
def holder(client, services, people):
    """A buyer holding two items (a delivered snapshot), and the two items."""
    return make_holder(client, services, people)


def make_holder(client, services, people):
    """A buyer holding two items (a delivered snapshot), and the two items."""
    trainer, _ = buyer(services, people, "trainer", ["model_training"], ["technology"])
    walk = listed_item(services, people["owner"], WALK, "walk")
    park = listed_item(services, people["other"], WALK.replace(b"walk", b"park"), "park")
    license_training_only(client, people["owner"], walk.id)
    license_training_only(client, people["other"], park.id)
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    assert client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    assert built.status_code == 201, built.text
    return trainer, walk, park


def _feed(client, persona) -> dict:
    got = client.get("/api/buyers/feed", headers=persona.headers)
    assert got.status_code == 200, got.text
    return got.json()


def _header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_the_feed_is_a_sequenced_expiring_log_signed_by_a_published_key(
    client, services, people, holder
):
    trainer, walk, park = holder
    empty = _feed(client, trainer)
    keys = client.get("/.well-known/jwks.json")  # anonymous: keys are public
    assert keys.status_code == 200
    jwks = keys.json()
    assert empty["jwks_url"].endswith("/.well-known/jwks.json")
    assert _header(empty["feed"])["kid"] in [k["kid"] for k in jwks["keys"]]
    claims = verify_feed(empty["feed"], jwks)
    assert claims["last_seq"] == 0 and claims["revoked"] == []
    assert claims["exp"] - claims["iat"] == services.settings.feed_ttl_seconds

    for item, persona in ((walk, people["owner"]), (park, people["other"])):
        gone = client.delete(f"/api/items/{item.id}/consent", headers=persona.headers)
        assert gone.status_code == 200, gone.text
    claims = verify_feed(_feed(client, trainer)["feed"], jwks)
    assert claims["last_seq"] == 2
    assert [(e["seq"], e["content_sha256"]) for e in claims["revoked"]] == [
        (1, walk.deidentified_sha256),
        (2, park.deidentified_sha256),
    ]


def test_the_client_refuses_a_feed_older_than_one_it_has_seen(
    client, services, people, holder, tmp_path
):
    trainer, walk, _ = holder
    jwks = client.get("/.well-known/jwks.json").json()
    before = _feed(client, trainer)["feed"]  # last_seq 0: from before the withdrawal
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    time.sleep(1.01)  # iat has a one-second grain
    after = _feed(client, trainer)["feed"]

    state = tmp_path / "feed-state.json"
    follower = FeedFollower(jwks, state)
    assert follower.accept(after)["last_seq"] == 1
    assert follower.accept(after)["last_seq"] == 1  # the same feed again is fine
    with pytest.raises(FeedError, match="older than one already seen") as refused:
        FeedFollower(jwks, state).accept(before)  # remembered across runs
    assert refused.value.reason == "replayed"
    # The newest feed accepted is still the one remembered: nothing was lost.
    assert json.loads(state.read_text())["last_seq"] == 1

    # An older issue time with the same sequence is refused too.
    signer = services.signer
    newer = signer.verify(after)
    older = {**newer, "iat": newer["iat"] - 60, "exp": newer["exp"] - 60}
    with pytest.raises(FeedError) as refused:
        FeedFollower(jwks, state).accept(signer.sign(older))
    assert refused.value.reason == "replayed"


def _claims(last_seq: int = 1, seqs: list[int] | None = None, ttl: int = 3600) -> dict:
    now = int(time.time())
    return {
        "type": "datatrust-revocation-feed",
        "iat": now,
        "exp": now + ttl,
        "last_seq": last_seq,
        "revoked": [
            {"seq": s, "content_sha256": f"{s:064x}"}
            for s in (seqs if seqs is not None else range(1, last_seq + 1))
        ],
    }


def test_bad_signature_unknown_key_expired_and_missing_notices_are_refused_with_reasons():
    platform = Ed25519Signer(Ed25519PrivateKey.generate())
    jwks = platform.jwks()
    good = platform.sign(_claims())
    assert verify_feed(good, jwks)["last_seq"] == 1

    head, _body, sig = good.split(".")
    altered = _claims()
    altered["revoked"] = []
    altered["last_seq"] = 0
    forged_body = platform.sign(altered).split(".")[1]
    cases = {
        "bad_signature": f"{head}.{forged_body}.{sig}",
        "unknown_key": Ed25519Signer(Ed25519PrivateKey.generate()).sign(_claims()),
        "expired": platform.sign(_claims(ttl=-1)),
        "gap": platform.sign(_claims(last_seq=3, seqs=[1, 3])),
        "malformed": "not.a.feed",
    }
    for reason, token in cases.items():
        with pytest.raises(FeedError) as refused:
            verify_feed(token, jwks)
        assert refused.value.reason == reason, (reason, str(refused.value))
        assert str(refused.value)  # a reason a person can read
    # An old-format feed (no expiry or sequence) is not trusted.
    legacy = platform.sign({"type": "datatrust-revocation-feed", "revoked": []})
    with pytest.raises(FeedError, match="no expiry"):
        verify_feed(legacy, jwks)


def test_a_rotated_key_signs_new_feeds_and_the_retired_one_still_verifies(services):
    old = Ed25519Signer(Ed25519PrivateKey.generate())
    old_feed = old.sign(_claims())
    new = Ed25519Signer(Ed25519PrivateKey.generate()).with_retired([old.public_jwk()])
    jwks = new.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [new.public_jwk()["kid"], old.public_jwk()["kid"]]
    assert verify_feed(old_feed, jwks)["last_seq"] == 1
    new_feed = new.sign(_claims())
    assert _header(new_feed)["kid"] == new.public_jwk()["kid"] != old.public_jwk()["kid"]
    assert verify_feed(new_feed, jwks)["last_seq"] == 1
    # A retired JWK cannot smuggle in another key's id: the id is the key's thumbprint.
    lying = {**old.public_jwk(), "kid": new.public_jwk()["kid"]}
    assert new.with_retired([lying]).jwks()["keys"][1]["kid"] == old.public_jwk()["kid"]
    with pytest.raises(ValueError, match="Ed25519 public JWK"):
        new.with_retired([{"kty": "RSA", "n": "x", "e": "AQAB"}])


def test_the_instance_publishes_its_retired_keys_from_settings(settings, tmp_path):
    from datatrust.bootstrap import build

    old = Ed25519Signer(Ed25519PrivateKey.generate())
    settings.retired_signing_jwks = [old.public_jwk()]
    svc = build(settings, upgrade_embedded=False)
    try:
        kids = [k["kid"] for k in svc.signer.jwks()["keys"]]
        assert kids[1:] == [old.public_jwk()["kid"]] and kids[0] != kids[1]
    finally:
        svc.close()


def test_feed_check_refuses_an_older_feed_with_its_reason(tmp_path):
    platform = Ed25519Signer(Ed25519PrivateKey.generate())
    (tmp_path / "jwks.json").write_text(json.dumps(platform.jwks()))
    snap = tmp_path / "snap"
    snap.mkdir()
    pq.write_table(
        pa.table({"key": ["dt-1"], "content_sha256": ["f" * 64]}), snap / "index.parquet"
    )
    newer, older = _claims(last_seq=2), _claims(last_seq=1)
    args = ["feed", "check", "--key", str(tmp_path / "jwks.json"), "--snapshot", str(snap)]
    args += ["--state", str(tmp_path / "state.json"), "--feed", str(tmp_path / "feed.jws")]
    (tmp_path / "feed.jws").write_text(platform.sign(newer))
    assert CliRunner().invoke(app, args).exit_code == 0
    (tmp_path / "feed.jws").write_text(platform.sign(older))
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "(replayed)" in refused.output


def holder_in_notice(client, services, people):
    """The owner's walk under 90 days' notice and the other's park under none, both
    bought and delivered to one buyer, then both withdrawn: the buyer, the two items and
    its order."""
    owner = people["owner"]
    trainer, _ = buyer(services, people, "trainer", ["model_training"], ["technology"])
    walk = listed_item(services, owner, WALK, "walk")
    park = listed_item(services, people["other"], WALK.replace(b"walk", b"park"), "park")
    license_training_only(client, owner, walk.id, withdrawal_notice_days=90)
    license_training_only(client, people["other"], park.id)  # no notice
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    assert built.status_code == 201 and built.json()["items"] == 2, built.text
    for item, persona in ((walk, owner), (park, people["other"])):
        gone = client.delete(f"/api/items/{item.id}/consent", headers=persona.headers)
        assert gone.status_code == 200, gone.text
    return trainer, walk, park, order


def test_the_feed_and_its_page_say_until_when_a_promised_notice_lets_the_buyer_keep_the_item(
    client, services, people
):
    trainer, walk, park, _order = holder_in_notice(client, services, people)
    entries = {
        e["content_sha256"]: e
        for e in verify_feed(_feed(client, trainer)["feed"], _jwks(client))["revoked"]
    }
    promised = entries[walk.deidentified_sha256]
    ends = datetime.fromisoformat(promised["notice_ends_at"])
    noticed = datetime.fromisoformat(promised["noticed_at"])
    assert timedelta(days=90) - timedelta(minutes=5) < ends - noticed <= timedelta(days=90)
    # The deletion deadline runs from the end of the notice.
    deadline = datetime.fromisoformat(promised["deletion_deadline"])
    assert deadline - ends > timedelta(days=29)
    assert entries[park.deidentified_sha256]["notice_ends_at"] is None

    words = {
        "en": "you may keep using it until",
        "hi": "आप इसे इस तारीख तक इस्तेमाल कर सकते हैं",
        "zu": "ungaqhubeka uyisebenzisa kuze kube",
    }
    for lang, phrase in words.items():
        page = client.get(f"/buyer/feed?lang={lang}", headers=trainer.headers)
        assert page.status_code == 200
        assert page.text.count(phrase) == 1, lang  # the walk's notice only
        assert f'<time datetime="{promised["notice_ends_at"]}">' in page.text
    assert (
        format_date(ends, format="long", locale="hi")
        in client.get("/buyer/feed?lang=hi", headers=trainer.headers).text
    )


def _jwks(client) -> dict:
    return client.get("/.well-known/jwks.json").json()
