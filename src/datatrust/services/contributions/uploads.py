"""Resumable uploads (tus 1.0 core with creation, expiration, checksum, termination).

Partial bytes are staged in a private folder (``0700``; files ``0600``) under the data
directory, one file per upload, and never in plaintext: each upload has its own random data
key, wrapped by the master key (``Cipher.new_wrapped_key``) and kept in the upload's row
from its creation, and every piece of a PATCH body is sealed as its own record as it arrives::

    record = plaintext length (4 bytes) | sealed length (4 bytes) | Cipher.encrypt(piece)

so appends never touch what is already there. The offset is the plaintext length of the
complete records; a record torn by a crash is cut off at the next PATCH, so a PATCH cut off
halfway keeps exactly the pieces that arrived and the client resumes from there. (Each
record is authenticated on its own; records are not chained, so someone able to write the
data folder could drop or reorder whole records: the item's sha256 would then differ from
the client's file. The aim here is confidentiality of partial uploads at rest.) When the
last byte arrives the records are decrypted into ``add_item`` (encrypted under the
contributor's key, processing queued), the item and the upload's link to it are committed
in one transaction, and the staged copy is deleted.

Size limits per kind are enforced at creation from ``Upload-Length`` (413 before a single
byte is sent) and again while bytes arrive. A PATCH that would go past ``Upload-Length``
is refused whole: from its ``Content-Length`` before it is read, else as soon as its bytes
pass the end, and what it had already staged is cut off again.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, DomainError, InvalidInput, NotFound, Problem
from datatrust.domain.items import Item, ItemKind
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.domain.uploads import ResumableUpload
from datatrust.services.accounts import actor_label
from datatrust.services.campaigns import check_upload_campaign
from datatrust.services.contributions.items import add_item
from datatrust.services.contributions.upload_limits import UploadTooLarge, check_size
from datatrust.services.ports import UnitOfWork
from datatrust.services.storage import Cipher, DecryptionError, EncryptedStorage

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = ("creation", "expiration", "checksum", "termination")
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
CHUNK = 1024 * 1024
RECORD_HEADER = struct.Struct(">II")  # plaintext length, sealed length
KEY_META = "_staging_key"  # the upload's wrapped data key (base64), in its row's meta
# The expiry slides with progress, written only once it moves by this much: not a write
# (and a commit) per PATCH.
EXPIRY_STEP = timedelta(minutes=1)


class ChecksumMismatch(DomainError):
    """tus's own status for a chunk whose checksum does not match (nothing is kept)."""

    code = "checksum_mismatch"
    status = 460


