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
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from datatrust.bootstrap import Services
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import DomainError, NotAuthenticated
from datatrust.domain.licence_text import summarise
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.i18n import render as render_message
from datatrust.i18n import translator
from datatrust.services import accounts, items, licences
from datatrust.services.audit import verify_audit_log
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import SESSION_COOKIE, Caller, Requires, caller, services, uow

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "dt_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
# Each language is named in itself, so a person who cannot read the page can find theirs.
LANGUAGES = {"en": "English", "hi": "हिन्दी", "zu": "isiZulu"}
DEFAULT_LANGUAGE = "en"
# Where each role lands after signing in.
HOME_FOR = {
    Role.CONTRIBUTOR: "/my/items",
    Role.BUYER: "/buyer/organisation",
    Role.OPERATOR: "/operator/vetting",
}
# Example terms shown with each template: the price is set by a task, never by a template.
EXAMPLE_CHANGES: dict[str, dict[str, Any]] = {
    "voice_library": {
        "replica_use_description": "Narration of audiobooks for a named publisher, in my own "
        "voice, with no other use",
    },
}
EXAMPLE_PRICE_MINOR = 100

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


# --- language --------------------------------------------------------------------------


def _accept_language(header: str) -> str | None:
    """The first supported language in an Accept-Language header, by quality."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _q, _p, lang in sorted(ranked):
        if lang in LANGUAGES:
            return lang
    return None


def choose_language(request: Request) -> str:
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    return _accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


# --- the page a route renders ----------------------------------------------------------


@dataclass
class Page:
    """Who is asking, in which language, with which CSRF token: what every template needs."""

    request: Request
    actor: Actor
    lang: str
    csrf_token: str | None = None
    email: str | None = None
    tr: gettext.NullTranslations = field(init=False)

    def __post_init__(self) -> None:
        self.tr = translator(self.lang)

    def _(self, msgid: str) -> str:
        return self.tr.gettext(msgid)


class PageRequires(Requires):
    """``Requires`` for pages: the same check, returning a ``Page`` instead of an Actor."""

    async def __call__(self, request: Request, who: Caller = Depends(caller)) -> Page:  # type: ignore[override]
        actor = await super().__call__(request, who)
        return Page(request, actor, choose_language(request), who.csrf_token, who.user_email)


def page_requires(permission: Permission) -> Page:
    return Depends(PageRequires(permission))


def _switch_url(request: Request, lang: str) -> str:
    params = dict(request.query_params) | {"lang": lang}
    return f"{request.url.path}?{urlencode(params)}"


def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    request = page.request
    html = env.get_template(template).render(
        _=page._,
        page=page,
        lang=page.lang,
        languages=[(code, name, _switch_url(request, code)) for code, name in LANGUAGES.items()],
        role=page.actor.role.value,
        signed_in=page.actor.is_authenticated,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    remember_language(request, response, page.lang)
    return response


def remember_language(request: Request, response: Response, lang: str) -> None:
    if request.query_params.get("lang") == lang and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )


def field_errors(page: Page, exc: DomainError, default: str = "form") -> dict[str, list[str]]:
    """Problems such as ``"email: not a valid email address"`` keyed by field, translated.

    Services name the field before a colon; the text after it is the msgid. A problem
    without a known field, or the error's own message, goes to ``default``.
    """
    out: dict[str, list[str]] = {}
    problems = getattr(exc, "problems", None) or (exc.details or {}).get("problems") or []
    for problem in problems:
        name, sep, text = str(problem).partition(": ")
        key, msg = (name, text) if sep and " " not in name else (default, str(problem))
        out.setdefault(key, []).append(page._(msg))
    if not out:
        out[default] = [page._(exc.message)]
    return out


def error_page(request: Request, exc: DomainError) -> HTMLResponse:
    page = Page(request, Actor(Role.ANONYMOUS), choose_language(request))
    if isinstance(exc, NotAuthenticated):
        response = render(
            page,
            "sign_in.html",
            status=401,
            form={},
            errors={"form": [page._("Sign in to see this page.")]},
            next=request.url.path,
        )
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE)
        return response
    titles = {
        403: page._("You may not see this page."),
        404: page._("Nothing here, or nothing you may see."),
    }
    title = titles.get(exc.status, page._("Something went wrong."))
    return render(page, "error.html", status=exc.status, title=title, message=page._(exc.message))


class PageRoute(APIRoute):
    """Pages answer in HTML, errors included; the API keeps its JSON error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError:
                return error_page(request, _BadRequest())

        return page_handler


