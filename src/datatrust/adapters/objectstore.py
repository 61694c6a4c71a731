"""The ``ObjectStore`` port on a local folder and on any S3-compatible service.

Both adapters hold the same contract, and the same tests run against both:

- Keys are ``/``-separated parts of ``a-z 0-9 _ - .``, none empty and none starting with
  ``.`` (so no ``..``, no hidden files, and the local store's folder of temporary files,
  ``.tmp``, can never collide with a key); at most 1024 characters. Anything else raises
  ``InvalidInput`` naming the rule.
- ``put`` streams: it consumes the chunks as it writes and returns the byte count. A put
  whose chunks raise leaves no object behind and the previous one (if any) untouched.
- ``get`` raises ``NotFound`` at call time for a missing key, then streams in chunks of
  at most 1 MiB.
- ``delete`` of a missing key does nothing; ``rename`` replaces ``dst`` and raises
  ``NotFound`` if ``src`` is missing.
- ``sweep_temporary`` deletes what writers that died mid-put left behind, never what a
  live writer is still writing; it returns how many it deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from datatrust.config import Settings
from datatrust.domain.errors import Conflict, InvalidInput, NotFound
from datatrust.services.ports import ObjectStore
from datatrust.services.scratch import held_file, sweep_dead

CHUNK_SIZE = 1024 * 1024
TEMPORARY = ".tmp"  # a dot: never a key
MAX_KEY_LENGTH = 1024
_KEY = re.compile(r"[a-z0-9_-][a-z0-9_.-]*(?:/[a-z0-9_-][a-z0-9_.-]*)*")


def validate_key(key: str) -> str:
    """Return ``key`` if it follows the rules in this module's docstring, else raise."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidInput(
            f"bad object key {key!r}: use '/'-separated parts of a-z 0-9 _ - . "
            f"with no empty part and none starting with '.', at most {MAX_KEY_LENGTH} "
            "characters",
            key=str(key),
        )
    return key


class LocalObjectStore:
    """Objects as files under ``root``: ``root/<key>``.

    Durable once ``put`` returns: data goes to a temporary file in ``root/.tmp``, is
    fsynced, atomically renamed over the key, and the key's folder is fsynced, so a crash
    leaves either the old object or the new one, never a torn file. Readers of a key being
    replaced see one version or the other. The writer holds its temporary file
    (``services.scratch.held_file``) so that ``sweep_temporary`` deletes only those of
    writers that died.

    A folder cannot also be a file, so unlike S3 a key cannot be a prefix folder of
    another key (``a/b`` and ``a/b/c``); the second raises ``Conflict``. Content-addressed
    keys never do this.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # Puts write here first: one folder to sweep after a crash instead of the whole
        # tree. Inside root, so on the same file system and the rename stays atomic.
        self.temporary = self.root / TEMPORARY

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        with _conflict_on_shape_clash(key):
            self._make_dirs(path.parent)
        self.temporary.mkdir(exist_ok=True)
        fd, tmp = held_file(self.temporary, suffix=".tmp")
        written = 0
        try:
            with os.fdopen(fd, "wb", closefd=False) as file:
                for chunk in chunks:
                    file.write(chunk)
                    written += len(chunk)
                file.flush()
                os.fsync(file.fileno())
            with _conflict_on_shape_clash(key):
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)  # only now: closing lets a sweep take the file for a dead writer's
        _fsync_dir(path.parent)
        return written

    def get(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed by _read_file
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object {key!r}") from None
        return _read_file(file)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the file; empty folders are left (harmless, and racing puts need them)."""
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self._path(key).unlink()

    def rename(self, src: str, dst: str) -> None:
        src_path, dst_path = self._path(src), self._path(dst)
        if not src_path.is_file():
            raise NotFound(f"no object {src!r} to rename")
        with _conflict_on_shape_clash(dst):
            self._make_dirs(dst_path.parent)
            os.replace(src_path, dst_path)
        _fsync_dir(dst_path.parent)
        if src_path.parent != dst_path.parent:
            _fsync_dir(src_path.parent)

    def check(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"object store folder {self.root} is not a writable folder")

    def sweep_temporary(self) -> int:
        """Delete the temporary files of writers that died mid-put (a live writer holds
        its file, so it is left alone); returns how many."""
        return sweep_dead(self.temporary)

    def _make_dirs(self, folder: Path) -> None:
        # mkdir(parents=True) would not fsync the parents, and a new folder's entry in
        # its parent is lost in a crash unless the parent is fsynced.
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for new in reversed(missing):
            new.mkdir(exist_ok=True)  # a concurrent put may have just made it
            _fsync_dir(new.parent)


@contextlib.contextmanager
def _conflict_on_shape_clash(key: str) -> Iterator[None]:
    try:
        yield
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise Conflict(
            f"object key {key!r} clashes with another key: on a local store a key cannot "
            "also be the folder of another key"
        ) from None


