"""Accounts: sign up, sign in, sessions, API tokens, buyer organisations and members."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from datatrust.domain.accounts import (
    ApiToken,
    MemberRole,
    Membership,
    Organisation,
    OrgStatus,
    SignInAttempt,
    User,
    WebSession,
)
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, NotAuthenticated, RateLimited
from datatrust.domain.permissions import (
    MISSING,
    ROLE_PERMISSIONS,
    Actor,
    Permission,
    Role,
    authorize,
)
from datatrust.services.ports import PasswordHasher, UnitOfWork

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
TOKEN_PREFIX = "dt_"
MAX_TOKEN_DAYS = 366
# A token's last_used_at is as fresh as this: good enough to spot an unused token.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
SIGN_UP_ROLES = (Role.CONTRIBUTOR, Role.BUYER)  # operators are made by an operator or the CLI


def digest(secret: str) -> str:
    """Secrets (tokens, session ids) are stored only as their sha256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def actor_label(actor: Actor) -> str:
    return f"user:{actor.user_id}" if actor.user_id else actor.role.value


def actor_for(uow: UnitOfWork, user: User, scopes: frozenset[str] | None = None) -> Actor:
    membership = uow.one(Membership, user_id=user.id)
    return Actor(
        role=user.role,
        user_id=user.id,
        org_id=membership.org_id if membership else None,
        org_admin=bool(membership and membership.role is MemberRole.ADMIN),
        scopes=scopes,
    )


def _check_password(password: str, problems: list[str]) -> None:
    if len(password) < 10:
        problems.append("password: use at least 10 characters")
    if len(password) > 256:
        problems.append("password: use at most 256 characters")


def sign_up(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    role: Role = Role.CONTRIBUTOR,
    display_name: str = "",
    language: str = "en",
    country: str | None = None,
    allow_operator: bool = False,
) -> User:
    """Create an account. Every problem with the input is reported at once."""
    email = email.strip().lower()
    problems: list[str] = []
    if not EMAIL_RE.match(email):
        problems.append("email: not a valid email address")
    _check_password(password, problems)
    if role is Role.OPERATOR and not allow_operator:
        problems.append("role: operators cannot sign themselves up")
    if role not in (*SIGN_UP_ROLES, Role.OPERATOR):
        problems.append(f"role: must be one of {', '.join(r.value for r in SIGN_UP_ROLES)}")
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        problems.append("country: use a two-letter ISO 3166 code such as ZA or IN")
    if problems:
        raise InvalidInput("the sign-up form has problems", problems)
    if uow.one(User, email=email) is not None:
        raise Conflict("an account with this email already exists")
    user = User(
        email=email,
        password_hash=hasher.hash(password),
        role=role,
        display_name=display_name.strip()[:200],
        language=language,
        country=country,
    )
    uow.add(user)
    uow.flush()
    uow.record(AuditTag.ACCOUNT_SIGN_UP, f"user:{user.id}", "user", user.id, role=role.value)
    uow.commit()
    return user


def sign_in(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    attempts_per_minute: int,
    now: datetime | None = None,
) -> User:
    """Check a password. Failed attempts are counted per email; past the limit every
    attempt is refused for a minute, right or wrong, so guessing gains nothing."""
    now = now or utcnow()
    email = email.strip().lower()
    recent = [
        a for a in uow.all(SignInAttempt, email=email) if as_utc(a.at) > now - timedelta(minutes=1)
    ]
    if len(recent) >= attempts_per_minute:
        raise RateLimited("too many sign-in attempts for this account; wait a minute")
    user = uow.one(User, email=email)
    if (
        user is None
        or user.erased_at is not None
        or not hasher.verify(user.password_hash, password)
    ):
        uow.add(SignInAttempt(email=email, at=now))
        uow.record(AuditTag.ACCOUNT_SIGN_IN_FAILED, "anonymous", "email", digest(email)[:16])
        uow.commit()
        raise NotAuthenticated("the email or password is wrong")
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    uow.record(AuditTag.ACCOUNT_SIGN_IN, f"user:{user.id}", "user", user.id)
    uow.commit()
    return user