class _BadRequest(DomainError):
    status = 400
    code = "bad_request"

    def __init__(self) -> None:
        super().__init__("the request is not valid")


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def install(app: FastAPI) -> None:
    """Mount the pages and their stylesheet on ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _signed_in_redirect(svc: Services, request: Request, user: Any, session: Any) -> Response:
    target = request.query_params.get("next", "")
    # Only same-site paths: an open redirect would let a link send people anywhere.
    if not target.startswith("/") or target.startswith("//"):
        target = HOME_FOR.get(user.role, "/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=svc.settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=svc.settings.base_url.startswith("https"),
    )
    if request.cookies.get(LANG_COOKIE) not in LANGUAGES and user.language in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, user.language, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )
    return response


# --- public pages ------------------------------------------------------------------------


@router.get("/")
def home(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    return render(page, "home.html", home_for=HOME_FOR.get(page.actor.role))


@router.get("/sign-up")
def sign_up_form(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    return render(page, "sign_up.html", form={"role": "contributor", "language": page.lang})


@router.post("/sign-up")
def sign_up(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    email: str = Form(""),
    password: str = Form(""),
    display_name: str = Form(""),
    role: str = Form("contributor"),
    language: str = Form(""),
    country: str = Form(""),
) -> Response:
    form = {
        "email": email,
        "display_name": display_name,
        "role": role,
        "language": language,
        "country": country,
    }
    try:
        user = accounts.sign_up(
            unit,
            svc.hasher,
            email=email,
            password=password,
            role=Role(role) if role in ("contributor", "buyer") else Role.ANONYMOUS,
            display_name=display_name,
            language=language if language in LANGUAGES else page.lang,
            country=country.strip().upper() or None,
        )
    except DomainError as exc:
        return render(page, "sign_up.html", 422, form=form, errors=field_errors(page, exc, "email"))
    session = accounts.start_session(
        unit, user, max_age_seconds=svc.settings.session_max_age_seconds
    )
    return _signed_in_redirect(svc, page.request, user, session)


@router.get("/sign-in")
def sign_in_form(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    return render(page, "sign_in.html", form={}, next=page.request.query_params.get("next", ""))


@router.post("/sign-in")
def sign_in(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    email: str = Form(""),
    password: str = Form(""),
) -> Response:
    try:
        user = accounts.sign_in(
            unit,
            svc.hasher,
            email=email,
            password=password,
            attempts_per_minute=svc.settings.sign_in_attempts_per_minute,
        )
    except DomainError as exc:
        return render(
            page,
            "sign_in.html",
            exc.status if exc.status in (401, 429) else 422,
            form={"email": email},
            errors=field_errors(page, exc),
            next=page.request.query_params.get("next", ""),
        )
    session = accounts.start_session(
        unit, user, max_age_seconds=svc.settings.session_max_age_seconds
    )
    return _signed_in_redirect(svc, page.request, user, session)


@router.post("/sign-out")
def sign_out(
    page: Page = page_requires(Permission.ACCOUNT_READ), unit: UnitOfWork = Depends(uow)
) -> Response:
    secret = page.request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_session(unit, secret)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/licences")
def licence_templates(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    """Every template in plain words in the page's language, risks flagged, with example
    terms (the price comes from a task, so the example says so)."""
    shown = []
    for entry in licences.licence_templates():
        name = entry["name"]
        terms = licences.build_licence(
            template=name,
            changes={
                "title": page._(entry["title"]),
                "price_minor": EXAMPLE_PRICE_MINOR,
                "valid_from": utcnow(),
                **EXAMPLE_CHANGES.get(name, {}),
            },
            licence_id=f"example-{name}",
        )
        sentences = [(render_message(m, page.lang), m.risk) for m in summarise(terms)]
        shown.append({"name": name, "title": page._(entry["title"]), "sentences": sentences})
    return render(page, "licences.html", templates=shown)


# --- contributor --------------------------------------------------------------------------


@router.get("/my/items")
def my_items(
    page: Page = page_requires(Permission.ITEM_READ), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    return render(page, "my_items.html", items=items.list_my_items(unit, page.actor))


@router.get("/my/items/{item_id}")
def my_item(
    item_id: int,
    page: Page = page_requires(Permission.ITEM_READ),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    return render(page, "item.html", item=items.get_item(unit, page.actor, item_id))


@router.get("/my/account")
def my_account(page: Page = page_requires(Permission.ACCOUNT_READ)) -> HTMLResponse:
    return render(page, "account.html")


# --- buyer ----------------------------------------------------------------------------------


@router.get("/buyer/organisation")
def organisation(
    page: Page = page_requires(Permission.ORG_CREATE), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    orgs = accounts.list_organisations(unit, page.actor)
    return render(page, "organisation.html", orgs=orgs, form={}, errors={})


@router.post("/buyer/organisation")
def register_organisation(
    page: Page = page_requires(Permission.ORG_CREATE),
    unit: UnitOfWork = Depends(uow),
    legal_name: str = Form(""),
    country: str = Form(""),
    website: str = Form(""),
    contact_email: str = Form(""),
    intended_use: str = Form(""),
) -> Response:
    form = {
        "legal_name": legal_name,
        "country": country,
        "website": website,
        "contact_email": contact_email,
        "intended_use": intended_use,
    }
    try:
        accounts.register_organisation(
            unit,
            page.actor,
            legal_name=legal_name,
            country=country.strip().upper(),
            website=website,
            contact_email=contact_email.strip(),
            intended_uses={"description": intended_use.strip()} if intended_use.strip() else {},
        )
    except DomainError as exc:
        return render(
            page,
            "organisation.html",
            422,
            orgs=[],
            form=form,
            errors=field_errors(page, exc, "legal_name"),
        )
    return RedirectResponse("/buyer/organisation", status_code=303)


# --- operator -------------------------------------------------------------------------------


@router.get("/operator/vetting")
def vetting_queue(
    page: Page = page_requires(Permission.ORG_VET), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    orgs = accounts.list_organisations(unit, page.actor)
    return render(page, "vetting.html", orgs=orgs, errors={}, form={})


@router.post("/operator/vetting/{org_id}")
def decide(
    org_id: int,
    page: Page = page_requires(Permission.ORG_VET),
    unit: UnitOfWork = Depends(uow),
    decision: str = Form(""),
    reason: str = Form(""),
) -> Response:
    try:
        accounts.decide_organisation(unit, page.actor, org_id, decision, reason)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        orgs = accounts.list_organisations(unit, page.actor)
        return render(
            page,
            "vetting.html",
            422,
            orgs=orgs,
            errors={org_id: field_errors(page, exc, "reason")},
            form={org_id: {"reason": reason, "decision": decision}},
        )
    return RedirectResponse(f"/operator/vetting#org-{org_id}", status_code=303)


@router.get("/operator/audit")
def audit_status(
    page: Page = page_requires(Permission.AUDIT_VERIFY), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    return render(page, "audit.html", report=verify_audit_log(unit, page.actor))


def quoted(path: str) -> str:
    return quote(path, safe="/")


env.filters["quoted"] = quoted
