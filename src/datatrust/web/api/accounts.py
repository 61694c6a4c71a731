"""Sign-up, sign-in, sessions and API tokens."""

from __future__ import annotations

from fastapi import Depends, Request, Response

from datatrust.bootstrap import Services
from datatrust.domain.accounts import ApiToken, User
from datatrust.domain.errors import InvalidInput
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.services import accounts
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import (
    NewTokenOut,
    RecoveryCodesOut,
    SessionOut,
    SignInIn,
    SignUpConfirmIn,
    SignUpIn,
    SignUpRequestedOut,
    TokenIn,
    TokenOut,
    TotpCodeIn,
    TotpEnableIn,
    TotpEnrolmentOut,
    TotpStartIn,
    UserOut,
)
from datatrust.web.deps import SESSION_COOKIE, RowId, api_router, requires, services, unit_of_work
from datatrust.web.security import (
    client_address,
    set_device_cookie,
    sign_in_client,
    sign_in_throttle,
)

router = api_router(prefix="/api", tags=["accounts"])


def user_out(user: User, actor: Actor | None = None) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        role=user.role.value,
        display_name=user.display_name,
        language=user.language,
        country=user.country,
        org_id=actor.org_id if actor else None,
    )


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=token.scopes,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def set_session_cookie(response: Response, svc: Services, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=svc.settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=svc.settings.base_url.startswith("https"),
    )


SIGN_UP_SENT = (
    "if this address can have an account, a link to finish signing up is on its way; "
    "open it within 24 hours"
)


@router.post("/auth/sign-up", status_code=202)
def sign_up(
    body: SignUpIn,
    request: Request,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> SignUpRequestedOut:
    """Ask for a contributor or buyer account. The answer is the same whether the email is
    new or taken; the mail sent to it either carries a link to finish (confirm it with
    ``POST /api/auth/sign-up/confirm``) or tells its owner they already have an account."""
    try:
        role = Role(body.role)
    except ValueError:
        raise InvalidInput("role: must be contributor or buyer", ["role: unknown"]) from None
    accounts.request_sign_up(
        unit,
        svc.hasher,
        email=body.email,
        password=body.password,
        role=role,
        display_name=body.display_name,
        language=body.language,
        country=body.country,
        client=client_address(request),
        storage=svc.storage,
        throttle=sign_in_throttle(svc.settings),
    )
    return SignUpRequestedOut(email=body.email.strip().lower(), message=SIGN_UP_SENT)


@router.post("/auth/sign-up/confirm", status_code=201)
def confirm_sign_up(
    body: SignUpConfirmIn,
    request: Request,
    response: Response,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> SessionOut:
    """Create the account a sign-up link stands for, and sign it in."""
    signed = accounts.confirm_sign_up(
        unit,
        svc.settings.secret_key.get_secret_value(),
        body.token,
        session_max_age_seconds=svc.settings.session_max_age_seconds,
    )
    return _session_out(request, response, svc, unit, signed.user, signed.session)


def _session_out(
    request: Request,
    response: Response,
    svc: Services,
    unit: UnitOfWork,
    user: User,
    session: accounts.NewSession,
) -> SessionOut:
    set_session_cookie(response, svc, session.secret)
    set_device_cookie(request, response, user.email)
    actor = accounts.actor_for(unit, user)
    return SessionOut(
        user=user_out(user, actor), csrf_token=session.csrf_token, expires_at=session.expires_at
    )


@router.post("/auth/sign-in")
def sign_in(
    body: SignInIn,
    request: Request,
    response: Response,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> SessionOut:
    """Sign in (a session cookie). Throttled per account and per client: ``429`` with
    ``Retry-After``. An account with two-step sign-in on answers ``401 totp_required``
    until ``totp_code`` is sent too."""
    client, known = sign_in_client(request, body.email)
    signed = accounts.sign_in(
        unit,
        svc.hasher,
        email=body.email,
        password=body.password,
        client=client,
        storage=svc.storage,
        session_max_age_seconds=svc.settings.session_max_age_seconds,
        known_device=known,
        totp_code=body.totp_code,
        throttle=sign_in_throttle(svc.settings),
    )
    return _session_out(request, response, svc, unit, signed.user, signed.session)


@router.post("/auth/sign-out", status_code=204)
def sign_out(
    request: Request,
    response: Response,
    _actor: Actor = requires(Permission.ACCOUNT_READ),
    unit: UnitOfWork = unit_of_work(),
) -> None:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_session(unit, secret)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me")
def me(
    actor: Actor = requires(Permission.ACCOUNT_READ), unit: UnitOfWork = unit_of_work()
) -> UserOut:
    user = unit.get(User, actor.user_id)
    return user_out(user, actor)


@router.post("/me/totp", status_code=201)
def start_totp(
    body: TotpStartIn,
    actor: Actor = requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> TotpEnrolmentOut:
    """Begin two-step sign-in (operators and buyers), with the account's password and a
    session (an API token is refused, 403): the secret is shown this once."""
    enrolment = accounts.start_totp(
        unit,
        svc.storage,
        actor,
        hasher=svc.hasher,
        password=body.password,
        throttle=sign_in_throttle(svc.settings),
    )
    return TotpEnrolmentOut(secret=enrolment.secret, uri=enrolment.uri)


@router.post("/me/totp/enable")
def enable_totp(
    body: TotpEnableIn,
    actor: Actor = requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> RecoveryCodesOut:
    """Turn two-step sign-in on with a first code from the app and the account's
    password (a session, not an API token); answers the ten recovery codes, shown this
    once, and mails the owner."""
    codes = accounts.enable_totp(
        unit,
        svc.storage,
        actor,
        body.code,
        hasher=svc.hasher,
        password=body.password,
        throttle=sign_in_throttle(svc.settings),
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/me/totp/recovery-codes")
def replace_recovery_codes(
    body: TotpCodeIn,
    actor: Actor = requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> RecoveryCodesOut:
    """Ten new recovery codes for a current code from the app; the old ones stop working."""
    codes = accounts.replace_recovery_codes(unit, svc.storage, actor, body.code)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/me/totp/disable", status_code=204)
def disable_totp(
    body: TotpCodeIn,
    actor: Actor = requires(Permission.ACCOUNT_UPDATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> None:
    """Turn two-step sign-in off (it takes a current code or a recovery code)."""
    accounts.disable_totp(unit, svc.storage, actor, body.code)


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenIn,
    actor: Actor = requires(Permission.TOKEN_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> NewTokenOut:
    new = accounts.create_api_token(unit, actor, name=body.name, scopes=body.scopes, days=body.days)
    return NewTokenOut(**token_out(new.token).model_dump(), token=new.secret)


@router.get("/tokens")
def list_tokens(
    actor: Actor = requires(Permission.TOKEN_READ), unit: UnitOfWork = unit_of_work()
) -> list[TokenOut]:
    return [token_out(t) for t in accounts.list_api_tokens(unit, actor)]


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: RowId,
    actor: Actor = requires(Permission.TOKEN_REVOKE),
    unit: UnitOfWork = unit_of_work(),
) -> TokenOut:
    return token_out(accounts.revoke_api_token(unit, actor, token_id))
