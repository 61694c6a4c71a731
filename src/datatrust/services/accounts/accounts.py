"""Accounts: sign up, sign in, sessions, API tokens, buyer organisations and members."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pyotp

from datatrust.domain.accounts import (
    ApiToken,
    BuyerStanding,
    MemberRole,
    Membership,
    Organisation,
    OrgStatus,
    RecoveryCode,
    SignInAttempt,
    SignUpRequest,
    User,
    WebSession,
    buyer_standing,
)
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.currencies import is_known
from datatrust.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Problem,
    RateLimited,
    SecondFactorRequired,
)
from datatrust.domain.ids import id_of
from datatrust.domain.notifications import NoticeKind
from datatrust.domain.permissions import (
    MISSING,
    ROLE_PERMISSIONS,
    Actor,
    Permission,
    Role,
    authorize,
)
from datatrust.i18n import available_languages, translator
from datatrust.services.accounts.notifications import notify_members
from datatrust.services.accounts.password_policy import password_problems
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import MailMessage, PasswordHasher, UnitOfWork
from datatrust.services.storage import EncryptedStorage

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
TOKEN_PREFIX = "dt_"
MAX_TOKEN_DAYS = 366
# A token's last_used_at is as fresh as this: good enough to spot an unused token.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
SIGN_UP_ROLES = (Role.CONTRIBUTOR, Role.BUYER)  # operators are made by an operator or the CLI


def digest(secret: str) -> str:
    """Secrets (tokens, session ids) are stored only as their sha256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def email_ref(storage: EncryptedStorage, email: str) -> str:
    """How the audit log and the outbox name an email address that may have no account:
    keyed under the instance's master key, so a copy of the database cannot be searched
    for a guessed address (a plain SHA-256 of an email can: addresses are guessable)."""
    return storage.cipher.content_id(digest(email.strip().lower()))[:32]


def actor_label(actor: Actor) -> str:
    return f"user:{actor.user_id}" if actor.user_id else actor.role.value


def actor_for(
    uow: UnitOfWork,
    user: User,
    scopes: frozenset[str] | None = None,
    token_expires_at: datetime | None = None,
) -> Actor:
    membership = uow.one(Membership, user_id=user.id)
    return Actor(
        role=user.role,
        user_id=user.id,
        org_id=membership.org_id if membership else None,
        org_admin=bool(membership and membership.role is MemberRole.ADMIN),
        scopes=scopes,
        token_expires_at=token_expires_at,
    )


def standing_of(uow: UnitOfWork, actor: Actor) -> BuyerStanding | None:
    """A buyer's standing (``domain.accounts.buyer_standing``), None for every other role:
    read with the credential, so a buyer's menu offers only the pages that answer."""
    if actor.role is not Role.BUYER:
        return None
    return buyer_standing(uow.get(Organisation, actor.org_id) if actor.org_id else None)


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
    """Create an account at once (operators, the demo, tests: callers that vouch for the
    address). People signing themselves up go through ``request_sign_up``. Every problem
    with the input is reported at once."""
    email = email.strip().lower()
    problems = _sign_up_problems(email, password, role, display_name, country, allow_operator)
    if problems:
        raise InvalidInput(problems)
    if uow.one(User, email=email) is not None:
        raise Conflict(Problem("email", "account.email_taken"))
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


# How far back anything reads ``sign_in_attempts``: the throttles' window (15 minutes)
# and the reset mails counted per address per hour (``PASSWORD_RESET_MAILS_PER_HOUR``).
# Older rows are forgotten as new ones are counted.
TRIES_KEPT = timedelta(hours=1)


@dataclass(frozen=True)
class Throttle:
    """Sign-in throttling. Within ``window``, an account (or a client) may fail
    ``free_failures`` times freely; after that each next try waits 1, 2, 4 … seconds after
    the last failure, at most ``max_delay_seconds``. Nothing ever locks: once the wait is
    over the right password signs in. Tries refused for waiting are not counted."""

    free_failures: int = 5
    client_free_failures: int = 20
    max_delay_seconds: int = 300
    window: timedelta = timedelta(minutes=15)
    # Sign-ups per client address (every one, valid forms only: each costs a hash).
    sign_up_free: int = 10


def _wait_seconds(failures: list[SignInAttempt], free: int, limit: int, now: datetime) -> int:
    if len(failures) < free:
        return 0
    delay = min(2 ** min(len(failures) - free, 30), limit)
    last = max(as_utc(a.at) for a in failures)
    return max(0, math.ceil((last + timedelta(seconds=delay) - now).total_seconds()))


def _client_wait(uow: UnitOfWork, client: str, free: int, throttle: Throttle, now: datetime) -> int:
    """Seconds ``client`` must wait before its next try (0: go ahead)."""
    since = now - throttle.window
    tries = [a for a in uow.all(SignInAttempt, client=client) if as_utc(a.at) > since]
    return _wait_seconds(tries, free, throttle.max_delay_seconds, now)


