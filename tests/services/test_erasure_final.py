"""Erasure is final at once (issue 14 §1): after ``erase_me`` returns, no byte the instance
stores (database files with their -wal and -shm, objects, uploads, the data folder) holds
the erased person's personal fields, their data key (wrapped or not) or the hashes of
their raw uploads."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

import ingest_media
from datatrust.bootstrap import build
from datatrust.domain.accounts import ContributorKey
from datatrust.services import accounts, consent, items, licences, rights, uploads
from support import make_settings

MARKER = "Qzmarkerxv"  # in every personal field and every file


def _needles(marker: str, wrapped: bytes, data_key: bytes, digests: list[str]) -> dict:
    found = {
        "marker": marker.encode(),
        "marker (lower case)": marker.lower().encode(),
        "wrapped key": wrapped,
        "wrapped key (hex)": wrapped.hex().encode(),
        "wrapped key (base64)": base64.b64encode(wrapped).rstrip(b"="),
        "data key": data_key,
        "data key (hex)": data_key.hex().encode(),
    }
    for n, digest in enumerate(digests):
        found[f"sha256 #{n} (hex)"] = digest.encode()
        found[f"sha256 #{n} (bytes)"] = bytes.fromhex(digest)
    return found


def _scan(root: Path, needles: dict[str, bytes]) -> list[str]:
    """Every (file, needle) pair where a needle occurs in a file's bytes or its path."""
    hits = []
    for path in sorted(p for p in root.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        for name, needle in needles.items():
            if needle in data or needle in str(path.relative_to(root)).encode():
                hits.append(f"{path.relative_to(root)}: {name}")
    return hits


@pytest.fixture
def instance(tmp_path):
    """An instance of its own on disk (SQLite in WAL mode, local objects): the shared
    fixtures roll back a transaction, and nothing rolled back ever reaches the files."""
    settings = make_settings(tmp_path)
    services = build(settings)
    yield services
    services.close()


@pytest.mark.parametrize("at_once", [True, False], ids=["in the request", "by the job"])
def test_after_erasure_nothing_of_the_person_is_left_in_any_stored_byte(
    instance, tmp_path, at_once
):
    svc = instance
    chat = ingest_media.whatsapp_chat(me=f"{MARKER} Sharma") + f"{MARKER} says bye\n".encode()
    photo = ingest_media.photo(seed=3)
    with svc.uow() as uow:
        user = accounts.sign_up(
            uow,
            svc.hasher,
            email=f"{MARKER}@example.org",
            password="correct horse battery",
            display_name=f"{MARKER} Sharma",
            country="IN",
        )
        actor = accounts.actor_for(uow, user)
    with svc.uow() as uow:
        accounts.create_api_token(uow, actor, name=f"{MARKER} phone", scopes=["item:read"])
    with svc.uow() as uow:
        snap = items.receive_item(
            uow,
            svc.storage,
            actor,
            kind="photo",
            filename=f"{MARKER}.jpg",
            content_type="image/jpeg",
            chunks=[photo],
            title=f"{MARKER} at the market",
            metadata={"lat": 19.07, "lng": 72.87},
        )
    with svc.uow() as uow:
        items.receive_item(
            uow,
            svc.storage,
            actor,
            kind="chat",
            filename=f"{MARKER}-chat.txt",
            content_type="text/plain",
            chunks=[chat],
            title=f"chat with {MARKER}",
            metadata={"me": f"{MARKER} Sharma"},
        )
    with svc.uow() as uow:
        offer = licences.create_offer(
            uow, actor, template="training_only", changes={"price_minor": 500}
        )
    with svc.uow() as uow:
        consent.give_consent_for_item(uow, svc.signer, actor, snap.id, offer_id=offer.id)
    staging = uploads.Staging(svc.settings.data_dir / "uploads")
    with svc.uow() as uow:  # an upload left half-way
        upload = uploads.start_upload(
            uow,
            staging,
            actor,
            length=len(photo),
            metadata={"kind": "photo", "filename": f"{MARKER}-2.jpg", "title": MARKER},
            storage=svc.storage,
        )
    with svc.uow() as uow:
        uploads.append_chunk(
            uow, svc.storage, staging, actor, upload.id, offset=0, chunks=[photo[:5000]]
        )
    with svc.uow() as uow:
        wrapped = bytes(uow.get(ContributorKey, user.id).wrapped_key)
    data_key = aes_key_unwrap(svc.settings.master_key_bytes(), wrapped)
    digests = [hashlib.sha256(b).hexdigest() for b in (photo, chat)]
    needles = _needles(MARKER, wrapped, data_key, digests)
    assert _scan(tmp_path / "var", needles), "the scan finds the marker before erasure"

    with svc.uow() as uow:
        if at_once:  # the API route: shredded before the answer
            rights.erase_me(
                uow, svc.storage, actor, signer=svc.signer, shredder=svc.shredder, staging=staging
            )
        else:  # a caller that leaves it to the rights.purge_erased job
            rights.erase_me(uow, svc.storage, actor, signer=svc.signer)

    left = _scan(tmp_path / "var", needles)
    assert not left, "\n".join(left)


def test_files_at_rest_are_readable_by_the_service_user_only(tmp_path):
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    (data / "datatrust.db").touch(mode=0o644)  # made by an older version
    services = build(make_settings(tmp_path))
    try:
        with services.uow() as uow:
            user = accounts.sign_up(
                uow, services.hasher, email="files@example.org", password="correct horse battery"
            )
            actor = accounts.actor_for(uow, user)
        with services.uow() as uow:
            items.receive_item(
                uow,
                services.storage,
                actor,
                kind="photo",
                filename="a.jpg",
                content_type="image/jpeg",
                chunks=[ingest_media.photo(seed=4)],
            )
        paths = [data, *data.rglob("*")]
        assert any(p.name == "datatrust.db-wal" for p in paths)
        assert any("objects" in p.parts and p.is_file() for p in paths)
        loose = {
            str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777)
            for p in paths
            if p.stat().st_mode & 0o077
        }
        assert loose == {}
    finally:
        services.close()


def test_after_erasure_no_table_holds_a_personal_field_on_either_database(services):
    """The same erasure on the shared fixture's database (PostgreSQL in CI too): every row
    of every table, read back as text, is free of the marker (no plaintext copy kept in
    another table), and the raw hash of the upload appears nowhere."""
    from sqlalchemy import select

    from datatrust.adapters.db.tables import metadata

    photo = ingest_media.photo(seed=5)
    with services.uow() as uow:
        user = accounts.sign_up(
            uow,
            services.hasher,
            email=f"{MARKER}@example.org",
            password="correct horse battery",
            display_name=MARKER,
        )
        actor = accounts.actor_for(uow, user)
    with services.uow() as uow:
        items.receive_item(
            uow,
            services.storage,
            actor,
            kind="photo",
            filename=f"{MARKER}.jpg",
            content_type="image/jpeg",
            chunks=[photo],
            title=MARKER,
        )
    with services.uow() as uow:
        rights.erase_me(uow, services.storage, actor, signer=services.signer)
    raw = hashlib.sha256(photo).hexdigest()
    found = []
    with services.uow() as uow:
        session = uow.session
        for table in metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                text = str(tuple(row)).lower()
                if MARKER.lower() in text or raw in text:
                    found.append(f"{table.name}: {text[:200]}")
    assert found == []
