"""Browser-facing hardening: security headers on every response, the client's real address
and scheme behind a trusted proxy, and how stored bytes may be served.

``SecurityHeaders`` is a pure ASGI middleware (it never buffers a body, so uploads and
downloads keep streaming). Every response gets:

- ``Content-Security-Policy``: pages may load scripts, styles, images and media only from
  this origin (no inline script or style, no ``eval``), post forms only here, and be framed
  by nobody; everything under ``/api/`` and ``/files/`` (JSON, and stored bytes such as an
  upload or its preview) is additionally ``sandbox``-ed with nothing allowed, so even a
  stored HTML or SVG file opened directly cannot run script on this origin.
- ``X-Content-Type-Options: nosniff`` (a browser takes the declared type, never a guess),
  ``Referrer-Policy: same-origin`` (item ids in our URLs never leak to other sites),
  ``X-Frame-Options: DENY`` (older browsers), ``Cross-Origin-Opener-Policy``,
  ``Permissions-Policy`` (microphone and camera for this origin only, for the recorder);
- ``Strict-Transport-Security`` when the instance is served over HTTPS (``base_url`` is
  https, or the request came over https, directly or from a trusted proxy);
- no ``Server`` header.

A route may set its own ``Content-Security-Policy`` (``/docs`` does); the middleware then
leaves that header alone and adds the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from ipaddress import ip_address, ip_network
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datatrust.domain.errors import PermissionDenied
from datatrust.services.accounts import Throttle

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Bytes and JSON: nothing to load, nothing to run, no framing, an opaque origin if opened.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
API_PREFIXES = ("/api/", "/files/")
HSTS = "max-age=31536000; includeSubDomains"
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(), payment=()"),
)
# Types a browser may show inline (an <img>, <audio> or <video> on our pages, or text):
# none of them runs script. Anything else is served as opaque bytes.
INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "text/plain",
        "text/csv",
        "application/json",
        "application/ld+json",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/octet-stream",
    }
)
OPAQUE = "application/octet-stream"


def safe_media_type(declared: str | None) -> str:
    """``declared`` if a browser cannot run it (its parameters kept), else opaque bytes.

    Uploads carry the type their sender claimed: ``text/html``, ``image/svg+xml`` or
    ``application/xhtml+xml`` would otherwise run a contributor's script on this origin."""
    essence = (declared or "").split(";", 1)[0].strip().lower()
    if essence in INLINE_TYPES or essence.partition("/")[0] in ("audio", "video"):
        return declared or OPAQUE
    return OPAQUE


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` that makes the browser save, never show, the body; the
    name is reduced to safe characters (a stored name is the uploader's choice)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[:100]
    return f'attachment; filename="{safe or "download"}"'


def _trusted(peer: str | None, proxies: Iterable[str]) -> bool:
    if not peer:
        return False
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    return any(address in ip_network(p, strict=False) for p in proxies)


class SecurityHeaders:
    """See the module docstring. ``trusted_proxies``: addresses or networks whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed (the reverse proxy in
    front of the instance); from anyone else those headers are ignored, so a client cannot
    pick its own address to dodge throttling or fake https."""

    def __init__(
        self, app: ASGIApp, *, base_url: str = "", trusted_proxies: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.https = base_url.startswith("https://")
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = self._behind_proxy(scope)
        api = scope["path"].startswith(API_PREFIXES)
        https = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(message.get("headers", []), api, https)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _behind_proxy(self, scope: Scope) -> Scope:
        client = scope.get("client")
        if not self.trusted_proxies or not _trusted(
            client[0] if client else None, self.trusted_proxies
        ):
            return scope
        headers = dict(scope.get("headers") or [])
        changed: dict[str, Any] = {}
        forwarded_for = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        if forwarded_for:
            # The nearest hop the proxy saw: entries further left are the client's to write.
            changed["client"] = (forwarded_for.split(",")[-1].strip(), 0)
        proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
        if proto in ("http", "https"):
            changed["scheme"] = proto
        return {**scope, **changed} if changed else scope

    @staticmethod
    def _headers(
        raw: Iterable[tuple[bytes, bytes]], api: bool, https: bool
    ) -> list[tuple[bytes, bytes]]:
        headers = [(k, v) for k, v in raw if k.lower() != b"server"]
        present = {k.lower() for k, _ in headers}
        if api:
            # Stored bytes are never a page: the API policy replaces whatever a route set.
            headers = [(k, v) for k, v in headers if k.lower() != b"content-security-policy"]
            headers.append((b"content-security-policy", API_CSP.encode()))
        elif b"content-security-policy" not in present:
            headers.append((b"content-security-policy", PAGE_CSP.encode()))
        headers += [(k, v) for k, v in COMMON_HEADERS if k not in present]
        if https and b"strict-transport-security" not in present:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers


# --- CSRF before a session exists ---------------------------------------------------------
#
# Sign-in and sign-up are posted by visitors who have no session yet, so the session's
# CSRF token cannot protect them (login CSRF: a foreign site signs the victim into the
# attacker's account). The first page a visitor sees sets a random nonce in a cookie; its
# forms carry an HMAC of that nonce under the instance secret. A post must bring both,
# matching: another site can neither read our cookie nor compute the HMAC, and a nonce it
# planted (from a sibling subdomain) is useless without the matching token.

PRESESSION_COOKIE = "dt_csrf"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def presession_token(secret: str, nonce: str) -> str:
    mac = hmac.new(secret.encode(), b"presession-csrf:" + nonce.encode(), hashlib.sha256)
    return mac.hexdigest()


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def _secret(request: Request) -> str:
    return request.app.state.services.settings.secret_key.get_secret_value()


def page_csrf(request: Request) -> tuple[str, str | None]:
    """The token an anonymous visitor's forms carry, and the nonce to set in their
    ``PRESESSION_COOKIE`` when they have none yet (else None)."""
    nonce = request.cookies.get(PRESESSION_COOKIE)
    fresh = None
    if not nonce or len(nonce) > 64:
        nonce = fresh = new_nonce()
    return presession_token(_secret(request), nonce), fresh


def anonymous_csrf_token(request: Request) -> str | None:
    """What an anonymous write must echo: the pre-session token when it is a form a
    browser could post from another site; None (nothing to echo) for JSON, which no other
    site can send without a CORS preflight this instance never grants. Either way a
    browser's ``Origin``, when present, must be this instance's."""
    settings = request.app.state.services.settings
    if not same_origin(
        request.headers.get("origin"), request.headers.get("host"), settings.base_url
    ):
        raise PermissionDenied("the form's CSRF token is missing or wrong; reload the page")
    if not request.headers.get("content-type", "").lower().startswith(FORM_TYPES):
        return None
    nonce = request.cookies.get(PRESESSION_COOKIE)
    if not nonce or len(nonce) > 64:
        return ""  # nothing sent can match
    return presession_token(_secret(request), nonce)


def same_origin(origin: str | None, host: str | None, base_url: str) -> bool:
    """Whether a request's ``Origin`` (when the browser sent one) is this instance: the
    configured ``base_url`` or the host the request was addressed to."""
    if not origin:
        return True  # no Origin: not a cross-site browser request we can judge by it
    if origin == "null":
        return False  # sandboxed frames, data: URLs, some redirects
    if origin.rstrip("/") == base_url.rstrip("/"):
        return True
    return bool(host) and origin.split("://", 1)[-1] == host


# --- where sign-in may send a person -------------------------------------------------------

NEXT_RE = re.compile(r"^/[A-Za-z0-9/_.~%?=&+-]*$")
# Not pages: a link that signs someone in and then opens a stored file or an API answer
# would show bytes chosen by whoever wrote the link.
NOT_PAGES = ("/api/", "/files/", "/swagger-ui/", "/static/", "/openapi.json", "/docs")


def safe_next(target: str) -> str | None:
    """``target`` if it is a page of this site to return to after signing in, else None.

    Only a plain local path: no scheme or host (``//evil``, ``/\\evil``), no encoded
    slash, backslash or dot that a browser could turn into one, no ``.``/``..`` segment,
    nothing under the API or the static files."""
    lowered = target.lower()
    if not NEXT_RE.match(target) or target.startswith("//"):
        return None
    if any(code in lowered for code in ("%2f", "%5c", "%2e", "%00")):
        return None
    path = target.split("?", 1)[0]
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    if path.startswith(NOT_PAGES) or path in ("/api", "/files", "/docs"):
        return None
    return target


# --- sign-in: who is trying, and how hard to throttle them -----------------------------------
#
# A browser that once signed in to an account carries a device cookie bound to that
# account's email. Its tries are throttled on their own, so an attacker failing on the
# account from elsewhere never slows its owner down (OWASP's "device cookies").

DEVICE_COOKIE = "dt_device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600


def _device_mac(secret: str, email: str, nonce: str) -> str:
    message = f"device:{email.strip().lower()}:{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def device_cookie(request: Request, email: str) -> str:
    """A new device cookie value for ``email``, to set after a successful sign-in."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_device_mac(_secret(request), email, nonce)}"


def sign_in_client(request: Request, email: str) -> tuple[str, bool]:
    """Who is trying to sign in as ``email``: ``("device:<id>", True)`` for a browser with
    this account's device cookie, else ``("ip:<address>", False)`` (the address behind a
    trusted proxy, see ``SecurityHeaders``)."""
    nonce, _, mac = request.cookies.get(DEVICE_COOKIE, "").partition(".")
    if (
        nonce
        and len(nonce) <= 32
        and hmac.compare_digest(_device_mac(_secret(request), email, nonce), mac)
    ):
        return f"device:{nonce}", True
    return client_address(request), False


def client_address(request: Request) -> str:
    """``ip:<address>`` of the client (behind a trusted proxy, the one it names)."""
    host = request.client.host if request.client else "unknown"
    return f"ip:{host}"[:80]


def sign_in_throttle(settings: Any) -> Throttle:
    return Throttle(
        free_failures=settings.sign_in_free_failures,
        client_free_failures=settings.sign_in_client_free_failures,
        max_delay_seconds=settings.sign_in_max_delay_seconds,
        sign_up_free=settings.sign_up_client_free_requests,
    )


def set_device_cookie(request: Request, response: Any, email: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie(request, email),
        max_age=DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
