"""Issue 17 §1: a snapshot's Croissant manifest reaches every byte, and three buyer tools
load the same snapshot — mlcroissant (media bytes and JSON out of the tar shards, with the
checksums it verifies itself), webdataset, and Hugging Face ``datasets`` (features
declared by the snapshot, offline, no decoder) — and a corrupted shard is caught.

A snapshot of two contributors' items (a walk video and a street photo, one per shard) is
built and downloaded over HTTP once per test; the checks read the downloaded files only.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from test_seed_story import (
    TRAINING,
    WALK,
    buyer,
    download_all,
    fund,
    license_training_only,
    listed_item,
    year_of_use,
)

from datatrust.cli.instance import served_settings
from datatrust.config import Settings
from datatrust.domain.items import Item, ItemKind
from datatrust.pipeline.regions import REGION_RESOLUTION

CELL_RES8 = "8928308280fffff"
PORT = 8765  # San Francisco, resolution 8


def _photo_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 90)).save(out, format="JPEG", quality=90)
    return out.getvalue()


PHOTO = _photo_bytes()


def listed_photo(services, persona) -> Item:
    return listed_item(
        services,
        persona,
        PHOTO,
        "street corner",
        kind=ItemKind.PHOTO,
        filename="street.jpg",
        content_type="image/jpeg",
        duration_seconds=None,
    )


def isolate_croissant_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point mlcroissant's download and extraction caches into the test's own folder (by
    default they are shared under the home folder, and keyed by file name only)."""
    from etils import epath
    from mlcroissant._src.core import constants
    from mlcroissant._src.operation_graph.operations import download, extract

    cache = epath.Path(tmp_path / "croissant-cache")
    monkeypatch.setattr(constants, "DOWNLOAD_PATH", cache / "download")
    monkeypatch.setattr(download.constants, "DOWNLOAD_PATH", cache / "download")
    monkeypatch.setattr(extract, "EXTRACT_PATH", cache / "extract")


@pytest.fixture
def trainer(services, people):
    return buyer(services, people, "trainer", ["model_training"], ["technology"])[0]


@pytest.fixture
def snapshot(client, services, people, trainer, tmp_path, monkeypatch):
    """Two items bought and built one per shard; the files downloaded into a folder.
    Croissant's download and extraction caches point into the test's own folder."""
    isolate_croissant_cache(tmp_path, monkeypatch)
    # As `datatrust serve --port 8765` with no DATATRUST_BASE_URL would configure it.
    services.settings.base_url = served_settings(Settings(), "0.0.0.0", PORT).base_url
    walk = listed_item(services, people["owner"], WALK, "walk")
    photo = listed_photo(services, people["other"])
    license_training_only(client, people["owner"], walk.id)
    license_training_only(client, people["other"], photo.id, price_minor=900)
    fund(services, trainer)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    assert order["selected"] == 2, order
    client.post(f"/api/buyers/orders/{order['id']}/purchase", headers=trainer.headers)
    built = client.post(
        f"/api/buyers/orders/{order['id']}/snapshots",
        headers=trainer.headers,
        json={"shard_items": 1},
    )
    assert built.status_code == 201, built.text
    snap = client.get(f"/api/buyers/snapshots/{built.json()['id']}", headers=trainer.headers)
    folder = tmp_path / "snapshot"
    download_all(client, snap.json(), folder)
    return {"folder": folder, "walk": walk, "photo": photo, "order": order, "meta": snap.json()}


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "croissant.json").read_text())


def _shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("shard-*.tar"))