class Staging:
    """The folder of partial uploads. Private to the service's user."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def create(self, upload_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        fd = os.open(self.path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)

    def size(self, upload_id: str) -> int:
        """The plaintext bytes staged: the upload's offset."""
        try:
            with open(self.path(upload_id), "rb") as f:
                return scan_records(f)[0]
        except FileNotFoundError:
            return 0

    def remove(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(upload_id).unlink()

    def ids(self) -> list[str]:
        """The uploads that have staged bytes here."""
        return [path.name.removesuffix(".part") for path in self.root.glob("*.part")]

    def chunks(self, upload_id: str, cipher: Cipher, wrapped_key: bytes) -> Iterator[bytes]:
        """The staged plaintext, record by record. Raises ``DecryptionError`` if a record
        fails authentication."""
        with open(self.path(upload_id), "rb") as f:
            while header := f.read(RECORD_HEADER.size):
                if len(header) < RECORD_HEADER.size:
                    return  # a torn tail: never counted in the offset
                plain, sealed = RECORD_HEADER.unpack(header)
                body = f.read(sealed)
                if len(body) < sealed:
                    return
                data = b"".join(cipher.decrypt(wrapped_key, [body]))
                if len(data) != plain:
                    raise DecryptionError("a staged record's length does not match")
                yield data


def scan_records(f: BinaryIO) -> tuple[int, int]:
    """(plaintext bytes, file position after the last complete record) of a staged file."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    pos = plain = 0
    while pos + RECORD_HEADER.size <= end:
        f.seek(pos)
        size, sealed = RECORD_HEADER.unpack(f.read(RECORD_HEADER.size))
        if pos + RECORD_HEADER.size + sealed > end:
            break
        pos += RECORD_HEADER.size + sealed
        plain += size
    return plain, pos


def seal_record(cipher: Cipher, wrapped_key: bytes, piece: bytes) -> bytes:
    sealed = b"".join(cipher.encrypt(wrapped_key, [piece]))
    return RECORD_HEADER.pack(len(piece), len(sealed)) + sealed


def _new_staging_key(cipher: Cipher) -> str:
    return base64.b64encode(cipher.new_wrapped_key()).decode()


def _staging_key(uow: UnitOfWork, cipher: Cipher, upload: ResumableUpload) -> bytes:
    """The upload's wrapped data key, made when the upload was created. An upload created
    without one (before keys were made at creation, or without ``storage``) gets it here,
    committed before any byte is sealed with it."""
    meta = dict(upload.meta or {})
    if KEY_META not in meta:
        meta[KEY_META] = _new_staging_key(cipher)
        upload.meta = meta
        uow.commit()
    return base64.b64decode(meta[KEY_META])


# --------------------------------------------------------------------------- creation


def start_upload(
    uow: UnitOfWork,
    staging: Staging,
    actor: Actor,
    *,
    length: str | int | None,
    metadata: dict[str, str],
    storage: EncryptedStorage | None = None,
) -> ResumableUpload:
    """Create an upload of ``length`` bytes. ``metadata`` needs ``kind`` and ``filename``;
    ``campaign``, ``title``, ``lat``, ``lng``, ``me`` and ``filetype`` are optional. With
    ``storage``, the file name, title and ``me`` are kept sealed under the caller's key,
    and the upload's staging data key is made.
    Raises ``UploadTooLarge`` (413) when the length is over the kind's limit, and
    ``InvalidInput`` naming every other problem."""
    authorize(actor, Permission.ITEM_CREATE)
    problems: list[Problem] = []
    size = _length(length, problems)
    kind = None
    try:
        kind = ItemKind(metadata.get("kind", ""))
    except ValueError:
        choices = {"choices": [k.value for k in ItemKind]}
        problems.append(Problem("Upload-Metadata.kind", "one_of", choices))
    filename = metadata.get("filename") or metadata.get("name") or ""
    if not filename or len(filename) > 300:
        problems.append(Problem("Upload-Metadata.filename", "required_at_most", {"maximum": 300}))
    campaign_id = None
    if metadata.get("campaign"):
        try:
            campaign_id = int(metadata["campaign"])
        except ValueError:
            problems.append(Problem("Upload-Metadata.campaign", "upload.campaign_id"))
    if kind is not None:
        check_size(kind, size)
    if kind is not None and campaign_id is not None:
        problems += check_upload_campaign(uow, campaign_id, kind)
    if problems:
        raise InvalidInput(problems)
    assert kind is not None and size is not None
    expire_uploads(uow, staging, utcnow(), commit=False)
    keep = ("title", "lat", "lng", "me", "filetype")
    upload = ResumableUpload(
        id=uuid.uuid4().hex,
        owner_id=actor.user_id or 0,
        kind=kind,
        filename=filename,
        length=size,
        campaign_id=campaign_id,
        meta={k: metadata[k][:300] for k in keep if metadata.get(k)},
    )
    if storage is not None:
        seal = storage.sealer(uow, actor.user_id or 0)
        upload.filename = seal(filename)
        upload.meta = {k: seal(v) if k in _SEALED_META else v for k, v in upload.meta.items()}
        upload.meta[KEY_META] = _new_staging_key(storage.cipher)
    staging.create(upload.id)
    uow.add(upload)
    uow.record(
        AuditTag.UPLOAD_START,
        actor_label(actor),
        "upload",
        upload.id,
        kind=kind.value,
        length=size,
    )
    uow.commit()
    return upload


# Upload-Metadata that names or describes the person: sealed like the item's fields.
_SEALED_META = frozenset({"title", "me"})


def _length(value: str | int | None, problems: list[Problem]) -> int | None:
    try:
        size = int(value) if value is not None and str(value).isdigit() else None
    except ValueError:
        size = None
    if size is None:
        problems.append(Problem("Upload-Length", "upload.whole_bytes"))
    elif size == 0:
        problems.append(Problem("Upload-Length", "upload.empty"))
    return size


# --------------------------------------------------------------------------- offset


@dataclass(frozen=True)
class UploadState:
    upload: ResumableUpload
    offset: int

    @property
    def expires_at(self) -> datetime:
        return self.upload.expires_at

    @property
    def item_id(self) -> int | None:
        return self.upload.item_id


def _mine(uow: UnitOfWork, actor: Actor, upload_id: str, *, lock: bool = False) -> ResumableUpload:
    authorize(actor, Permission.ITEM_CREATE)
    upload = (uow.get_for_update if lock else uow.get)(ResumableUpload, upload_id)
    authorize(actor, Permission.ITEM_CREATE, upload or MISSING)
    assert upload is not None
    if upload.expired(utcnow()):
        raise NotFound(Problem(None, "upload.expired", {"at": as_utc(upload.expires_at)}))
    return upload


def upload_state(uow: UnitOfWork, staging: Staging, actor: Actor, upload_id: str) -> UploadState:
    """Where the caller's upload stands (HEAD). Someone else's reads as missing."""
    upload = _mine(uow, actor, upload_id)
    if upload.item_id is None:
        return UploadState(upload, staging.size(upload.id))
    staging.remove(upload.id)  # left behind if the server stopped right after the item
    return UploadState(upload, upload.length)


# --------------------------------------------------------------------------- PATCH


def append_chunk(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    staging: Staging,
    actor: Actor,
    upload_id: str,
    *,
    offset: str | int | None,
    chunks: Iterable[bytes],
    checksum: str | None = None,
    length: str | int | None = None,
) -> UploadState:
    """Append the request body at ``offset``; on the last byte, receive the item.

    ``offset`` must equal the bytes staged so far (``Conflict`` otherwise). Without a
    checksum, bytes are appended as they arrive, so an interrupted request (the
    connection dropped) keeps what got through. With ``checksum`` (``"sha1 <base64>"``)
    the chunk is kept only if it matches (``ChecksumMismatch``, 460, otherwise). A body
    that would go past ``Upload-Length`` is refused (``UploadTooLarge``, 413) and keeps
    nothing: the offset stays where it was. It is refused before any of it is read when
    its declared ``length`` (``Content-Length``) says so, else as soon as the bytes do.

    Two requests for one upload at once (the same person resuming it in two tabs): the
    first writes, the other is refused (``Conflict`` ``upload.busy``) and keeps nothing,
    also while the first assembles the item; once it is made, ``upload.complete``.

    The upload's row is read once, locked, and stays locked until the staged file is
    locked too: a tab that completed the upload meanwhile had to wait for that row to link
    its item, so a row without an item means the upload is still incomplete."""
    upload = _mine(uow, actor, upload_id, lock=True)
    if upload.item_id is not None:
        staging.remove(upload.id)  # left behind if the server stopped right after the item
        raise Conflict(Problem(None, "upload.complete"))
    try:
        claimed = int(str(offset))
    except ValueError:
        raise InvalidInput(Problem("Upload-Offset", "upload.whole_bytes")) from None
    verify = _checksum(checksum) if checksum else None
    path = staging.path(upload.id)
    cipher = storage.cipher
    with open(path, "r+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(Problem(None, "upload.busy")) from None
        current, end = scan_records(f)
        if claimed != current:
            raise Conflict(
                Problem("Upload-Offset", "upload.offset", {"offset": claimed, "have": current})
            )
        declared = int(length) if length is not None and str(length).isdigit() else None
        if declared is not None and current + declared > upload.length:
            raise _past_the_end(upload, current)
        key = _staging_key(uow, cipher, upload)
        # The body streams outside any transaction: a slow client must hold no lock (on
        # SQLite, the one write lock). The file lock above keeps a second PATCH out.
        uow.commit()
        f.truncate(end)  # a record torn by a crash was never counted: drop it
        f.seek(end)
        digest = verify[0]() if verify else None
        written = 0
        try:
            for chunk in chunks:
                if current + written + len(chunk) > upload.length:
                    raise _past_the_end(upload, current)
                f.write(seal_record(cipher, key, chunk))
                written += len(chunk)
                if digest is not None:
                    digest.update(chunk)
                else:
                    f.flush()  # what arrived stays, even if the connection drops next
        except BaseException as exc:
            # A refusal keeps nothing of this PATCH; a dropped connection keeps what
            # arrived (unless a checksum covers the whole body).
            if digest is not None or isinstance(exc, UploadTooLarge):
                f.truncate(end)
            raise
        if digest is not None and verify is not None and digest.digest() != verify[1]:
            f.truncate(end)
            raise ChecksumMismatch(Problem("Upload-Checksum", "upload.checksum_mismatch"))
        f.flush()
        offset_now = current + written
        if offset_now < upload.length:
            _slide_expiry(uow, upload)
            return UploadState(upload, offset_now)
        # The item is assembled while the file is still locked, so a second tab holding
        # the last byte too (an empty PATCH at the end) is told the upload is busy, then
        # complete: it never assembles a second item from the same bytes.
        return _complete(uow, storage, staging, actor, upload)


def _slide_expiry(uow: UnitOfWork, upload: ResumableUpload) -> None:
    """Expiry slides with progress: a slow connection that keeps sending keeps the upload.
    Written once it moves by ``EXPIRY_STEP`` or more, so most PATCHes write nothing."""
    lifetime = as_utc(upload.expires_at) - as_utc(upload.created_at)
    slid = utcnow() + lifetime
    if slid - as_utc(upload.expires_at) >= EXPIRY_STEP:
        upload.expires_at = slid
        uow.commit()


def _past_the_end(upload: ResumableUpload, offset: int) -> UploadTooLarge:
    room = upload.length - offset
    params = {"length": upload.length, "offset": offset, "room": room}
    return UploadTooLarge(
        Problem(None, "upload.past_the_end", params),
        {"upload_length": upload.length, "offset": offset},
    )


def _checksum(header: str) -> tuple[Callable[[], hashlib._Hash], bytes]:
    algorithm, _, value = header.strip().partition(" ")
    factory = CHECKSUM_ALGORITHMS.get(algorithm.lower())
    if factory is None:
        choices = {"given": algorithm, "choices": list(CHECKSUM_ALGORITHMS)}
        raise InvalidInput(Problem("Upload-Checksum", "upload.checksum_algorithm", choices))
    try:
        return factory, base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(Problem("Upload-Checksum", "upload.checksum_format")) from None


def _complete(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    staging: Staging,
    actor: Actor,
    upload: ResumableUpload,
) -> UploadState:
    """Make the item from the staged bytes and link the upload to it, in one transaction:
    should the server stop at any point, either both are there (a resumed PATCH is told
    the upload is complete) or neither (it assembles the item then)."""
    texts = storage.texts(uow)  # holds the owner's key row: read once for every field
    meta = {
        k: texts(upload.owner_id, v) if k in _SEALED_META else v
        for k, v in (upload.meta or {}).items()
    }
    item: Item = add_item(
        uow,
        storage,
        actor,
        kind=upload.kind.value,
        filename=texts(upload.owner_id, upload.filename),
        content_type=meta.get("filetype", "application/octet-stream"),
        chunks=staging.chunks(
            upload.id, storage.cipher, base64.b64decode((upload.meta or {})[KEY_META])
        ),
        title=meta.get("title", ""),
        campaign_id=upload.campaign_id,
        metadata={k: meta.get(k) for k in ("lat", "lng", "me")},
    )
    # The body was stored outside any transaction: the row is locked again in the item's.
    # Ended (DELETE) or erased meanwhile, the upload gets no item (the object stored is
    # left unreferenced, unreadable once an erased owner's key is destroyed).
    linked = uow.get_for_update(ResumableUpload, upload.id)
    authorize(actor, Permission.ITEM_CREATE, linked or MISSING)
    assert linked is not None
    if linked.item_id is not None:  # the staged file's lock keeps a second tab out
        raise Conflict(Problem(None, "upload.complete"))
    linked.item_id = item.id
    uow.commit()
    staging.remove(upload.id)
    return UploadState(linked, linked.length)


# --------------------------------------------------------------------------- termination


def terminate_upload(uow: UnitOfWork, staging: Staging, actor: Actor, upload_id: str) -> None:
    """Delete the caller's upload and its staged bytes (an item already made stays)."""
    upload = _mine(uow, actor, upload_id, lock=True)
    uow.delete(upload)
    uow.record(AuditTag.UPLOAD_TERMINATE, actor_label(actor), "upload", upload_id)
    uow.commit()
    staging.remove(upload_id)


def sweep_staged(uow: UnitOfWork, staging: Staging) -> int:
    """Delete the staged bytes of uploads already made into items, and return how many.

    A process that stopped between committing the item and deleting them left them; a HEAD
    or PATCH from the client deletes them too, but the client may never come back. Staged
    bytes without a row stay: an upload being created has its file before its row is
    committed (``expire_uploads`` deletes abandoned ones). One query, none when nothing is
    staged."""
    staged = staging.ids()
    if not staged:
        return 0
    made = [u.id for u in uow.all(ResumableUpload, id__in=staged) if u.item_id is not None]
    for upload_id in made:
        staging.remove(upload_id)
    return len(made)


def expire_uploads(
    uow: UnitOfWork, staging: Staging, now: datetime, *, commit: bool = True, limit: int = 100
) -> int:
    """Forget uploads past their expiry and delete their staged bytes. Idempotent."""
    gone = 0
    for upload in uow.all(ResumableUpload, item_id=None, order_by="expires_at", limit=limit):
        if not upload.expired(now):
            break
        staging.remove(upload.id)
        uow.delete(upload)
        gone += 1
    if commit:
        uow.commit()
    return gone
