"""The seed story, end to end over HTTP (issue 5), and the buyer-side bad inputs.

A contributor licenses a walk video training-only for one year; a buyer declaring
political advertising selects 0 items and sees why; a training buyer buys it and downloads
the snapshot; the contributor withdraws; the buyer's feed lists the item with a deadline;
the next snapshot excludes it and bumps the major version; the buyer attests deletion; the
contributor's passport shows every step.

Items are made listed directly (with their de-identified bytes stored as the pipeline
would): the media pipeline and campaign review that list items are other issues' and
are tested there; everything from the licence on goes through the API.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datatrust.client import filter_allowed, verify_feed
from datatrust.domain.accounts import Organisation, OrgStatus, User
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import Receipt
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.money import Money
from datatrust.domain.permissions import Role
from datatrust.pipeline.snapshot import INDEX_COLUMNS
from datatrust.services.accounts import accounts
from datatrust.services.market.revocations import check_deadlines
from datatrust.services.market.snapshots import object_key
from support import make_persona

WALK = b"\x00\x00\x00\x18ftypmp42" + b"walk-video-deidentified" * 40
TRAINING = {
    "action": "train",
    "purpose": "model_training",
    "industry": "technology",
    "task": "scene_understanding",
    "outputs": ["labels"],
    "territory": "GB",
}


def listed_item(
    services,
    persona,
    media: bytes,
    title: str,
    *,
    kind: ItemKind = ItemKind.VIDEO,
    filename: str = "walk.mp4",
    content_type: str = "video/mp4",
    duration_seconds: int | None = 95,
) -> Item:
    """A walk video (or another kind) as the pipeline leaves it: de-identified bytes
    stored, listed."""
    with services.uow() as uow:
        original = services.storage.put(uow, persona.actor.user_id, [media + b"raw"])
        deid = services.storage.put(uow, persona.actor.user_id, [media], namespace="deid")
        item = Item(
            owner_id=persona.actor.user_id,
            kind=kind,
            filename=filename,
            content_type=content_type,
            size=original.size,
            original_key=original.key,
            original_sha256=original.content_id,
            status=ItemStatus.LISTED,
            title=title,
            deidentified_key=deid.key,
            deidentified_sha256=deid.sha256,
            h3_cell="8928308280fffff",
            duration_seconds=duration_seconds,
            report={"quality": {"score": 0.9}, "language": "en"},
        )
        uow.add(item)
        uow.flush()
        uow.record("item:process", "system", "item", item.id, verdict="accepted")
        uow.record("item:list", "system", "item", item.id, by="test")
        uow.commit()
        return item


def license_training_only(
    client, persona, item_id: int, price_minor: int = 1400, **changes
) -> dict:
    """Offer the training-only template for a year (with ``changes``) and consent to it."""
    offer = offer_training_only(client, persona, price_minor=price_minor, **changes)
    given = client.post(
        f"/api/items/{item_id}/consent",
        headers=persona.headers,
        json={"offer_id": offer["id"]},
    )
    assert given.status_code == 201, given.text
    return offer


def offer_training_only(client, persona, *, price_minor: int = 1400, **changes) -> dict:
    """A new offer of the training-only template, from a minute ago for a year (with
    ``changes``)."""
    start = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    offer = client.post(
        "/api/licences",
        headers=persona.headers,
        json={
            "template": "training_only",
            "changes": {
                "price_minor": price_minor,
                "valid_from": start.isoformat(),
                "valid_until": (start + timedelta(days=365)).isoformat(),
                **changes,
            },
        },
    )
    assert offer.status_code == 201, offer.text
    return offer.json()


def buyer(services, people, name: str, purposes: list[str], industries: list[str]):
    """An approved buyer organisation with these intended uses, and its admin."""
    persona = make_persona(services, name, Role.BUYER)
    with services.uow() as uow:
        org = accounts.register_organisation(
            uow,
            persona.actor,
            legal_name=f"{name.title()} Labs Ltd",
            country="GB",
            intended_uses={"purposes": purposes, "industries": industries},
        )
        accounts.decide_organisation(uow, people["operator"].actor, org.id, "approve")
    with services.uow() as uow:
        persona.actor = accounts.actor_for(uow, uow.get(User, persona.actor.user_id))
    return persona, org


def fund(services, persona, amount_minor: int = 1_000_000) -> None:
    from datatrust.adapters.payments import FakeCardRail
    from datatrust.services import money

    with services.uow() as uow:
        money.deposit_buyer_funds(
            uow, FakeCardRail(), persona.actor, Money(amount_minor, "USD"), "seed-topup"
        )


def year_of_use() -> dict:
    start = utcnow().replace(microsecond=0)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(days=180)).isoformat()}


def download_all(client, snapshot: dict, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for name, meta in snapshot["downloads"]["files"].items():
        got = client.get(meta["url"])  # no token: the signed link is the credential
        assert got.status_code == 200, got.text
        (into / name).write_bytes(got.content)


def test_the_seed_story(client, services, people, tmp_path, capsys):
    contributor, other = people["owner"], people["other"]
    walk = listed_item(services, contributor, WALK, "my morning walk")
    second = listed_item(services, other, WALK.replace(b"walk", b"park"), "park stroll")
    license_training_only(client, contributor, walk.id)
    license_training_only(client, other, second.id, price_minor=900)
    story: list[str] = []

    # 1. A buyer declaring political advertising selects 0 items and sees why. This
    #    instance serves political buyers (its deny list allows them); the licence does not.
    services.policy = replace(services.policy, denied_industries=("surveillance", "adult_content"))
    political, _ = buyer(services, people, "politico", ["advertising"], ["political_campaigning"])
    declared = client.post(
        "/api/buyers/orders",
        headers=political.headers,
        json={
            "action": "train",
            "purpose": "advertising",
            "industry": "political_campaigning",
            "territory": "GB",
            "task": "text_classification",
            "outputs": ["labels"],
            **year_of_use(),
        },
    )
    assert declared.status_code == 201, declared.text
    political_order = declared.json()
    assert political_order["selected"] == 0
    assert political_order["excluded"] == 2
    assert political_order["reasons"]["purpose_not_permitted"] == 2
    assert political_order["reasons"]["industry_prohibited"] == 2
    story.append(f"political buyer: selected 0, excluded because {political_order['reasons']}")

    # 2. A training buyer buys it and downloads the snapshot.
    trainer, trainer_org = buyer(services, people, "trainer", ["model_training"], ["technology"])
    fund(services, trainer)
    catalogue = client.get(
        "/api/buyers/catalogue", headers=trainer.headers, params={**TRAINING, "kind": "video"}
    )
    assert catalogue.status_code == 200, catalogue.text
    assert catalogue.json()["count"] == 2
    assert "my morning walk" not in catalogue.text and "original" not in catalogue.text
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    assert order["selected"] == 2 and order["excluded"] == 0
    usd = order["quote"]["currencies"]["USD"]
    assert (
        usd["items_minor"] == 2300 and usd["total_minor"] == usd["items_minor"] + usd["fee_minor"]
    )
    story.append(f"training buyer: selected 2, quote {usd}")
    bought = client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    assert bought.status_code == 200, bought.text
    agreements = bought.json()["agreements"]
    assert {a["item_id"] for a in agreements} == {walk.id, second.id}
    walk_agreement = next(a for a in agreements if a["item_id"] == walk.id)
    # The sale reached the walk's consent record: a new signed receipt names the buyer.
    with services.uow(read_only=True) as uow:
        consent_id = uow.get(Item, walk.id).consent_id
        receipts = uow.all(Receipt, consent_id=consent_id, order_by="id")
    disclosed = services.signer.verify(receipts[-1].jws)["recipient_parties"]
    assert [p["name"] for p in disclosed] == [trainer_org.legal_name]
    odrl = client.get(
        f"/api/buyers/agreements/{walk_agreement['id']}/odrl", headers=trainer.headers
    ).json()
    assert odrl["@type"] == "Agreement"
    assert odrl["dt:agreedUse"]["dpv:hasPurpose"] == {"@id": "ai:ModelTraining"}
    story.append(f"bought: {len(agreements)} agreements, walk share {walk_agreement}")

    built = client.post(
        f"/api/buyers/orders/{order['id']}/snapshots",
        headers=trainer.headers,
        json={"shard_items": 1},
    )
    assert built.status_code == 201, built.text
    first = client.get(
        f"/api/buyers/snapshots/{built.json()['id']}", headers=trainer.headers
    ).json()
    assert first["state"] == "ready" and first["version"] == "1.0.0" and first["shards"] == 2
    local = tmp_path / "snapshot-1"
    download_all(client, first, local)
    manifest = json.loads((local / "croissant.json").read_text())
    for field in (
        "rai:dataCollection",
        "rai:personalSensitiveInformation",
        "rai:dataUseCases",
        "rai:dataLimitations",
    ):
        assert manifest[field]
    walk_record = next(r for r in manifest["dt:records"] if r["item_id"] == walk.id)
    assert walk_record["licence_id"].endswith("/v1") and walk_record["consent_record_id"]
    assert walk_record["content_sha256"] == walk.deidentified_sha256

    import mlcroissant as mlc
    import webdataset as wds

    dataset = mlc.Dataset(jsonld=str(local / "croissant.json"))
    records = list(dataset.records("records"))
    assert {r["records/item_id"] for r in records} == {walk.id, second.id}
    samples = list(
        wds.WebDataset(sorted(str(p) for p in local.glob("shard-*.tar")), shardshuffle=False)
    )
    assert len(samples) == 2 and all(s["mp4"] and json.loads(s["json"]) for s in samples)
    sums = dict(line.split("  ")[::-1] for line in (local / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == set(first["files"]) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((local / name).read_bytes()).hexdigest() == digest
        # At rest every file is ciphertext: neither the bytes nor any 64-byte run of them.
        at_rest = b"".join(services.store.get(object_key(first["id"], name)))
        plain = (local / name).read_bytes()
        assert at_rest != plain and plain[:64] not in at_rest
    assert WALK not in b"".join(
        services.store.get(
            object_key(first["id"], next(n for n in first["files"] if n.startswith("shard-")))
        )
    )
    # The buyer holds a signed checkpoint of the audit log as it stood at the build.
    held = json.loads((local / "audit-checkpoint.json").read_text())
    claims = services.signer.verify(held["checkpoint"])
    assert claims["count"] >= 1 and claims["head"] == held["head"]
    index = pq.read_table(local / "index.parquet")
    assert index.column_names == list(INDEX_COLUMNS)
    assert index.schema.field("item_id").type == pa.int64()
    assert index.to_pylist() == manifest["dt:records"]
    assert sorted(r["records/content_sha256"].decode() for r in records) == sorted(
        r["content_sha256"] for r in manifest["dt:records"]
    )
    story.append(
        f"snapshot {first['version']}: {sorted(first['files'])}, manifest valid, "
        f"{len(samples)} webdataset samples"
    )

    # 3. The contributor withdraws (one call).
    withdrawn = client.delete(f"/api/items/{walk.id}/consent", headers=contributor.headers)
    assert withdrawn.status_code == 200, withdrawn.text

    # 4. The buyer's feed lists the item with a deadline.
    feed = client.get("/api/buyers/feed", headers=trainer.headers).json()
    claims = verify_feed(feed["feed"], feed["public_jwk"])
    (entry,) = claims["revoked"]
    assert entry["content_sha256"] == walk.deidentified_sha256 and entry["reason"] == "withdrawn"
    assert entry["deletion_deadline"] > utcnow().isoformat()
    rows = pq.read_table(local / "index.parquet").to_pylist()
    assert [r["item_id"] for r in filter_allowed(rows, claims)] == [second.id]
    story.append(f"feed: {entry}")

    # The old snapshot may no longer be downloaded: it holds a revoked item.
    stale = client.get(first["downloads"]["files"]["croissant.json"]["url"])
    assert stale.status_code == 403 and "withdrawn" in stale.json()["error"]["message"]

    # 5. The next snapshot excludes it and bumps the major version.
    rebuilt = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    nxt = client.get(
        f"/api/buyers/snapshots/{rebuilt.json()['id']}", headers=trainer.headers
    ).json()
    assert nxt["version"] == "2.0.0" and nxt["items"] == 1
    assert "item_withdrawn" in nxt["dropped"][str(walk.id)]
    download_all(client, nxt, tmp_path / "snapshot-2")
    manifest2 = json.loads((tmp_path / "snapshot-2" / "croissant.json").read_text())
    assert [r["item_id"] for r in manifest2["dt:records"]] == [second.id]
    story.append(f"next snapshot {nxt['version']}, dropped {nxt['dropped']}")

    # 6. The buyer attests deletion.
    ack = client.post(
        "/api/buyers/revocations/acknowledge",
        headers=trainer.headers,
        json={"content_sha256": [walk.deidentified_sha256]},
    )
    assert ack.status_code == 200, ack.text
    attested = client.post(
        "/api/buyers/attestations",
        headers=trainer.headers,
        json={
            "content_sha256": [walk.deidentified_sha256],
            "statement": "deleted from training store and all caches",
            "snapshots": [first["id"]],
            "copies": ["training bucket s3://trainer-data/walks (deleted)"],
            "models": "retrained_without",
        },
    )
    assert attested.status_code == 201, attested.text
    assert attested.json()["attested"][0]["late"] is False

    # 7. The contributor's passport shows every step.
    passport = client.get(f"/api/items/{walk.id}/passport", headers=contributor.headers)
    assert passport.status_code == 200, passport.text
    steps = [e["step"] for e in passport.json()["events"]]
    for step in (
        "processed",
        "listed",
        "consent given",
        "selected",
        "sold",
        "delivered",
        "downloaded",
        "withdrawn",
        "buyer told to delete",
        "deletion attested",
    ):
        assert step in steps, (step, steps)
    sold = next(e for e in passport.json()["events"] if e["step"] == "sold")
    assert sold["details"]["org_name"] == trainer_org.legal_name
    assert sold["details"]["use"]["purpose"] == "model_training"
    assert sold["details"]["price_minor"] == 1400 and sold["details"]["contributor_share_minor"]
    # Nobody else reads it.
    for who in ("other", "operator"):
        assert client.get(
            f"/api/items/{walk.id}/passport", headers=people[who].headers
        ).status_code in (403, 404)
    assert client.get(f"/api/items/{walk.id}/passport", headers=trainer.headers).status_code in (
        403,
        404,
    )
    story.append("passport: " + " → ".join(dict.fromkeys(steps)))
    with capsys.disabled():
        print("\n  SEED STORY\n  " + "\n  ".join(story))


# --- bad input ----------------------------------------------------------------------------


def _last_event(services, tag: str) -> AuditEvent | None:
    with services.uow() as uow:
        found = uow.all(AuditEvent, tag=tag, order_by="-seq", limit=1)
        return found[0] if found else None


@pytest.fixture
def trainer(services, people):
    return buyer(services, people, "trainer", ["model_training"], ["technology"])[0]


def _problem(got: Any) -> tuple[str, str, str]:
    """The one problem of a refused order: its field, its code and the code it names."""
    (problem,) = got.json()["problems"]
    named = problem["params"].get("purpose") or problem["params"].get("industry")
    return problem["field"], problem["code"], named or problem["params"].get("given")


def test_a_use_the_organisation_did_not_declare_is_refused_and_audited(client, services, trainer):
    got = client.post(
        "/api/buyers/orders",
        headers=trainer.headers,
        json={**TRAINING, "purpose": "advertising", **year_of_use()},
    )
    assert got.status_code == 422
    assert _problem(got) == ("purpose", "use.purpose_undeclared", "advertising")
    assert _last_event(services, "order:refuse") is not None


def test_a_denied_industry_is_refused_and_audited(client, services, people):
    politico, _ = buyer(services, people, "politico", ["model_training"], ["political_campaigning"])
    got = client.post(
        "/api/buyers/orders",
        headers=politico.headers,
        json={**TRAINING, "industry": "political_campaigning", **year_of_use()},
    )
    assert got.status_code == 422
    assert _problem(got) == ("industry", "use.industry_denied", "political_campaigning")
    event = _last_event(services, "order:refuse")
    assert event is not None and "political_campaigning" in json.dumps(event.data)


def test_an_unknown_purpose_is_refused_and_audited(client, services, trainer):
    got = client.post(
        "/api/buyers/orders",
        headers=trainer.headers,
        json={**TRAINING, "purpose": "world_domination", **year_of_use()},
    )
    assert got.status_code == 422
    assert _problem(got) == ("purpose", "unknown_code", "world_domination")
    assert _last_event(services, "order:refuse") is not None


def test_a_suspended_buyer_is_refused_and_audited(client, services, people, trainer):
    with services.uow() as uow:
        accounts.decide_organisation(
            uow, people["operator"].actor, trainer.actor.org_id, "suspend", "unpaid invoices"
        )
    got = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    )
    assert got.status_code == 403 and "suspended: unpaid invoices" in got.text
    assert _last_event(services, "buyer:refuse").data["status"] == "suspended"
    # Suspension never stops compliance: the feed is still readable.
    assert client.get("/api/buyers/feed", headers=trainer.headers).status_code == 200


def test_a_suspended_buyer_cannot_build_get_links_or_download_but_can_still_comply(
    client, services, people, trainer
):
    walk, snap = _bought_snapshot(client, services, people, trainer)
    link = snap["downloads"]["files"]["croissant.json"]["url"]  # issued while approved
    with services.uow() as uow:
        accounts.decide_organisation(
            uow, people["operator"].actor, trainer.actor.org_id, "suspend", "under review"
        )
    build = client.post(f"/api/buyers/orders/{snap['order_id']}/snapshots", headers=trainer.headers)
    assert build.status_code == 403 and "suspended: under review" in build.text
    refused = _last_event(services, "buyer:refuse")
    assert refused.data["permission"] == "snapshot:build" and refused.data["status"] == "suspended"
    links = client.get(f"/api/buyers/snapshots/{snap['id']}", headers=trainer.headers)
    assert links.status_code == 403 and "suspended" in links.text
    assert _last_event(services, "buyer:refuse").data["permission"] == "snapshot:download"
    download = client.get(link)  # a valid, unexpired signature is not enough
    assert download.status_code == 403 and "suspended" in download.text
    refused = _last_event(services, "snapshot:refuse")
    assert refused.data["file"] == "croissant.json" and "suspended" in refused.data["reason"]
    # Complying never stops: the feed, and an attestation for a withdrawn item it holds.
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    assert client.get("/api/buyers/feed", headers=trainer.headers).status_code == 200
    attested = client.post(
        "/api/buyers/attestations",
        headers=trainer.headers,
        json={
            "content_sha256": [walk.deidentified_sha256],
            "statement": "deleted",
            "models": "none_trained",
        },
    )
    assert attested.status_code == 201, attested.text


def _bought_snapshot(client, services, people, trainer):
    walk = listed_item(services, people["owner"], WALK, "walk")
    license_training_only(client, people["owner"], walk.id)
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    snap = client.get(f"/api/buyers/snapshots/{built.json()['id']}", headers=trainer.headers)
    return walk, snap.json()


def test_expired_and_tampered_download_links_are_refused_and_audited(
    client, services, people, trainer
):
    _, snap = _bought_snapshot(client, services, people, trainer)
    url = snap["downloads"]["files"]["croissant.json"]["url"]
    path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
    tampered = client.get(
        path, params={"expires": int(query["expires"][0]) + 999, "sig": query["sig"][0]}
    )
    assert tampered.status_code == 403 and "altered" in tampered.text
    assert _last_event(services, "snapshot:refuse") is not None
    from datatrust.services.market.snapshots import signed_url

    secret = services.settings.secret_key.get_secret_value()
    expired = client.get(signed_url(secret, snap["id"], "croissant.json", int(time.time()) - 5))
    assert expired.status_code == 403 and "expired" in expired.text
    assert "expired" in _last_event(services, "snapshot:refuse").data["reason"]
    unsigned = client.get(path)
    assert unsigned.status_code == 403
    assert client.get(url).status_code == 200
    assert _last_event(services, "snapshot:download").data["file"] == "croissant.json"


def test_a_snapshot_file_altered_at_rest_is_not_served(client, services, people, trainer):
    _, snap = _bought_snapshot(client, services, people, trainer)
    key = object_key(snap["id"], "croissant.json")
    sealed = bytearray(b"".join(services.store.get(key)))
    sealed[len(sealed) // 2] ^= 1
    services.store.put(key, [bytes(sealed)])
    got = client.get(snap["downloads"]["files"]["croissant.json"]["url"])
    assert got.status_code == 500 and "Dataset" not in got.text  # a server fault, no bytes


def test_attesting_an_item_never_received_is_refused_and_audited(client, services, people, trainer):
    _bought_snapshot(client, services, people, trainer)
    got = client.post(
        "/api/buyers/attestations",
        headers=trainer.headers,
        json={"content_sha256": ["f" * 64], "statement": "deleted", "models": "none_trained"},
    )
    assert got.status_code == 422 and "never received" in got.text
    assert _last_event(services, "deletion:refuse").data["never_received"] == ["f" * 64]


def test_attesting_or_acknowledging_an_item_that_was_not_revoked_is_refused_and_audited(
    client, services, people, trainer
):
    walk, _ = _bought_snapshot(client, services, people, trainer)
    held = {"content_sha256": [walk.deidentified_sha256]}
    for path, body in [
        ("/api/buyers/attestations", {**held, "statement": "deleted", "models": "deleted"}),
        ("/api/buyers/revocations/acknowledge", held),
    ]:
        got = client.post(path, headers=trainer.headers, json=body)
        assert got.status_code == 422 and "no revocation notice" in got.text, path
        refused = _last_event(services, "deletion:refuse")
        assert refused.data["not_revoked"] == [walk.deidentified_sha256]


def test_an_overdue_attestation_suspends_the_buyer_and_notifies_the_operator(
    client, services, people, trainer
):
    walk, _ = _bought_snapshot(client, services, people, trainer)
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    with services.uow() as uow:
        report = check_deadlines(uow, now=utcnow() + timedelta(days=31))
        uow.commit()
    assert report["suspended"] == 1
    with services.uow() as uow:
        org = uow.get(Organisation, trainer.actor.org_id)
        assert org.status is OrgStatus.SUSPENDED and "not attested" in org.status_reason
    assert _last_event(services, "operator:notify").data["about"] == "deletion_overdue"
    got = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    )
    assert got.status_code == 403


def test_filter_allowed_drops_revoked_and_unhashed_records():
    feed = {"type": "datatrust-revocation-feed", "revoked": [{"content_sha256": "a" * 64}]}
    records = [{"content_sha256": "a" * 64}, {"content_sha256": "b" * 64}, {"key": "x"}]
    assert filter_allowed(records, feed) == [{"content_sha256": "b" * 64}]


def test_the_tar_shards_are_reproducible():
    from datatrust.pipeline.snapshot import ShardRecord, write_shard

    recs = [ShardRecord("dt-0000000001", "mp4", b"abc", {"item_id": 1})]
    one, two = io.BytesIO(), io.BytesIO()
    assert write_shard("s.tar", recs, one).sha256 == write_shard("s.tar", recs, two).sha256
    with tarfile.open(fileobj=io.BytesIO(one.getvalue())) as tar:
        assert tar.getnames() == ["dt-0000000001.mp4", "dt-0000000001.json"]


def test_feed_check_command_finds_and_removes_revoked_records(tmp_path):
    from typer.testing import CliRunner

    from datatrust.adapters.crypto import Ed25519Signer
    from datatrust.cli import app

    signer = Ed25519Signer.from_dev_secret("test")
    now = int(time.time())
    claims = {
        "type": "datatrust-revocation-feed",
        "iat": now,
        "exp": now + 3600,
        "last_seq": 1,
        "revoked": [{"seq": 1, "content_sha256": "a" * 64}],
    }
    (tmp_path / "feed.jws").write_text(signer.sign(claims))
    (tmp_path / "key.json").write_text(json.dumps(signer.public_jwk()))
    snap = tmp_path / "snap"
    snap.mkdir()
    pq.write_table(
        pa.table({"key": ["dt-1", "dt-2"], "content_sha256": ["a" * 64, "b" * 64]}),
        snap / "index.parquet",
    )
    (snap / "dt-1.mp4").write_bytes(b"x")
    args = [
        "feed",
        "check",
        "--feed",
        str(tmp_path / "feed.jws"),
        "--key",
        str(tmp_path / "key.json"),
        "--snapshot",
        str(snap),
    ]
    report = CliRunner().invoke(app, args)
    assert report.exit_code == 1 and '"kept": 1' in report.output
    applied = CliRunner().invoke(app, [*args, "--apply"])
    assert applied.exit_code == 0 and not (snap / "dt-1.mp4").exists()
    assert pq.read_table(snap / "index.parquet").column("key").to_pylist() == ["dt-2"]
    (tmp_path / "feed.jws").write_text(signer.sign(claims)[:-4] + "AAAA")
    assert CliRunner().invoke(app, args).exit_code == 2


@pytest.fixture
def committed(databases, tmp_path, monkeypatch):
    """Services over a committed database that a command opens on its own, and an HTTP
    client on them (jobs run at once)."""
    from fastapi.testclient import TestClient

    from datatrust.adapters.db import migrate
    from datatrust.bootstrap import build
    from datatrust.web.app import create_app
    from support import make_settings

    url = databases.create()
    svc = build(make_settings(tmp_path, database_url=url), upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    monkeypatch.setenv("DATATRUST_DATABASE_URL", url)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "immediate")
    with TestClient(create_app(svc, start_worker=False)) as http:
        yield svc, http
    svc.close()


def test_the_passport_command_prints_every_step_for_the_owner_only(committed):
    from typer.testing import CliRunner

    from datatrust.cli import app

    svc, http = committed
    operator = make_persona(svc, "operator", Role.OPERATOR)
    people = {"owner": make_persona(svc, "owner", Role.CONTRIBUTOR), "operator": operator}
    trainer = buyer(svc, people, "trainer", ["model_training"], ["technology"])[0]
    walk, snap = _bought_snapshot(http, svc, people, trainer)
    assert http.get(snap["downloads"]["files"]["croissant.json"]["url"]).status_code == 200
    assert http.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers).is_success
    attest = {
        "content_sha256": [walk.deidentified_sha256],
        "statement": "deleted",
        "snapshots": [snap["id"]],
        "models": "none_trained",
    }
    assert http.post("/api/buyers/attestations", headers=trainer.headers, json=attest).is_success

    got = CliRunner().invoke(
        app, ["passport", str(walk.id), "--as", people["owner"].email.upper(), "--dev"]
    )
    assert got.exit_code == 0, got.output
    lines = got.output.splitlines()
    # Each line: "<when>  <step, padded>  <actor> <details>".
    printed = [line.split("  ", 1)[1] for line in lines]
    for step in (
        "processed",
        "listed",
        "consent given",
        "selected",
        "sold",
        "delivered",
        "downloaded",
        "withdrawn",
        "buyer told to delete",
        "deletion attested",
    ):
        assert any(p.startswith(step) for p in printed), (step, printed)
    sold = next(line for line in lines if "  sold " in line)
    assert "Trainer Labs Ltd" in sold and "price_minor=1400" in sold
    when = [line.split("  ", 1)[0] for line in lines]
    assert when == sorted(when)  # in the order they happened

    stranger = CliRunner().invoke(app, ["passport", str(walk.id), "--as", trainer.email, "--dev"])
    assert stranger.exit_code == 2 and "sold" not in stranger.output
    assert stranger.output.startswith("error: ") and "Traceback" not in stranger.output
    nobody = CliRunner().invoke(app, ["passport", str(walk.id), "--as", "x@example.org", "--dev"])
    assert nobody.exit_code == 2 and "no account x@example.org" in nobody.output


def test_a_buyer_holding_an_item_under_two_hashes_is_told_both_and_must_attest_both(
    client, services, people, trainer
):
    walk, first = _bought_snapshot(client, services, people, trainer)
    # The item is re-done between builds (as a listed call is once the other side
    # confirms): the next snapshot delivers it under a new content hash.
    with services.uow() as uow:
        item = uow.get(Item, walk.id)
        redone = services.storage.put(uow, item.owner_id, [WALK + b"-redone"], namespace="deid")
        item.deidentified_key, item.deidentified_sha256 = redone.key, redone.sha256
        uow.commit()
    rebuilt = client.post(
        f"/api/buyers/orders/{first['order_id']}/snapshots", headers=trainer.headers
    )
    second = client.get(f"/api/buyers/snapshots/{rebuilt.json()['id']}", headers=trainer.headers)
    assert second.json()["state"] == "ready", second.text
    old, new = walk.deidentified_sha256, redone.sha256
    assert old != new

    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    feed = client.get("/api/buyers/feed", headers=trainer.headers).json()
    claims = verify_feed(feed["feed"], feed["public_jwk"])
    (entry,) = claims["revoked"]
    assert entry["content_sha256"] == old and entry["content_hashes"] == [old, new]
    held = [{"key": "v1", "content_sha256": old}, {"key": "v2", "content_sha256": new}]
    assert filter_allowed(held, claims) == []

    page = client.get("/buyer/feed", headers=trainer.headers)
    assert old in page.text and new in page.text
    only_first = client.post(
        "/api/buyers/attestations",
        headers=trainer.headers,
        json={"content_sha256": [old], "statement": "deleted v1", "models": "none_trained"},
    )
    assert only_first.status_code == 422 and new in only_first.text
    assert _last_event(services, "deletion:refuse").data["left_out"] == [new]
    both = client.post(
        "/buyer/feed/attest",
        headers=trainer.headers,
        data={
            "content_sha256": [old, new],
            "statement": "deleted v1 and v2",
            "models": "none_trained",
        },
        follow_redirects=False,
    )
    assert both.status_code == 303, both.text
    feed = client.get("/api/buyers/feed", headers=trainer.headers).json()
    assert feed["claims"]["revoked"][0]["attested"] is True


def test_a_confirmed_calls_snapshot_record_holds_its_audio_and_its_transcript(
    client, services, people, trainer, tmp_path
):
    import webdataset as wds

    import ingest_media as media
    from datatrust.services.contributions import items, participants

    owner = people["owner"]
    with services.uow() as uow:
        call = items.receive_item(
            uow,
            services.storage,
            owner.actor,
            kind="call",
            filename="call.m4a",
            content_type="audio/mp4",
            chunks=[media.call()],
            transcript=media.CALL_TRANSCRIPT,
        )
    secret = services.settings.secret_key.get_secret_value().encode()
    with services.uow() as uow:
        [invite] = participants.list_for_owner(uow, secret, owner.actor, call.id)
    with services.uow() as uow:
        participants.decide(uow, invite["token"], confirm=True)
    with services.uow() as uow:
        item = uow.get(Item, call.id)
        item.move_to(ItemStatus.LISTED)
        uow.commit()
        audio_sha = item.deidentified_sha256
    license_training_only(client, owner, call.id)
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    assert order["selected"] == 1, order
    client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    snap = client.get(f"/api/buyers/snapshots/{built.json()['id']}", headers=trainer.headers)
    download_all(client, snap.json(), tmp_path)

    [sample] = list(wds.WebDataset([str(next(tmp_path.glob("shard-*.tar")))], shardshuffle=False))
    assert sample["m4a"][4:8] == b"ftyp"
    assert hashlib.sha256(sample["m4a"]).hexdigest() == audio_sha
    assert sample["transcript.txt"].decode().splitlines() == [
        "PARTICIPANT_1: Hello, this is [PERSON_1] from the bank. Can I have your number?",
        "CONTRIBUTOR: Sure, it is [PHONE] and my email is [EMAIL].",
    ]
    record = json.loads(sample["json"])
    [row] = pq.read_table(tmp_path / "index.parquet").to_pylist()
    key = sample["__key__"]
    assert record["transcript_file"] == row["transcript_file"] == f"{key}.transcript.txt"
    assert row["media_file"] == f"{key}.m4a"
    manifest = json.loads((tmp_path / "croissant.json").read_text())
    assert manifest["dt:records"] == [row]