@dataclass(frozen=True)
class NewSession:
    secret: str
    csrf_token: str
    expires_at: datetime


def start_session(uow: UnitOfWork, user: User, *, max_age_seconds: int) -> NewSession:
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(seconds=max_age_seconds)
    uow.add(
        WebSession(
            session_hash=digest(secret), user_id=user.id, csrf_token=csrf, expires_at=expires
        )
    )
    uow.commit()
    return NewSession(secret, csrf, expires)


def end_session(uow: UnitOfWork, secret: str) -> None:
    session = uow.one(WebSession, session_hash=digest(secret))
    if session is not None and session.revoked_at is None:
        session.revoked_at = utcnow()
        uow.commit()


@dataclass(frozen=True)
class Authenticated:
    actor: Actor
    user: User
    csrf_token: str | None = None
    token_needs_touch: bool = False  # the token's last use is older than the interval


def authenticate_session(uow: UnitOfWork, secret: str) -> Authenticated:
    session = uow.one(WebSession, session_hash=digest(secret))
    if session is None or session.revoked_at is not None:
        raise NotAuthenticated("your session is not valid; sign in again")
    if as_utc(session.expires_at) <= utcnow():
        raise NotAuthenticated("your session has expired; sign in again")
    user = uow.get(User, session.user_id)
    if user is None or user.erased_at is not None:
        raise NotAuthenticated("this account no longer exists")
    return Authenticated(actor_for(uow, user), user, session.csrf_token)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def create_api_token(
    uow: UnitOfWork,
    actor: Actor,
    *,
    name: str,
    scopes: list[str],
    days: int = 90,
) -> NewToken:
    """A token can carry only permissions its owner has; it expires within a year."""
    authorize(actor, Permission.TOKEN_CREATE)
    allowed = {p.value for p in ROLE_PERMISSIONS[actor.role]}
    if actor.scopes is not None:  # a token cannot mint a broader token
        allowed &= actor.scopes
    problems = []
    if not name.strip():
        problems.append("name: give the token a name")
    unknown = sorted(set(scopes) - {p.value for p in Permission})
    if unknown:
        problems.append(f"scopes: unknown permissions {', '.join(unknown)}")
    beyond = sorted(set(scopes) - allowed - set(unknown))
    if beyond:
        problems.append(f"scopes: your account does not have {', '.join(beyond)}")
    if not scopes:
        problems.append("scopes: name at least one permission")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        problems.append(f"days: must be between 1 and {MAX_TOKEN_DAYS}")
    if problems:
        raise InvalidInput("the token request has problems", problems)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=actor.user_id,
        name=name.strip()[:200],
        token_hash=digest(secret),
        prefix=secret[:10],
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + timedelta(days=days),
    )
    uow.add(token)
    uow.flush()
    uow.record(AuditTag.TOKEN_CREATE, actor_label(actor), "token", token.id, scopes=token.scopes)
    uow.commit()
    return NewToken(token, secret)


def list_api_tokens(uow: UnitOfWork, actor: Actor) -> list[ApiToken]:
    authorize(actor, Permission.TOKEN_READ)
    return uow.all(ApiToken, user_id=actor.user_id, order_by="-id")


def revoke_api_token(uow: UnitOfWork, actor: Actor, token_id: int) -> ApiToken:
    token = uow.get(ApiToken, token_id)
    authorize(actor, Permission.TOKEN_REVOKE, token or MISSING)
    assert token is not None
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        uow.record(AuditTag.TOKEN_REVOKE, actor_label(actor), "token", token.id)
        uow.commit()
    return token


def authenticate_token(uow: UnitOfWork, secret: str) -> Authenticated:
    if not secret.startswith(TOKEN_PREFIX):
        raise NotAuthenticated("the API token is malformed")
    token = uow.one(ApiToken, token_hash=digest(secret))
    if token is None:
        raise NotAuthenticated("the API token is not known")
    if token.revoked_at is not None:
        raise NotAuthenticated("the API token was revoked")
    if as_utc(token.expires_at) <= utcnow():
        raise NotAuthenticated("the API token has expired")
    user = uow.get(User, token.user_id)
    if user is None or user.erased_at is not None:
        raise NotAuthenticated("this account no longer exists")
    stale = token.last_used_at is None or as_utc(token.last_used_at) <= (
        utcnow() - TOKEN_TOUCH_INTERVAL
    )
    return Authenticated(
        actor_for(uow, user, frozenset(token.scopes)), user, token_needs_touch=stale
    )


