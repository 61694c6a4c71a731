"""Every request's id and log line, as a plain ASGI middleware.

Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
runs the rest of the app in a task of its own and cancels it when the client goes away,
and it costs a task, a memory stream and a copy of every body chunk per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datatrust.logs import request_id
from datatrust.web.errors import failure_response

log = logging.getLogger("datatrust.http")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContext:
    """Gives each request an id (the caller's ``X-Request-Id`` when well-formed), returns it
    in the response, logs one line per request with its status, duration and actor, and
    turns an exception no handler took into the service's error answer (a 503 with
    ``Retry-After`` when the database cannot serve, else a logged 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message["headers"] = [
                    *(message.get("headers") or []),
                    (b"x-request-id", rid.encode("latin-1")),
                ]
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:  # logged here, inside the request's id context
                if status:
                    raise  # the answer has begun; the server closes the connection
                await failure_response(Request(scope), exc)(scope, receive, send_with_id)
            self._log(scope, status[0] if status else 0, started)
        finally:
            request_id.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        actor = scope.get("state", {}).get("actor")
        method, path = scope["method"], scope["path"]
        log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "actor": f"{actor.role.value}:{actor.user_id}" if actor else "anonymous",
            },
        )
