"""One way to read a media file whether it arrived as bytes or as a path on disk.

``MediaSource`` never loads a path into memory as a whole: ``head``/``tail``/``read_at`` read
ranges and ``open()`` gives a fresh binary file object for decoders (Pillow, PyAV), which
stream from it. Reading a missing or unreadable path raises ``OSError``; callers turn that
into a rejection.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class MediaSource:
    data: bytes | None = None
    path: str | None = None

    @classmethod
    def of(cls, path_or_bytes: bytes | bytearray | memoryview | str | os.PathLike) -> MediaSource:
        if isinstance(path_or_bytes, bytes | bytearray | memoryview):
            return cls(data=bytes(path_or_bytes))
        return cls(path=os.fspath(path_or_bytes))

    @property
    def name(self) -> str | None:
        return os.path.basename(self.path) if self.path else None

    def size(self) -> int:
        return len(self.data) if self.data is not None else os.path.getsize(self.path)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")

    def read_at(self, offset: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + length]
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def head(self, length: int) -> bytes:
        return self.read_at(0, length)

    def tail(self, length: int) -> bytes:
        size = self.size()
        return self.read_at(max(0, size - length), length)

    def read_all(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as f:
            return f.read()

    def sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