def touch_api_token(uow: UnitOfWork, secret: str) -> None:
    """Record that a token was used now. Callers do it only when ``authenticate_token``
    said the recorded use is stale, so a busy token costs one write per interval, not one
    per request (on SQLite every write queues for the one write lock)."""
    token = uow.one(ApiToken, token_hash=digest(secret))
    if token is not None:
        token.last_used_at = utcnow()
        uow.commit()


def register_organisation(
    uow: UnitOfWork,
    actor: Actor,
    *,
    legal_name: str,
    country: str,
    website: str = "",
    contact_email: str = "",
    intended_uses: dict | None = None,
) -> Organisation:
    """A buyer registers its organisation and becomes its admin; an operator vets it."""
    authorize(actor, Permission.ORG_CREATE)
    problems = []
    if not legal_name.strip():
        problems.append("legal_name: required")
    if not re.fullmatch(r"[A-Z]{2}", country or ""):
        problems.append("country: use a two-letter ISO 3166 code")
    if contact_email and not EMAIL_RE.match(contact_email):
        problems.append("contact_email: not a valid email address")
    if problems:
        raise InvalidInput("the organisation form has problems", problems)
    if uow.one(Membership, user_id=actor.user_id) is not None:
        raise Conflict("you already belong to an organisation")
    org = Organisation(
        legal_name=legal_name.strip(),
        country=country,
        website=website.strip(),
        contact_email=contact_email.strip(),
        intended_uses=intended_uses or {},
    )
    uow.add(org)
    uow.flush()
    uow.add(Membership(org_id=org.id, user_id=actor.user_id, role=MemberRole.ADMIN))
    uow.record(AuditTag.ORG_CREATE, actor_label(actor), "org", org.id, legal_name=org.legal_name)
    uow.commit()
    return org


def get_organisation(uow: UnitOfWork, actor: Actor, org_id: int) -> Organisation:
    org = uow.get(Organisation, org_id)
    authorize(actor, Permission.ORG_READ, org or MISSING)
    assert org is not None
    return org


def list_organisations(
    uow: UnitOfWork, actor: Actor, status: str | None = None
) -> list[Organisation]:
    """Operators see every organisation (the vetting queue); a buyer sees only its own."""
    authorize(actor, Permission.ORG_READ)
    if actor.role is not Role.OPERATOR:
        return [o for o in [uow.get(Organisation, actor.org_id)] if o] if actor.org_id else []
    filters = {"status": OrgStatus(status)} if status else {}
    return uow.all(Organisation, order_by="id", **filters)


ORG_DECISIONS = {
    "approve": (OrgStatus.APPROVED, AuditTag.ORG_APPROVE),
    "reject": (OrgStatus.REJECTED, AuditTag.ORG_REJECT),
    "suspend": (OrgStatus.SUSPENDED, AuditTag.ORG_SUSPEND),
}


def decide_organisation(
    uow: UnitOfWork, actor: Actor, org_id: int, decision: str, reason: str = ""
) -> Organisation:
    """An operator approves, rejects (with a reason) or suspends (with a reason) a buyer."""
    org = uow.get(Organisation, org_id)
    authorize(actor, Permission.ORG_VET, org or MISSING)
    assert org is not None
    if decision not in ORG_DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(ORG_DECISIONS)}")
    status, tag = ORG_DECISIONS[decision]
    if status is not OrgStatus.APPROVED and not reason.strip():
        raise InvalidInput("reason: say why, the buyer will read it", ["reason: required"])
    org.status = status
    org.status_reason = reason.strip()
    uow.record(tag, actor_label(actor), "org", org.id, reason=org.status_reason)
    uow.commit()
    return org
