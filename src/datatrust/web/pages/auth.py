"""Pages for everyone: home, sign up, sign in and out, the licence templates, and the
account (export, erase)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from datatrust.bootstrap import Services
from datatrust.domain.accounts import User
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import DomainError, InvalidInput, RateLimited, SecondFactorRequired
from datatrust.domain.notifications import NoticeKind
from datatrust.domain.permissions import Permission, Role
from datatrust.services import accounts, licensing, market
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import SESSION_COOKIE, RowId, services, unit_of_work
from datatrust.web.errors import set_retry_after
from datatrust.web.pages.common import (
    HOME_FOR,
    LANG_COOKIE,
    LANG_COOKIE_MAX_AGE,
    LANGUAGES,
    Page,
    currency_choices,
    field_errors,
    page_requires,
    page_router,
    render,
)
from datatrust.web.security import (
    client_address,
    safe_next,
    set_device_cookie,
    sign_in_client,
    sign_in_throttle,
)

router = page_router()
# Signing out and erasing an account clear what this site keeps in the browser (the
# recordings kept until uploaded, static/recordings.js, and tus upload addresses): nothing
# of one person's stays for the next on a shared phone. Browsers honour it over https
# and on localhost.
CLEAR_STORAGE = {"Clear-Site-Data": '"storage"'}


def _signed_in_redirect(
    svc: Services, request: Request, user: User, session: accounts.NewSession
) -> Response:
    # Only this site's pages: an open redirect would let a link send people anywhere, and
    # a redirect to a stored file would show them bytes chosen by the link's author.
    target = safe_next(request.query_params.get("next", "")) or HOME_FOR.get(user.role, "/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=svc.settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=svc.settings.base_url.startswith("https"),
    )
    set_device_cookie(request, response, user.email)
    if request.cookies.get(LANG_COOKIE) not in LANGUAGES and user.language in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, user.language, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
        )
    return response


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
    unit: UnitOfWork = unit_of_work(),
    email: str = Form(""),
    password: str = Form(""),
    display_name: str = Form(""),
    role: str = Form("contributor"),
    language: str = Form(""),
    country: str = Form(""),
) -> Response:
    """A valid form always answers "check your email", whether the address is new or
    already has an account (the mail says which): the page reveals no accounts."""
    form = {
        "email": email,
        "display_name": display_name,
        "role": role,
        "language": language,
        "country": country,
    }
    try:
        accounts.request_sign_up(
            unit,
            svc.hasher,
            email=email,
            password=password,
            role=Role(role) if role in ("contributor", "buyer") else Role.ANONYMOUS,
            display_name=display_name,
            language=language if language in LANGUAGES else page.lang,
            country=country.strip().upper() or None,
            client=client_address(page.request),
            storage=svc.storage,
            throttle=sign_in_throttle(svc.settings),
        )
    except DomainError as exc:
        status = 429 if exc.status == 429 else 422
        errors = field_errors(page, exc, "email")
        response = render(page, "sign_up.html", status, form=form, errors=errors)
        set_retry_after(response, exc)
        return response
    return render(page, "sign_up_sent.html", email=email.strip().lower())


@router.get("/sign-up/confirm")
def sign_up_confirm_form(
    token: str = "",
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """The mailed link opens a button, not the account: a link followed by a mail scanner
    (or planted by someone else) must not sign anyone in."""
    request = accounts.sign_up_request_for(unit, svc.settings.secret_key.get_secret_value(), token)
    return render(page, "sign_up_confirm.html", token=token, email=request.email)


@router.post("/sign-up/confirm")
def sign_up_confirm(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    token: str = Form(""),
) -> Response:
    signed = accounts.confirm_sign_up(
        unit,
        svc.settings.secret_key.get_secret_value(),
        token,
        session_max_age_seconds=svc.settings.session_max_age_seconds,
    )
    return _signed_in_redirect(svc, page.request, signed.user, signed.session)


@router.get("/sign-in")
def sign_in_form(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    return render(page, "sign_in.html", form={}, next=page.request.query_params.get("next", ""))


@router.post("/sign-in")
def sign_in(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    email: str = Form(""),
    password: str = Form(""),
    totp_code: str = Form(""),
) -> Response:
    client, known = sign_in_client(page.request, email)
    try:
        signed = accounts.sign_in(
            unit,
            svc.hasher,
            email=email,
            password=password,
            client=client,
            storage=svc.storage,
            session_max_age_seconds=svc.settings.session_max_age_seconds,
            known_device=known,
            totp_code=totp_code.strip() or None,
            throttle=sign_in_throttle(svc.settings),
        )
    except DomainError as exc:
        response = render(
            page,
            "sign_in.html",
            exc.status if exc.status in (401, 429) else 422,
            form={"email": email},
            errors=field_errors(page, exc),
            next=page.request.query_params.get("next", ""),
            ask_totp=isinstance(exc, SecondFactorRequired) or bool(totp_code),
        )
        set_retry_after(response, exc)
        return response
    return _signed_in_redirect(svc, page.request, signed.user, signed.session)


@router.get("/forgot-password")
def forgot_password_form(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    return render(page, "forgot_password.html", form={}, errors={})


@router.post("/forgot-password")
def forgot_password(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    email: str = Form(""),
) -> HTMLResponse:
    """The same answer for every address, with an account or not (see
    ``accounts.request_password_reset``)."""
    if not email.strip():
        errors = {"email": [page._("Write the email address you signed up with.")]}
        return render(page, "forgot_password.html", 422, form={}, errors=errors)
    try:
        accounts.request_password_reset(
            unit,
            email=email,
            storage=svc.storage,
            client=client_address(page.request),
            throttle=sign_in_throttle(svc.settings),
        )
    except RateLimited as exc:
        errors = field_errors(page, exc, "email")
        response = render(page, "forgot_password.html", 429, form={"email": email}, errors=errors)
        set_retry_after(response, exc)
        return response
    return render(page, "forgot_password_sent.html", email=email.strip().lower())


@router.get("/reset-password")
def reset_password_form(
    token: str = "",
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """The mailed link opens a form; nothing changes until it is sent."""
    accounts.password_reset_user(unit, svc.settings.secret_key.get_secret_value(), token)
    return render(page, "reset_password.html", token=token, errors={})


@router.post("/reset-password")
def reset_password(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    token: str = Form(""),
    new_password: str = Form(""),
) -> Response:
    """A new password signs every browser out and then this one in (with two-step
    sign-in on, this one signs in on the sign-in page, with a code from the app)."""
    secret = svc.settings.secret_key.get_secret_value()
    try:
        signed = accounts.reset_password(
            unit,
            svc.hasher,
            secret,
            token,
            new_password,
            session_max_age_seconds=svc.settings.session_max_age_seconds,
        )
    except InvalidInput as exc:
        errors = field_errors(page, exc, "new_password")
        return render(page, "reset_password.html", 422, token=token, errors=errors)
    if signed is None:  # two-step sign-in: the new password and a code from the app
        return render(page, "sign_in.html", form={}, ask_totp=True, password_reset=True)
    return _signed_in_redirect(svc, page.request, signed.user, signed.session)


@router.post("/sign-out")
def sign_out(
    page: Page = page_requires(Permission.ACCOUNT_READ), unit: UnitOfWork = unit_of_work()
) -> Response:
    secret = page.request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_session(unit, secret)
    response = RedirectResponse("/", status_code=303, headers=CLEAR_STORAGE)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/licences")
def licence_templates(
    page: Page = page_requires(Permission.PUBLIC_READ), svc: Services = Depends(services)
) -> HTMLResponse:
    """Every template in plain words in the page's language, risks flagged, with example
    terms (the price comes from a task, so the example says so) and the money as a sale
    would charge and pay it (``domain.orders.unit_pay``)."""
    shown = []
    for entry in licensing.licence_templates():
        name = entry["name"]
        # A title is a msgid; called through a name that message extraction does not
        # scan, or it would take the literal "title" for one.
        translate = page._
        title = translate(entry["title"])
        terms = licensing.template_example(name, page._)
        sentences = licensing.explain_terms(terms, page.lang, svc.policy.platform_fee_percent)
        shown.append({"name": name, "title": title, "sentences": sentences})
    return render(page, "licences.html", templates=shown)


def _account(page: Page, unit: UnitOfWork, status: int = 200, **extra: Any) -> HTMLResponse:
    """The account page: profile, password, two-step sign-in, export and erasure."""
    user = accounts.my_account(unit, page.actor)
    profile = {
        "display_name": user.display_name,
        "language": user.language,
        "currency": user.currency or "",
    } | extra.pop("profile", {})
    return render(
        page,
        "account.html",
        status,
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        two_step=accounts.totp_status(unit, page.actor),
        mail_choices=accounts.mail_preferences(unit, page.actor),
        notice_labels=NOTICE_LABELS,
        profile=profile,
        currencies=currency_choices(page),
        done=page.request.query_params.get("done", ""),
        **extra,
    )


# What each kind of notification is about, for the choices on the account page (msgids).
NOTICE_LABELS = {
    NoticeKind.ITEM_ACCEPTED: "When a recording of mine is accepted and paid",
    NoticeKind.ITEM_REJECTED: "When a recording of mine is not accepted",
    NoticeKind.PAYOUT_PAID: "When a payout of mine is sent",
    NoticeKind.PAYOUT_FAILED: "When a payout of mine cannot be sent",
    NoticeKind.DELETION_ATTESTED: "When a buyer attests deleting an item I withdrew",
    NoticeKind.VETTING_DECIDED: "When the operator decides on my organisation",
    NoticeKind.DELETION_REQUESTED: "When my organisation must delete a withdrawn item",
}


@router.post("/my/account/notices")
def set_notice_choices(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE),
    unit: UnitOfWork = unit_of_work(),
    mail: list[str] = Form([]),
) -> Response:
    """The kinds ticked are mailed; the inbox always has every kind."""
    accounts.set_mail_preferences(unit, page.actor, set(mail))
    return RedirectResponse("/my/account?done=notices#h-notices", status_code=303)


@router.get("/my/inbox")
def my_inbox(
    page: Page = page_requires(Permission.ACCOUNT_READ),
    unit: UnitOfWork = unit_of_work(),
    n: int = 1,
) -> HTMLResponse:
    """Everything the person was told, newest first, each in the page's language."""
    box = accounts.inbox(unit, page.actor, n)
    shown = [(note, accounts.describe(note, page.lang)) for note in box.notes]
    return render(page, "inbox.html", box=box, shown=shown)


