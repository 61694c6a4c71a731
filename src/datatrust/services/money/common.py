"""What every money module shares: the checks on an amount and an idempotency key, the
public shape of an amount, posting a ledger entry with its audit event, and one
transaction that ends where its block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.ledger import JournalEntry
from datatrust.domain.money import Money
from datatrust.services.ports import UnitOfWork

MAX_KEY_LENGTH = 120


def positive_amount(amount: object, what: str = "amount") -> Money:
    """``amount`` when it is ``Money`` above zero; ``InvalidInput`` on the field ``what``."""
    if not isinstance(amount, Money):
        raise InvalidInput(Problem(what, "money.not_money", {"given": type(amount).__name__}))
    if not amount.is_positive:
        raise InvalidInput(Problem(what, "money.not_positive", {"given": amount}))
    return amount


def checked_key(key: object, what: str = "idempotency_key") -> str:
    """An idempotency key, stripped: printable text of at most ``MAX_KEY_LENGTH``."""
    if (
        not isinstance(key, str)
        or not key.strip()
        or len(key) > MAX_KEY_LENGTH
        or not key.isprintable()
    ):
        raise InvalidInput(Problem(what, "idempotency_key.invalid", {"maximum": MAX_KEY_LENGTH}))
    return key.strip()


def money_out(amount: Money) -> dict[str, Any]:
    """The public shape of an amount: exact minor units, currency, and a display string."""
    return {
        "amount_minor": amount.amount_minor,
        "currency": amount.currency,
        "display": amount.format(),
    }


def post(uow: UnitOfWork, entry: JournalEntry, actor: str, **kwargs: Any) -> Any:
    """Post ``entry`` and audit it (``ledger:post``) unless it was already posted."""
    stored = uow.ledger.post(entry, **kwargs)
    if not stored.replayed:
        uow.record(
            AuditTag.LEDGER_POST,
            actor,
            "journal_entry",
            entry.key,
            postings=[[str(p.account), p.amount.amount_minor] for p in entry.postings],
        )
    return stored


@contextmanager
def one_transaction(uow: UnitOfWork) -> Iterator[None]:
    """Commit what the block did when it ends normally (``return`` and ``continue``
    included), roll it back when it raises: either way the transaction, and every row lock
    it took, ends here. Objects read in the block stay readable after a commit."""
    try:
        yield
    except BaseException:
        uow.rollback()
        raise
    uow.commit()