def test_mlcroissant_reads_each_records_media_and_json_out_of_the_tar_shards(snapshot):
    import mlcroissant as mlc

    folder, walk, photo = snapshot["folder"], snapshot["walk"], snapshot["photo"]
    dataset = mlc.Dataset(jsonld=str(folder / "croissant.json"))
    records = {r["records/item_id"]: r for r in dataset.records("records")}
    assert set(records) == {walk.id, photo.id}
    for item, media in ((walk, WALK), (photo, PHOTO)):
        record = records[item.id]
        assert record["records/media"] == media
        assert hashlib.sha256(record["records/media"]).hexdigest() == item.deidentified_sha256
        shipped = json.loads(record["records/json"])
        assert shipped["item_id"] == item.id
        assert shipped["content_sha256"] == record["records/content_sha256"].decode()
    # Every shard is a FileObject with its sha256, and every member pattern a FileSet
    # contained in all of them.
    manifest = _manifest(folder)
    objects = {d["@id"]: d for d in manifest["distribution"] if d["@type"] == "cr:FileObject"}
    for shard in _shards(folder):
        assert objects[shard.name]["sha256"] == hashlib.sha256(shard.read_bytes()).hexdigest()
    sets = {d["@id"]: d for d in manifest["distribution"] if d["@type"] == "cr:FileSet"}
    assert set(sets) == {"media-files", "record-files"}
    for file_set in sets.values():
        assert sorted(c["@id"] for c in file_set["containedIn"]) == [
            s.name for s in _shards(folder)
        ]
    assert sorted(sets["media-files"]["encodingFormat"]) == ["image/jpeg", "video/mp4"]


