"""Encrypted, content-addressed storage of a contributor's bytes.

Every object is encrypted with its owner's data key (``ContributorKey``), which is itself
wrapped by the instance master key. Destroying a contributor's key makes every object of
theirs unreadable at once, wherever copies of the ciphertext ended up (backups included):
that is how erasure reaches bytes we cannot enumerate.

Keys are ``c/{owner_id}/{namespace}/{name}``, where ``name`` is an HMAC of the plaintext's
sha256 under the contributor's data key (``Cipher.object_name``): the same bytes stored
twice by the same contributor land on the same key, yet once the key is destroyed a name
says nothing about the content (a plain hash would let anyone holding a copy of a file
prove it was stored, and by whom). Objects stored before names were keyed are named by
the plain sha256 and still open.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from datatrust.domain.accounts import ContributorKey
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.services.ports import ObjectStore, UnitOfWork

_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_OBJECT_KEY = re.compile(r"c/(?P<owner>[0-9]+)/[a-z0-9][a-z0-9_-]{0,63}/(?P<name>[0-9a-f]{64})")
# Sealed text fields (``EncryptedStorage.seal_text``) start with this; anything else in such
# a column is plain text written before fields were sealed.
SEALED_FIELD_PREFIX = "dtf1."
# Temporary uploads live under the owner's prefix (so deleting that prefix takes them too)
# in a folder no namespace can name: namespaces cannot start with "_".
_TMP_FOLDER = "_tmp"


class DecryptionError(Exception):
    """Stored bytes failed authentication: tampered with, truncated, extended, reordered,
    encrypted under another key, or not matching the content hash in their key.

    Not a ``DomainError``: it is a fault of the platform's storage, never of the caller's
    input, so entry points must answer it as a server error and alert the operator.
    """


class Cipher(Protocol):
    """Envelope encryption: per-contributor data keys wrapped by one master key.

    ``encrypt`` and ``decrypt`` are lazy and stream: they consume ``chunks`` as they are
    iterated and never hold a whole object. ``decrypt`` raises ``DecryptionError`` (while
    iterating, possibly after yielding earlier plaintext) on any tampering or wrong key, so
    a consumer must treat a stream that raised as worthless, not as a short read.
    """

    def new_wrapped_key(self) -> bytes: ...
    def object_name(self, wrapped_key: bytes, sha256: str) -> str: ...
    def seal_field(self, wrapped_key: bytes, text: str) -> str: ...
    def open_field(self, wrapped_key: bytes, sealed: str) -> str: ...
    def content_id(self, sha256: str) -> str: ...
    def encrypt(self, wrapped_key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]: ...
    def decrypt(self, wrapped_key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str  # hex digest of the plaintext: keep it out of the database (see content_id)
    size: int  # plaintext bytes
    content_id: str = ""  # Cipher.content_id(sha256): what may be stored to spot duplicates


def object_key(owner_id: int, namespace: str, name: str) -> str:
    return f"c/{owner_id}/{namespace}/{name}"


def _check_namespace(namespace: str) -> None:
    if not _NAMESPACE.fullmatch(namespace):
        raise InvalidInput(Problem("namespace", "storage.namespace", {"given": namespace}))


class OpenedTexts:
    """Opens sealed fields as ``EncryptedStorage.open_text`` does, reading each owner's key
    once for all of them (at the first sealed field of theirs). The session's identity map
    keeps no row that nobody holds, so ``open_text`` field by field read the key from the
    database again for each: three reads per item in a list of someone's items. Made for
    one unit of work, and to be dropped with it.

    It holds the key rows it read, so while it lives the unit of work answers
    ``get(ContributorKey, owner)`` from its identity map, across commits too (objects are
    not expired on commit): ``put``, ``seal_text`` and ``open`` of the same owner in that
    unit of work read the key no more."""

    def __init__(self, storage: EncryptedStorage, uow: UnitOfWork) -> None:
        self._storage = storage
        self._uow = uow
        self._keys: dict[int, ContributorKey | None] = {}  # owner -> key row, None: none

    def __call__(self, owner_id: int, value: str | None) -> str:
        if not value or not value.startswith(SEALED_FIELD_PREFIX):
            return value or ""
        if owner_id not in self._keys:
            self._keys[owner_id] = self._uow.get(ContributorKey, owner_id)
        row = self._keys[owner_id]
        if row is None or row.destroyed_at is not None or not row.wrapped_key:
            return ""  # the person was erased
        return self._storage.cipher.open_field(row.wrapped_key, value)


class EncryptedStorage:
    """An ``ObjectStore`` seen through each contributor's data key.

    The unit of work is passed to each call (not held) because the key row must be read
    and written in the caller's transaction. The caller commits; see ``put`` for why that
    matters on a contributor's first object.
    """

    def __init__(
        self, store: ObjectStore, cipher: Cipher, *, now: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.now = now

    def put(
        self,
        uow: UnitOfWork,
        owner_id: int,
        chunks: Iterable[bytes],
        *,
        namespace: str = "items",
    ) -> StoredObject:
        """Encrypt and store a stream under its plaintext hash; return where it went.

        The stream is read once, never whole: it is hashed and encrypted on the way into a
        temporary key, then renamed to ``c/{owner_id}/{namespace}/{name}``. Storing the
        same bytes again overwrites the object with a fresh encryption under the current
        key, which is harmless (same plaintext). A first put whose transaction rolled back
        leaves an object under a data key that was never saved: unreadable, and its name
        (keyed by that lost key) says nothing; storing again makes a new one.

        Creates the contributor's data key on their first object (``uow.add``); the caller
        must commit the unit of work, or objects written under that key are unreadable.
        If the stream raises, nothing is stored and the error propagates.

        Raises ``InvalidInput`` for a bad namespace and ``Conflict`` if the contributor's key
        was destroyed (an erased contributor stores nothing more).
        """
        _check_namespace(namespace)
        return self._write(owner_id, self._writable_key(uow, owner_id), chunks, namespace)

    def put_outside_transaction(
        self,
        uow: UnitOfWork,
        owner_id: int,
        chunks: Iterable[bytes],
        *,
        namespace: str = "items",
    ) -> StoredObject:
        """``put`` for a request that streams a body: the contributor's key is read (or
        made and committed), then the unit of work's transaction is ended before the first
        byte is read, so a slow client holds no lock (on SQLite, the one write lock) while
        it sends. Call it before the unit of work has changed anything: it commits."""
        _check_namespace(namespace)
        key_row = self._writable_key(uow, owner_id)
        uow.commit()
        return self._write(owner_id, key_row, chunks, namespace)

    def _writable_key(self, uow: UnitOfWork, owner_id: int) -> ContributorKey:
        key_row = uow.get(ContributorKey, owner_id)
        if key_row is None:
            key_row = ContributorKey(owner_id=owner_id, wrapped_key=self.cipher.new_wrapped_key())
            uow.add(key_row)
        elif key_row.destroyed_at is not None:
            raise Conflict(Problem(None, "storage.key_destroyed", {"owner": owner_id}))
        return key_row

    def _write(
        self, owner_id: int, key_row: ContributorKey, chunks: Iterable[bytes], namespace: str
    ) -> StoredObject:
        digest = hashlib.sha256()
        size = 0

        def hashed() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        tmp_key = f"c/{owner_id}/{_TMP_FOLDER}/{uuid.uuid4().hex}"
        try:
            self.store.put(tmp_key, self.cipher.encrypt(key_row.wrapped_key, hashed()))
            name = self.cipher.object_name(key_row.wrapped_key, digest.hexdigest())
            key = object_key(owner_id, namespace, name)
            self.store.rename(tmp_key, key)
        except BaseException:
            # Adapters leave nothing behind on a failed put, but a failed rename could.
            # Suppressed so that a second failure does not hide the first.
            with contextlib.suppress(Exception):
                self.store.delete(tmp_key)
            raise
        return StoredObject(
            key=key,
            sha256=digest.hexdigest(),
            size=size,
            content_id=self.cipher.content_id(digest.hexdigest()),
        )

    def seal_text(self, uow: UnitOfWork, owner_id: int, text: str) -> str:
        """``text`` encrypted under the owner's data key, for a text column (about 4/3 of
        its UTF-8 length plus 43 characters). ``""`` stays ``""``. Makes the key on first
        use, like ``put`` (the caller commits); ``Conflict`` once the key was destroyed.
        Several fields of one owner: ``sealer``."""
        return self.sealer(uow, owner_id)(text)

    def sealer(self, uow: UnitOfWork, owner_id: int) -> Callable[[str], str]:
        """``seal_text`` for several fields of one owner, the key read (or made) once, at
        the first text that is not empty. For one unit of work, dropped with it."""
        key_row: ContributorKey | None = None

        def seal(text: str) -> str:
            nonlocal key_row
            if not text:
                return ""
            if key_row is None:
                key_row = self._writable_key(uow, owner_id)
            return self.cipher.seal_field(key_row.wrapped_key, text)

        return seal

    def open_text(self, uow: UnitOfWork, owner_id: int, value: str | None) -> str:
        """What ``seal_text`` sealed. A value that is not sealed (written before fields
        were) is returned as it is; a sealed one whose key is missing or destroyed reads
        as ``""``: the person was erased. Many fields: ``texts``."""
        return self.texts(uow)(owner_id, value)

    def texts(self, uow: UnitOfWork) -> OpenedTexts:
        """``open_text`` for many fields in one unit of work, each owner's key read once."""
        return OpenedTexts(self, uow)

    def open(self, uow: UnitOfWork, owner_id: int, key: str) -> Iterator[bytes]:
        """Stream the plaintext of ``owner_id``'s object ``key``.

        Raises ``NotFound`` now if the key is not this owner's (same answer as a missing
        object: no existence leak across contributors), if the object is missing, or if
        the contributor has no key or it was destroyed (the message says so).

        While iterating, raises ``DecryptionError`` on tampering, on a wrong key, or when
        the plaintext's hash does not match the key's name (an object swapped for another of
        the same contributor's); the last check can only fire after the final chunk.
        """
        match = _OBJECT_KEY.fullmatch(key)
        if match is None or match["owner"] != str(owner_id):
            raise NotFound(Problem(None, "storage.no_object", {"key": key, "owner": owner_id}))
        key_row = uow.get(ContributorKey, owner_id)
        if key_row is None:
            raise NotFound(Problem(None, "storage.no_key", {"owner": owner_id}))
        if key_row.destroyed_at is not None or not key_row.wrapped_key:
            raise NotFound(
                Problem(
                    None,
                    "storage.key_destroyed_on",
                    {"owner": owner_id, "at": key_row.destroyed_at or ""},
                )
            )
        ciphertext = self.store.get(key)  # raises NotFound before any decryption
        wrapped = key_row.wrapped_key

        def names(sha256: str) -> bool:
            # Older objects are named by the plain hash; newer by its keyed name.
            return match["name"] in (sha256, self.cipher.object_name(wrapped, sha256))

        return _checked(self.cipher.decrypt(wrapped, ciphertext), names)

    def destroy_key(self, uow: UnitOfWork, owner_id: int) -> None:
        """Crypto-shred: empty the contributor's wrapped key and stamp ``destroyed_at``.

        Every object of theirs becomes unreadable once the caller commits; deleting the
        ciphertext is then a matter of tidiness, not of privacy. Idempotent (a second call
        keeps the first ``destroyed_at``). A contributor with no key yet gets a destroyed
        one, so that nothing can be stored for them afterwards. Recording the
        ``key:destroy`` audit event is the calling service's job.
        """
        key_row = uow.get(ContributorKey, owner_id)
        if key_row is None:
            uow.add(ContributorKey(owner_id=owner_id, wrapped_key=b"", destroyed_at=self.now()))
            return
        if key_row.destroyed_at is None:
            key_row.wrapped_key = b""
            key_row.destroyed_at = self.now()


