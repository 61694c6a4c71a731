"""The ledger in SQL: post entries atomically, read balances, statements and the check.

Posting an entry (``SqlLedger.post``), inside the caller's transaction:

1. make sure every account the entry touches exists (an insert that ignores conflicts);
2. lock those accounts, ordered by id so two entries touching the same accounts lock them
   in the same order and cannot deadlock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
   already holds the database's write lock from ``BEGIN IMMEDIATE``);
3. with the locks held, look the key up: the same key already posted returns the stored
   entry (a retry), a different entry under a used key is a ``Conflict``;
4. ``apply_entry`` on the locked balances (raises ``InsufficientFunds``);
5. insert the entry and its postings and move the cached balances.

Because the key is looked up only after the locks are held, two transactions posting the
same key serialise on the accounts and the second sees the first's committed entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from datatrust.adapters.db.tables.ledger import journal_entries, ledger_accounts, postings
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict
from datatrust.domain.ledger import AccountRef, JournalEntry, Posting, StoredEntry, apply_entry
from datatrust.domain.money import Money


class SqlLedger:
    """``services.repositories.Ledger`` in SQL (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- writing -----------------------------------------------------------------------
    def _insert_ignore(self) -> Any:
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(ledger_accounts)
        return sqlite.insert(ledger_accounts)

    def ensure_accounts(self, refs: Iterable[AccountRef]) -> None:
        now = utcnow()
        rows = [
            {
                "ref": str(ref),
                "kind": ref.kind.value,
                "currency": ref.currency,
                "may_go_negative": ref.may_go_negative,
                "balance_minor": 0,
                "created_at": now,
            }
            for ref in sorted(set(refs), key=str)
        ]
        if rows:
            self.session.execute(
                self._insert_ignore().values(rows).on_conflict_do_nothing(index_elements=["ref"])
            )

    def lock(self, refs: Iterable[AccountRef]) -> dict[AccountRef, tuple[int, Money]]:
        """Create (if needed) and lock ``refs``; returns each one's id and cached balance."""
        wanted = set(refs)
        self.ensure_accounts(wanted)
        stmt = (
            select(ledger_accounts.c.id, ledger_accounts.c.ref, ledger_accounts.c.balance_minor)
            .where(ledger_accounts.c.ref.in_([str(r) for r in wanted]))
            .order_by(ledger_accounts.c.id)
            .with_for_update()
        )
        by_ref = {str(r): r for r in wanted}
        return {
            by_ref[row.ref]: (row.id, Money(int(row.balance_minor), by_ref[row.ref].currency))
            for row in self.session.execute(stmt)
        }

    def post(self, entry: JournalEntry, *, reverses_key: str | None = None) -> StoredEntry:
        """Store ``entry`` (see the module docstring). Idempotent by ``entry.key``.

        Raises ``InsufficientFunds`` when an account that may not go negative would, and
        ``Conflict`` when the key is already used by an entry with different postings.
        """
        locked = self.lock(p.account for p in entry.postings)
        existing = self.entry(entry.key)
        if existing is not None:
            if sorted(map(_posting_key, existing.postings)) != sorted(
                map(_posting_key, entry.postings)
            ):
                raise Conflict(
                    f"the key {entry.key!r} was already used for a different entry",
                    {"key": entry.key},
                )
            return StoredEntry(**{**existing.__dict__, "replayed": True})
        after = apply_entry({ref: balance for ref, (_, balance) in locked.items()}, entry)
        reverses_id = None
        if reverses_key is not None:
            reversed_entry = self.entry(reverses_key)
            reverses_id = reversed_entry.id if reversed_entry else None
        now = utcnow()
        entry_id = self.session.execute(
            journal_entries.insert()
            .values(
                key=entry.key,
                memo=entry.memo,
                source=dict(entry.source),
                created_at=now,
                reverses_id=reverses_id,
            )
            .returning(journal_entries.c.id)
        ).scalar_one()
        self.session.execute(
            postings.insert(),
            [
                {
                    "entry_id": entry_id,
                    "account_id": locked[p.account][0],
                    "amount_minor": p.amount.amount_minor,
                    "currency": p.amount.currency,
                }
                for p in entry.postings
            ],
        )
        for ref, (account_id, before) in locked.items():
            if after[ref] != before:
                self.session.execute(
                    update(ledger_accounts)
                    .where(ledger_accounts.c.id == account_id)
                    .values(balance_minor=after[ref].amount_minor)
                )
        return StoredEntry(
            entry_id, entry.key, entry.memo, dict(entry.source), now, tuple(entry.postings)
        )

    # -- reading -----------------------------------------------------------------------
    def balance(self, ref: AccountRef) -> Money:
        """The cached balance (zero for an account never posted to)."""
        stored = self.session.scalar(
            select(ledger_accounts.c.balance_minor).where(ledger_accounts.c.ref == str(ref))
        )
        return Money(int(stored or 0), ref.currency)

    def entry(self, key: str) -> StoredEntry | None:
        found = self._entries(select(journal_entries).where(journal_entries.c.key == key))
        return found[0] if found else None

    def entries_touching(self, refs: Sequence[AccountRef]) -> list[StoredEntry]:
        """Every entry that posts to any of ``refs``, oldest first, with all its postings."""
        ids = (
            select(postings.c.entry_id)
            .join(ledger_accounts, ledger_accounts.c.id == postings.c.account_id)
            .where(ledger_accounts.c.ref.in_([str(r) for r in refs]))
        )
        return self._entries(
            select(journal_entries)
            .where(journal_entries.c.id.in_(ids))
            .order_by(journal_entries.c.id)
        )

    def entries_with_key_prefix(self, prefix: str) -> list[StoredEntry]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._entries(
            select(journal_entries)
            .where(journal_entries.c.key.like(escaped + "%", escape="\\"))
            .order_by(journal_entries.c.id)
        )

    def all_entries(self, batch: int = 1000) -> Iterator[StoredEntry]:
        after = 0
        while True:
            rows = self._entries(
                select(journal_entries)
                .where(journal_entries.c.id > after)
                .order_by(journal_entries.c.id)
                .limit(batch)
            )
            if not rows:
                return
            yield from rows
            after = rows[-1].id

    def accounts_of(self, owner_ref: str) -> list[AccountRef]:
        """Every account owned by ``owner_ref`` (``"user:7"``, ``"org:3"``), by name."""
        refs = self.session.scalars(
            select(ledger_accounts.c.ref).where(ledger_accounts.c.ref.like(f"%:{owner_ref}:%"))
        )
        found = [AccountRef.parse(ref) for ref in refs]
        return sorted((a for a in found if a.owner_ref == owner_ref), key=str)

    def balances_of(self, owner_ref: str) -> dict[AccountRef, Money]:
        rows = self.session.execute(
            select(ledger_accounts.c.ref, ledger_accounts.c.balance_minor).where(
                ledger_accounts.c.ref.like(f"%:{owner_ref}:%")
            )
        )
        found = ((AccountRef.parse(row.ref), int(row.balance_minor or 0)) for row in rows)
        return {
            ref: Money(minor, ref.currency)
            for ref, minor in sorted(found, key=lambda pair: str(pair[0]))
            if ref.owner_ref == owner_ref
        }

    def stored_balances(self) -> dict[AccountRef, Money]:
        rows = self.session.execute(select(ledger_accounts.c.ref, ledger_accounts.c.balance_minor))
        result = {}
        for row in rows:
            ref = AccountRef.parse(row.ref)
            result[ref] = Money(int(row.balance_minor), ref.currency)
        return result

    def _entries(self, stmt: Any) -> list[StoredEntry]:
        rows = list(self.session.execute(stmt))
        if not rows:
            return []
        ids = [row.id for row in rows]
        lines: dict[int, list[Posting]] = {i: [] for i in ids}
        for line in self.session.execute(
            select(
                postings.c.entry_id,
                postings.c.amount_minor,
                postings.c.currency,
                ledger_accounts.c.ref,
            )
            .join(ledger_accounts, ledger_accounts.c.id == postings.c.account_id)
            .where(postings.c.entry_id.in_(ids))
            .order_by(postings.c.id)
        ):
            lines[line.entry_id].append(
                Posting(AccountRef.parse(line.ref), Money(int(line.amount_minor), line.currency))
            )
        return [
            StoredEntry(
                # SQLite hands back naive datetimes; we store UTC only.
                row.id,
                row.key,
                row.memo,
                dict(row.source or {}),
                as_utc(row.created_at),
                tuple(lines[row.id]),
            )
            for row in rows
        ]


def _posting_key(posting: Posting) -> tuple[str, int, str]:
    return (str(posting.account), posting.amount.amount_minor, posting.amount.currency)
