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

import contextlib
import gettext
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from datatrust.bootstrap import Services
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, DomainError, NotAuthenticated, NotFound
from datatrust.domain.licence_text import summarise
from datatrust.domain.money import Money
from datatrust.domain.payfloor import hourly_rate
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.domain.purposes import ACTIONS, INDUSTRIES, PURPOSES
from datatrust.i18n import render as render_message
from datatrust.i18n import translator
from datatrust.services import (
    accounts,
    campaigns,
    consent,
    ingest,
    items,
    licences,
    money,
    orders,
    passport,
    revocations,
    rights,
    snapshots,
)
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
# Item kinds in words (msgids).
KIND_LABELS = {
    "photo": "Photo",
    "video": "Video",
    "voice": "Voice recording",
    "ambient": "Sound of a place",
    "call": "Phone call",
    "chat": "Chat export",
}

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
        kind_label=lambda kind: page._(KIND_LABELS.get(kind, kind)),
        money=lambda minor, currency: Money(int(minor), currency).format(),
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
    item = items.get_item(unit, page.actor, item_id)
    removed = ingest.removed_from(unit, page.actor, item_id)
    return render(page, "item.html", item=item, removed=removed)


@router.get("/my/account")
def my_account(page: Page = page_requires(Permission.ACCOUNT_READ)) -> HTMLResponse:
    return render(page, "account.html", form={}, errors={})


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


def _codes(vocabulary: Any) -> list[str]:
    codes = vocabulary.codes() if callable(vocabulary.codes) else vocabulary.codes
    return sorted(codes)


USE_FIELDS = ("action", "purpose", "industry", "territory")
CATALOGUE_FILTERS = ("kind", "language", "licence", *USE_FIELDS)


def _use_choices() -> dict[str, list[str]]:
    return {"action": _codes(ACTIONS), "purpose": _codes(PURPOSES), "industry": _codes(INDUSTRIES)}


