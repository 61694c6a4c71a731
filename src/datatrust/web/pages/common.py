"""The machinery every page shares: language choice, the ``Page`` a route renders, errors
in HTML next to their fields, and views more than one persona shows."""

from __future__ import annotations

import gettext
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from babel.numbers import get_currency_name
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from datatrust.domain.currencies import MINOR_UNITS
from datatrust.domain.errors import DomainError, NotAuthenticated, NotFound, Problem
from datatrust.domain.money import CurrencyMismatch, Money
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.i18n import KIND_WORDS, format_money, render_problem, translator
from datatrust.services import campaigns
from datatrust.services.listing import paged
from datatrust.services.ports import UnitOfWork
from datatrust.services.storage import EncryptedStorage
from datatrust.web.deps import (
    SESSION_COOKIE,
    Caller,
    Requires,
    UnitOfWorkRoute,
    caller,
    check_csrf,
)
from datatrust.web.errors import http_error_response
from datatrust.web.forms import read_form
from datatrust.web.pages.explain import Explain
from datatrust.web.security import PRESESSION_COOKIE, page_csrf

# Templates and static files live beside the package, in web/.
WEB = Path(__file__).resolve().parent.parent
LANG_COOKIE = "dt_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
# A form left open this long still posts; after it, reloading the page gives a new token.
PRESESSION_COOKIE_MAX_AGE = 7 * 24 * 3600
# Each language is named in itself, so a person who cannot read the page can find theirs.
LANGUAGES = {"en": "English", "hi": "हिन्दी", "zu": "isiZulu"}
DEFAULT_LANGUAGE = "en"
# Where each role lands after signing in.
HOME_FOR = {
    Role.CONTRIBUTOR: "/my/items",
    Role.BUYER: "/buyer/organisation",
    Role.OPERATOR: "/operator/vetting",
}
# Item kinds in words (msgids).
KIND_LABELS = KIND_WORDS

