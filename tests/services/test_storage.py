"""EncryptedStorage: content-addressed, per-contributor encryption, crypto-shredding."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from datatrust.adapters.crypto import AesGcmCipher
from datatrust.adapters.objectstore import LocalObjectStore
from datatrust.domain.accounts import ContributorKey
from datatrust.domain.errors import Conflict, InvalidInput, NotFound
from datatrust.services.storage import DecryptionError, EncryptedStorage, open_sealed, put_sealed

MiB = 1024 * 1024
DESTROYED_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeUnitOfWork:
    """Just enough of the UnitOfWork port for EncryptedStorage: ``get`` and ``add``.

    Rows live in a shared dict, so a new FakeUnitOfWork on the same dict is a later
    transaction that sees what earlier ones "committed".
    """

    def __init__(self, rows: dict[tuple[type, Any], object] | None = None) -> None:
        self.rows = rows if rows is not None else {}

    def get(self, cls: type, ident: Any) -> Any:
        return self.rows.get((cls, ident))

    def add(self, obj: object) -> None:
        assert isinstance(obj, ContributorKey)
        self.rows[(ContributorKey, obj.owner_id)] = obj


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def storage(store: LocalObjectStore) -> EncryptedStorage:
    return EncryptedStorage(store, AesGcmCipher(os.urandom(32)), now=lambda: DESTROYED_AT)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def read(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_stored_object_opens_to_the_same_bytes(storage, uow):
    stored = storage.put(uow, 7, [b"a walk ", b"in Cape Town"])
    assert read(storage.open(uow, 7, stored.key)) == b"a walk in Cape Town"


def test_the_key_is_a_keyed_name_of_the_plaintext_under_the_owner_and_namespace(storage, uow):
    data = b"photo bytes"
    digest = hashlib.sha256(data).hexdigest()
    stored = storage.put(uow, 7, [data], namespace="thumbnails")
    wrapped = uow.get(ContributorKey, 7).wrapped_key
    name = storage.cipher.object_name(wrapped, digest)
    assert stored.key == f"c/7/thumbnails/{name}" and digest not in stored.key
    assert stored.sha256 == digest
    assert stored.size == len(data)
    assert storage.put(uow, 7, [data]).key == f"c/7/items/{name}"  # same bytes, same name
    assert storage.put(uow, 8, [data]).key != f"c/8/items/{name}"  # another key, another name
    assert stored.content_id == storage.put(uow, 8, [data]).content_id != digest


def test_an_object_stored_under_its_plain_hash_before_names_were_keyed_still_opens(
    storage, store, uow
):
    stored = storage.put(uow, 7, [b"old upload"])
    legacy = f"c/7/items/{hashlib.sha256(b'old upload').hexdigest()}"
    store.rename(stored.key, legacy)
    assert read(storage.open(uow, 7, legacy)) == b"old upload"


def test_storing_the_same_bytes_twice_lands_on_the_same_key(storage, store, uow):
    first = storage.put(uow, 7, [b"same"])
    second = storage.put(uow, 7, [b"sa", b"me"])
    assert first == second
    assert read(storage.open(uow, 7, second.key)) == b"same"
    assert files_under(store.root) == [first.key]  # and no temporary object is left


def test_what_is_stored_is_ciphertext_not_the_plaintext(storage, store, uow):
    data = b"my phone number is +27 82 555 0100" * 100
    stored = storage.put(uow, 7, [data])
    raw = read(store.get(stored.key))
    assert b"+27 82 555 0100" not in raw
    assert raw[:3] == b"DTE"


def test_the_first_put_creates_the_contributors_key_and_later_ones_reuse_it(storage, uow):
    assert uow.get(ContributorKey, 7) is None
    storage.put(uow, 7, [b"one"])
    key = uow.get(ContributorKey, 7)
    assert len(key.wrapped_key) == 40
    assert key.destroyed_at is None
    storage.put(uow, 7, [b"two"])
    assert uow.get(ContributorKey, 7) is key
    storage.put(uow, 8, [b"three"])
    assert uow.get(ContributorKey, 8).wrapped_key != key.wrapped_key


def test_an_empty_stream_is_stored_as_an_empty_object(storage, uow):
    stored = storage.put(uow, 7, [])
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert read(storage.open(uow, 7, stored.key)) == b""


def test_a_stream_that_fails_midway_stores_nothing(storage, store, uow):
    def failing() -> Iterator[bytes]:
        yield b"x" * MiB
        raise ConnectionResetError("upload interrupted")

    with pytest.raises(ConnectionResetError):
        storage.put(uow, 7, failing())
    assert files_under(store.root) == []


def test_a_large_stream_is_stored_and_opened_without_being_held_in_memory(storage, uow):
    block = os.urandom(MiB)
    total = 30 * MiB

    def video() -> Iterator[bytes]:
        for _ in range(total // MiB):
            yield block

    tracemalloc.start()
    try:
        stored = storage.put(uow, 7, video())
        size = sum(len(chunk) for chunk in storage.open(uow, 7, stored.key))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == size == total
    assert peak < 10 * MiB


def test_another_contributor_cannot_open_an_object_by_its_key(storage, uow):
    stored = storage.put(uow, 7, [b"private"])
    storage.put(uow, 8, [b"theirs"])
    with pytest.raises(NotFound, match="no object"):
        storage.open(uow, 8, stored.key)


@pytest.mark.parametrize(
    "key",
    [
        "c/7/items/not-a-hash",
        "c/7/_tmp/" + "0" * 32,
        "c/7/" + "0" * 64,
        "../c/7/items/" + "0" * 64,
        "c/70/items/" + "0" * 64,
    ],
)
def test_keys_that_are_not_the_owners_content_addresses_are_not_found(storage, uow, key):
    storage.put(uow, 7, [b"x"])
    with pytest.raises(NotFound):
        storage.open(uow, 7, key)


def test_opening_a_missing_object_raises_not_found(storage, uow):
    storage.put(uow, 7, [b"x"])
    with pytest.raises(NotFound, match="no object"):
        storage.open(uow, 7, "c/7/items/" + "0" * 64)


def test_opening_for_a_contributor_without_a_key_raises_not_found(storage, uow):
    with pytest.raises(NotFound, match="no data key"):
        storage.open(uow, 9, "c/9/items/" + "0" * 64)


def test_after_the_key_is_destroyed_every_object_is_unreadable(storage, store, uow):
    photo = storage.put(uow, 7, [b"photo"])
    voice = storage.put(uow, 7, [b"voice"], namespace="voice")
    other = storage.put(uow, 8, [b"someone else"])
    storage.destroy_key(uow, 7)

    key = uow.get(ContributorKey, 7)
    assert key.wrapped_key == b""
    assert key.destroyed_at == DESTROYED_AT
    for stored in (photo, voice):
        assert store.exists(stored.key)  # the ciphertext may linger; it is noise now
        with pytest.raises(NotFound, match="data key was destroyed"):
            storage.open(uow, 7, stored.key)
    assert read(storage.open(uow, 8, other.key)) == b"someone else"


def test_destroying_a_key_twice_keeps_the_first_destruction_time(store, uow):
    times = iter([DESTROYED_AT, datetime(2031, 1, 1, tzinfo=UTC)])
    storage = EncryptedStorage(store, AesGcmCipher(os.urandom(32)), now=lambda: next(times))
    storage.put(uow, 7, [b"x"])
    storage.destroy_key(uow, 7)
    storage.destroy_key(uow, 7)
    assert uow.get(ContributorKey, 7).destroyed_at == DESTROYED_AT


def test_nothing_more_can_be_stored_for_a_contributor_whose_key_was_destroyed(storage, uow):
    storage.put(uow, 7, [b"x"])
    storage.destroy_key(uow, 7)
    with pytest.raises(Conflict, match="destroyed"):
        storage.put(uow, 7, [b"y"])


def test_destroying_the_key_of_a_contributor_who_never_stored_anything_blocks_later_puts(
    storage, uow
):
    storage.destroy_key(uow, 9)
    assert uow.get(ContributorKey, 9).destroyed_at == DESTROYED_AT
    with pytest.raises(Conflict, match="destroyed"):
        storage.put(uow, 9, [b"y"])


def test_a_tampered_object_fails_while_opening(storage, store, uow):
    stored = storage.put(uow, 7, [b"original content"])
    raw = bytearray(read(store.get(stored.key)))
    raw[-1] ^= 1
    store.put(stored.key, [bytes(raw)])
    with pytest.raises(DecryptionError, match="failed authentication"):
        read(storage.open(uow, 7, stored.key))


def test_an_object_swapped_for_another_of_the_same_contributor_is_detected(storage, store, uow):
    real = storage.put(uow, 7, [b"what was consented to"])
    decoy = storage.put(uow, 7, [b"something else"])
    store.put(real.key, store.get(decoy.key))  # valid ciphertext, same key, wrong address
    with pytest.raises(DecryptionError, match="replaced or corrupted"):
        read(storage.open(uow, 7, real.key))


def test_a_first_put_whose_transaction_rolled_back_does_not_stop_storing_again(storage):
    committed: dict = {}
    rolled_back = FakeUnitOfWork(dict(committed))  # its key row is thrown away
    lost = storage.put(rolled_back, 7, [b"upload"])

    retry = FakeUnitOfWork(committed)
    stored = storage.put(retry, 7, [b"upload"])
    # The lost object's key died with the transaction: its name and bytes mean nothing.
    assert stored.key != lost.key
    assert read(storage.open(FakeUnitOfWork(committed), 7, stored.key)) == b"upload"


@pytest.mark.parametrize("namespace", ["", "_tmp", "Items", "a/b", "..", "x" * 65])
def test_a_bad_namespace_is_refused(storage, uow, namespace):
    with pytest.raises(InvalidInput, match="bad storage namespace"):
        storage.put(uow, 7, [b"x"], namespace=namespace)


def test_a_sealed_file_is_ciphertext_at_rest_and_opens_only_with_its_key_and_hash(store):
    cipher = AesGcmCipher(os.urandom(32))
    key, other_key = cipher.new_wrapped_key(), cipher.new_wrapped_key()
    body = b"shard bytes " * 1000
    digest = hashlib.sha256(body).hexdigest()
    put_sealed(store, cipher, key, "snapshots/1/shard-00000.tar", [body[:5000], body[5000:]])
    at_rest = read(store.get("snapshots/1/shard-00000.tar"))
    assert body[:64] not in at_rest
    assert read(open_sealed(store, cipher, key, "snapshots/1/shard-00000.tar", digest)) == body
    with pytest.raises(DecryptionError):
        read(open_sealed(store, cipher, other_key, "snapshots/1/shard-00000.tar", digest))
    with pytest.raises(DecryptionError, match="replaced or corrupted"):
        read(open_sealed(store, cipher, key, "snapshots/1/shard-00000.tar", "0" * 64))
    with pytest.raises(NotFound):
        open_sealed(store, cipher, key, "snapshots/1/missing", digest)


class CountingUnitOfWork(FakeUnitOfWork):
    """Counts the key reads: each ``get`` of a ``ContributorKey`` stands for a database read
    (the session's identity map keeps no key row that nobody holds)."""

    key_reads = 0

    def get(self, cls: type, ident: Any) -> Any:
        self.key_reads += cls is ContributorKey
        return super().get(cls, ident)


def test_many_sealed_fields_open_as_one_by_one_with_each_owners_key_read_once(storage):
    uow = CountingUnitOfWork()
    sealed = {
        owner: [storage.seal_text(uow, owner, f"{owner}: field {n}") for n in range(5)]
        for owner in (7, 8)
    }
    storage.destroy_key(uow, 8)
    uow.key_reads = 0
    texts = storage.texts(uow)
    opened = {owner: [texts(owner, v) for v in values] for owner, values in sealed.items()}
    assert uow.key_reads == 2  # one per owner, not one per field (10)
    assert opened[7] == [f"7: field {n}" for n in range(5)]
    assert opened[8] == [""] * 5  # erased: every field reads as empty, as with open_text
    # The same answers field by field, and what is not sealed comes back as it is.
    assert [storage.open_text(uow, 7, v) for v in sealed[7]] == opened[7]
    assert [storage.open_text(uow, 8, v) for v in sealed[8]] == opened[8]
    assert texts(7, "written before fields were sealed") == "written before fields were sealed"
    assert texts(7, None) == texts(9, "") == ""


def test_a_contributors_items_are_listed_readable_with_their_key_read_once(services, people):
    """``show_my_items`` read the key for each title and file name: 2 database reads per
    item, 8 for these 4; it reads it once, and shows the same titles and names."""
    from sqlalchemy import event

    from datatrust.services.contributions import items

    owner = people["owner"]
    services.queue.dispatch = lambda *args, **kwargs: None  # the items stay as received
    for n in range(4):
        with services.uow() as unit:
            items.receive_item(
                unit,
                services.storage,
                owner.actor,
                kind="photo",
                filename=f"walk-{n}.jpg",
                content_type="image/jpeg",
                chunks=[f"photo {n}".encode()],
                title=f"A walk, part {n}",
            )
    with services.uow(read_only=True) as unit:
        key_reads: list[str] = []
        connection = unit.session.connection()

        def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            if "contributor_keys" in statement:
                key_reads.append(statement)

        event.listen(connection, "before_cursor_execute", count)
        try:
            shown = items.show_my_items(unit, services.storage, owner.actor)
        finally:
            event.remove(connection, "before_cursor_execute", count)
    assert sorted((i.title, i.filename) for i in shown) == [
        (f"A walk, part {n}", f"walk-{n}.jpg") for n in range(4)
    ]
    assert len(key_reads) == 1