def test_a_corrupted_shard_is_refused_by_mlcroissant_and_by_the_checksum_file(snapshot):
    import mlcroissant as mlc

    folder = snapshot["folder"]
    shard = _shards(folder)[1]
    body = bytearray(shard.read_bytes())
    body[700] ^= 0x01  # one bit inside the first member's bytes: still a valid tar
    shard.write_bytes(bytes(body))

    dataset = mlc.Dataset(jsonld=str(folder / "croissant.json"))
    with pytest.raises(mlc.GenerationError) as refused:
        list(dataset.records("records"))
    chain, cause = [], refused.value
    while cause is not None:
        chain.append(str(cause))
        cause = cause.__cause__
    assert any("Hash of downloaded file" in text and shard.name in text for text in chain)

    sums = dict(line.split("  ")[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert hashlib.sha256(shard.read_bytes()).hexdigest() != sums[shard.name]


def test_webdataset_reads_every_sample_with_its_media_and_record(snapshot):
    import webdataset as wds

    folder, walk, photo = snapshot["folder"], snapshot["walk"], snapshot["photo"]
    samples = list(wds.WebDataset([str(s) for s in _shards(folder)], shardshuffle=False))
    by_item = {json.loads(s["json"])["item_id"]: s for s in samples}
    assert by_item[walk.id]["mp4"] == WALK
    assert by_item[photo.id]["jpg"] == PHOTO


def test_hugging_face_datasets_loads_the_shards_offline_with_the_declared_features(
    snapshot, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    import datasets

    folder, walk, photo = snapshot["folder"], snapshot["walk"], snapshot["photo"]
    features = datasets.Features.from_dict(_manifest(folder)["dt:huggingFaceFeatures"])
    loaded = datasets.load_dataset(
        "webdataset",
        data_files={"train": [str(s) for s in _shards(folder)]},
        features=features,
        split="train",
        cache_dir=str(tmp_path / "hf-cache"),
    )
    rows = {row["json"]["item_id"]: row for row in loaded}
    assert set(rows) == {walk.id, photo.id}
    assert rows[walk.id]["mp4"] == WALK and rows[walk.id]["jpg"] is None
    assert rows[photo.id]["jpg"] == PHOTO
    assert rows[photo.id]["json"]["content_sha256"] == photo.deidentified_sha256
    assert rows[walk.id]["json"]["h3_cell"] == _region(CELL_RES8)


def _region(cell: str) -> str:
    import h3

    return h3.cell_to_parent(cell, REGION_RESOLUTION)


def test_every_rai_field_is_present_and_mlcroissant_reads_them(snapshot):
    import mlcroissant as mlc

    folder, walk, photo = snapshot["folder"], snapshot["walk"], snapshot["photo"]
    metadata = mlc.Dataset(jsonld=str(folder / "croissant.json")).metadata
    for name in (
        "data_collection",
        "data_collection_type",
        "data_collection_raw_data",
        "data_preprocessing_protocol",
        "data_release_maintenance_plan",
        "personal_sensitive_information",
        "data_limitations",
        "data_biases",
        "data_social_impact",
        "data_use_cases",
    ):
        assert getattr(metadata, name), f"{name} is missing"
    start, end = metadata.data_collection_timeframe
    uploads = sorted([walk.created_at, photo.created_at])
    assert start.replace(tzinfo=None) == uploads[0].replace(tzinfo=None)
    assert end.replace(tzinfo=None) == uploads[-1].replace(tzinfo=None)
    assert not metadata.ctx.issues.errors and not metadata.ctx.issues.warnings


def test_records_and_the_catalogue_show_the_same_h3_region(snapshot, client, trainer):
    import pyarrow.parquet as pq

    folder = snapshot["folder"]
    region = _region(CELL_RES8)
    rows = pq.read_table(folder / "index.parquet").to_pylist()
    assert {r["h3_cell"] for r in rows} == {region}
    assert _manifest(folder)["dt:h3Resolution"] == REGION_RESOLUTION
    catalogue = client.get(
        "/api/buyers/catalogue", headers=trainer.headers, params={**TRAINING}
    ).json()
    assert {s["region"] for s in catalogue["sample"]} == {region}
    assert CELL_RES8 not in (folder / "croissant.json").read_text()


def test_serve_publishes_its_own_port_unless_a_public_url_is_configured(monkeypatch):
    monkeypatch.delenv("DATATRUST_BASE_URL", raising=False)
    assert served_settings(Settings(), "0.0.0.0", 9001).base_url == "http://127.0.0.1:9001"
    assert served_settings(Settings(), "::1", 9002).base_url == "http://[::1]:9002"
    monkeypatch.setenv("DATATRUST_BASE_URL", "https://data.example.org")
    assert served_settings(Settings(), "0.0.0.0", 9001).base_url == "https://data.example.org"


def test_licence_iris_resolve_on_the_served_port_and_are_the_odrl_exports_iris(
    snapshot, client, people, trainer
):
    from urllib.parse import urlsplit

    manifest = _manifest(snapshot["folder"])
    iris = manifest["license"]
    assert len(iris) == 2  # one per licence: the walk's and the photo's
    base = f"http://127.0.0.1:{PORT}/licences/"
    assert all(iri.startswith(base) for iri in iris)
    for iri in iris:
        resolved = client.get(urlsplit(iri).path)  # no credentials: the IRI is public
        assert resolved.status_code == 200, resolved.text
        assert resolved.headers["content-type"].startswith("application/ld+json")
        offer = resolved.json()
        assert offer["@type"] == "Offer" and offer["uid"] == iri
        assert "assigner" not in offer and "target" not in offer
    # The contributor's ODRL export and the buyer's agreement name the same IRI.
    offers = client.get("/api/licences", headers=people["owner"].headers).json()
    exported = client.get(
        f"/api/licences/{offers[0]['id']}/odrl", headers=people["owner"].headers
    ).json()
    assert exported["uid"] in iris
    agreements = client.get(
        f"/api/buyers/orders/{snapshot['order']['id']}/agreements", headers=trainer.headers
    ).json()
    agreement = client.get(
        f"/api/buyers/agreements/{agreements[0]['id']}/odrl", headers=trainer.headers
    ).json()
    assert agreement["uid"].split("/agreements/")[0] in iris
    # The agreement's IRI resolves too: for the buyer that made it, not for anyone else.
    path = urlsplit(agreement["uid"]).path
    resolved = client.get(path, headers=trainer.headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.headers["content-type"].startswith("application/ld+json")
    assert resolved.json() == agreement
    assert client.get(path).status_code == 401
    assert client.get(path, headers=people["buyer"].headers).status_code == 404
    other_version = path.replace("/v1/agreements/", "/v2/agreements/")
    assert client.get(other_version, headers=trainer.headers).status_code == 404
    # Another version of a known licence, or an unknown licence, is not found.
    missing = urlsplit(iris[0]).path.rsplit("/v", 1)[0] + "/v9"
    assert client.get(missing).status_code == 404
    assert client.get("/licences/lic-unknown/v1").status_code == 404
