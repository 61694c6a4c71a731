"""Public request and response schemas. Requests forbid unknown fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response schema. Unknown fields are refused here too: a service that starts
    returning a field the schema does not declare fails its tests (a 500 there) instead
    of the field vanishing from the answer or reaching it undocumented."""

    model_config = ConfigDict(extra="forbid")


class MoneyOut(Out):
    """An amount: exact minor units, its ISO 4217 currency, and a display string."""

    amount_minor: int
    currency: str
    display: str


class ApproxOut(MoneyOut):
    """An amount converted at the operator's rate of ``rate_date``: approximate."""

    rate_date: date | None
    approximate: bool


class SignUpIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)
    role: str = "contributor"
    display_name: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=16)
    country: str | None = Field(default=None, max_length=2)


class SignInIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)
    # Six digits from the app, or a recovery code (xxxx-xxxx-xxxx-xxxx).
    totp_code: str | None = Field(default=None, max_length=32)


class SignUpRequestedOut(BaseModel):
    """The same answer whether the email is new or already has an account."""

    email: str
    message: str


class SignUpConfirmIn(Strict):
    token: str = Field(max_length=200)


class TotpCodeIn(Strict):
    code: str = Field(max_length=32)


class TotpStartIn(Strict):
    """Turning two-step sign-in on takes the account's password (and a session)."""

    password: str = Field(max_length=1024)


class TotpEnableIn(TotpCodeIn):
    password: str = Field(max_length=1024)


class RecoveryCodesOut(BaseModel):
    """Shown once: each code signs in once instead of a code from the app."""

    recovery_codes: list[str]


class TotpEnrolmentOut(BaseModel):
    """Shown once: put ``uri`` (or ``secret``) into an authenticator app, then enable."""

    secret: str
    uri: str


class UserOut(BaseModel):
    id: int
    email: str
    role: str
    display_name: str
    language: str
    country: str | None
    org_id: int | None = None


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str
    expires_at: datetime


class TokenIn(Strict):
    name: str = Field(max_length=200)
    scopes: list[str]
    days: int = 90


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret. Shown once; store it now.")


class OrgIn(Strict):
    legal_name: str = Field(max_length=300)
    country: str = Field(max_length=2)
    website: str = Field(default="", max_length=500)
    contact_email: str = Field(default="", max_length=320)
    intended_uses: dict[str, Any] = Field(default_factory=dict)


class OrgDecisionIn(Strict):
    reason: str = Field(default="", max_length=2000)


class OrgOut(BaseModel):
    id: int
    legal_name: str
    country: str
    website: str
    contact_email: str
    intended_uses: dict[str, Any]
    status: str
    status_reason: str


class ItemOut(BaseModel):
    id: int
    kind: str
    status: str
    title: str
    filename: str
    content_type: str
    size: int
    original_sha256: str
    h3_cell: str | None
    report: dict[str, Any]
    created_at: datetime


class AuditCheckpointOut(BaseModel):
    checkpoint: str = Field(description="Compact JWS (EdDSA) over typ, count, head, at, iat.")
    count: int = Field(description="How many events the log held when it was signed.")
    head: str = Field(description="The hash of event `count` (64 zeros for an empty log).")
    at: str = Field(description="When it was signed (ISO 8601, UTC).")
    key: dict[str, str] = Field(description="The public JWK that verifies `checkpoint`.")


class AuditVerifyOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None


class MissedIn(Strict):
    """What de-identification missed on one's own item: ``category`` and either ``words``
    (every place they occur in the shipped text), ``start``/``end`` (offsets into it), for a
    photo ``box`` = [left, top, width, height] in thousandths of its size, or for a recording
    ``start_ms``/``end_ms`` (the stretch to bleep, in milliseconds from its start)."""

    category: str = Field(max_length=32)
    words: str | None = Field(default=None, max_length=500)
    start: int | None = None
    end: int | None = None
    box: list[int] | None = Field(default=None, min_length=4, max_length=4)
    start_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)
    end_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)


class MissedOut(BaseModel):
    """A mark as kept: where it was, never what. ``start``/``end``/``length`` are character
    offsets for ``kind`` text; ``start_ms``/``end_ms`` a stretch for ``kind`` time."""

    id: int
    kind: str
    category: str
    start: int | None
    end: int | None
    length: int
    box: list[int] | None
    start_ms: int | None = None
    end_ms: int | None = None
    state: str
