"""ledger: accounts, journal entries, postings (append-only), payouts, FX rates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The database guards the ledger as well as the code (DESIGN.md §6.2):

- journal_entries and postings are append-only: UPDATE and DELETE raise (a trigger on
  both PostgreSQL and SQLite);
- a posting is never zero (a CHECK);
- an account that may not go negative never does (a CHECK on the cached balance);
- on PostgreSQL a deferred constraint trigger checks at COMMIT that each entry's postings
  sum to zero per currency. SQLite has no deferred triggers; there the check is the code's
  (``JournalEntry`` refuses an unbalanced entry) and ``datatrust ledger check``'s.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
APPEND_ONLY = ("journal_entries", "postings")

PG_FUNCTIONS = """
CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused (post a reversal instead)',
        TG_OP, TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION ledger_entry_balances() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    FOR bad IN
        SELECT currency, SUM(amount_minor) AS total FROM postings
        WHERE entry_id = NEW.entry_id GROUP BY currency HAVING SUM(amount_minor) <> 0
    LOOP
        RAISE EXCEPTION 'journal entry % does not balance: % postings sum to %, not zero',
            NEW.entry_id, bad.currency, bad.total;
    END LOOP;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("may_go_negative", sa.Boolean(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint(
            "may_go_negative OR balance_minor >= 0",
            name=op.f("ck_ledger_accounts_not_overdrawn"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("ref", name=op.f("uq_ledger_accounts_ref")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_entries_reverses_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_journal_entries_key")),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_postings_non_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_postings_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_postings_entry_id_journal_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postings_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_postings_account_id"), ["account_id"], unique=False)

    op.create_table(
        "payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "requested",
                "sending",
                "settled",
                "failed",
                name="payout_state",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("provider_ref", sa.String(length=200), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payouts_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payouts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_payouts_user_key"),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_payouts_state", ["state"], unique=False)

    op.create_table(
        "fx_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint("base", "quote", "as_of", name="uq_fx_rates_pair_date"),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTIONS)
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
        op.execute(
            "CREATE CONSTRAINT TRIGGER postings_balance AFTER INSERT ON postings "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balances()"
        )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: {action} on "
                    f"{table} refused (post a reversal instead)'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS postings_balance ON postings")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_entry_balances()")
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")

    op.drop_table("fx_rates")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_state")
        batch_op.drop_index(batch_op.f("ix_payouts_user_id"))
    op.drop_table("payouts")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postings_account_id"))
        batch_op.drop_index(batch_op.f("ix_postings_entry_id"))
    op.drop_table("postings")
    op.drop_table("journal_entries")
    op.drop_table("ledger_accounts")