def _checked(plaintext: Iterator[bytes], expected: str | Callable[[str], bool]) -> Iterator[bytes]:
    """Pass ``plaintext`` through, then fail if it does not hash to its address
    (``expected``: the sha256, or a test of the sha256 against the object's name).

    Authenticated encryption proves the bytes were written with this contributor's key,
    not that they are the object this key names; the hash closes that gap.
    """
    digest = hashlib.sha256()
    for chunk in plaintext:
        digest.update(chunk)
        yield chunk
    matches = expected(digest.hexdigest()) if callable(expected) else None
    if matches is False or (matches is None and digest.hexdigest() != expected):
        raise DecryptionError(
            "object content does not hash to the name it is stored under: "
            "it was replaced or corrupted"
        )


def put_sealed(
    store: ObjectStore, cipher: Cipher, wrapped_key: bytes, key: str, chunks: Iterable[bytes]
) -> None:
    """Store a stream under ``key``, encrypted with a data key of its own (``wrapped_key``,
    from ``cipher.new_wrapped_key()``) rather than a contributor's.

    For files that are nobody's single contribution, such as a snapshot built for a buyer
    from many contributors' items: they are still encrypted at rest, and dropping their
    wrapped key makes them unreadable. Read them back with ``open_sealed``.
    """
    store.put(key, cipher.encrypt(wrapped_key, chunks))


def open_sealed(
    store: ObjectStore, cipher: Cipher, wrapped_key: bytes, key: str, sha256: str
) -> Iterator[bytes]:
    """Stream the plaintext of a ``put_sealed`` object whose plaintext hashes to ``sha256``.

    ``NotFound`` now if the object is missing; while iterating, ``DecryptionError`` on
    tampering, a wrong key, or bytes that do not hash to ``sha256`` (checked after the
    final chunk).
    """
    return _checked(cipher.decrypt(wrapped_key, store.get(key)), sha256)
