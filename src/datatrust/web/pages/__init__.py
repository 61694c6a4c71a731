"""Server-rendered pages for contributors, buyers and operators (issue 7).

Every page works without JavaScript: reading is plain HTML, writing is a POST form that
carries the session's CSRF token in a hidden ``csrf_token`` field. A form with problems is
rendered again with status 422, each problem next to its field in the page's language,
keeping what the person typed (never the password).

Routes stay thin (DESIGN.md §6): parse the form, call one service with the page's explicit
``Actor``, render. Permissions are declared with ``page_requires`` (a ``Requires``, so the
authorisation matrix reads it like any API route) and checked by the services.

Languages: ``?lang=xx`` chooses and remembers (cookie ``dt_lang``); otherwise the cookie,
then the browser's Accept-Language, then English. Signing in sets the cookie from the
account's language unless the person already chose one.

One module per persona: ``auth`` (everyone: sign up, sign in, account), ``contributor``,
``buyer``, ``operator``; ``tracing`` (misuse tracing, for all three); ``common`` holds
what they share.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from datatrust.web.pages import auth, buyer, contributor, manage, operator, places, tracing
from datatrust.web.pages.common import LANG_COOKIE, LANGUAGES, WEB, missing_page

__all__ = ["LANGUAGES", "LANG_COOKIE", "STATIC", "install"]

STATIC = WEB / "static"


def install(app: FastAPI) -> None:
    """Mount the pages and their stylesheet and scripts on ``app``."""
    for module in (auth, contributor, buyer, operator, manage, tracing, places):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def favicon(_request: Request) -> RedirectResponse:
        # Browsers ask for /favicon.ico whatever a page links (feed readers, bookmarks):
        # sent on to the one icon, not a 404 in every log.
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.add_route("/favicon.ico", favicon, include_in_schema=False)
    # Before the API's handler for every refusal: a status handler is asked first.
    app.add_exception_handler(404, missing_page)
