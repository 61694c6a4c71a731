"""gzip for pages and assets, never for stored bytes or uploads.

Starlette's ``GZipMiddleware`` compresses a response when the client accepts gzip, the body
reaches ``MINIMUM_SIZE`` and its type is not already compressed (images, audio, video, zip);
it leaves partial (206) answers alone. It is applied only outside ``API_PREFIXES``: under
``/api/`` item originals, previews and snapshot files stream their stored bytes (a
download keeps its exact bytes and what a resumed download counts), and under ``/files/``
tus counts upload offsets in bytes. Level 6: level 9 costs about twice the CPU for a few
percent on pages of a few kilobytes.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from datatrust.web.security import API_PREFIXES

MINIMUM_SIZE = 1000  # below about one packet, compressing saves nothing worth the CPU
COMPRESS_LEVEL = 6


class CompressPages:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE, compresslevel=COMPRESS_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(API_PREFIXES):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