@router.post("/my/inbox/read")
def mark_inbox_read(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE), unit: UnitOfWork = unit_of_work()
) -> Response:
    accounts.mark_all_read(unit, page.actor)
    return RedirectResponse("/my/inbox", status_code=303)


@router.get("/my/account")
def my_account(
    page: Page = page_requires(Permission.ACCOUNT_READ), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    return _account(page, unit)


@router.post("/my/account/profile")
def update_profile(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE),
    unit: UnitOfWork = unit_of_work(),
    display_name: str = Form(""),
    language: str = Form(""),
    currency: str = Form(""),
) -> Response:
    """The pages switch to the chosen language at once (its cookie is set)."""
    profile = {"display_name": display_name, "language": language, "currency": currency}
    try:
        user = accounts.update_profile(
            unit, page.actor, display_name=display_name, language=language, currency=currency
        )
    except InvalidInput as exc:
        return _account(page, unit, 422, profile=profile, errors=field_errors(page, exc))
    response = RedirectResponse("/my/account?done=profile", status_code=303)
    response.set_cookie(
        LANG_COOKIE, user.language, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True
    )
    return response


@router.post("/my/account/password")
def change_password(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    current_password: str = Form(""),
    new_password: str = Form(""),
) -> Response:
    """Other browsers signed in to the account are signed out; this one stays."""
    try:
        accounts.change_password(
            unit,
            svc.hasher,
            page.actor,
            current=current_password,
            new=new_password,
            session_secret=page.request.cookies.get(SESSION_COOKIE),
            throttle=sign_in_throttle(svc.settings),
        )
    except InvalidInput as exc:
        return _account(page, unit, 422, errors=field_errors(page, exc, "new_password"))
    except RateLimited as exc:
        response = _account(page, unit, 429, errors=field_errors(page, exc, "current_password"))
        set_retry_after(response, exc)
        return response
    return RedirectResponse("/my/account?done=password", status_code=303)


