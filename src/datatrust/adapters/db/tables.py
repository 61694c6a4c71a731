"""Tables and the mapping of domain classes onto them (imperative mapping: the domain
stays plain Python). Alembic migrations are the source of truth for the schema; a test
checks that they and this metadata agree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator

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
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import as_utc
from datatrust.domain.consent import ConsentState
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.permissions import Role

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
mapper_registry = registry(metadata=metadata)


class UtcDateTime(TypeDecorator):
    """A moment, always read back as an aware UTC datetime. PostgreSQL keeps the zone
    (timestamptz); SQLite has no zone type and handed back naive datetimes, which the API
    then sent without an offset (not an RFC 3339 ``date-time``) and which compared
    unequal to aware ones. Aware values are stored in UTC, so SQLite's text keeps order."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


TZ = UtcDateTime()


def _enum(enum_cls: type, name: str) -> Enum:
    # Stored as plain strings (no native enum type) so adding a value needs no DDL dance.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", _enum(Role, "role"), nullable=False),
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
    Column("status", _enum(OrgStatus, "org_status"), nullable=False),
    Column("status_reason", Text, nullable=False, default=""),
    Column("created_at", TZ, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, unique=True),
    Column("role", _enum(MemberRole, "member_role"), nullable=False),
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
    Column("role", _enum(Role, "role"), nullable=False),
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

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("kind", _enum(ItemKind, "item_kind"), nullable=False),
    Column("status", _enum(ItemStatus, "item_status"), nullable=False),
    # Sealed under the owner's data key (EncryptedStorage.seal_text), hence Text: 0016.
    Column("title", Text, nullable=False, default=""),
    Column("filename", Text, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("original_key", String(300), nullable=False),
    Column("original_sha256", String(64), nullable=False),
    Column("campaign_id", Integer),
    Column("deidentified_key", String(300)),
    Column("deidentified_sha256", String(64)),
    Column("h3_cell", String(20)),
    Column("duration_seconds", Integer),
    Column("report", JSON, nullable=False),
    Column("fingerprints", JSON),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    # Added by migration 0002. consent_id has no foreign key on purpose: consent_records
    # already references items, and a key back would make a cycle that breaks insert
    # ordering and table drops.
    Column("licence_id", ForeignKey("licence_offers.id"), index=True),
    Column("consent_id", Integer, index=True),
    # Added by migration 0008: the consent record's offer and state, mirrored by
    # services.consent in the transaction that changes them, so that a selection reads
    # ix_items_selection alone (no join to consent_records, no table rows).
    Column("consent_offer_id", Integer),
    Column("consent_state", _enum(ConsentState, "consent_state")),
    Index("ix_items_status_kind", "status", "kind"),
    # Added by migration 0010: the exact-duplicate check looks an upload up by its hash.
    Index("ix_items_original_sha256", "original_sha256"),
    Index("ix_items_selection", "status", "licence_id", "consent_offer_id", "consent_state", "id"),
    # Added by migration 0012: listed items with nothing to deliver, found without a scan.
    Index(
        "ix_items_undeliverable",
        "status",
        "id",
        sqlite_where=text("deidentified_key IS NULL"),
        postgresql_where=text("deidentified_key IS NULL"),
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", TZ, nullable=False),
    Column("tag", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("subject_type", String(64), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_subject", "subject_type", "subject_id"),
)

# One row: the chain's head. Appending locks it (an UPDATE), which serialises writers on
# PostgreSQL and SQLite alike, so two transactions can never both extend the same link.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("state", _enum(JobState, "job_state"), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=8),
    Column("run_after", TZ, nullable=False),
    Column("lease_until", TZ),
    Column("claimed_by", String(100)),
    Column("last_error", Text),
    Column("created_at", TZ, nullable=False),
    Column("finished_at", TZ),
    Index("ix_outbox_state_run_after", "state", "run_after"),
)

_mapped = False


def map_domain() -> None:
    """Map the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(User, users)
    mapper_registry.map_imperatively(Organisation, organisations)
    mapper_registry.map_imperatively(Membership, memberships)
    mapper_registry.map_imperatively(ApiToken, api_tokens)
    mapper_registry.map_imperatively(WebSession, web_sessions)
    mapper_registry.map_imperatively(SignInAttempt, sign_in_attempts)
    mapper_registry.map_imperatively(SignUpRequest, sign_up_requests)
    mapper_registry.map_imperatively(RecoveryCode, recovery_codes)
    mapper_registry.map_imperatively(ContributorKey, contributor_keys)
    mapper_registry.map_imperatively(Item, items)
    mapper_registry.map_imperatively(AuditEvent, audit_events)
    mapper_registry.map_imperatively(OutboxJob, outbox)
    from datatrust.adapters.db.tables_consent import map_licences_and_consent  # imports us

    map_licences_and_consent()
    from datatrust.adapters.db.tables_campaigns import map_campaigns  # it imports this module

    map_campaigns()
    from datatrust.adapters.db.tables_ledger import map_money  # it imports this module

    map_money()
    from datatrust.adapters.db.tables_orders import map_orders  # it imports this module

    map_orders()
    from datatrust.adapters.db.tables_payfloor import map_payfloor  # it imports this module

    map_payfloor()
    from datatrust.adapters.db.tables_participants import map_participants  # imports us

    map_participants()
    from datatrust.adapters.db.tables_missed import map_missed  # imports us

    map_missed()
    from datatrust.adapters.db import tables_fingerprints  # noqa: F401  (a table, no class)
    from datatrust.adapters.db.tables_incidents import map_incidents  # it imports this module

    map_incidents()
    from datatrust.adapters.db.tables_webhooks import map_webhooks  # it imports this module

    map_webhooks()
    from datatrust.adapters.db.tables_samples import map_samples  # it imports this module

    map_samples()

    _mapped = True
