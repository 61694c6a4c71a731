"""Accounts: people, organisations and their members, tokens, sessions, sign-in and
sign-up throttles, recovery codes, and each contributor's wrapped data key."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.accounts import (
    ApiToken,
    ContributorKey,
    MemberRole,
    Membership,
    Organisation,
    OrgStatus,
    RecoveryCode,
    SignInAttempt,
    SignUpRequest,
    User,
    WebSession,
)
from datatrust.domain.permissions import Role

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", string_enum(Role, "role"), nullable=False),
    Column("display_name", String(200), nullable=False, default=""),
    Column("language", String(16), nullable=False, default="en"),
    Column("country", String(2)),
    Column("created_at", TZ, nullable=False),
    Column("erased_at", TZ),
    # Sealed (dtf1.…) under the person's data key: about 85 characters. SQLite ignores a
    # declared length, and changing the type there would rebuild ``users``, which every
    # other table references (migration 0025).
    Column("totp_secret", String(64).with_variant(Text(), "postgresql")),
    Column("totp_enabled_at", TZ),
    Column("totp_last_step", BigInteger),
    Column("currency", String(3)),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("legal_name", String(300), nullable=False),
    Column("country", String(2), nullable=False),
    Column("website", String(500), nullable=False, default=""),
    Column("contact_email", String(320), nullable=False, default=""),
    Column("intended_uses", JSON, nullable=False),
    Column("status", string_enum(OrgStatus, "org_status"), nullable=False),
    Column("status_reason", Text, nullable=False, default=""),
    Column("created_at", TZ, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, unique=True),
    Column("role", string_enum(MemberRole, "member_role"), nullable=False),
    Column("created_at", TZ, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("revoked_at", TZ),
    Column("last_used_at", TZ),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("revoked_at", TZ),
)

sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("at", TZ, nullable=False),
    Column("client", String(80)),
    Index("ix_sign_in_attempts_email_at", "email", "at"),
    Index("ix_sign_in_attempts_client_at", "client", "at"),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_at", TZ, nullable=False),
    Column("used_at", TZ),
)

sign_up_requests = Table(
    "sign_up_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", string_enum(Role, "role"), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("language", String(16), nullable=False),
    Column("country", String(2)),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Index("ix_sign_up_requests_email", "email"),
)

contributor_keys = Table(
    "contributor_keys",
    metadata,
    Column("owner_id", ForeignKey("users.id"), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("destroyed_at", TZ),
)


def map_accounts() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(User, users)
    mapper_registry.map_imperatively(Organisation, organisations)
    mapper_registry.map_imperatively(Membership, memberships)
    mapper_registry.map_imperatively(ApiToken, api_tokens)
    mapper_registry.map_imperatively(WebSession, web_sessions)
    mapper_registry.map_imperatively(SignInAttempt, sign_in_attempts)
    mapper_registry.map_imperatively(SignUpRequest, sign_up_requests)
    mapper_registry.map_imperatively(RecoveryCode, recovery_codes)
    mapper_registry.map_imperatively(ContributorKey, contributor_keys)