@lru_cache(maxsize=8)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of nothing anyone knows, checked for an unknown email so that answering it
    costs the same time as a wrong password for a real account."""
    return hasher.hash(secrets.token_urlsafe(16))


def sign_in(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    client: str,
    storage: EncryptedStorage,
    session_max_age_seconds: int,
    known_device: bool = False,
    totp_code: str | None = None,
    throttle: Throttle = Throttle(),
    now: datetime | None = None,
) -> SignedIn:
    """Check a password (and, when the account has one, its TOTP code or one of its
    unused recovery codes; ``storage`` opens the sealed TOTP secret) and open a session
    for it: the sign-in and its session commit together, for the API and the pages alike.

    The answer and the work are the same for an unknown email as for a wrong password
    (one hash check, one failure row), so neither the message nor the time tells whether
    an account exists. ``client`` names where the try came from (``ip:<address>``, or
    ``device:<id>`` for a browser that signed in to this account before: ``known_device``).
    Failures are throttled per client and, except for a known device, per account (see
    ``Throttle``): ``RateLimited`` carries ``retry_after_seconds``. An account with TOTP
    on answers a right password without a code with ``SecondFactorRequired``."""
    now = now or utcnow()
    email = email.strip().lower()
    since = now - throttle.window
    wait = _client_wait(uow, client, throttle.client_free_failures, throttle, now)
    if not known_device:
        account_failures = [a for a in uow.all(SignInAttempt, email=email) if as_utc(a.at) > since]
        wait = max(
            wait,
            _wait_seconds(
                account_failures, throttle.free_failures, throttle.max_delay_seconds, now
            ),
        )
    if wait:
        raise RateLimited(
            Problem(None, "account.sign_in_throttled", {"wait": timedelta(seconds=wait)}),
            {"retry_after_seconds": wait},
        )
    # The try counts before the password is checked and stops counting once it proves
    # right: tries sent all at once are counted one by one (the write lock orders them on
    # SQLite), and the hash itself runs with no transaction open, so neither a slow hash
    # nor one waiting for a free slot (the hasher's global cap) holds the write lock.
    attempt = _record_attempt(uow, email=email, client=client, now=now, throttle=throttle)
    user = uow.one(User, email=email)
    uow.commit()
    # The account the password is checked against: None for an unknown or erased email.
    account = user if user is not None and user.erased_at is None else None
    try:
        stored = account.password_hash if account is not None else _dummy_hash(hasher)
        right = hasher.verify(stored, password)
        new_hash = (
            hasher.hash(password)
            if account is not None and right and hasher.needs_rehash(account.password_hash)
            else None
        )
    except RateLimited:  # no slot to check it in: the try was not made
        uow.delete(attempt)
        uow.commit()
        raise
    if account is not None and right and account.totp_enabled_at is not None:
        if not totp_code:
            uow.delete(attempt)
            uow.commit()
            raise SecondFactorRequired(Problem("totp_code", "totp.required"))
        user = uow.get_for_update(User, account.id)  # read afresh: the check writes
        right = user is not None and _second_factor(uow, storage, user, totp_code, now)
    if not (account is not None and right):
        uow.record(AuditTag.ACCOUNT_SIGN_IN_FAILED, "anonymous", "email", email_ref(storage, email))
        uow.commit()
        raise NotAuthenticated(Problem(None, "account.sign_in_wrong"))
    assert user is not None
    uow.delete(attempt)
    if new_hash is not None:
        user.password_hash = new_hash
    uow.record(AuditTag.ACCOUNT_SIGN_IN, f"user:{user.id}", "user", user.id)
    session = _add_session(uow, user, session_max_age_seconds)
    uow.commit()
    return SignedIn(user, session)


def _record_attempt(
    uow: UnitOfWork, *, email: str, client: str, now: datetime, throttle: Throttle
) -> SignInAttempt:
    """Count one try (a sign-in, or a sign-up when ``email`` is empty) and forget every
    counted row older than any reader looks back (``TRIES_KEPT``; the audit log keeps
    every failure). Kept, the table grew with every failure ever made and each throttle
    check read a longer history."""
    uow.sign_in_attempts.forget(before=now - max(throttle.window, TRIES_KEPT))
    attempt = SignInAttempt(email=email, at=now, client=client)
    uow.add(attempt)
    return attempt


# --- sign-up confirmed by email -----------------------------------------------------------

SIGN_UP_MAIL_JOB = "accounts.sign_up_mail"
SIGN_UP_LINK_LIFETIME = timedelta(hours=24)
# Mails one address may be sent per hour, however often its sign-up form is posted.
SIGN_UP_MAILS_PER_HOUR = 3


def _sign_up_problems(
    email: str,
    password: str,
    role: Role,
    display_name: str,
    country: str | None,
    allow_operator: bool,
) -> list[Problem]:
    problems: list[Problem] = []
    if not EMAIL_RE.match(email):
        problems.append(Problem("email", "email.invalid"))
    problems += password_problems(password, [email, display_name])
    if role is Role.OPERATOR and not allow_operator:
        problems.append(Problem("role", "role.operator_self_sign_up"))
    if role not in (*SIGN_UP_ROLES, Role.OPERATOR):
        choices = [r.value for r in SIGN_UP_ROLES]
        problems.append(Problem("role", "role.unknown", {"choices": choices}))
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(Problem("country", "country.invalid"))
    return problems


def request_sign_up(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    role: Role = Role.CONTRIBUTOR,
    display_name: str = "",
    language: str = "en",
    country: str | None = None,
    client: str,
    storage: EncryptedStorage,
    throttle: Throttle = Throttle(),
) -> None:
    """Ask for an account: once the form is valid, the same happens whether the email is
    new or taken (a request row, a hash, a mail queued) and the caller says the same
    ("check your email"), so the form cannot tell which addresses have accounts. The mail
    carries a link that creates the account (``confirm_sign_up``), or, when the address
    already has one, says so to its owner. Raises ``InvalidInput`` listing every problem.

    Each valid request costs a password hash, so they are throttled per ``client``
    address as failed sign-ins are (``Throttle.sign_up_free`` in the window, then
    doubling waits): ``RateLimited`` with ``retry_after_seconds``, before any hashing.
    The same for a new email as for a taken one."""
    email = email.strip().lower()
    problems = _sign_up_problems(email, password, role, display_name, country, False)
    if problems:
        raise InvalidInput(problems)
    now = utcnow()
    counted_as = f"sign-up:{client}"[:80]
    wait = _client_wait(uow, counted_as, throttle.sign_up_free, throttle, now)
    if wait:
        raise RateLimited(
            Problem(None, "account.sign_up_throttled", {"wait": timedelta(seconds=wait)}),
            {"retry_after_seconds": wait},
        )
    attempt = _record_attempt(uow, email="", client=counted_as, now=now, throttle=throttle)
    uow.commit()
    try:  # with no transaction open (see sign_in)
        password_hash = hasher.hash(password)
    except RateLimited:  # no slot to hash it in: the request was not made
        uow.delete(attempt)
        uow.commit()
        raise
    earlier = uow.all(SignUpRequest, email=email)
    for stale in [r for r in earlier if as_utc(r.expires_at) <= now]:
        uow.delete(stale)
    recent = [r for r in earlier if as_utc(r.created_at) > now - timedelta(hours=1)]
    request = SignUpRequest(
        email=email,
        password_hash=password_hash,
        role=role,
        expires_at=now + SIGN_UP_LINK_LIFETIME,
        display_name=display_name.strip()[:200],
        language=language,
        country=country,
        created_at=now,
    )
    uow.add(request)
    uow.flush()
    uow.record(
        AuditTag.ACCOUNT_SIGN_UP_REQUEST,
        "anonymous",
        "email",
        email_ref(storage, email),
        role=role.value,
    )
    if len(recent) < SIGN_UP_MAILS_PER_HOUR:
        # The email's digest too: SQLite may give a later request a deleted one's id.
        payload = {"request": request.id, "email": email_ref(storage, email)}
        uow.enqueue(SIGN_UP_MAIL_JOB, payload)
    uow.commit()


def sign_up_token(secret: str, request: SignUpRequest) -> str:
    """The link's token: the request's id and an HMAC binding it to its email and time.
    Derived, never stored, so the outbox and the table hold nothing that opens it."""
    created = int(as_utc(request.created_at).timestamp())
    message = f"sign-up:{request.id}:{request.email}:{created}".encode()
    return f"{request.id}.{hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"


def sign_up_request_for(uow: UnitOfWork, secret: str, token: str) -> SignUpRequest:
    """The waiting request a link's token names; ``NotFound`` when the token is wrong or
    the link has expired."""
    ident, _, _mac = token.partition(".")
    request = uow.get(SignUpRequest, int(ident)) if ident.isdigit() and len(ident) < 19 else None
    if (
        request is None
        or not hmac.compare_digest(sign_up_token(secret, request), token)
        or as_utc(request.expires_at) <= utcnow()
    ):
        raise NotFound(Problem(None, "account.sign_up_link_invalid"))
    return request


def confirm_sign_up(
    uow: UnitOfWork, secret: str, token: str, *, session_max_age_seconds: int
) -> SignedIn:
    """Create the account a sign-up link stands for (its email's owner opened it) and
    sign it in: the account and its first session commit together, for the API and the
    pages alike. Every waiting request for that email is then removed. ``Conflict`` when
    the address got an account meanwhile (only the mailbox's owner can learn that here)."""
    request = sign_up_request_for(uow, secret, token)
    for waiting in uow.all(SignUpRequest, email=request.email):
        uow.delete(waiting)
    if uow.one(User, email=request.email) is not None:
        uow.commit()
        raise Conflict(Problem("email", "account.email_taken_sign_in"))
    user = User(
        email=request.email,
        password_hash=request.password_hash,
        role=request.role,
        display_name=request.display_name,
        language=request.language,
        country=request.country,
    )
    uow.add(user)
    uow.flush()
    uow.record(AuditTag.ACCOUNT_SIGN_UP, f"user:{user.id}", "user", user.id, role=user.role.value)
    session = _add_session(uow, user, session_max_age_seconds)
    uow.commit()
    return SignedIn(user, session)


def sign_up_mail(
    request: SignUpRequest, *, has_account: bool, base_url: str, secret: str
) -> MailMessage:
    """The mail a sign-up request sends, in the language the form was filled in."""
    _ = translator(request.language).gettext
    if has_account:
        body = _(
            "Someone, perhaps you, tried to create a Datatrust account with this email "
            "address. It already has an account: sign in at %(link)s. If it was not you, "
            "ignore this email; nothing was changed."
        ) % {"link": f"{base_url}/sign-in"}
        return MailMessage(request.email, _("Your Datatrust account"), body)
    link = f"{base_url}/sign-up/confirm?token={sign_up_token(secret, request)}"
    body = _(
        "Open this link to finish creating your Datatrust account:\n\n%(link)s\n\n"
        "It works for 24 hours. If you did not sign up, ignore this email: no account "
        "is made without it."
    ) % {"link": link}
    return MailMessage(request.email, _("Confirm your Datatrust account"), body)


@job(SIGN_UP_MAIL_JOB)
def send_sign_up_mail(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    request = uow.get(SignUpRequest, payload["request"])
    if (
        request is None
        or email_ref(ctx.services.storage, request.email) != payload.get("email")
        or as_utc(request.expires_at) <= utcnow()
    ):
        return  # confirmed or expired meanwhile: nothing to say
    settings = ctx.services.settings
    ctx.services.mailer.send(
        sign_up_mail(
            request,
            has_account=uow.one(User, email=request.email) is not None,
            base_url=settings.base_url.rstrip("/"),
            secret=settings.secret_key.get_secret_value(),
        )
    )


# --- forgotten and changed passwords, the profile ------------------------------------------

PASSWORD_RESET_JOB = "accounts.password_reset_mail"
PASSWORD_RESET_LIFETIME = timedelta(hours=1)
# Reset mails one address may be sent per hour, however often the form is posted.
PASSWORD_RESET_MAILS_PER_HOUR = 3


def _reset_counter(storage: EncryptedStorage, email: str) -> str:
    """The ``SignInAttempt.client`` that counts reset mails to ``email`` (its email field
    stays empty: a reset asked for is no failed sign-in of that account)."""
    return f"password-reset:{email_ref(storage, email)}"


def request_password_reset(
    uow: UnitOfWork,
    *,
    email: str,
    storage: EncryptedStorage,
    client: str | None = None,
    throttle: Throttle = Throttle(),
    now: datetime | None = None,
) -> None:
    """Mail a single-use link that sets a new password, when ``email`` has an account.

    The caller answers the same whatever happens ("if the address has an account, a link
    is on its way"), and the work is the same for an unknown address: one counter row and
    one outbox job (which, for no account, sends nothing), so neither the page nor its
    time tells which addresses have accounts. At most ``PASSWORD_RESET_MAILS_PER_HOUR``
    mails per address per hour; more requests are answered alike and send nothing. The
    token is not in the outbox: the job derives it from the account and the expiry.

    Each request writes (a counter row, an audit event, an outbox job), so requests are
    throttled per ``client`` address as sign-ups are (``Throttle.sign_up_free`` in the
    window, then doubling waits): ``RateLimited`` with ``retry_after_seconds``, before
    anything is written, alike for every address."""
    now = now or utcnow()
    email = email.strip().lower()
    if client is not None:
        counted_as = f"reset:{client}"[:80]
        wait = _client_wait(uow, counted_as, throttle.sign_up_free, throttle, now)
        if wait:
            raise RateLimited(
                Problem(None, "account.reset_throttled", {"wait": timedelta(seconds=wait)}),
                {"retry_after_seconds": wait},
            )
        _record_attempt(uow, email="", client=counted_as, now=now, throttle=throttle)
    counter = _reset_counter(storage, email)
    recent = [
        a for a in uow.all(SignInAttempt, client=counter) if as_utc(a.at) > now - timedelta(hours=1)
    ]
    uow.add(SignInAttempt(email="", at=now, client=counter))
    user = uow.one(User, email=email) if EMAIL_RE.match(email) else None
    account = user if user is not None and user.erased_at is None else None
    uow.record(
        AuditTag.ACCOUNT_PASSWORD_RESET_REQUEST, "anonymous", "email", email_ref(storage, email)
    )
    if len(recent) < PASSWORD_RESET_MAILS_PER_HOUR:
        expires = int((now + PASSWORD_RESET_LIFETIME).timestamp())
        payload = {"user": account.id if account is not None else 0, "expires": expires}
        uow.enqueue(PASSWORD_RESET_JOB, payload)
    uow.commit()


def password_reset_token(secret: str, user: User, expires: int) -> str:
    """``<user id>.<expiry, unix seconds>.<HMAC>``. The HMAC binds the account, the expiry
    and the account's current password hash, so the link stops working once any password
    is set (it is single-use without a table), and is never stored anywhere."""
    message = f"password-reset:{user.id}:{expires}:{user.password_hash}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{user.id}.{expires}.{mac}"


def password_reset_user(
    uow: UnitOfWork, secret: str, token: str, now: datetime | None = None
) -> User:
    """The account a reset link's token opens; ``NotFound`` when the token is wrong, has
    expired or was used (a password was set since it was made)."""
    now = now or utcnow()
    ident, _, rest = token.partition(".")
    expires, _, _mac = rest.partition(".")
    user = None
    if ident.isdigit() and len(ident) < 10 and expires.isdigit() and len(expires) < 12:
        user = uow.get(User, int(ident))
    if (
        user is None
        or user.erased_at is not None
        or not hmac.compare_digest(
            password_reset_token(secret, user, int(expires)).encode(), token.encode()
        )
        or int(expires) <= now.timestamp()
    ):
        raise NotFound(Problem(None, "account.reset_link_invalid"))
    return user


def _end_sessions(uow: UnitOfWork, user_id: int, *, keep: str | None = None) -> int:
    """Revoke every live web session of the account, except the one whose secret is
    ``keep`` (the browser that changed the password stays signed in), and every API token
    of the account: whoever took the password may have made one, and a token outliving
    the new password would keep them in. Returns how many tokens were revoked."""
    now = utcnow()
    kept = digest(keep) if keep else None
    for session in uow.all(WebSession, user_id=user_id, revoked_at=None):
        if session.session_hash != kept:
            session.revoked_at = now
    tokens = uow.all(ApiToken, user_id=user_id, revoked_at=None)
    for token in tokens:
        token.revoked_at = now
    return len(tokens)


def _check_new_password(user: User, password: str) -> None:
    """``InvalidInput`` with ``new_password: …`` problems when ``password`` may not be used."""
    problems = password_problems(password, [user.email, user.display_name])
    if problems:
        raise InvalidInput([p.at("new_password") if p.field == "password" else p for p in problems])


def reset_password(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    secret: str,
    token: str,
    new_password: str,
    *,
    session_max_age_seconds: int,
) -> SignedIn | None:
    """Set a new password from a reset link, sign every browser out, revoke every API
    token, use the link up and sign in the one that sent it: all of it commits together,
    with a mail telling the owner (``PASSWORD_CHANGED``). ``InvalidInput`` with
    ``new_password: …`` problems (the link stays usable).

    An account with two-step sign-in is not signed in (``None``): a reset link proves
    only the mailbox, so the new password opens a session only with a code from the
    person's authenticator app, on the sign-in page."""
    user = password_reset_user(uow, secret, token)
    _check_new_password(user, new_password)
    user.password_hash = hasher.hash(new_password)
    tokens = _end_sessions(uow, id_of(user))
    uow.record(
        AuditTag.ACCOUNT_PASSWORD_RESET, f"user:{user.id}", "user", user.id, tokens_revoked=tokens
    )
    tell_owner(uow, user, PASSWORD_CHANGED, utcnow())
    session = None if user.totp_enabled_at else _add_session(uow, user, session_max_age_seconds)
    uow.commit()
    return SignedIn(user, session) if session else None


def _refuse_token(actor: Actor) -> None:
    """Some changes take the person themselves, signed in with their password: a token
    (made to let a program act, and a thing that leaks) may not make them."""
    if actor.via_token:
        raise PermissionDenied(Problem(None, "account.password_session_required"))


def reauthenticate(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    actor: Actor,
    password: str,
    *,
    throttle: Throttle = Throttle(),
    field: str = "current_password",
) -> User:
    """The caller's account, once ``password`` proves the caller is its owner (a stolen
    session or token alone cannot then change the password, turn two-step sign-in on or
    add a payout method). ``InvalidInput`` naming ``field``: ``required`` or
    ``password.wrong``.

    A wrong password counts as a failed sign-in of the account (the same ``Throttle``,
    ``RateLimited`` with ``retry_after_seconds``): otherwise a stolen session could guess
    the password, perhaps used elsewhere too, as fast as the CPUs hash. The hash runs with
    no transaction open, as in ``sign_in``; every way out leaves none open."""
    now = utcnow()
    user = _own_account(uow, actor)
    if not password:
        raise InvalidInput(Problem(field, "required"))
    since = now - throttle.window
    failures = [a for a in uow.all(SignInAttempt, email=user.email) if as_utc(a.at) > since]
    wait = _wait_seconds(failures, throttle.free_failures, throttle.max_delay_seconds, now)
    if wait:
        raise RateLimited(
            Problem(None, "account.sign_in_throttled", {"wait": timedelta(seconds=wait)}),
            {"retry_after_seconds": wait},
        )
    attempt = _record_attempt(
        uow, email=user.email, client=f"user:{user.id}", now=now, throttle=throttle
    )
    uow.commit()
    try:
        right = hasher.verify(user.password_hash, password)
    except RateLimited:  # no slot to check it in: the try was not made
        uow.delete(attempt)
        uow.commit()
        raise
    if not right:
        raise InvalidInput(Problem(field, "password.wrong"))
    uow.delete(attempt)  # the right password: not a failure, whatever follows
    uow.commit()
    return user


def change_password(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    actor: Actor,
    *,
    current: str,
    new: str,
    session_secret: str | None = None,
    throttle: Throttle = Throttle(),
) -> None:
    """Change the caller's password, given the current one (``reauthenticate``, with its
    throttle); every other browser signed in to the account is signed out
    (``session_secret``: the caller's own, kept), every API token of the account is
    revoked, and the owner is mailed (``PASSWORD_CHANGED``). ``InvalidInput`` with
    ``current_password: …`` or ``new_password: …`` problems."""
    user = reauthenticate(uow, hasher, actor, current, throttle=throttle)
    _check_new_password(user, new)
    new_hash = hasher.hash(new)  # with no transaction open
    fresh = uow.get_for_update(User, user.id)
    assert fresh is not None
    user = fresh
    user.password_hash = new_hash
    tokens = _end_sessions(uow, id_of(user), keep=session_secret)
    uow.record(
        AuditTag.ACCOUNT_PASSWORD_CHANGE,
        actor_label(actor),
        "user",
        user.id,
        tokens_revoked=tokens,
    )
    tell_owner(uow, user, PASSWORD_CHANGED, utcnow())
    uow.commit()


def update_profile(
    uow: UnitOfWork,
    actor: Actor,
    *,
    display_name: str,
    language: str,
    currency: str | None,
) -> User:
    """Set the caller's display name, language (one the pages speak) and the currency
    amounts are shown in approximately (None or "": their country's). ``InvalidInput``
    lists every problem, each naming its field."""
    user = _own_account(uow, actor)
    problems: list[Problem] = []
    name = display_name.strip()
    if len(name) > 200:
        problems.append(Problem("display_name", "account.display_name_too_long", {"maximum": 200}))
    if language not in available_languages():
        problems.append(Problem("language", "account.language_unknown"))
    code = (currency or "").strip().upper() or None
    if code is not None and not is_known(code):
        problems.append(Problem("currency", "account.currency_unknown"))
    if problems:
        raise InvalidInput(problems)
    user.display_name, user.language, user.currency = name, language, code
    uow.record(
        AuditTag.ACCOUNT_PROFILE_UPDATE,
        actor_label(actor),
        "user",
        user.id,
        language=language,
        currency=code,
    )
    uow.commit()
    return user


def password_reset_mail(user: User, *, base_url: str, secret: str, expires: int) -> MailMessage:
    """The reset mail, in the account's language."""
    _ = translator(user.language).gettext
    link = f"{base_url}/reset-password?token={password_reset_token(secret, user, expires)}"
    body = _(
        "Someone, perhaps you, asked to set a new password for your Datatrust account. "
        "Open this link to choose one:\n\n%(link)s\n\nIt works once, for one hour. If it "
        "was not you, ignore this email: your password stays as it is."
    ) % {"link": link}
    return MailMessage(user.email, _("Set a new Datatrust password"), body)


@job(PASSWORD_RESET_JOB)
def send_password_reset_mail(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    user = uow.get(User, payload["user"]) if payload.get("user") else None
    if user is None or user.erased_at is not None or payload["expires"] <= utcnow().timestamp():
        return  # no such account (the same answer was given), or too late to be of use
    settings = ctx.services.settings
    ctx.services.mailer.send(
        password_reset_mail(
            user,
            base_url=settings.base_url.rstrip("/"),
            secret=settings.secret_key.get_secret_value(),
            expires=int(payload["expires"]),
        )
    )


# --- TOTP (optional second factor) ----------------------------------------------------------

TOTP_ROLES = (Role.OPERATOR, Role.BUYER)
TOTP_ISSUER = "Datatrust"


def _accept_totp(secret: str | None, user: User, code: str, now: datetime) -> bool:
    """Whether ``code`` is the account's current code (or the one before or after, for a
    phone's clock a little off) and newer than the last one accepted (no replay).
    ``secret`` is the opened (unsealed) secret."""
    if not secret or not re.fullmatch(r"\d{6}", code.strip()):
        return False
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval), code.strip()):
            if user.totp_last_step is not None and candidate <= user.totp_last_step:
                return False
            user.totp_last_step = candidate
            return True
    return False


def _totp_secret(uow: UnitOfWork, storage: EncryptedStorage, user: User) -> str | None:
    """The account's TOTP secret in clear (sealed under the person's data key; a value
    written before secrets were sealed reads as it is)."""
    assert user.id is not None
    return storage.open_text(uow, user.id, user.totp_secret) or None


RECOVERY_CODES = 10
RECOVERY_CODE_RE = re.compile(r"^[a-z2-7]{16}$")


def _normal_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _new_recovery_codes(uow: UnitOfWork, user: User, now: datetime) -> list[str]:
    """Replace the account's recovery codes with ten new ones; the codes, shown once.
    Each is 80 random bits (16 base32 letters, written in groups of four), so storing
    only its sha256 is enough: the hash cannot be searched back to the code."""
    assert user.id is not None
    for old in uow.all(RecoveryCode, user_id=user.id):
        uow.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        uow.add(RecoveryCode(user_id=user.id, code_hash=digest(raw), created_at=now))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def _use_recovery_code(uow: UnitOfWork, user: User, code: str, now: datetime) -> bool:
    """Spend one unused recovery code of the account (recorded in the audit log with how
    many are left); False when it is not one."""
    normal = _normal_recovery_code(code)
    if not RECOVERY_CODE_RE.fullmatch(normal):
        return False
    found = uow.one(RecoveryCode, user_id=user.id, code_hash=digest(normal))
    if found is None or found.used_at is not None:
        return False
    found.used_at = now
    left = sum(1 for c in uow.all(RecoveryCode, user_id=user.id) if c.used_at is None)
    uow.record(
        AuditTag.ACCOUNT_RECOVERY_CODE_USE, f"user:{user.id}", "user", user.id, codes_left=left
    )
    tell_owner(uow, user, RECOVERY_CODE_USED, now, codes_left=left)
    return True


# --- the owner is told by mail of what could be someone else taking the account ------------

SECURITY_NOTICE_JOB = "accounts.security_notice"
RECOVERY_CODE_USED = "recovery_code_used"
TOTP_TURNED_OFF = "totp_turned_off"
TOTP_TURNED_ON = "totp_turned_on"
PASSWORD_CHANGED = "password_changed"
PAYOUT_METHOD_ADDED = "payout_method_added"


def tell_owner(uow: UnitOfWork, user: User, event: str, at: datetime, **facts: Any) -> None:
    """Mail the account's owner, after commit, that ``event`` happened: a recovery code,
    a session or a password was enough to do it, and the owner is the one who can tell
    whether it was them. The outbox row holds ids and facts only, not the address."""
    payload = {"user": user.id, "event": event, "at": as_utc(at).isoformat(), **facts}
    uow.enqueue(SECURITY_NOTICE_JOB, payload)


def security_notice_mail(
    user: User,
    event: str,
    at: datetime,
    codes_left: int = 0,
    *,
    rail: str = "",
    label: str = "",
    usable_from: datetime | None = None,
) -> MailMessage:
    """The mail ``tell_owner`` sends, in the account's language. ``rail``, ``label`` and
    ``usable_from``: the payout method added (``PAYOUT_METHOD_ADDED``)."""
    _ = translator(user.language).gettext
    when = as_utc(at).strftime("%Y-%m-%d %H:%M UTC")
    tell = _("tell the operator of this Datatrust instance")
    if event == RECOVERY_CODE_USED:
        subject = _("A recovery code was used on your Datatrust account")
        body = _(
            "One of your recovery codes was used at %(when)s instead of a code from your "
            "authenticator app. %(left)s codes are left. If it was not you, someone knows "
            "your password and has your codes: sign in, turn two-step sign-in off and on "
            "again to replace the codes, and tell the operator of this Datatrust instance."
        ) % {"when": when, "left": codes_left}
    elif event == PASSWORD_CHANGED:
        subject = _("Your Datatrust password was changed")
        body = _(
            "The password of your Datatrust account was changed at %(when)s. Every other "
            "browser was signed out and every API token of yours was revoked: make new "
            "tokens for your programs. If it was not you, ask for a new password on the "
            'sign-in page at once ("Forgot your password?") and %(tell)s.'
        ) % {"when": when, "tell": tell}
    elif event == TOTP_TURNED_ON:
        subject = _("Two-step sign-in was turned on for your Datatrust account")
        body = _(
            "Two-step sign-in was turned on for your account at %(when)s: signing in now "
            "takes a code from an authenticator app as well as your password. If it was "
            "not you, someone knows your password: %(tell)s at once."
        ) % {"when": when, "tell": tell}
    elif event == PAYOUT_METHOD_ADDED:
        rails = {"bank_transfer": _("Bank transfer"), "mpesa": _("M-Pesa"), "upi": _("UPI")}
        usable = as_utc(usable_from or at).strftime("%Y-%m-%d %H:%M UTC")
        subject = _("A payout method was added to your Datatrust account")
        body = _(
            "A payout method (%(method)s %(label)s) was added to your account at %(when)s. "
            "No payout goes to it before %(usable)s. If it was not you, remove it on the "
            'page "Where I am paid", change your password and %(tell)s.'
        ) % {
            "method": rails.get(rail, rail),
            "label": label,
            "when": when,
            "usable": usable,
            "tell": tell,
        }
    else:
        subject = _("Two-step sign-in was turned off on your Datatrust account")
        body = _(
            "Two-step sign-in was turned off on your account at %(when)s. If it was not "
            "you, someone can sign in as you: sign in, turn two-step sign-in on again, and "
            "tell the operator of this Datatrust instance."
        ) % {"when": when}
    return MailMessage(user.email, subject, body)


@job(SECURITY_NOTICE_JOB)
def send_security_notice(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    user = uow.get(User, payload["user"])
    if user is None or user.erased_at is not None:
        return  # erased meanwhile: nobody left to tell
    at = datetime.fromisoformat(payload["at"])
    usable = payload.get("usable_from")
    mail = security_notice_mail(
        user,
        payload["event"],
        at,
        int(payload.get("codes_left", 0)),
        rail=str(payload.get("rail", "")),
        label=str(payload.get("label", "")),
        usable_from=datetime.fromisoformat(usable) if usable else None,
    )
    ctx.services.mailer.send(mail)


def _second_factor(
    uow: UnitOfWork, storage: EncryptedStorage, user: User, code: str, now: datetime
) -> bool:
    """A 6-digit code from the app, or one of the account's recovery codes."""
    if re.fullmatch(r"\d{6}", code.strip()):
        return _accept_totp(_totp_secret(uow, storage, user), user, code, now)
    return _use_recovery_code(uow, user, code, now)


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str  # otpauth:// for an authenticator app; shown once


def my_account(uow: UnitOfWork, actor: Actor) -> User:
    """The caller's own account (its profile)."""
    authorize(actor, Permission.ACCOUNT_READ)
    user = uow.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound(Problem(None, "account.gone"))
    return user


def totp_status(uow: UnitOfWork, actor: Actor) -> str:
    """``"on"``, ``"off"``, or ``"not_offered"`` (contributors) for the caller's account."""
    authorize(actor, Permission.ACCOUNT_READ)
    user = uow.get(User, actor.user_id)
    if user is None or user.role not in TOTP_ROLES:
        return "not_offered"
    return "on" if user.totp_enabled_at is not None else "off"


def start_totp(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    *,
    hasher: PasswordHasher,
    password: str,
    throttle: Throttle = Throttle(),
) -> TotpEnrolment:
    """Begin enrolment (operators and buyers): a new secret, not in force until
    ``enable_totp`` gets a code made from it. Starting again replaces an unfinished one;
    an account with TOTP on must turn it off first.

    It takes the account's ``password`` (``reauthenticate``) and a session, never an API
    token (``PermissionDenied``): whoever turns two-step sign-in on decides who can sign
    in, so a stolen token or session alone could lock the owner out."""
    authorize(actor, Permission.ACCOUNT_UPDATE)
    _refuse_token(actor)
    user = uow.get(User, actor.user_id)
    assert user is not None
    if user.role not in TOTP_ROLES:
        raise PermissionDenied(Problem(None, "totp.not_offered"))
    if user.totp_enabled_at is not None:
        raise Conflict(Problem(None, "totp.already_on"))
    user = reauthenticate(uow, hasher, actor, password, throttle=throttle)
    secret = pyotp.random_base32()
    user.totp_secret = storage.seal_text(uow, id_of(user), secret)
    user.totp_last_step = None
    uow.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret, uri)


def _own_account(uow: UnitOfWork, actor: Actor) -> User:
    authorize(actor, Permission.ACCOUNT_UPDATE)
    user = uow.get(User, actor.user_id)
    assert user is not None
    return user


def _require_app_code(
    uow: UnitOfWork, storage: EncryptedStorage, user: User, code: str, now: datetime
) -> None:
    if not _accept_totp(_totp_secret(uow, storage, user), user, code, now):
        raise InvalidInput(Problem("code", "totp.code_wrong"))


def enable_totp(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    code: str,
    now: datetime | None = None,
    *,
    hasher: PasswordHasher,
    password: str,
    throttle: Throttle = Throttle(),
) -> list[str]:
    """Turn TOTP on once ``code`` proves the person's app holds the new secret and
    ``password`` that the person is the account's owner (``reauthenticate``; an API token
    is refused, as in ``start_totp``). Returns the ten recovery codes, shown this once
    (each works once instead of an app code); the owner is mailed (``TOTP_TURNED_ON``)."""
    now = now or utcnow()
    _refuse_token(actor)
    user = _own_account(uow, actor)
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise Conflict(Problem(None, "totp.not_started"))
    reauthenticate(uow, hasher, actor, password, throttle=throttle)
    fresh = uow.get_for_update(User, user.id)  # read afresh: the code check writes
    assert fresh is not None
    user = fresh
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise Conflict(Problem(None, "totp.not_started"))
    _require_app_code(uow, storage, user, code, now)
    user.totp_enabled_at = now
    codes = _new_recovery_codes(uow, user, now)
    uow.record(AuditTag.ACCOUNT_TOTP_ENABLE, actor_label(actor), "user", user.id)
    tell_owner(uow, user, TOTP_TURNED_ON, now)
    uow.commit()
    return codes


def replace_recovery_codes(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    code: str,
    now: datetime | None = None,
) -> list[str]:
    """Ten new recovery codes (the old ones stop working), for a current app code: a
    stolen session alone cannot mint them."""
    now = now or utcnow()
    user = _own_account(uow, actor)
    if user.totp_enabled_at is None:
        raise Conflict(Problem(None, "totp.not_on"))
    _require_app_code(uow, storage, user, code, now)
    codes = _new_recovery_codes(uow, user, now)
    uow.record(AuditTag.ACCOUNT_TOTP_ENABLE, actor_label(actor), "user", user.id, codes="new")
    uow.commit()
    return codes


def disable_totp(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    code: str,
    now: datetime | None = None,
) -> None:
    """Turn TOTP off; it takes a current code (or a recovery code), so a stolen session
    alone cannot. The recovery codes go with it."""
    authorize(actor, Permission.ACCOUNT_UPDATE)
    user = uow.get(User, actor.user_id)
    assert user is not None
    if user.totp_enabled_at is None:
        raise Conflict(Problem(None, "totp.not_on"))
    if not _second_factor(uow, storage, user, code, now or utcnow()):
        raise InvalidInput(Problem("code", "totp.code_wrong"))
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    for old in uow.all(RecoveryCode, user_id=user.id):
        uow.delete(old)
    uow.record(AuditTag.ACCOUNT_TOTP_DISABLE, actor_label(actor), "user", user.id)
    tell_owner(uow, user, TOTP_TURNED_OFF, now or utcnow())
    uow.commit()


@dataclass(frozen=True)
class NewSession:
    secret: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: NewSession


def start_session(uow: UnitOfWork, user: User, *, max_age_seconds: int) -> NewSession:
    session = _add_session(uow, user, max_age_seconds)
    uow.commit()
    return session


def _add_session(uow: UnitOfWork, user: User, max_age_seconds: int) -> NewSession:
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(seconds=max_age_seconds)
    uow.add(
        WebSession(
            session_hash=digest(secret), user_id=id_of(user), csrf_token=csrf, expires_at=expires
        )
    )
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
    expires_at: datetime | None = None  # the token's or session's own end
    standing: BuyerStanding | None = None  # a buyer's (``standing_of``); None for others


def authenticate_session(uow: UnitOfWork, secret: str) -> Authenticated:
    session = uow.one(WebSession, session_hash=digest(secret))
    if session is None or session.revoked_at is not None:
        raise NotAuthenticated(Problem(None, "session.invalid"))
    if as_utc(session.expires_at) <= utcnow():
        raise NotAuthenticated(Problem(None, "session.expired"))
    user = uow.get(User, session.user_id)
    if user is None or user.erased_at is not None:
        raise NotAuthenticated(Problem(None, "account.gone"))
    actor = actor_for(uow, user)
    return Authenticated(
        actor,
        user,
        session.csrf_token,
        expires_at=session.expires_at,
        standing=standing_of(uow, actor),
    )


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
    """A token can carry only permissions its owner has; it expires within a year, and
    a token made by a token expires no later than the token that made it (its
    ``expires_at`` is cut to that one's)."""
    authorize(actor, Permission.TOKEN_CREATE)
    allowed = {p.value for p in ROLE_PERMISSIONS[actor.role]}
    if actor.scopes is not None:  # a token cannot mint a broader token
        allowed &= actor.scopes
    problems: list[Problem] = []
    if not name.strip():
        problems.append(Problem("name", "token.name_required"))
    unknown = sorted(set(scopes) - {p.value for p in Permission})
    if unknown:
        problems.append(Problem("scopes", "token.scopes_unknown", {"scopes": unknown}))
    beyond = sorted(set(scopes) - allowed - set(unknown))
    if beyond:
        problems.append(Problem("scopes", "token.scopes_beyond_account", {"scopes": beyond}))
    if not scopes:
        problems.append(Problem("scopes", "token.scopes_empty"))
    now = utcnow()
    if not 1 <= days <= MAX_TOKEN_DAYS:
        problems.append(
            Problem("days", "token.days_out_of_range", {"minimum": 1, "maximum": MAX_TOKEN_DAYS})
        )
    if problems:
        raise InvalidInput(problems)
    expires = now + timedelta(days=days)
    if actor.token_expires_at is not None:
        # A token making a token that outlived it would outlive its own expiry (and a
        # leaked short-lived token could make itself a year-long one).
        expires = min(expires, as_utc(actor.token_expires_at))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=actor.uid,
        name=name.strip()[:200],
        token_hash=digest(secret),
        prefix=secret[:10],
        scopes=sorted(set(scopes)),
        expires_at=expires,
    )
    uow.add(token)
    uow.flush()
    uow.record(AuditTag.TOKEN_CREATE, actor_label(actor), "token", token.id, scopes=token.scopes)
    uow.commit()
    return NewToken(token, secret)


# What a token made on the tokens page may do: everything its owner reads, or all the
# owner may do. (The API takes any list of permissions the owner has.)
TOKEN_ACCESS = ("read", "all")


def token_scopes(actor: Actor, access: str) -> list[str]:
    """The permissions ``access`` (one of ``TOKEN_ACCESS``) stands for, for ``actor``'s
    role; [] for an unknown one (``create_api_token`` then names the problem)."""
    mine = sorted(p.value for p in ROLE_PERMISSIONS[actor.role])
    if access == "all":
        return mine
    if access == "read":
        return [p for p in mine if p.endswith(":read")]
    return []


def token_access(actor: Actor, token: ApiToken) -> str:
    """``"read"``, ``"all"`` or ``"custom"``: which of the page's choices ``token`` has."""
    for access in TOKEN_ACCESS:
        if sorted(token.scopes) == token_scopes(actor, access):
            return access
    return "custom"


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
        raise NotAuthenticated(Problem(None, "token.malformed"))
    token = uow.one(ApiToken, token_hash=digest(secret))
    if token is None:
        raise NotAuthenticated(Problem(None, "token.unknown"))
    state = token.state_at(utcnow())
    if state == "revoked":
        raise NotAuthenticated(Problem(None, "token.revoked"))
    if state == "expired":
        raise NotAuthenticated(Problem(None, "token.expired"))
    user = uow.get(User, token.user_id)
    if user is None or user.erased_at is not None:
        raise NotAuthenticated(Problem(None, "account.gone"))
    stale = token.last_used_at is None or as_utc(token.last_used_at) <= (
        utcnow() - TOKEN_TOUCH_INTERVAL
    )
    actor = actor_for(uow, user, frozenset(token.scopes), as_utc(token.expires_at))
    return Authenticated(
        actor,
        user,
        token_needs_touch=stale,
        expires_at=token.expires_at,
        standing=standing_of(uow, actor),
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
    intended_uses: dict[str, Any] | None = None,
) -> Organisation:
    """A buyer registers its organisation and becomes its admin; an operator vets it."""
    authorize(actor, Permission.ORG_CREATE)
    problems: list[Problem] = []
    if not legal_name.strip():
        problems.append(Problem("legal_name", "required"))
    if not re.fullmatch(r"[A-Z]{2}", country or ""):
        problems.append(Problem("country", "organisation.country_invalid"))
    if contact_email and not EMAIL_RE.match(contact_email):
        problems.append(Problem("contact_email", "email.invalid"))
    if problems:
        raise InvalidInput(problems)
    if uow.one(Membership, user_id=actor.user_id) is not None:
        raise Conflict(Problem(None, "organisation.already_member"))
    org = Organisation(
        legal_name=legal_name.strip(),
        country=country,
        website=website.strip(),
        contact_email=contact_email.strip(),
        intended_uses=intended_uses or {},
    )
    uow.add(org)
    uow.flush()
    uow.add(Membership(org_id=id_of(org), user_id=actor.uid, role=MemberRole.ADMIN))
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
    if status:
        return uow.all(Organisation, order_by="id", status=OrgStatus(status))
    return uow.all(Organisation, order_by="id")


ORG_DECISION_TAGS = {
    "approve": AuditTag.ORG_APPROVE,
    "reject": AuditTag.ORG_REJECT,
    "suspend": AuditTag.ORG_SUSPEND,
}


def decide_organisation(
    uow: UnitOfWork, actor: Actor, org_id: int, decision: str, reason: str = ""
) -> Organisation:
    """An operator approves, rejects (with a reason) or suspends (with a reason) a buyer,
    as its status allows (``Organisation.decisions``: a ``Conflict`` otherwise)."""
    org = uow.get_for_update(Organisation, org_id)
    authorize(actor, Permission.ORG_VET, org or MISSING)
    assert org is not None
    if decision not in ORG_DECISION_TAGS:
        choices = list(ORG_DECISION_TAGS)
        raise InvalidInput(
            Problem("decision", "organisation.decision_unknown", {"choices": choices})
        )
    org.decide(decision, reason)
    uow.record(
        ORG_DECISION_TAGS[decision], actor_label(actor), "org", org.id, reason=org.status_reason
    )
    notify_members(
        uow,
        id_of(org),
        NoticeKind.VETTING_DECIDED,
        org=org.legal_name,
        status=org.status.value,
        reason=org.status_reason,
    )
    uow.commit()
    return org
