"""Accounts: people, buyer organisations and their members, API tokens, web sessions,
and each contributor's data key. Plain classes; the database mapping lives in adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.permissions import Role


class OrgStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


# Each vetting decision and the status it leads to.
ORG_DECISION_STATUS = {
    "approve": OrgStatus.APPROVED,
    "reject": OrgStatus.REJECTED,
    "suspend": OrgStatus.SUSPENDED,
}
# The decisions each status allows, in the order they are offered: approve one not
# approved (pending, rejected, or suspended: reinstated), reject one still pending,
# suspend one approved.
# A rejected organisation is never suspended: rejection is reached only from pending, and
# a pending organisation was never approved, so it never bought, sampled, built or
# downloaded anything and holds no data and no revocation notice; its members' tokens
# are refused every buyer action. Suspension would loosen that, not tighten it: a
# suspended buyer may still read its feed, attest deletion, manage its webhook and
# download (``market.approved_org``'s ``allow_suspended``), a rejected one may not.
# (tests/domain/test_org_decisions.py holds this.)
ORG_DECISIONS: dict[OrgStatus, tuple[str, ...]] = {
    OrgStatus.PENDING: ("approve", "reject"),
    OrgStatus.APPROVED: ("suspend",),
    OrgStatus.REJECTED: ("approve",),
    OrgStatus.SUSPENDED: ("approve",),
}


class MemberRole(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(eq=False)
class User:
    email: str
    password_hash: str
    role: Role
    display_name: str = ""
    language: str = "en"
    country: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    erased_at: datetime | None = None
    # The ISO 4217 currency the person reads approximate amounts in (their profile's
    # choice); None: their country's.
    currency: str | None = None
    # Optional second factor: a base32 secret, set when enrolment starts and in force once
    # ``totp_enabled_at`` is set (the first code proved the person's app has it). Stored
    # sealed under the person's data key (``EncryptedStorage.seal_text``), never in clear.
    totp_secret: str | None = None
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None  # the last accepted 30 s step: no code works twice
    id: int | None = None

    @property
    def owner_id(self) -> int | None:
        """A user's own account is owned by that user (for the policy)."""
        return self.id


@dataclass(eq=False)
class Organisation:
    legal_name: str
    country: str
    website: str = ""
    contact_email: str = ""
    intended_uses: dict[str, Any] = field(default_factory=dict)
    status: OrgStatus = OrgStatus.PENDING
    status_reason: str = ""
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @property
    def org_id(self) -> int | None:
        return self.id

    @property
    def decisions(self) -> tuple[str, ...]:
        """The vetting decisions its status allows (``ORG_DECISIONS``), in the order an
        operator is offered them."""
        return ORG_DECISIONS[self.status]

    def decide(self, decision: str, reason: str = "") -> None:
        """Take a vetting decision its status allows (``Conflict`` naming the ones it does
        otherwise); a refusal or a suspension says why, for the buyer to read."""
        if decision not in self.decisions:
            params = {"state": self.status.value, "choices": list(self.decisions)}
            raise Conflict(Problem("decision", "organisation.decision_refused", params))
        status = ORG_DECISION_STATUS[decision]
        if status is not OrgStatus.APPROVED and not reason.strip():
            raise InvalidInput(Problem("reason", "organisation.reason_required"))
        self.status = status
        self.status_reason = reason.strip()


class BuyerStanding(StrEnum):
    """What a buyer can do now, by its organisation: what its menu offers."""

    BUYING = "buying"  # approved: catalogue, orders, snapshots, campaigns
    COMPLYING = "complying"  # suspended: it must still read revocations and attest deletion
    WAITING = "waiting"  # no organisation yet, or one pending or rejected


def buyer_standing(org: Organisation | None) -> BuyerStanding:
    """The standing of a buyer in ``org`` (None: not registered yet). It follows the rule
    ``market.approved_org`` enforces: only an approved organisation buys, and a suspended
    one may still comply."""
    if org is None:
        return BuyerStanding.WAITING
    if org.status is OrgStatus.APPROVED:
        return BuyerStanding.BUYING
    if org.status is OrgStatus.SUSPENDED:
        return BuyerStanding.COMPLYING
    return BuyerStanding.WAITING


@dataclass(eq=False)
class Membership:
    org_id: int
    user_id: int
    role: MemberRole = MemberRole.MEMBER
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass(eq=False)
class ApiToken:
    """Only a hash of the secret is stored; ``prefix`` lets a person recognise a token."""

    user_id: int
    name: str
    token_hash: str
    prefix: str
    scopes: list[str]
    expires_at: datetime
    created_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    id: int | None = None

    @property
    def owner_id(self) -> int:
        return self.user_id

    def state_at(self, now: datetime) -> str:
        """``"revoked"``, ``"expired"`` (its end reached) or ``"live"``: whether it signs
        requests in at ``now``, and why not."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if as_utc(self.expires_at) <= now else "live"


@dataclass(eq=False)
class WebSession:
    """A signed-in browser. The cookie holds the secret; the table holds its hash."""

    session_hash: str
    user_id: int
    csrf_token: str
    expires_at: datetime
    created_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None
    id: int | None = None


@dataclass(eq=False)
class SignInAttempt:
    """One failed sign-in, counted per email and per client (``ip:<address>``, or
    ``device:<id>`` for a browser that signed in to that account before) for throttling;
    or one sign-up asked for (client ``sign-up:ip:<address>``, no email: its cost is the
    password hash, whatever the address)."""

    email: str
    at: datetime = field(default_factory=utcnow)
    client: str | None = None
    id: int | None = None


@dataclass(eq=False)
class RecoveryCode:
    """One of the ten single-use codes shown once when two-step sign-in is turned on,
    usable instead of a code from the app. Only its sha256 is stored (80 random bits each,
    so the hash cannot be searched back to the code)."""

    user_id: int
    code_hash: str
    created_at: datetime = field(default_factory=utcnow)
    used_at: datetime | None = None
    id: int | None = None


@dataclass(eq=False)
class SignUpRequest:
    """A sign-up waiting for its email's owner to open the link sent there; the account
    is created only then. Holds the password's hash, never the password."""

    email: str
    password_hash: str
    role: Role
    expires_at: datetime
    display_name: str = ""
    language: str = "en"
    country: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass(eq=False)
class ContributorKey:
    """A contributor's data key, wrapped by the instance master key. Destroying it
    (``wrapped_key`` emptied, ``destroyed_at`` set) makes every object of theirs unreadable."""

    owner_id: int
    wrapped_key: bytes
    created_at: datetime = field(default_factory=utcnow)
    destroyed_at: datetime | None = None
