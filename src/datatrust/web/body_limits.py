"""Request body limits in the one error shape.

The limits themselves are FastAPI's (Starlette's ``RequestBodyLimitMiddleware``): the
app's ``max_body_size`` applies to every route whatever its path, and a route that takes
larger bodies (an upload) says so with its own ``max_body_size=``, decided by the route
that matched, not by a path prefix. A body is refused by its declared ``Content-Length``
before any of it is read, and a chunked one as soon as the bytes received pass the limit;
nothing past the limit is ever read.

The limiter answers some refusals itself, in plain text: when a response was already
starting for a body declared too long (a route that answered without reading it), and
when its error reached it unhandled. ``App`` reshapes those into the API's error shape."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datatrust.web.errors import error_response, too_large_problem


class App(FastAPI):
    """FastAPI with the body limiter's own plain-text 413s in the API's error shape."""

    def build_middleware_stack(self) -> ASGIApp:
        return ShapedLimitErrors(super().build_middleware_stack())


class ShapedLimitErrors:
    """Outermost: a plain-text 413 (only the body limiter sends one) becomes the error
    shape, naming the limit of the route that refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def shaped(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and _plain_413(message):
                replaced = True
                limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
                problem = too_large_problem(limit)
                response = error_response(
                    413, "too_large", problem.text, {"limit_bytes": limit}, [problem]
                )
                await response(scope, receive, send)
            elif not replaced:  # the plain-text body of a replaced response is dropped
                await send(message)

        await self.app(scope, receive, shaped)


def _plain_413(message: Message) -> bool:
    headers = dict(message.get("headers") or [])
    return message["status"] == 413 and headers.get(b"content-type", b"").startswith(b"text/plain")
