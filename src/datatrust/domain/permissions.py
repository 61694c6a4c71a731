"""Who may do what: permissions named ``resource:action``, decided by one policy function.

Every route declares the permission it needs; ``authorize`` is the only place that decides.
Objects are passed to the policy so ownership is checked per object, never only per route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.errors import NotAuthenticated, NotFound, PermissionDenied, Problem


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    CONTRIBUTOR = "contributor"
    BUYER = "buyer"
    OPERATOR = "operator"


class Permission(StrEnum):
    PUBLIC_READ = "public:read"
    ACCOUNT_READ = "account:read"
    ACCOUNT_UPDATE = "account:update"
    TOKEN_CREATE = "token:create"
    TOKEN_READ = "token:read"
    TOKEN_REVOKE = "token:revoke"
    ITEM_CREATE = "item:create"
    ITEM_READ = "item:read"
    ITEM_PREVIEW = "item:preview"
    ITEM_MARK_MISSED = "item:mark_missed"  # "you missed something" on one's own preview
    ORG_CREATE = "org:create"
    ORG_READ = "org:read"
    ORG_MANAGE = "org:manage"
    ORG_VET = "org:vet"
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    JOB_READ = "job:read"
    LICENCE_CREATE = "licence:create"
    LICENCE_READ = "licence:read"
    CONSENT_GIVE = "consent:give"
    CONSENT_WITHDRAW = "consent:withdraw"
    CONSENT_READ = "consent:read"
    PERSONAL_DATA_EXPORT = "personal_data:export"
    PERSONAL_DATA_ERASE = "personal_data:erase"
    INSTANCE_MANAGE = "instance:manage"
    CAMPAIGN_CREATE = "campaign:create"  # also: manage (open, close) the campaigns one runs
    CAMPAIGN_READ = "campaign:read"
    REVIEW = "review:submit"  # peer review by contributors, the operator review queue
    # Buyers (issue 5). The org-level checks (approved, not suspended) are in the services.
    CATALOGUE_READ = "catalogue:read"
    ORDER_CREATE = "order:create"
    ORDER_READ = "order:read"
    SNAPSHOT_BUILD = "snapshot:build"
    SAMPLE_REQUEST = "sample:request"
    SNAPSHOT_DOWNLOAD = "snapshot:download"
    FEED_READ = "feed:read"
    DELETION_ATTEST = "deletion:attest"
    WEBHOOK_MANAGE = "webhook:manage"  # a buyer's pushed notices and their delivery log
    PASSPORT_READ = "passport:read"
    # Money (issue 6).
    STATEMENT_READ = "statement:read"  # a contributor's own earnings and payouts
    PAYOUT_REQUEST = "payout:request"
    PAYOUT_RUN = "payout:run"
    ESCROW_FUND = "escrow:fund"
    INVOICE_READ = "invoice:read"
    LEDGER_READ = "ledger:read"
    # Incidents (issue 14 §6).
    INCIDENT_MANAGE = "incident:manage"
    NOTICE_READ = "notice:read"  # one's own notices (a buyer: its organisation's)
    # Misuse tracing (issue 17 §3): what each may search is decided in services.tracing.
    MISUSE_TRACE = "misuse:trace"
    MISUSE_REPORT = "misuse:report"  # a contributor, about their own item


@dataclass(frozen=True)
class Actor:
    """The caller, made explicit. ``scopes`` is None for a session (all of the role's
    permissions) or the set an API token was limited to."""

    role: Role
    user_id: int | None = None
    org_id: int | None = None
    org_admin: bool = False
    scopes: frozenset[str] | None = None
    # An API token's own expiry (None for a session): a token cannot make one outliving it.
    token_expires_at: datetime | None = None

    @property
    def via_token(self) -> bool:
        """Whether the caller is an API token (a session has no scopes)."""
        return self.scopes is not None

    @property
    def is_authenticated(self) -> bool:
        return self.role is not Role.ANONYMOUS

    @property
    def uid(self) -> int:
        """``user_id`` of an actor who is a person: what services that ``authorize`` a
        person's permission first may rely on. Asking it of an actor without one (the
        anonymous caller, the system) is a programming error."""
        if self.user_id is None:
            raise RuntimeError(f"a {self.role} actor has no user id")
        return self.user_id


ANONYMOUS = Actor(Role.ANONYMOUS)


class _Missing:
    """Stands in for an object that does not exist, so the policy answers 'not found'
    exactly as it does for an object the caller may not see (ids cannot be probed)."""

    owner_id = -1
    org_id = -1


MISSING = _Missing()

# What each role may attempt at all; object-level rules below narrow it further.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ANONYMOUS: frozenset({Permission.PUBLIC_READ}),
    Role.CONTRIBUTOR: frozenset(
        {
            Permission.PUBLIC_READ,
            Permission.ACCOUNT_READ,
            Permission.ACCOUNT_UPDATE,
            Permission.TOKEN_CREATE,
            Permission.TOKEN_READ,
            Permission.TOKEN_REVOKE,
            Permission.ITEM_CREATE,
            Permission.ITEM_READ,
            Permission.ITEM_PREVIEW,
            Permission.ITEM_MARK_MISSED,
            Permission.LICENCE_CREATE,
            Permission.LICENCE_READ,
            Permission.CONSENT_GIVE,
            Permission.CONSENT_WITHDRAW,
            Permission.CONSENT_READ,
            Permission.PERSONAL_DATA_EXPORT,
            Permission.PERSONAL_DATA_ERASE,
            Permission.STATEMENT_READ,
            Permission.PAYOUT_REQUEST,
            Permission.CAMPAIGN_READ,
            Permission.REVIEW,
            Permission.PASSPORT_READ,
            Permission.NOTICE_READ,
            Permission.MISUSE_TRACE,
            Permission.MISUSE_REPORT,
        }
    ),
    Role.BUYER: frozenset(
        {
            Permission.PUBLIC_READ,
            Permission.ACCOUNT_READ,
            Permission.ACCOUNT_UPDATE,
            Permission.TOKEN_CREATE,
            Permission.TOKEN_READ,
            Permission.TOKEN_REVOKE,
            Permission.ORG_CREATE,
            Permission.ORG_READ,
            Permission.ORG_MANAGE,
            Permission.ESCROW_FUND,
            Permission.INVOICE_READ,
            Permission.CAMPAIGN_CREATE,
            Permission.CAMPAIGN_READ,
            Permission.CATALOGUE_READ,
            Permission.ORDER_CREATE,
            Permission.ORDER_READ,
            Permission.SNAPSHOT_BUILD,
            Permission.SAMPLE_REQUEST,
            Permission.SNAPSHOT_DOWNLOAD,
            Permission.FEED_READ,
            Permission.DELETION_ATTEST,
            Permission.WEBHOOK_MANAGE,
            Permission.NOTICE_READ,
            Permission.MISUSE_TRACE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Permission.PUBLIC_READ,
            Permission.ACCOUNT_READ,
            Permission.ACCOUNT_UPDATE,
            Permission.TOKEN_CREATE,
            Permission.TOKEN_READ,
            Permission.TOKEN_REVOKE,
            Permission.ORG_READ,
            Permission.ORG_VET,
            Permission.AUDIT_READ,
            Permission.AUDIT_VERIFY,
            Permission.JOB_READ,
            Permission.INSTANCE_MANAGE,
            Permission.PAYOUT_RUN,
            Permission.INVOICE_READ,
            Permission.LEDGER_READ,
            Permission.ESCROW_FUND,  # the platform's own campaigns (services.money)
            Permission.CAMPAIGN_CREATE,
            Permission.CAMPAIGN_READ,
            Permission.REVIEW,
            Permission.INCIDENT_MANAGE,
            Permission.MISUSE_TRACE,
        }
    ),
}

# Permissions over personal data that even an operator does not get by role: the
# contributor's own media, consent and licences are theirs alone.
OWNER_ONLY = frozenset(
    {
        Permission.ITEM_READ,
        Permission.ITEM_PREVIEW,
        Permission.ITEM_MARK_MISSED,
        Permission.CONSENT_GIVE,
        Permission.CONSENT_WITHDRAW,
        Permission.CONSENT_READ,
        Permission.LICENCE_READ,
        Permission.PERSONAL_DATA_EXPORT,
        Permission.PERSONAL_DATA_ERASE,
        Permission.TOKEN_REVOKE,
        Permission.PASSPORT_READ,
        Permission.MISUSE_REPORT,
    }
)


# What an operator may do to any organisation's objects (campaigns: run the platform's own
# and step in on a buyer's).
OPERATOR_OVER_ORGS = frozenset(
    {
        Permission.ORG_READ,
        Permission.ORG_VET,
        Permission.CAMPAIGN_CREATE,
        Permission.CAMPAIGN_READ,
        Permission.INVOICE_READ,  # the operator reconciles every buyer's invoices
    }
)


def can(actor: Actor, permission: Permission, obj: Any = None) -> bool:
    """The one policy. ``obj`` may expose ``owner_id`` (a user) or ``org_id`` (an
    organisation); an object with neither is judged by role alone."""
    if permission not in ROLE_PERMISSIONS[actor.role]:
        return False
    if actor.scopes is not None and permission.value not in actor.scopes:
        return False
    if obj is None:
        return True
    owner_id = getattr(obj, "owner_id", None)
    if owner_id is not None:
        return bool(owner_id == actor.user_id)
    org_id = getattr(obj, "org_id", None)
    if org_id is not None:
        if actor.role is Role.OPERATOR and permission in OPERATOR_OVER_ORGS:
            return True
        if permission is Permission.ORG_MANAGE:
            return org_id == actor.org_id and actor.org_admin
        return bool(org_id == actor.org_id)
    return permission not in OWNER_ONLY


def authorize(actor: Actor, permission: Permission, obj: Any = None) -> None:
    """Raise unless ``can``. An object the caller may not see reads as missing (404), so
    ids cannot be probed; a missing right on a route reads as 401/403."""
    if can(actor, permission, obj):
        return
    if not actor.is_authenticated:
        raise NotAuthenticated(Problem(None, "sign_in_required"))
    if obj is not None and permission in ROLE_PERMISSIONS[actor.role]:
        raise NotFound(Problem(None, "not_found"))
    raise PermissionDenied(Problem(None, "permission_missing", {"permission": permission.value}))