env = Environment(
    loader=FileSystemLoader(WEB / "templates"),
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
    # A visitor without a session gets a pre-session token (sign-in and sign-up are forms
    # too); ``csrf_cookie`` is its new nonce, set by ``render`` when they had none.
    csrf_cookie: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tr = translator(self.lang)
        if self.csrf_token is None and self.request is not None and not self.actor.is_authenticated:
            self.csrf_token, self.csrf_cookie = page_csrf(self.request)

    def _(self, msgid: str) -> str:
        return self.tr.gettext(msgid)


class PageRequires(Requires):
    """``Requires`` for pages: the same check, returning a ``Page`` instead of an Actor."""

    async def __call__(self, request: Request, who: Caller = Depends(caller)) -> Page:  # type: ignore[override]
        request.state.page_caller = who  # an error page shows the person's own header
        actor = await super().__call__(request, who)
        return Page(request, actor, choose_language(request), who.csrf_token, who.user_email)


def page_requires(permission: Permission) -> Page:
    return Depends(PageRequires(permission))


@dataclass
class FormPage(Page):
    """The ``Page`` of a route that parses its own form, so that it can refuse a body by
    its declared length before reading any of it. The CSRF token is one of the form's
    fields, so ``form()`` checks it: the route has no other way to the fields, and what
    it answers before then is a refusal that changes nothing."""

    who: Caller = field(kw_only=True)

    async def form(
        self,
        *,
        max_file_bytes: int | None = None,
        **limits: Any,
    ) -> FormData:
        """The form, parsed within Starlette's ``limits`` (``max_files``, ``max_fields``,
        ``max_part_size``; over one is a 400), once its CSRF token is right. With
        ``max_file_bytes``, a file raises ``forms.FileTooLarge`` as soon as it streams
        past it, before the token is checked (a refusal changes nothing). Closing its
        files is the caller's; they are closed here when the token is refused."""
        try:
            if max_file_bytes is not None:
                form = await read_form(self.request, max_file_bytes=max_file_bytes, **limits)
            else:
                form = await self.request.form(**limits)
        except HTTPException as exc:
            if exc.status_code == 413:  # past the route's body limit: says so itself
                raise
            raise BadRequest() from exc
        try:
            await check_csrf(self.request, self.who)
        except BaseException:
            await form.close()
            raise
        return form


class FormPageRequires(PageRequires):
    """``PageRequires`` for a route that parses its own form: the caller is authenticated
    and authorised here, and the CSRF token checked by ``FormPage.form()``."""

    async def __call__(self, request: Request, who: Caller = Depends(caller)) -> FormPage:  # type: ignore[override]
        request.state.page_caller = who
        actor = self.admit(request, who)
        lang = choose_language(request)
        return FormPage(request, actor, lang, who.csrf_token, who.user_email, who=who)


def form_page_requires(permission: Permission) -> FormPage:
    return Depends(FormPageRequires(permission))


def _switch_url(request: Request, lang: str) -> str:
    params = dict(request.query_params) | {"lang": lang}
    return f"{request.url.path}?{urlencode(params)}"


def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    request = page.request

    def kind_label(kind: str) -> str:
        return page._(KIND_LABELS.get(kind, kind))

    def html_of(context: dict[str, Any]) -> str:
        return env.get_template(template).render(**shared, **context)

    shared: dict[str, Any] = dict(
        _=page._,
        page=page,
        lang=page.lang,
        languages=[(code, name, _switch_url(request, code)) for code, name in LANGUAGES.items()],
        role=page.actor.role.value,
        # A buyer's standing (buying, complying, waiting): its menu offers what answers.
        standing=getattr(getattr(request.state, "page_caller", None), "standing", None),
        signed_in=page.actor.is_authenticated,
        path=request.url.path,
        kind_label=kind_label,
        explain=Explain(page.tr, page.lang, kind_label),
        money=lambda amount, currency=None: show_money(page, amount, currency),
    )
    html = html_of(context)
    errors = context.get("errors")
    if isinstance(errors, FieldErrors) and errors.unread():
        # A problem about a field this form does not show is shown at its top instead.
        html = html_of(context | {"errors": errors.folded(errors.unread())})
    response = HTMLResponse(html, status_code=status)
    remember_language(request, response, page.lang)
    if page.csrf_cookie:
        response.set_cookie(
            PRESESSION_COOKIE,
            page.csrf_cookie,
            max_age=PRESESSION_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def remember_language(request: Request, response: Response, lang: str) -> None:
    if request.query_params.get("lang") == lang and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )


class FieldErrors(dict[str, list[str]]):
    """Messages keyed by field that remember which fields the template looked up, so
    ``render`` can move the others (a field the form does not show) to ``"form"``."""

    def __init__(self, *args: Any, default: str = "form") -> None:
        super().__init__(*args)
        self.default = default
        self.read: set[str] = set()

    def get(self, key: str, fallback: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, fallback)

    def __getitem__(self, key: str) -> list[str]:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def items(self) -> Any:  # the template shows them all
        self.read.update(self.keys())
        return super().items()

    def unread(self) -> list[str]:
        return [key for key in self.keys() if key not in self.read]

    def folded(self, keys: list[str]) -> FieldErrors:
        out = FieldErrors({k: v for k, v in super().items() if k not in keys}, default=self.default)
        for key in keys:
            out.setdefault(self.default, []).extend(super().__getitem__(key))
        return out


def field_errors(page: Page, exc: DomainError, default: str = "form") -> FieldErrors:
    """The error's problems in the page's language, keyed by the field each names; a
    problem about no field goes to ``default``, and one about a field the rendered form
    does not show moves there too (``render``). Nothing is parsed: each problem carries
    its field, code and parameters."""
    out = FieldErrors(default=default)
    for problem in exc.problems:
        dict.setdefault(out, problem.field or default, []).append(show_problem(page, problem))
    return out


def show_problem(page: Page, problem: Problem) -> str:
    """One problem in the page's language (``i18n.render_problem``)."""
    return render_problem(problem, page.lang)


def error_page(request: Request, exc: DomainError) -> HTMLResponse:
    """The error in words, under the header of whoever asked: a signed-in person keeps
    their own menu (the caller the page's permission check saw); anyone else, or anyone
    whose credential was refused, reads it signed out."""
    who = getattr(request.state, "page_caller", None)
    if (
        isinstance(who, Caller)
        and who.actor.is_authenticated
        and not isinstance(exc, NotAuthenticated)
    ):
        page = Page(request, who.actor, choose_language(request), who.csrf_token, who.user_email)
    else:
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
    message = "; ".join(show_problem(page, p) for p in exc.problems)
    return render(page, "error.html", status=exc.status, title=title, message=message)


async def missing_page(request: Request, exc: Exception) -> Response:
    """An address no route answers: a person's browser (a GET that accepts HTML, outside
    ``/api/`` and ``/files/``) reads the error page in words under their own header; any
    other client gets the API's problem, as before."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if (
        request.method in ("GET", "HEAD")
        and exc.detail == "Not Found"
        and "text/html" in request.headers.get("accept", "")
        and not path.startswith(("/api/", "/files/"))
    ):
        with suppress(DomainError):  # a refused credential reads it signed out
            request.state.page_caller = await caller(request, request.app.state.services)
        return error_page(request, NotFound(Problem(None, "request.no_such_route")))
    return http_error_response(request, exc)


class PageRoute(UnitOfWorkRoute):
    """Pages answer in HTML, errors included; the API keeps its JSON error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError:
                return error_page(request, BadRequest())

        return page_handler


class BadRequest(DomainError):
    status = 400
    code = "bad_request"

    def __init__(self) -> None:
        super().__init__(Problem(None, "request.invalid_any"))


def page_router() -> APIRouter:
    """A router whose routes answer in HTML, errors included."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)


# --- views shared by personas ------------------------------------------------------------


def show_money(page: Page, amount: Any, currency: str | None = None) -> str:
    """An amount as the page's reader writes it (``i18n.format_money``): a ``Money``, the
    API's ``{"amount_minor", "currency"}`` shape, or minor units with ``currency``. The
    one way pages show money."""
    if isinstance(amount, dict):
        amount = Money(int(amount["amount_minor"]), amount["currency"])
    elif not isinstance(amount, Money):
        amount = Money(int(amount), str(currency))
    return format_money(amount, page.lang)


def task_view(
    page: Page,
    campaign: Any,
    unit: UnitOfWork | None = None,
    floors: campaigns.PayFloors | None = None,
) -> dict[str, Any]:
    """A task's pay in the reader's words. Its hourly rate (with ``unit`` and ``floors``)
    is the pay-floor check's (``campaigns.pay_floor_check``, at the effort the campaign
    states), so a page never shows a figure other than the one opening the campaign was
    judged by; None without them or when the campaign states no effort."""
    check = None
    if unit is not None and floors is not None:
        try:
            check = campaigns.pay_floor_check(unit, campaign, floors)
        except CurrencyMismatch:  # a draft priced in another currency than the floor
            check = None
    return {
        "campaign": campaign,
        "rate": show_money(page, campaign.rate),
        "per": page._("per minute")
        if campaign.pay_basis.value == "per_minute"
        else page._("per item"),
        "hourly": show_money(page, check.hourly_rate) if check else None,
    }


def currency_choices(page: Page) -> list[tuple[str, str]]:
    """Every ISO 4217 currency as ``(code, its name in the reader's language)``, by name."""
    names = ((code, get_currency_name(code, locale=page.lang)) for code in MINOR_UNITS)
    return sorted(names, key=lambda pair: pair[1].casefold())


def quoted(path: str) -> str:
    return quote(path, safe="/")


env.filters["quoted"] = quoted
# A catalogue link that adds one facet value to the current filters.
env.globals["narrow"] = lambda filters, key, value: urlencode({**filters, key: value})


def review_vote(
    page: Page,
    unit: UnitOfWork,
    form: tuple[str, str, str, str],
    choices: tuple[str, str],
    storage: EncryptedStorage,
) -> dict[int, dict[str, Any]] | None:
    """Record one review from a form ``(campaign_id, item_id, decision, note)``, where the
    decision is ``choices[0]`` (up, accept) or ``choices[1]``. None when it is recorded;
    otherwise ``{item_id: {"fields": errors, "note": what was typed}}`` for review.html,
    which shows them next to that item's note (or above the list when the item has left
    it). A malformed form is a 400; 401/403/404 pass through to the error page."""
    campaign_id, item_id, decision, note = form
    if not (campaign_id.isdigit() and item_id.isdigit() and decision in choices):
        raise BadRequest()
    try:
        campaigns.submit_review(
            unit,
            page.actor,
            int(campaign_id),
            int(item_id),
            up=decision == choices[0],
            note=note,
            storage=storage,
        )
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return {int(item_id): {"fields": field_errors(page, exc, "note"), "note": note}}
    return None


def list_filters(page: Page, *names: str) -> dict[str, str]:
    """The search words and filters a long list was asked for (``q`` and ``names``),
    each cut to 100 characters; pagers and filter forms keep them in their links."""
    asked = page.request.query_params
    return {name: asked.get(name, "").strip()[:100] for name in ("q", *names)}


def page_number(page: Page) -> int:
    """The page of a long list asked for (``?n=``, from 1)."""
    n = page.request.query_params.get("n", "1")
    return int(n) if n.isdigit() and len(n) < 7 else 1


def review_queue_page(
    page: Page,
    status: int,
    queue: list[Any],
    path: str,
    filters: dict[str, str],
    errors: Any,
    *,
    peer: bool,
) -> HTMLResponse:
    """One page of a review queue (``(campaign, entry)`` pairs) for either reviewer, the
    pager's links at ``path`` keeping ``filters``."""
    found = paged(queue, page_number(page))
    return render(
        page,
        "review.html",
        status,
        queue=found.rows,
        found=found,
        pager_path=path,
        pager_filters=filters,
        peer=peer,
        errors=errors or {},
    )
