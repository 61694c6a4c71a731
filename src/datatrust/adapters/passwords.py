"""Argon2id password hashing (argon2-cffi's defaults follow RFC 9106's recommendations),
and a cap on how many hashes run at once."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from datatrust.domain.errors import RateLimited
from datatrust.services.ports import PasswordHasher

# What a caller refused for want of a hashing slot is told to wait, in seconds.
BUSY_RETRY_AFTER_S = 5


class Argon2Hasher:
    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self._hasher = _Argon2(time_cost=time_cost, memory_cost=memory_cost)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


class CappedHasher:
    """``inner``, with at most ``max_concurrent`` hashes and checks running at once in
    this process (0: one per CPU).

    Each Argon2 hash takes a core for tens of milliseconds and 64 MiB. Per-account and
    per-address throttles do not stop a flood of sign-ins or sign-ups spread over many
    addresses (an IPv6 /64 holds 2**64); the cap does: such a flood slows sign-in and
    sign-up only, the rest of the service keeps its CPUs and memory. A caller that gets no
    slot within ``wait_seconds`` is refused with ``RateLimited`` (retry after
    ``BUSY_RETRY_AFTER_S``), so waiting requests never pile up without bound. Callers
    hash with no transaction open (``services.accounts``): a wait holds no lock."""

    def __init__(
        self, inner: PasswordHasher, *, max_concurrent: int = 0, wait_seconds: float = 2.0
    ) -> None:
        self.inner = inner
        self.max_concurrent = max_concurrent or os.cpu_count() or 1
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._wait_seconds = wait_seconds

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise RateLimited(
                "too many sign-ins at once; try again in a few seconds",
                {"retry_after_seconds": BUSY_RETRY_AFTER_S},
            )
        try:
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        with self._slot():
            return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._slot():
            return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)