def _two_step_refused(page: Page, unit: UnitOfWork, exc: DomainError) -> HTMLResponse:
    """A wrong or missing password (or one tried too often) on a two-step form: the
    account page, the problem next to the two-step form's password field."""
    errors = field_errors(page, exc, "two_step_password")
    moved = errors.pop("current_password", [])
    dict.setdefault(errors, "two_step_password", []).extend(moved)
    response = _account(page, unit, 429 if exc.status == 429 else 422, errors=errors)
    set_retry_after(response, exc)
    return response


@router.post("/my/account/two-step/start")
def start_two_step(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    two_step_password: str = Form(""),
) -> HTMLResponse:
    """A new secret, shown on this page only (as an otpauth:// link and as text), for the
    account's password (a stolen session alone cannot turn two-step sign-in on)."""
    try:
        enrolment = accounts.start_totp(
            unit,
            svc.storage,
            page.actor,
            hasher=svc.hasher,
            password=two_step_password,
            throttle=sign_in_throttle(svc.settings),
        )
    except (InvalidInput, RateLimited) as exc:
        return _two_step_refused(page, unit, exc)
    return render(page, "two_step.html", enrolment=enrolment, form={}, errors={})


@router.post("/my/account/two-step/enable")
def enable_two_step(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    code: str = Form(""),
    two_step_password: str = Form(""),
) -> Response:
    """On, for a first code from the app and the password again: the ten recovery codes,
    shown on this page only."""
    throttle = sign_in_throttle(svc.settings)
    try:
        codes = accounts.enable_totp(
            unit,
            svc.storage,
            page.actor,
            code,
            hasher=svc.hasher,
            password=two_step_password,
            throttle=throttle,
        )
    except InvalidInput as exc:
        if "code" not in {p.field for p in exc.problems}:
            return _two_step_refused(page, unit, exc)
        # The secret was shown once; a wrong first code starts again with a new one (the
        # password was right: the code is checked after it).
        enrolment = accounts.start_totp(
            unit,
            svc.storage,
            page.actor,
            hasher=svc.hasher,
            password=two_step_password,
            throttle=throttle,
        )
        errors = field_errors(page, exc, "code")
        return render(page, "two_step.html", 422, enrolment=enrolment, form={}, errors=errors)
    except RateLimited as exc:
        return _two_step_refused(page, unit, exc)
    return render(page, "recovery_codes.html", codes=codes)


