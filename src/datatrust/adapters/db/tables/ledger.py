"""Tables for the double-entry ledger, payouts and operator-supplied FX rates, on the
shared ``metadata``; ``tables.map_domain`` calls ``map_money`` once.

The ledger tables are written only through ``adapters.db.ledger_store.SqlLedger`` with Core
statements (no ORM objects), because entries are append-only: there is nothing to load,
change and flush. Migration 0004 adds the database's own guards (append-only triggers, a
zero-sum check per entry and currency, no zero postings, no overdrawn account).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.fx import FxRateRow
from datatrust.domain.payout_methods import PayoutMethod, PayoutRail
from datatrust.domain.payouts import Payout, PayoutState

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(200), nullable=False, unique=True),  # "escrow:campaign:12:USD"
    Column("kind", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("may_go_negative", Boolean, nullable=False),
    # A cache of the sum of the account's postings, kept in the same transaction as they
    # are written; ``datatrust ledger check`` compares the two.
    Column("balance_minor", BigInteger, nullable=False, default=0),
    Column("created_at", TZ, nullable=False),
    CheckConstraint("may_go_negative OR balance_minor >= 0", name="not_overdrawn"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(200), nullable=False, unique=True),  # the idempotency key
    Column("memo", Text, nullable=False, default=""),
    Column("source", JSON, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("reverses_id", ForeignKey("journal_entries.id")),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry_id", ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("account_id", ForeignKey("ledger_accounts.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    CheckConstraint("amount_minor <> 0", name="non_zero"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", string_enum(PayoutState, "payout_state"), nullable=False),
    Column("batch_id", String(64)),
    Column("provider", String(64)),
    Column("provider_ref", String(200)),
    Column("failure_reason", Text),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    # The batch claim (migration 0014): which process holds it and until when.
    Column("claimed_by", String(200)),
    Column("lease_until", TZ),
    # Where it is paid (migration 0028); no foreign key, so SQLite adds it in place.
    Column("method_id", Integer),
    UniqueConstraint("user_id", "idempotency_key", name="uq_payouts_user_key"),
    CheckConstraint("amount_minor > 0", name="positive"),
    Index("ix_payouts_state", "state"),
)

payout_methods = Table(
    "payout_methods",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("rail", string_enum(PayoutRail, "payout_rail"), nullable=False),
    Column("details_sealed", Text, nullable=False),
    Column("label", String(80), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("removed_at", TZ),
)

fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    Column("rate", String(40), nullable=False),  # an exact decimal string, never a float
    Column("as_of", Date, nullable=False),
    Column("created_at", TZ, nullable=False),
    UniqueConstraint("base", "quote", "as_of", name="uq_fx_rates_pair_date"),
)


def map_money() -> None:
    """Map the payout and FX-rate records (ledger rows stay unmapped, see the docstring)."""
    mapper_registry.map_imperatively(Payout, payouts)
    mapper_registry.map_imperatively(FxRateRow, fx_rates)
    mapper_registry.map_imperatively(PayoutMethod, payout_methods)
