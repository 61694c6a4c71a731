"""Sign-up, sign-in, sessions and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from datatrust.bootstrap import Services
from datatrust.domain.accounts import ApiToken, User
from datatrust.domain.errors import InvalidInput
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.services import accounts
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import (
    NewTokenOut,
    SessionOut,
    SignInIn,
    SignUpIn,
    TokenIn,
    TokenOut,
    UserOut,
)
from datatrust.web.deps import SESSION_COOKIE, requires, services, uow

router = APIRouter(prefix="/api", tags=["accounts"])


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


@router.post("/auth/sign-up", status_code=201)
def sign_up(
    body: SignUpIn,
    response: Response,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> SessionOut:
    """Create a contributor or buyer account and sign it in."""
    try:
        role = Role(body.role)
    except ValueError:
        raise InvalidInput("role: must be contributor or buyer", ["role: unknown"]) from None
    user = accounts.sign_up(
        unit,
        svc.hasher,
        email=body.email,
        password=body.password,
        role=role,
        display_name=body.display_name,
        language=body.language,
        country=body.country,
    )
    session = accounts.start_session(
        unit, user, max_age_seconds=svc.settings.session_max_age_seconds
    )
    set_session_cookie(response, svc, session.secret)
    return SessionOut(
        user=user_out(user), csrf_token=session.csrf_token, expires_at=session.expires_at
    )


@router.post("/auth/sign-in")
def sign_in(
    body: SignInIn,
    response: Response,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> SessionOut:
    user = accounts.sign_in(
        unit,
        svc.hasher,
        email=body.email,
        password=body.password,
        attempts_per_minute=svc.settings.sign_in_attempts_per_minute,
    )
    session = accounts.start_session(
        unit, user, max_age_seconds=svc.settings.session_max_age_seconds
    )
    set_session_cookie(response, svc, session.secret)
    actor = accounts.actor_for(unit, user)
    return SessionOut(
        user=user_out(user, actor), csrf_token=session.csrf_token, expires_at=session.expires_at
    )


@router.post("/auth/sign-out", status_code=204)
def sign_out(
    request: Request,
    response: Response,
    _actor: Actor = requires(Permission.ACCOUNT_READ),
    unit: UnitOfWork = Depends(uow),
) -> None:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_session(unit, secret)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me")
def me(
    actor: Actor = requires(Permission.ACCOUNT_READ), unit: UnitOfWork = Depends(uow)
) -> UserOut:
    user = unit.get(User, actor.user_id)
    return user_out(user, actor)


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenIn, actor: Actor = requires(Permission.TOKEN_CREATE), unit: UnitOfWork = Depends(uow)
) -> NewTokenOut:
    new = accounts.create_api_token(unit, actor, name=body.name, scopes=body.scopes, days=body.days)
    return NewTokenOut(**token_out(new.token).model_dump(), token=new.secret)


@router.get("/tokens")
def list_tokens(
    actor: Actor = requires(Permission.TOKEN_READ), unit: UnitOfWork = Depends(uow)
) -> list[TokenOut]:
    return [token_out(t) for t in accounts.list_api_tokens(unit, actor)]


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: int, actor: Actor = requires(Permission.TOKEN_REVOKE), unit: UnitOfWork = Depends(uow)
) -> TokenOut:
    return token_out(accounts.revoke_api_token(unit, actor, token_id))
