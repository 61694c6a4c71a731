"""A buyer's journey as one test (issue 17, "Done when"): buy, build, load the snapshot with
mlcroissant, webdataset and Hugging Face ``datasets``; receive a withdrawal pushed to a
webhook on a real loopback server; acknowledge and attest it with the Python client over
real HTTP; see the next snapshot without the item; download the compliance pack; and trace
a re-encoded, trimmed copy of the withdrawn recording found outside to the buyer that
received it.

The parts are tested one by one elsewhere (``test_croissant_every_byte``,
``test_webhooks``, ``test_deletion_statement``, ``test_compliance_pack``,
``test_misuse_tracing``); this test is about them working together on one set of items:
a speech recording (real MP3, Chromaprint fingerprint) and a photo (scikit-image), from
two contributors.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
from test_croissant_every_byte import isolate_croissant_cache
from test_deletion_statement import served  # noqa: F401  (fixture)
from test_misuse_tracing import audio_item, photo_item
from test_seed_story import TRAINING, buyer, download_all, fund, license_training_only, year_of_use
from test_webhooks import Receiver

import trace_media
from datatrust.client import Buyer
from datatrust.domain.snapshots import Revocation


def _load_with_three_libraries(folder: Path, tmp_path: Path) -> dict[str, dict[int, bytes]]:
    """item id → media bytes, as each of mlcroissant, webdataset and Hugging Face
    ``datasets`` (offline, with the features the snapshot declares) reads the shards."""
    import datasets
    import mlcroissant as mlc
    import webdataset as wds

    shards = sorted(str(s) for s in folder.glob("shard-*.tar"))
    croissant = {
        r["records/item_id"]: _as_bytes(r["records/media"])
        for r in mlc.Dataset(jsonld=str(folder / "croissant.json")).records("records")
    }
    web = {}
    for sample in wds.WebDataset(shards, shardshuffle=False):
        record = json.loads(sample["json"])
        web[record["item_id"]] = next(v for k, v in sample.items() if k in ("mp3", "jpg"))
    manifest = json.loads((folder / "croissant.json").read_text())
    hugging = {}
    for row in datasets.load_dataset(
        "webdataset",
        data_files={"train": shards},
        features=datasets.Features.from_dict(manifest["dt:huggingFaceFeatures"]),
        split="train",
        cache_dir=str(tmp_path / "hf-cache" / folder.name),
    ):
        hugging[row["json"]["item_id"]] = row.get("mp3") or row["jpg"]
    return {"mlcroissant": croissant, "webdataset": web, "datasets": hugging}


def _build_and_download(client, persona, order_id: int, into: Path) -> dict:
    """Build the order's next snapshot, one item per shard; download every file by its
    signed link into ``into``; the snapshot as the API describes it."""
    built = client.post(
        f"/api/buyers/orders/{order_id}/snapshots",
        headers=persona.headers,
        json={"shard_items": 1},
    )
    assert built.status_code == 201, built.text
    snapshot = client.get(f"/api/buyers/snapshots/{built.json()['id']}", headers=persona.headers)
    download_all(client, snapshot.json(), into)
    return snapshot.json()


def _as_bytes(media: object) -> object:
    """mlcroissant opens a photos-only record set's media as images (``sc:ImageObject``)
    and hands any other mix over as bytes: an image becomes its decoded pixels here, and
    so does the JPEG it is compared with (``_pixels``)."""
    from PIL import Image

    return ("pixels", media.tobytes()) if isinstance(media, Image.Image) else media


def _pixels(jpeg: bytes) -> tuple[str, bytes]:
    from PIL import Image

    return ("pixels", Image.open(io.BytesIO(jpeg)).tobytes())


def test_a_buyers_journey_from_purchase_to_tracing_a_leaked_copy_of_a_withdrawn_item(
    client,
    services,
    people,
    served,  # noqa: F811  (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    isolate_croissant_cache(tmp_path, monkeypatch)
    owner, other = people["owner"], people["other"]

    # Two contributors license a recording and a photo for training.
    sound, pcm = audio_item(services, owner, 1)
    photo, _ = photo_item(services, other, "coffee")
    license_training_only(client, owner, sound.id)
    license_training_only(client, other, photo.id, price_minor=900)
    media = {sound.id: trace_media.encoded(pcm), photo.id: None}
    with services.uow() as uow:
        media[photo.id] = b"".join(
            services.storage.open(uow, other.actor.user_id, photo.deidentified_key)
        )
        media[sound.id] = b"".join(
            services.storage.open(uow, owner.actor.user_id, sound.deidentified_key)
        )

    # 1. Buy. The buyer registers its webhook (a real HTTP server on loopback) with the
    #    Python client, over real HTTP.
    trainer, org = buyer(services, people, "trainer", ["model_training"], ["technology"])
    fund(services, trainer)
    hook = Receiver("ok")
    try:
        sdk = Buyer(served, trainer.token, state_path=tmp_path / "feed-state.json")
        assert sdk.set_webhook(hook.url)["webhook"]["url"] == hook.url
        order = client.post(
            "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
        ).json()
        assert order["selected"] == 2, order
        bought = client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
        assert bought.status_code == 200, bought.text

        # 2. Build (one item per shard) and download every file by its signed link.
        first = _build_and_download(client, trainer, order["id"], tmp_path / "v1")
        assert first["version"] == "1.0.0"

        # 3. The three libraries read the same media bytes out of the shards.
        loaded = _load_with_three_libraries(tmp_path / "v1", tmp_path)
        for library, got in loaded.items():
            assert got == media, library
        assert hashlib.sha256(media[sound.id]).hexdigest() == sound.deidentified_sha256

        # 4. The owner withdraws the recording; the notice is pushed to the webhook, signed.
        gone = client.delete(f"/api/items/{sound.id}/consent", headers=owner.headers)
        assert gone.status_code == 200, gone.text
        assert len(hook.bodies) == 1
        pushed = sdk.receive(hook.bodies[0], hook.url)
        assert pushed["notice"]["content_hashes"] == [sound.deidentified_sha256]
        assert [(d["seq"], d["ok"]) for d in sdk.deliveries()] == [(1, True)]
    finally:
        hook.close()

    # 5. Acknowledge and attest every copy, naming the downloaded snapshot.
    [notice] = sdk.due()
    assert notice["content_sha256"] == sound.deidentified_sha256
    sdk.acknowledge(notice)
    assert sdk.held(notice) == [first["id"]]
    signed = sdk.attest(
        notice,
        snapshots=sdk.held(notice),
        models="retrained_without",
        copies=["s3://trainer-data/audio (emptied)"],
        statement="deleted from the training store and every cache",
    )
    assert signed["snapshots"] == [first["id"]] and signed["models"] == "retrained_without"
    assert sdk.due() == []
    with services.uow() as uow:
        revocation = uow.one(Revocation, item_id=sound.id)
        assert revocation.acknowledged_at and revocation.attested_at

    # 6. The next snapshot leaves the recording out and bumps the major version; the three
    #    libraries see the photo only.
    second = _build_and_download(client, trainer, order["id"], tmp_path / "v2")
    assert second["version"] == "2.0.0"
    rows = pq.read_table(tmp_path / "v2" / "index.parquet").to_pylist()
    assert [r["item_id"] for r in rows] == [photo.id]
    loaded = _load_with_three_libraries(tmp_path / "v2", tmp_path)
    assert loaded["mlcroissant"] == {photo.id: _pixels(media[photo.id])}
    assert loaded["webdataset"] == loaded["datasets"] == {photo.id: media[photo.id]}

    # 7. The compliance pack comes with it (checked by SHA256SUMS) and reads as a page.
    folder = tmp_path / "v2"
    sums = dict(line.split("  ")[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    pack_bytes = (folder / "compliance.json").read_bytes()
    assert hashlib.sha256(pack_bytes).hexdigest() == sums["compliance.json"]
    pack = json.loads(pack_bytes)
    honoured = pack["eu_ai_act_art_53_1_d"]["data_processing"]
    assert honoured["left_out_of_this_build"] == honoured["withdrawn_before_this_build"] == 1
    assert pack["california_ab_2013"]["data_points"] == {"total": 1, "by_kind": {"photo": 1}}
    page = client.get(f"/buyer/snapshots/{second['id']}/compliance", headers=trainer.headers)
    assert page.status_code == 200 and "Compliance pack" in page.text

    # 8. A trimmed, re-encoded copy of the withdrawn recording turns up: the owner traces
    #    it to the item and to the buyer that received it, in which snapshot.
    leaked = trace_media.trimmed_copy(pcm, start_s=4.0, seconds=6.0, fmt="ogg")
    traced = client.post("/api/trace", headers=owner.headers, files={"file": ("found.ogg", leaked)})
    assert traced.status_code == 200, traced.text
    [match] = traced.json()["matches"]
    assert match["item_id"] == sound.id and match["how"] == "audio"
    [receipt] = match["received_by"]
    assert receipt["buyer"] == "Trainer Labs Ltd"
    assert (receipt["snapshot_id"], receipt["version"]) == (first["id"], "1.0.0")
    # The owner opens a misuse report against that buyer, from the result.
    report = client.post(
        f"/api/items/{sound.id}/misuse-reports",
        headers=owner.headers,
        json={"org_id": org.id, "note": "found in a public audio dump"},
    )
    assert report.status_code == 201, report.text
    passport = client.get(f"/api/items/{sound.id}/passport", headers=owner.headers).json()
    [told] = passport["buyers"]
    assert told["buyer"] == "Trainer Labs Ltd" and told["attested_at"]
    assert "misuse reported" in [e["step"] for e in passport["events"]]
