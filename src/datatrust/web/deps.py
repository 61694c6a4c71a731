"""Request-scoped dependencies: the caller as an explicit ``Actor``, and its unit of work.

Every route depends on ``Requires(permission)``; the authorisation matrix test reads that
dependency off each route, and a route without one fails the suite.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, cast

import anyio
import anyio.to_thread
from annotated_types import Ge, Le
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import EndpointContext, ResponseValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute

from datatrust.bootstrap import Services
from datatrust.domain.accounts import BuyerStanding
from datatrust.domain.errors import NotAuthenticated, PermissionDenied
from datatrust.domain.permissions import ANONYMOUS, Actor, Permission, authorize
from datatrust.services import accounts
from datatrust.services.ports import UnitOfWork
from datatrust.web.security import anonymous_csrf_token, safe_media_type

log = logging.getLogger(__name__)
SESSION_COOKIE = "dt_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A row id as a request may name it (path, query or body). Ids are 32-bit integers on
# PostgreSQL; SQLite refused a number past 2**63 - 1 while binding it, which answered a
# 500. Declared here, a larger number (or 0) is a 422 naming the field, and the OpenAPI
# document states the range.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Ge(1), Le(MAX_ROW_ID)]


async def services(request: Request) -> Services:
    # Async so that FastAPI does not send this lookup through the thread pool.
    return request.app.state.services


# Threads that only close units of work. Closing returns a connection to the pool, so it
# must never queue behind request threads that are themselves waiting for a connection:
# with one shared limiter, 40 threads waiting on a pool whose connections are held by
# units of work waiting to close deadlock until the pool times out (503s at 256 clients).
_CLOSERS = 8
_closer_limiter: anyio.CapacityLimiter | None = None

# Units of work handed to a route and not closed yet, by id: whoever pops one closes it
# (the route's own thread as the route returns, else the dependency when the request ends).
_open_units: dict[int, UnitOfWork] = {}


def _claim(value: object) -> bool:
    return _open_units.pop(id(value), None) is not None


async def uow(request: Request, svc: Services = Depends(services)) -> AsyncIterator[UnitOfWork]:
    """The route's unit of work. Reads (GET, HEAD, OPTIONS) get a read-only one, which on
    SQLite reads a snapshot beside the one writer instead of queueing for the write lock.

    Opening one does no I/O (the connection is taken at its first query, in the route's
    thread). A plain route closes it in its own thread as it returns (``UnitOfWorkRoute``);
    what is still open when the request ends (an async route's) is closed here, in threads
    of its own."""
    global _closer_limiter
    unit = svc.uow(read_only=request.method in SAFE_METHODS)
    unit.__enter__()
    _open_units[id(unit)] = unit
    try:
        yield unit
    finally:
        if _claim(unit):
            if _closer_limiter is None:
                _closer_limiter = anyio.CapacityLimiter(_CLOSERS)
            # Shielded: a request cancelled after its route ran must still hand its
            # connection back, else each cancelled request leaks one.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    unit.__exit__, None, None, None, limiter=_closer_limiter
                )


def unit_of_work() -> Any:
    """``Depends`` on the route's unit of work (``uow``), closed as soon as the route
    function returns: a slow client or a busy event loop must not keep its database
    connection (on SQLite, a read snapshot) checked out while other requests wait."""
    return Depends(uow, scope="function")


def _closing_units(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if _claim(value):
                    value.__exit__(*sys.exc_info())

    return run


class UnitOfWorkRoute(APIRoute):
    """A plain (thread pool) route runs, closes its unit of work and has its answer checked
    against its response model in one trip through the thread pool.

    FastAPI checks a plain route's answer in a second trip through the thread pool, and
    closes function-scoped dependencies only after that. Under load that trip queued
    behind every waiting request while the unit still held its connection: at 256
    clients all 40 threads waited on a pool whose 40 connections belonged to units
    queued for validation, until the pool timed out (6 rps, 248 errors). Hence the unit
    is closed as the route returns. The second trip itself cost the event loop 4-8 % of
    its time at 64 clients (handing work to a thread and back); so the route is given to
    FastAPI as an async one that makes the one trip itself, and returns the answer
    already checked: FastAPI then checks it again on the event loop, where a model
    instance passes as it is, and serialises it as before (status code, headers, the
    response model's include and exclude options all FastAPI's own)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not (
            inspect.iscoroutinefunction(endpoint)
            or inspect.isgeneratorfunction(endpoint)
            or inspect.isasyncgenfunction(endpoint)
        ):
            endpoint = self._in_one_trip(_closing_units(endpoint))
        super().__init__(path, endpoint, **kwargs)

    def _in_one_trip(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        def run(kwargs: dict[str, Any]) -> Any:
            return self._checked(endpoint(**kwargs))

        # Signature and name stay the route's (``wraps``): FastAPI reads its parameters,
        # its return annotation (the response model) and its name through ``__wrapped__``.
        @functools.wraps(endpoint)
        async def in_one_trip(**kwargs: Any) -> Any:
            return await anyio.to_thread.run_sync(run, kwargs)

        return in_one_trip

    def _checked(self, answer: Any) -> Any:
        """``answer`` validated against the response model, as FastAPI's second trip did
        (the same field, the same errors): a ``ResponseValidationError`` (500) if it does
        not fit. A ``Response`` is sent as it is, unchecked, as FastAPI sends it."""
        field = self.response_field
        if field is None or isinstance(answer, Response):
            return answer
        value, errors = field.validate(answer, {}, loc=("response",))
        if errors:
            methods = " ".join(sorted(self.methods))
            where = EndpointContext(function=self.name, path=f"{methods} {self.path}")
            raise ResponseValidationError(errors, body=answer, endpoint_ctx=where)
        return value


def api_router(**kwargs: Any) -> APIRouter:
    """The API's routers: JSON errors, units of work closed as each route returns."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)


@dataclass(frozen=True)
class Caller:
    actor: Actor
    via_session: bool = False
    csrf_token: str | None = None
    user_email: str | None = None
    standing: BuyerStanding | None = None  # a buyer's: what its menu offers


async def caller(request: Request, svc: Services = Depends(services)) -> Caller:
    """Bearer token first, then the session cookie; neither means anonymous. A bad
    credential is an error (401), never a silent downgrade to anonymous.

    An anonymous caller is answered at once, and so is a credential checked lately
    (``services.credentials``: no thread, no database); any other credential is checked
    in the thread pool, so its database reads never block the event loop."""
    header = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not header and not cookie:
        return Caller(ANONYMOUS)
    known = svc.credentials.get(_credential_key(header, cookie))
    if known is not None:
        return cast(Caller, known)
    return await anyio.to_thread.run_sync(_authenticate, svc, header, cookie)


def _credential_key(header: str | None, cookie: str | None) -> str:
    """The cache's key: the digest of the credential as sent (the one that is used)."""
    return accounts.digest(f"bearer {header}" if header else f"session {cookie}")


def _authenticate(svc: Services, header: str | None, cookie: str | None) -> Caller:
    """Reads in a read-only unit of work; a token's last-use time is written at most once
    per ``accounts.TOKEN_TOUCH_INTERVAL``, in a short write of its own that may fail
    without failing the request. What was verified is remembered (``svc.credentials``)."""
    generation = svc.credentials.generation  # before the read: see CredentialCache.put
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        with svc.uow(read_only=True) as unit:
            auth = accounts.authenticate_token(unit, secret.strip())
        if auth.token_needs_touch:
            _touch_token(svc, secret.strip())
        who = Caller(auth.actor, user_email=auth.user.email, standing=auth.standing)
    else:
        assert cookie is not None
        with svc.uow(read_only=True) as unit:
            auth = accounts.authenticate_session(unit, cookie)
        who = Caller(auth.actor, True, auth.csrf_token, auth.user.email, auth.standing)
    if auth.expires_at is not None:
        svc.credentials.put(
            _credential_key(header, cookie), who, generation=generation, expires_at=auth.expires_at
        )
    return who


def _touch_token(svc: Services, secret: str) -> None:
    try:
        with svc.uow() as unit:
            accounts.touch_api_token(unit, secret)
    except Exception as exc:
        if not svc.is_unavailable(exc):
            raise
        log.warning("token last-use not recorded (database busy): %s", type(exc).__name__)


async def check_csrf(request: Request, who: Caller) -> None:
    """Session-authenticated writes must echo the session's CSRF token (header or form);
    anonymous ones (sign-in, sign-up) the pre-session token (``web.security``)."""
    if request.method in SAFE_METHODS or (who.actor.is_authenticated and not who.via_session):
        return  # a bearer token is no ambient credential another site could ride on
    expected = who.csrf_token if who.via_session else anonymous_csrf_token(request)
    if expected is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        raise PermissionDenied("the form's CSRF token is missing or wrong; reload the page")


class Requires:
    """``Depends(Requires(Permission.X))``: authenticates the caller and checks that its
    role (and token scopes) allow ``X`` at all. Object-level checks happen in services."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request, who: Caller = Depends(caller)) -> Actor:
        # The role check first: a caller who may not act at all is refused before any of
        # a form body is read for its CSRF token.
        actor = self.admit(request, who)
        await check_csrf(request, who)
        return actor

    def admit(self, request: Request, who: Caller) -> Actor:
        """The role (and scope) check alone; the actor is kept for the request's log line."""
        authorize(who.actor, self.permission)
        request.state.actor = who.actor
        return who.actor


def requires(permission: Permission) -> Actor:
    return Depends(Requires(permission))


def stream(chunks: Iterator[bytes], media_type: str) -> StreamingResponse:
    """Stream decrypted or stored bytes, as a type no browser runs (``safe_media_type``).
    The first chunk is read before the response starts, so a destroyed key or a missing
    object still becomes a clean error response instead of a broken stream after a 200."""
    first = next(chunks, b"")

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    return StreamingResponse(body(), media_type=safe_media_type(media_type))
