"""The ports: what services need from the outside world, as protocols.

Each has a real adapter and a local or fake one in ``datatrust.adapters``, chosen by
settings in ``datatrust.bootstrap``. Services import only these protocols.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from datatrust.services.repositories import (
    AuditLog,
    Fingerprints,
    Holdings,
    ItemSelection,
    Jobs,
    Ledger,
    OwnItems,
    PayoutClaims,
    Reviews,
    SignInAttempts,
)

T = TypeVar("T")

# What a unit of work reports after a commit (its ``on_commit`` hook), per kind of row:
# the names of the attributes it changed, and these for a row added or deleted.
ROW_INSERTED = "+inserted"
ROW_DELETED = "+deleted"


class ReadOnlyViolation(RuntimeError):
    """A programming error: a read-only unit of work (or one inside ``reading()``) was
    asked to change a row or queue a job."""


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls back.

    ``record`` (audit events) and ``enqueue`` (outbox jobs) are written in the same
    transaction as the state change; queued jobs are dispatched only after commit.
    Filters in ``one``/``all``/``count`` are equality on attributes; ``name__in=[...]``
    matches any of several values. Queries they cannot express belong to a repository of
    the aggregate (``uow.ledger``, ``uow.jobs`` …: ``services.repositories``).
    """

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def reading(self) -> AbstractContextManager[None]:
        """Commit, then run the block's database work as reads taking no write lock (a
        job's long processing between short writes); a change inside raises."""
        ...

    def add(self, obj: object) -> None: ...
    def add_many(self, rows: Sequence[object]) -> None:
        """Insert ``rows``, all of one kind and new, at once (one statement, where ``add``
        of each may cost one apiece). Their ``id`` is left unset (read them back to know
        it), and an attribute left None is stored as NULL (a column's default does not
        fill it)."""
        ...

    def delete(self, obj: object) -> None: ...
    def flush(self) -> None: ...
    def get(self, cls: type[T], ident: object) -> T | None: ...
    def get_for_update(self, cls: type[T], ident: object) -> T | None: ...
    def one(self, cls: type[T], **filters: object) -> T | None: ...
    def all(
        self,
        cls: type[T],
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        skip_locked: bool = False,
        **filters: object,
    ) -> list[T]:
        """Rows matching ``filters``, ``limit`` of them from ``offset`` in ``order_by``
        order (a page of a long list). ``skip_locked``: lock them for this transaction,
        leaving out rows another transaction holds (PostgreSQL; SQLite writers are
        serialised anyway)."""
        ...

    def count(self, cls: type[T], **filters: object) -> int: ...

    def record(
        self, tag: str, actor: str, subject_type: str, subject_id: object, **data: object
    ) -> None: ...
    def enqueue(
        self, job: str, payload: dict[str, Any], *, key: str | None = None, delay_seconds: int = 0
    ) -> None: ...

    # -- repositories per aggregate (services.repositories) -----------------------------
    @property
    def ledger(self) -> Ledger: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def selection(self) -> ItemSelection: ...
    @property
    def reviews(self) -> Reviews: ...
    @property
    def holdings(self) -> Holdings: ...
    @property
    def own_items(self) -> OwnItems: ...
    @property
    def fingerprints(self) -> Fingerprints: ...
    @property
    def sign_in_attempts(self) -> SignInAttempts: ...
    @property
    def jobs(self) -> Jobs: ...
    @property
    def payouts(self) -> PayoutClaims: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class ObjectStore(Protocol):
    """Byte storage addressed by key. Puts and gets stream in chunks; nothing here
    encrypts — ``services.storage.EncryptedStorage`` wraps a store with per-contributor keys."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int: ...
    def get(self, key: str) -> Iterator[bytes]: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, replacing ``dst``; ``NotFound`` if ``src`` is missing."""
        ...

    def check(self) -> None:
        """Raise if the store cannot be reached (used by /health)."""
        ...

    def sweep_temporary(self) -> int:
        """Delete what writers that died mid-``put`` left behind (never a live writer's);
        returns how many."""
        ...


class JobQueue(Protocol):
    """Transport only: carries outbox ids to workers. A job's state lives in the database."""

    def dispatch(self, outbox_id: int, delay_seconds: int = 0) -> None: ...
    def check(self) -> None: ...


class PasswordHasher(Protocol):
    def __hash__(self) -> int: ...  # cached per hasher (accounts._dummy_hash)
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


class Signer(Protocol):
    """Signs JSON claims as a compact JWS (EdDSA / Ed25519) and verifies them."""

    def sign(self, claims: dict[str, Any]) -> str: ...
    def verify(self, token: str) -> dict[str, Any]: ...
    def public_jwk(self) -> dict[str, str]: ...
    def jwks(self) -> dict[str, list[dict[str, str]]]: ...


@dataclass(frozen=True)
class MailMessage:
    """One plain-text email to one address, already in its reader's language."""

    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Sends mail. Call it after commit (from an outbox job), so a failure is retried and
    never undoes the state change it reports; it raises when the message was not taken."""

    def send(self, message: MailMessage) -> None: ...


class Shredder(Protocol):
    """Makes what committed transactions overwrote or deleted unrecoverable from the
    database's own files, so that an erasure is final at once rather than whenever the
    database gets round to reusing the space.

    ``purge`` returns False when it could not finish now (other connections still read
    old pages): call it again later. A backend that cannot reach old row versions from
    its files by design, or cannot help it, returns True and says why in its docstring.
    """

    def purge(self) -> bool: ...


@dataclass(frozen=True)
class WebhookReply:
    """What one POST to a buyer's webhook came to: the HTTP status it answered, or
    ``error`` (timed out, refused, TLS failed …) when there was no answer."""

    status: int | None
    error: str | None
    duration_ms: int


class WebhookTransport(Protocol):
    """Delivers signed notices to buyers' webhooks (``services.webhooks``). Never follows
    a redirect (a redirect could point anywhere, including inside the platform)."""

    def addresses(self, host: str, port: int) -> list[str]:
        """Every IP address ``host`` resolves to (raises ``OSError`` when it does not)."""
        ...

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout: float,
        connect_to: str | None = None,
    ) -> WebhookReply:
        """POST ``body`` to ``url``. With ``connect_to``, connect to that address (the one
        that was checked) while naming the URL's host in the Host header and TLS, so a DNS
        answer that changes between the check and the connection cannot redirect it."""
        ...


# PostgreSQL takes at most 65,535 bound parameters per statement; SQLite 32,766.
_IN_CHUNK = 10_000


def by_ids(
    uow: UnitOfWork, cls: type[T], ids: Iterable[int | None], attr: str = "id", **filters: Any
) -> list[T]:
    """``uow.all(cls, <attr>__in=ids, **filters)`` in chunks, for id lists of any length."""
    wanted = sorted({i for i in ids if i is not None})
    out: list[T] = []
    for lo in range(0, len(wanted), _IN_CHUNK):
        chunk: dict[str, Any] = {f"{attr}__in": wanted[lo : lo + _IN_CHUNK]}
        out.extend(uow.all(cls, **chunk, **filters))
    return out
