"""Verified credentials, kept briefly in this process (issue 12: authentication was a
database transaction and a thread hop on every request, ~13% of a request's time).

A bearer token or session cookie checked against the database is remembered for
``ttl_seconds`` (never past the credential's own expiry), keyed by the secret's digest.
Any committed change to a row that decides who a caller is (``CREDENTIAL_TYPES``: the
account, its tokens and sessions, its organisation membership, its organisation's vetting
status: a buyer's standing) empties the cache at once,
in this process: a revoked token or a signed-out session is refused by the next request.
Another process (a second ``serve``, a ``worker`` running an erasure) learns of the
change from the database when its own entry lapses, so ``ttl_seconds`` is the longest a
credential changed elsewhere stays usable here; 0 turns the cache off.

An entry read from the database is kept only if nothing changed since the read began
(``generation``), so a lookup racing a revocation cannot put the old answer back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Generic, TypeVar

from datatrust.domain.accounts import ApiToken, Membership, Organisation, User, WebSession
from datatrust.domain.clock import as_utc, utcnow
from datatrust.services.ports import ROW_INSERTED

T = TypeVar("T")

# Rows whose change can change the answer to "who is this caller?" (any attribute, a
# deletion, a new membership), less the changes that cannot: bookkeeping written while
# a credential is used, and a new account, token or session (no cached caller is one).
CREDENTIAL_TYPES: frozenset[type] = frozenset(
    {User, ApiToken, WebSession, Membership, Organisation}
)
HARMLESS: Mapping[type, frozenset[str]] = {
    ApiToken: frozenset({"last_used_at", ROW_INSERTED}),
    User: frozenset({"totp_last_step", ROW_INSERTED}),
    WebSession: frozenset({ROW_INSERTED}),
    # A buyer's cached standing follows its organisation's status, nothing else of it.
    Organisation: frozenset(
        {"legal_name", "country", "website", "contact_email", "intended_uses", ROW_INSERTED}
    ),
}


class CredentialCache(Generic[T]):
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    @property
    def generation(self) -> int:
        """Read before looking a credential up in the database; hand it to ``put``."""
        return self._generation

    def get(self, key: str) -> T | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: T, *, generation: int, expires_at: datetime) -> None:
        """Remember ``value`` unless the credentials changed since ``generation`` was read;
        for ``ttl_seconds`` at most, and never past ``expires_at`` (the credential's own)."""
        if not self.enabled:
            return
        left = (as_utc(expires_at) - utcnow()).total_seconds()
        if left <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = (self._clock() + min(self.ttl_seconds, left), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def changed(self, changes: Mapping[type, set[str]]) -> None:
        """Told after each commit what it changed (per kind of row, the attributes or
        ``ROW_INSERTED`` / ``ROW_DELETED``): forget every credential when a change can
        decide who a caller is."""
        if any(
            kind in CREDENTIAL_TYPES and not names <= HARMLESS.get(kind, frozenset())
            for kind, names in changes.items()
        ):
            self.clear()

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
