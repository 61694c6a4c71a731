"""The API explorer at ``/docs``: Swagger UI from the installed ``swagger-ui-py`` wheel,
served by this instance, so the page loads nothing from a CDN (whose copy could change
under us) and runs under the same strict Content-Security-Policy as every page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

# Located without importing the package (its module pulls in web-framework glue we do
# not use); only its static folder is served.
SWAGGER_STATIC = (
    Path(
        next(iter(importlib.util.find_spec("swagger_ui").submodule_search_locations or []))  # type: ignore[union-attr]
    )
    / "static"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API</title>
<link rel="stylesheet" href="/swagger-ui/swagger-ui.css">
<script src="/swagger-ui/swagger-ui-bundle.js" defer></script>
<script src="/static/docs.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and Swagger UI's files (create the app with ``docs_url=None``)."""
    app.mount("/swagger-ui", StaticFiles(directory=SWAGGER_STATIC), name="swagger")

    async def docs(_request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=app.title, openapi_url=app.openapi_url))

    app.add_route("/docs", docs, include_in_schema=False)