@router.post("/my/account/two-step/disable")
def disable_two_step(
    page: Page = page_requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    code: str = Form(""),
) -> Response:
    try:
        accounts.disable_totp(unit, svc.storage, page.actor, code)
    except InvalidInput as exc:
        errors = field_errors(page, exc, "code")
        return _account(page, unit, 422, errors=errors)
    return RedirectResponse("/my/account", status_code=303)


# --- API tokens ------------------------------------------------------------------------

TOKEN_DAYS = (30, 90, 365)


def _tokens_page(page: Page, unit: UnitOfWork, status: int = 200, **extra: Any) -> HTMLResponse:
    now = utcnow()
    tokens = [
        {
            "token": t,
            "access": accounts.token_access(page.actor, t),
            "state": t.state_at(now),
        }
        for t in accounts.list_api_tokens(unit, page.actor)
    ]
    context: dict[str, Any] = {"form": {}, "errors": {}, "new_token": None} | extra
    response = render(
        page,
        "tokens.html",
        status,
        tokens=tokens,
        days_choices=TOKEN_DAYS,
        done=page.request.query_params.get("done", ""),
        **context,
    )
    response.headers["Cache-Control"] = "no-store"  # a new token's secret is on it once
    return response


@router.get("/my/tokens")
def my_tokens(
    page: Page = page_requires(Permission.TOKEN_READ), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    return _tokens_page(page, unit)


@router.post("/my/tokens")
def create_token(
    page: Page = page_requires(Permission.TOKEN_CREATE),
    unit: UnitOfWork = unit_of_work(),
    name: str = Form(""),
    days: str = Form("90"),
    access: str = Form("read"),
) -> HTMLResponse:
    """The new token's secret is shown on this answer only (it is stored as a hash)."""
    form = {"name": name, "days": days, "access": access}
    try:
        made = accounts.create_api_token(
            unit,
            page.actor,
            name=name,
            scopes=accounts.token_scopes(page.actor, access),
            days=int(days) if days.isdigit() and len(days) < 5 else 0,
        )
    except InvalidInput as exc:
        return _tokens_page(page, unit, 422, form=form, errors=field_errors(page, exc, "name"))
    return _tokens_page(page, unit, 201, new_token=made.secret, new_token_id=made.token.id)


@router.post("/my/tokens/{token_id}/revoke")
def revoke_token(
    token_id: RowId,
    page: Page = page_requires(Permission.TOKEN_REVOKE),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    accounts.revoke_api_token(unit, page.actor, token_id)
    return RedirectResponse("/my/tokens?done=revoked", status_code=303)


@router.get("/my/account/export")
def export_data(
    page: Page = page_requires(Permission.PERSONAL_DATA_EXPORT),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """Everything about the person and their own media, as a zip streamed while it is
    written (``rights.export_with_media``)."""
    chunks = market.export_with_media(unit, svc.storage, page.actor, signer=svc.signer)
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="my-datatrust-data.zip"'},
    )


@router.post("/my/account/erase")
def erase_account(
    page: Page = page_requires(Permission.PERSONAL_DATA_ERASE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    confirm: str = Form(""),
) -> Response:
    # The phrase is shown in the reader's language; typed so, it confirms as the English
    # one does (which the service, and every page, also accepts).
    typed = confirm.strip().lower()
    shown = page._(market.ERASE_CONFIRMATION).lower()
    said = market.ERASE_CONFIRMATION if typed == shown else confirm
    try:
        market.erase_me(
            unit,
            svc.storage,
            page.actor,
            signer=svc.signer,
            confirm=said,
            shredder=svc.shredder,
            staging=svc.staging,
            publication=svc.publication,
        )
    except InvalidInput:  # the only refusal before anything changes: the confirmation
        errors = {"confirm": [page._("Type the words exactly as shown to delete your account.")]}
        return _account(page, unit, 422, form={"confirm": confirm}, errors=errors)
    response = RedirectResponse("/account-deleted", status_code=303, headers=CLEAR_STORAGE)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account-deleted")
def account_deleted(page: Page = page_requires(Permission.PUBLIC_READ)) -> HTMLResponse:
    """Where erasure lands: what was done, in words, and what stays (the same for
    everyone, so it tells nothing about whom)."""
    return render(page, "account_deleted.html")