@router.get("/buyer/catalogue")
def buyer_catalogue(
    page: Page = page_requires(Permission.CATALOGUE_READ), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    """Listed items by facet: each facet value is a link that narrows the search."""
    params = page.request.query_params
    filters = {k: params[k] for k in ("kind", "language", *USE_FIELDS) if params.get(k)}
    try:
        found = orders.catalogue(unit, page.actor, filters)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return render(
            page,
            "catalogue.html",
            422,
            found=None,
            filters=filters,
            errors=field_errors(page, exc, "action"),
            choices=_use_choices(),
        )
    return render(
        page, "catalogue.html", found=found, filters=filters, errors={}, choices=_use_choices()
    )


def _orders_page(page: Page, unit: UnitOfWork, status: int = 200, **extra: Any) -> HTMLResponse:
    ends = (utcnow() + timedelta(days=365)).date().isoformat()
    return render(
        page,
        "orders.html",
        status,
        orders=orders.list_orders(unit, page.actor),
        choices=_use_choices(),
        form=extra.pop("form", None) or {"ends_at": ends, "territory": "GB"},
        errors=extra.pop("errors", {}),
    )


@router.get("/buyer/orders")
def buyer_orders(
    page: Page = page_requires(Permission.ORDER_READ), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    return _orders_page(page, unit)


@router.post("/buyer/orders")
def declare_use(
    page: Page = page_requires(Permission.ORDER_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    action: str = Form(""),
    purpose: str = Form(""),
    industry: str = Form(""),
    territory: str = Form(""),
    ends_at: str = Form(""),
) -> Response:
    form = {
        "action": action,
        "purpose": purpose,
        "industry": industry,
        "territory": territory.strip().upper(),
        "ends_at": ends_at,
    }
    data = {**form, "ends_at": f"{ends_at}T00:00:00+00:00" if len(ends_at) == 10 else ends_at}
    try:
        order = orders.declare_order(
            unit,
            page.actor,
            data,
            denied_industries=svc.settings.denied_industries,
            fee_percent=svc.settings.platform_fee_percent,
        )
    except DomainError as exc:
        if exc.status in (401, 404):
            raise
        return _orders_page(page, unit, 422, form=form, errors=field_errors(page, exc, "form"))
    return RedirectResponse(f"/buyer/orders/{order.id}", status_code=303)


@router.get("/buyer/orders/{order_id}")
def buyer_order(
    order_id: int,
    page: Page = page_requires(Permission.ORDER_READ),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    return render(page, "order.html", order=orders.get_order(unit, page.actor, order_id))


@router.post("/buyer/orders/{order_id}/purchase")
def buy(
    order_id: int,
    page: Page = page_requires(Permission.ORDER_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> Response:
    orders.purchase_order(unit, page.actor, order_id, fee_percent=svc.settings.platform_fee_percent)
    return RedirectResponse(f"/buyer/orders/{order_id}", status_code=303)


@router.post("/buyer/orders/{order_id}/snapshots")
def build(
    order_id: int,
    page: Page = page_requires(Permission.SNAPSHOT_BUILD),
    unit: UnitOfWork = Depends(uow),
) -> Response:
    snapshots.build_snapshot(unit, page.actor, order_id)
    return RedirectResponse("/buyer/snapshots", status_code=303)


@router.get("/buyer/snapshots")
def buyer_snapshots(
    page: Page = page_requires(Permission.SNAPSHOT_DOWNLOAD),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    """Each ready snapshot with signed download links (valid an hour)."""
    secret = svc.settings.secret_key.get_secret_value()
    shown = []
    for snap in snapshots.list_snapshots(unit, page.actor):
        links = (
            snapshots.download_links(unit, page.actor, secret, snap.id)["files"]
            if snap.state == "ready"
            else {}
        )
        shown.append({"snapshot": snap, "files": links})
    refresh = any(s["snapshot"].state != "ready" for s in shown)
    return render(page, "snapshots.html", snapshots=shown, refresh=refresh)


def _feed_page(page: Page, svc: Services, unit: UnitOfWork, status: int = 200, **extra: Any) -> Any:
    feed = revocations.revocation_feed(unit, svc.signer, page.actor, svc.settings.base_url)
    return render(
        page,
        "feed.html",
        status,
        notices=feed["claims"]["revoked"],
        now=utcnow().isoformat(),
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
    )


@router.get("/buyer/feed")
def buyer_feed(
    page: Page = page_requires(Permission.FEED_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    return _feed_page(page, svc, unit)


@router.post("/buyer/feed/attest")
def attest(
    page: Page = page_requires(Permission.DELETION_ATTEST),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    content_sha256: str = Form(""),
    statement: str = Form(""),
) -> Response:
    try:
        revocations.attest_deletion(unit, page.actor, [content_sha256], statement)
    except DomainError as exc:
        if exc.status in (401, 404):
            raise
        errors = {content_sha256: field_errors(page, exc, "statement")}
        return _feed_page(page, svc, unit, 422, errors=errors, form={content_sha256: statement})
    return RedirectResponse("/buyer/feed", status_code=303)


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


@router.get("/operator/campaigns")
def operator_campaigns(
    page: Page = page_requires(Permission.INSTANCE_MANAGE), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    shown = [task_view(page, c) for c in campaigns.list_campaigns(unit, page.actor)]
    return render(page, "operator_campaigns.html", tasks=shown)


def _review_page(
    page: Page, unit: UnitOfWork, campaign_id: int, status: int = 200, errors: Any = None
) -> HTMLResponse:
    queue = campaigns.review_queue(unit, page.actor, campaign_id)
    return render(
        page, "review.html", status, queue=queue, campaign_id=campaign_id, errors=errors or {}
    )


@router.get("/operator/review")
def review(
    page: Page = page_requires(Permission.REVIEW), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    """The items of one campaign (``?campaign=``) waiting for a decision."""
    asked = page.request.query_params.get("campaign", "")
    if not asked.isdigit():
        raise NotFound("choose a campaign to review")
    return _review_page(page, unit, int(asked))


@router.post("/operator/review")
def decide_item(
    page: Page = page_requires(Permission.REVIEW),
    unit: UnitOfWork = Depends(uow),
    campaign_id: str = Form(""),
    item_id: str = Form(""),
    decision: str = Form(""),
    note: str = Form(""),
) -> Response:
    if not (campaign_id.isdigit() and item_id.isdigit() and decision in ("accept", "reject")):
        raise _BadRequest()
    try:
        campaigns.submit_review(
            unit, page.actor, int(campaign_id), int(item_id), up=decision == "accept", note=note
        )
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = {int(item_id): field_errors(page, exc, "note")}
        return _review_page(page, unit, int(campaign_id), 422, errors)
    return RedirectResponse(f"/operator/review?campaign={campaign_id}", status_code=303)


@router.get("/operator/payouts")
def payouts_page(page: Page = page_requires(Permission.PAYOUT_RUN)) -> HTMLResponse:
    queued = page.request.query_params.get("queued", "")
    return render(page, "payouts.html", queued=queued if queued.isdigit() else None)


@router.post("/operator/payouts")
def run_payouts(
    page: Page = page_requires(Permission.PAYOUT_RUN), unit: UnitOfWork = Depends(uow)
) -> Response:
    waiting = money.schedule_payout_batch(unit, page.actor)
    return RedirectResponse(f"/operator/payouts?queued={waiting}", status_code=303)


@router.get("/operator/settings")
def instance_settings(
    page: Page = page_requires(Permission.INSTANCE_MANAGE), svc: Services = Depends(services)
) -> HTMLResponse:
    """Read-only: the instance's pay floor, platform fee and denied industries."""
    settings = svc.settings
    floor = Money(settings.pay_floor_minor_per_hour, settings.pay_floor_currency).format()
    return render(
        page,
        "settings.html",
        floor=floor,
        fee=settings.platform_fee_percent,
        denied=sorted(settings.denied_industries),
    )


@router.get("/operator/audit")
def audit_status(
    page: Page = page_requires(Permission.AUDIT_VERIFY), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    return render(page, "audit.html", report=verify_audit_log(unit, page.actor))


# --- contributor: tasks, capture, consent, passport, money, rights -------------------------

# Kinds captured with the microphone in the page (record.js); the others use a file input.
RECORDED_KINDS = {"voice", "ambient", "call"}
# What a file input asks the phone for, per kind: ``accept`` and, where a camera or
# microphone can take it directly, ``capture``.
FILE_INPUT = {
    "photo": ("image/*", "environment"),
    "video": ("video/*", "environment"),
    "voice": ("audio/*", "user"),
    "ambient": ("audio/*", "environment"),
    "call": ("audio/*", ""),
    "chat": (".txt,.zip,text/plain", ""),
}


def _effort_minutes(campaign: Any) -> int | None:
    """Minutes of effort per unit of pay: one per paid minute; for a per-item task the
    longest duration its spec asks for, rounded up. Campaigns do not state expected effort
    yet (see the report), so a per-item task without a duration has no hourly figure."""
    if campaign.pay_basis.value == "per_minute":
        return 1
    longest = campaign.spec.get("max_duration_s") or campaign.spec.get("min_duration_s")
    if not longest:
        return None
    return max(1, -(-int(longest) // 60))


def task_view(page: Page, campaign: Any) -> dict[str, Any]:
    rate = campaign.rate
    minutes = _effort_minutes(campaign)
    return {
        "campaign": campaign,
        "rate": rate.format(),
        "per": page._("per minute")
        if campaign.pay_basis.value == "per_minute"
        else page._("per item"),
        "hourly": hourly_rate(rate, minutes).format() if minutes else None,
    }


def task_template(campaign: Any) -> str:
    """The campaign's licence template. Campaigns default to ``"standard"``, which is not
    a template licences know (see the report); such a task offers the recommended one."""
    known = {t["name"] for t in licences.licence_templates()}
    return campaign.licence_template if campaign.licence_template in known else "training_only"


def task_licence(page: Page, campaign: Any) -> list[tuple[str, bool]]:
    """The campaign's licence template with its rate, in plain words, risks flagged."""
    name = task_template(campaign)
    title = next(t["title"] for t in licences.licence_templates() if t["name"] == name)
    terms = licences.build_licence(
        template=name,
        changes={
            "title": page._(title),
            "price_minor": campaign.rate_minor,
            "currency": campaign.currency,
            "valid_from": utcnow(),
            **EXAMPLE_CHANGES.get(task_template(campaign), {}),
        },
        licence_id=f"task-{campaign.id}",
    )
    return [(render_message(m, page.lang), m.risk) for m in summarise(terms)]


@router.get("/tasks")
def tasks(
    page: Page = page_requires(Permission.CAMPAIGN_READ), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    shown = [
        task_view(page, c)
        for c in campaigns.list_campaigns(unit, page.actor)
        if c.state.value == "open"
    ]
    return render(page, "tasks.html", tasks=shown)


@router.get("/tasks/{campaign_id}")
def task(
    campaign_id: int,
    page: Page = page_requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    campaign = campaigns.get_campaign(unit, page.actor, campaign_id)
    return render(
        page,
        "task.html",
        task=task_view(page, campaign),
        sentences=task_licence(page, campaign),
        errors={},
    )


@router.post("/tasks/{campaign_id}/accept")
def accept_task(
    campaign_id: int,
    page: Page = page_requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = Depends(uow),
) -> Response:
    """Accepting a task makes the contributor's offer from its licence template at its
    rate; consent for each item is given with that offer when the item is uploaded."""
    campaign = campaigns.get_campaign(unit, page.actor, campaign_id)
    if campaign.state.value != "open":
        raise NotFound("no such campaign")
    offer = licences.create_offer(
        unit,
        page.actor,
        template=task_template(campaign),
        changes={
            "title": f"{campaign.title}"[:200],
            "price_minor": campaign.rate_minor,
            "currency": campaign.currency,
            **EXAMPLE_CHANGES.get(task_template(campaign), {}),
        },
    )
    return RedirectResponse(f"/tasks/{campaign_id}/capture?offer={offer.id}", status_code=303)


def _capture(page: Page, campaign: Any, offer_id: str, status: int = 200, **extra: Any) -> Any:
    accept, capture = FILE_INPUT.get(campaign.kind.value, ("", ""))
    return render(
        page,
        "capture.html",
        status,
        task=task_view(page, campaign),
        offer_id=offer_id,
        accept=accept,
        capture=capture,
        record=campaign.kind.value in RECORDED_KINDS,
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/tasks/{campaign_id}/capture")
def capture_form(
    campaign_id: int,
    page: Page = page_requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    campaign = campaigns.get_campaign(unit, page.actor, campaign_id)
    offer = page.request.query_params.get("offer", "")
    return _capture(page, campaign, offer if offer.isdigit() else "")


@router.post("/tasks/{campaign_id}/upload")
def upload_to_task(
    campaign_id: int,
    page: Page = page_requires(Permission.ITEM_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    file: UploadFile | None = File(None),
    offer_id: str = Form(""),
    title: str = Form(""),
) -> Response:
    """The plain multipart fallback (no JavaScript): receive the file, then consent to it
    under the offer made when the task was accepted (two calls: the tus path does the
    same in two requests)."""
    campaign = campaigns.get_campaign(unit, page.actor, campaign_id)
    if file is None or not file.filename:
        errors = {"file": [page._("Choose a file to upload.")]}
        return _capture(page, campaign, offer_id, 422, form={"title": title}, errors=errors)
    try:
        item = items.receive_item(
            unit,
            svc.storage,
            page.actor,
            kind=campaign.kind.value,
            filename=file.filename,
            content_type=file.content_type or "application/octet-stream",
            chunks=iter(lambda: file.file.read(1 << 16), b""),
            title=title,
            campaign_id=campaign.id,
        )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        errors = field_errors(page, exc, "file")
        return _capture(page, campaign, offer_id, 422, form={"title": title}, errors=errors)
    if offer_id.isdigit():
        # A Conflict means its checks already rejected it: the item's page shows why.
        with contextlib.suppress(Conflict):
            consent.give_consent_for_item(
                unit, svc.signer, page.actor, item.id, offer_id=int(offer_id), language=page.lang
            )
    return RedirectResponse(f"/my/items/{item.id}", status_code=303)


@router.post("/my/items/{item_id}/consent")
def give_consent(
    item_id: int,
    page: Page = page_requires(Permission.CONSENT_GIVE),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    offer_id: str = Form(""),
) -> Response:
    # A Conflict (consent already given, or the item was rejected by its checks) is shown
    # by the item's page itself; 403/404 still answer as errors.
    with contextlib.suppress(Conflict):
        consent.give_consent_for_item(
            unit,
            svc.signer,
            page.actor,
            item_id,
            offer_id=int(offer_id) if offer_id.isdigit() else None,
            language=page.lang,
        )
    return RedirectResponse(f"/my/items/{item_id}", status_code=303)


@router.post("/my/items/{item_id}/withdraw")
def withdraw(
    item_id: int,
    page: Page = page_requires(Permission.CONSENT_WITHDRAW),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> Response:
    consent.withdraw_consent(unit, svc.signer, page.actor, item_id)
    return RedirectResponse(f"/my/items/{item_id}", status_code=303)


@router.get("/my/items/{item_id}/passport")
def passport_page(
    item_id: int,
    page: Page = page_requires(Permission.PASSPORT_READ),
    unit: UnitOfWork = Depends(uow),
) -> HTMLResponse:
    return render(page, "passport.html", passport=passport.item_passport(unit, page.actor, item_id))


@router.get("/my/licences")
def my_licences(
    page: Page = page_requires(Permission.CONSENT_READ), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    return render(
        page,
        "my_licences.html",
        offers=licences.list_my_offers(unit, page.actor),
        consents=consent.list_my_consents(unit, page.actor),
    )


def _earnings(page: Page, unit: UnitOfWork, status: int = 200, **extra: Any) -> HTMLResponse:
    return render(
        page,
        "earnings.html",
        status,
        statement=money.contributor_statement(unit, page.actor),
        key=uuid.uuid4().hex,
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/my/earnings")
def my_earnings(
    page: Page = page_requires(Permission.STATEMENT_READ), unit: UnitOfWork = Depends(uow)
) -> HTMLResponse:
    return _earnings(page, unit, requested=page.request.query_params.get("requested") == "1")


@router.post("/my/earnings/payout")
def payout(
    page: Page = page_requires(Permission.PAYOUT_REQUEST),
    unit: UnitOfWork = Depends(uow),
    amount: str = Form(""),
    currency: str = Form(""),
    idempotency_key: str = Form(""),
) -> Response:
    form = {"amount": amount, "currency": currency}
    try:
        value = Money.parse(amount.strip(), currency.strip().upper() or "USD")
        money.request_payout(unit, page.actor, value, idempotency_key or uuid.uuid4().hex)
    except DomainError as exc:
        return _earnings(page, unit, 422, form=form, errors=field_errors(page, exc, "amount"))
    except ValueError:
        errors = {"amount": [page._("Write an amount such as 12.50.")]}
        return _earnings(page, unit, 422, form=form, errors=errors)
    return RedirectResponse("/my/earnings?requested=1", status_code=303)


@router.get("/my/account/export")
def export_data(
    page: Page = page_requires(Permission.PERSONAL_DATA_EXPORT),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> Response:
    data = rights.export_my_data(unit, svc.storage, page.actor, signer=svc.signer)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="my-datatrust-data.zip"'},
    )


@router.post("/my/account/erase")
def erase_account(
    page: Page = page_requires(Permission.PERSONAL_DATA_ERASE),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
    confirm: str = Form(""),
) -> Response:
    if confirm.strip().lower() != rights.ERASE_CONFIRMATION:
        errors = {"confirm": [page._("Type the words exactly as shown to delete your account.")]}
        return render(page, "account.html", 422, form={"confirm": confirm}, errors=errors)
    rights.erase_me(
        unit, svc.storage, page.actor, signer=svc.signer, confirm=rights.ERASE_CONFIRMATION
    )
    response = RedirectResponse("/?erased=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def quoted(path: str) -> str:
    return quote(path, safe="/")


env.filters["quoted"] = quoted
# A catalogue link that adds one facet value to the current filters.
env.globals["narrow"] = lambda filters, key, value: urlencode({**filters, key: value})
