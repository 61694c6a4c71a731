"""The ObjectStore contract, run against the local folder and against S3 (moto)."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from datatrust.adapters.objectstore import (
    CHUNK_SIZE,
    LocalObjectStore,
    S3ObjectStore,
    make_object_store,
)
from datatrust.config import Settings
from datatrust.domain.errors import Conflict, InvalidInput, NotFound

MiB = 1024 * 1024


def s3_settings(endpoint: str, bucket: str) -> Settings:
    return Settings(
        storage_backend="s3",
        s3_endpoint_url=endpoint,
        s3_bucket=bucket,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LocalObjectStore | S3ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("moto_endpoint")
    s3 = make_object_store(s3_settings(endpoint, f"test-{uuid.uuid4().hex}"))
    s3.check()  # creates the bucket
    return s3


def read_all(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


def generated_stream(total: int, chunk_size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """``total`` bytes in ``chunk_size`` pieces, made on demand and hashed into ``digest``."""
    block = os.urandom(chunk_size)
    sent = 0
    while sent < total:
        piece = block[: min(chunk_size, total - sent)]
        piece = sent.to_bytes(8, "big") + piece[8:]  # no two chunks alike
        digest.update(piece)
        sent += len(piece)
        yield piece


# --- behaviour both stores share ------------------------------------------------------


def test_a_stored_object_reads_back_byte_for_byte(store):
    written = store.put("c/1/items/abc", [b"hello ", b"", b"world"])
    assert written == 11
    assert read_all(store.get("c/1/items/abc")) == b"hello world"


def test_an_empty_object_round_trips(store):
    assert store.put("empty", []) == 0
    assert store.exists("empty")
    assert read_all(store.get("empty")) == b""


def test_putting_a_key_again_replaces_the_object(store):
    store.put("k", [b"first version, longer"])
    store.put("k", [b"second"])
    assert read_all(store.get("k")) == b"second"


def test_a_50_mb_stream_is_stored_and_read_back_without_being_held_in_memory(store):
    total = 50 * MiB
    sent = hashlib.sha256()
    tracemalloc.start()
    try:
        # An odd chunk size, so that adapters have to re-cut the stream.
        written = store.put("big/video", generated_stream(total, 300_007, sent))
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        received = hashlib.sha256()
        sizes = []
        for chunk in store.get("big/video"):
            received.update(chunk)
            sizes.append(len(chunk))
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == total
    assert sum(sizes) == total
    assert received.hexdigest() == sent.hexdigest()
    assert max(sizes) <= CHUNK_SIZE
    # About two 8 MiB S3 parts (the buffer and the part in flight) at most, nowhere near
    # the 50 MiB that went through; the local store holds a chunk.
    assert put_peak < 24 * MiB
    assert get_peak < 10 * MiB


def test_a_put_whose_stream_fails_leaves_the_previous_object_untouched(store):
    store.put("k", [b"accepted earlier"])

    def failing() -> Iterator[bytes]:
        yield b"x" * (9 * MiB)  # past one S3 part: the multipart upload must be aborted
        raise ConnectionResetError("phone went offline")

    with pytest.raises(ConnectionResetError):
        store.put("k", failing())
    assert read_all(store.get("k")) == b"accepted earlier"
    with pytest.raises(ConnectionResetError):
        store.put("new", failing())
    assert not store.exists("new")


def test_getting_a_missing_key_raises_not_found_at_once(store):
    with pytest.raises(NotFound, match="no object 'nope/missing'"):
        store.get("nope/missing")


def test_exists_tells_a_stored_key_from_a_missing_one(store):
    store.put("a/b", [b"1"])
    assert store.exists("a/b")
    assert not store.exists("a/c")
    assert not store.exists("a")  # a prefix is not an object


def test_delete_removes_the_object_and_a_missing_key_is_no_error(store):
    store.put("a/b", [b"1"])
    store.delete("a/b")
    assert not store.exists("a/b")
    store.delete("a/b")
    store.delete("never/was")


def test_rename_moves_the_object_and_replaces_the_destination(store):
    store.put("tmp/1", [b"new"])
    store.put("final/x", [b"old"])
    store.rename("tmp/1", "final/x")
    assert not store.exists("tmp/1")
    assert read_all(store.get("final/x")) == b"new"


def test_rename_into_a_new_folder_creates_it(store):
    store.put("tmp/1", [b"data"])
    store.rename("tmp/1", "deep/new/folder/key")
    assert read_all(store.get("deep/new/folder/key")) == b"data"


def test_renaming_a_missing_key_raises_not_found(store):
    with pytest.raises(NotFound, match="no object 'tmp/missing' to rename"):
        store.rename("tmp/missing", "final/x")


def test_renaming_a_key_onto_itself_keeps_the_object(store):
    store.put("k", [b"data"])
    store.rename("k", "k")
    assert read_all(store.get("k")) == b"data"


def test_check_passes_on_a_reachable_store(store):
    store.check()


BAD_KEYS = [
    "",
    "/abs",
    "../escape",
    "a/../../etc/passwd",
    "a/./b",
    "a//b",
    "a/",
    ".hidden",
    "a/.tmp",
    "Upper",
    "a b",
    "a\\b",
    "nul\x00byte",
    "caf\u00e9",
    "x" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_key_is_refused_with_a_message_naming_the_rule(store, key):
    with pytest.raises(InvalidInput, match="bad object key") as caught:
        store.put(key, [b"data"])
    assert "a-z 0-9 _ - ." in caught.value.message
    for call in (store.get, store.exists, store.delete):
        with pytest.raises(InvalidInput):
            call(key)
    with pytest.raises(InvalidInput):
        store.rename(key, "fine")
    with pytest.raises(InvalidInput):
        store.rename("fine", key)


def test_keys_may_use_every_allowed_character(store):
    key = "c/42/items_v2/abc-def.0123456789"
    store.put(key, [b"ok"])
    assert read_all(store.get(key)) == b"ok"


# --- the local folder -------------------------------------------------------------------


def test_the_local_store_leaves_no_temporary_files_behind(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put("a/b", [b"1"])

    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.put("a/c", failing())
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]
    assert list(store.temporary.iterdir()) == []


def test_the_local_store_keeps_objects_as_files_under_its_root(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    store.put("c/1/items/x", [b"data"])
    assert (tmp_path / "objects" / "c" / "1" / "items" / "x").read_bytes() == b"data"


def test_a_local_key_that_is_also_a_folder_of_another_key_is_a_conflict(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put("a/b", [b"1"])
    with pytest.raises(Conflict, match="clashes"):
        store.put("a/b/c", [b"2"])
    with pytest.raises(Conflict, match="clashes"):
        store.put("a", [b"3"])
    assert read_all(store.get("a/b")) == b"1"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]


def test_the_local_check_fails_when_the_folder_is_gone(tmp_path):
    store = LocalObjectStore(tmp_path / "objects")
    (tmp_path / "objects").rmdir()
    with pytest.raises(OSError, match="not a writable folder"):
        store.check()


def test_the_settings_choose_a_local_store_under_the_data_folder_by_default(tmp_path):
    store = make_object_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "objects"


# --- S3 ------------------------------------------------------------------------------------


def test_the_s3_check_creates_a_missing_bucket(moto_endpoint):
    bucket = f"fresh-{uuid.uuid4().hex}"
    store = make_object_store(s3_settings(moto_endpoint, bucket))
    assert isinstance(store, S3ObjectStore)
    store.check()
    store.check()  # and a second check finds it
    assert bucket in [b["Name"] for b in store.client.list_buckets()["Buckets"]]


def test_a_large_s3_put_goes_up_in_parts_and_a_failed_one_is_aborted(moto_endpoint):
    store = make_object_store(s3_settings(moto_endpoint, f"parts-{uuid.uuid4().hex}"))
    store.check()
    assert store.put("big", [b"a" * (5 * MiB), b"b" * (5 * MiB)]) == 10 * MiB
    # A multipart object's ETag ends in "-<number of parts>".
    assert store.client.head_object(Bucket=store.bucket, Key="big")["ETag"].endswith('-2"')

    def failing() -> Iterator[bytes]:
        yield b"c" * (9 * MiB)
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        store.put("broken", failing())
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_s3_parts_smaller_than_the_s3_minimum_are_refused():
    with pytest.raises(ValueError, match="at least"):
        S3ObjectStore(client=None, bucket="b", part_size=MiB)