def _read_file(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while chunk := file.read(CHUNK_SIZE):
            yield chunk


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3ObjectStore:
    """Objects in one bucket of an S3-compatible service, through a boto3 S3 client.

    ``put`` sends a stream shorter than ``part_size`` with one PutObject; a longer one as
    a multipart upload of ``part_size`` parts (S3's minimum is 5 MiB), holding one part in
    memory at a time, and aborts the upload if anything fails. S3 allows 10,000 parts, so
    the default 8 MiB parts cap an object at about 78 GiB. ``rename`` is a copy then a
    delete (S3 has no rename), multipart for big objects, so not atomic: a crash between
    the two leaves both keys. ``check`` creates the bucket if it is missing.
    """

    MIN_PART_SIZE = 5 * 1024 * 1024
    MAX_PARTS = 10_000

    def __init__(self, client: Any, bucket: str, *, part_size: int = 8 * 1024 * 1024) -> None:
        if part_size < self.MIN_PART_SIZE:
            raise ValueError(f"S3 multipart parts must be at least {self.MIN_PART_SIZE} bytes")
        self.client = client
        self.bucket = bucket
        self.part_size = part_size

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        validate_key(key)
        stream = iter(chunks)
        buffer = bytearray()
        for chunk in stream:
            buffer += chunk
            if len(buffer) >= self.part_size:
                return self._put_multipart(key, buffer, stream)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
        return len(buffer)

    def _put_multipart(self, key: str, buffer: bytearray, rest: Iterator[bytes]) -> int:
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        parts: list[dict[str, Any]] = []
        written = 0

        def send(data: bytes) -> None:
            nonlocal written
            if len(parts) >= self.MAX_PARTS:
                raise ValueError(
                    f"object {key!r} is too large for {self.MAX_PARTS} parts of "
                    f"{self.part_size} bytes"
                )
            number = len(parts) + 1
            response = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
            parts.append({"ETag": response["ETag"], "PartNumber": number})
            written += len(data)

        def send_full_parts() -> None:
            while len(buffer) >= self.part_size:
                # Copied out through a view (a slice would be one more copy) and cut from
                # the buffer before sending, so about one part is held at a time.
                with memoryview(buffer) as view:
                    part = bytes(view[: self.part_size])
                del buffer[: self.part_size]
                send(part)
                del part

        try:
            send_full_parts()
            for chunk in rest:
                buffer += chunk
                send_full_parts()
            # Only the last part may be smaller than the minimum; an empty remainder is
            # skipped because at least one full part was already sent.
            if buffer or not parts:
                send(bytes(buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # Uploaded parts are billed until aborted, and never become an object.
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return written

    def get(self, key: str) -> Iterator[bytes]:
        validate_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFound(f"no object {key!r}") from None
            raise
        return _read_body(response["Body"])

    def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)  # no error when missing

    def rename(self, src: str, dst: str) -> None:
        validate_key(src)
        validate_key(dst)
        if src == dst:
            # Copy-then-delete onto itself would delete the object.
            if not self.exists(src):
                raise NotFound(f"no object {src!r} to rename")
            return
        try:
            # The managed copy switches to a multipart copy past its threshold; a single
            # CopyObject stops at 5 GB.
            self.client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dst)
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFound(f"no object {src!r} to rename") from None
            raise
        self.client.delete_object(Bucket=self.bucket, Key=src)

    def sweep_temporary(self) -> int:
        """Nothing to do here: S3 writes no temporary objects. The parts of a multipart
        upload whose writer was killed stay (billed, never an object) until the bucket's
        lifecycle rule ``AbortIncompleteMultipartUpload`` expires them; set one."""
        return 0

    def check(self) -> None:
        """Raise if the service cannot be reached; create the bucket if it is missing."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not _is_missing(exc):
                raise
        region = self.client.meta.region_name
        extra = {}
        if region and region != "us-east-1":  # us-east-1 refuses an explicit constraint
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as exc:
            # Another process may have created it between our two calls.
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error.get("Code") in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


def _read_body(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


def make_object_store(settings: Settings) -> ObjectStore:
    """The store the settings select. Makes no network call: run ``check()`` at start-up,
    which also creates a missing S3 bucket."""
    if settings.storage_backend == "s3":
        secret = settings.s3_secret_access_key
        custom_endpoint = settings.s3_endpoint_url is not None
        config = Config(
            # Self-hosted S3-compatible services (MinIO, Ceph, Garage…) are usually reached
            # by path: bucket names are not set up as DNS names there.
            s3={"addressing_style": "path" if custom_endpoint else "auto"},
            # Since botocore 1.36 every upload carries new checksum headers by default,
            # which several S3-compatible services reject; send them only where required.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 5},
        )
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=config,
        )
        return S3ObjectStore(client, settings.s3_bucket)
    return LocalObjectStore(settings.effective_storage_path)
