"""Issue 16 §5: a withdrawal stops every new selection at once; an existing agreement whose
licence promised notice keeps the item in its builds until the notice ends, and its buyer's
deletion deadline runs from then.

Each case states allow (kept) or deny (dropped, with its reason codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from test_build_licensee import T0
from test_build_licensee import an_agreement as agreement_under

from datatrust.domain.accounts import Organisation
from datatrust.domain.consent import (
    ConsentEvent,
    ConsentEventType,
    ConsentRecord,
    ConsentState,
    ConsentTerms,
)
from datatrust.domain.items import ItemStatus
from datatrust.domain.orders import AgreementRow
from datatrust.domain.snapshots import Revocation
from datatrust.services.market import orders, revocations, snapshots

WITHDRAWN_AT = T0 + timedelta(days=40)
TERMS = ConsentTerms(
    subject_id="user:3",
    controller="the operator",
    purposes=frozenset({"model_training"}),
    data_categories=(),
    notice_version="l/v1",
    notice_language="en",
    jurisdiction="ZA",
    recipients=(),
    retention="until withdrawn",
    withdrawal_method="one step",
)
LICENSEE = Organisation(id=7, legal_name="Ada Lab", country="ZA")


@dataclass
class AnItem:
    status: ItemStatus = ItemStatus.WITHDRAWN
    consent_id: int = 21
    deidentified_key: str = "k"
    id: int = 5


class Stored:
    """What the database holds after the contributor withdrew at ``WITHDRAWN_AT`` and the
    buyer was told: the withdrawn consent, its withdrawal event and the notice."""

    def __init__(self, withdrawn: bool = True) -> None:
        self.withdrawn = withdrawn

    def record(self) -> ConsentRecord:
        state = ConsentState.WITHDRAWN if self.withdrawn else ConsentState.ACTIVE
        return ConsentRecord(
            record_id="c",
            terms=TERMS,
            events=self.withdrawal(),
            owner_id=3,
            item_id=5,
            offer_id=11,
            state=state,
            id=21,
        )

    def withdrawal(self) -> list[ConsentEvent]:
        if not self.withdrawn:
            return []
        return [
            ConsentEvent(
                ConsentEventType.WITHDRAWN,
                WITHDRAWN_AT,
                "user:3",
                ConsentState.WITHDRAWN,
                seq=1,
                consent_id=21,
            )
        ]

    def get(self, cls, ident):
        return self.record() if cls is ConsentRecord and ident == 21 else None

    def all(self, cls, **filters):
        if cls is ConsentRecord and 21 in filters.get("id__in", ()):
            return [self.record()]
        if cls is Revocation and self.withdrawn and 5 in filters.get("item_id__in", ()):
            assert filters["superseded_at"] is None
            return [SimpleNamespace(org_id=filters["org_id"], item_id=5)]
        if cls is ConsentEvent and filters.get("consent_id") == 21:
            assert filters["type"] is ConsentEventType.WITHDRAWN
            return self.withdrawal()
        return []


def an_agreement(notice_days: int) -> AgreementRow:
    """The licensee's agreement (``test_build_licensee``'s), made under consent 21."""
    agreement = agreement_under(withdrawal_notice_days=notice_days)
    agreement.consent_id = 21
    agreement.use = {**agreement.use, "ends_at": (T0 + timedelta(days=300)).isoformat()}
    return agreement


def why_not(agreement, at, stored=None, recipient=LICENSEE):
    item = AnItem()
    standing = snapshots._standing_of(stored or Stored(), [agreement], [item])
    return snapshots._why_not(standing, agreement, item, at, recipient)


def test_without_notice_a_withdrawal_drops_the_item_from_the_next_build_at_once():
    codes = why_not(an_agreement(0), WITHDRAWN_AT + timedelta(hours=1))
    assert {"item_withdrawn", "revoked", "consent_withdrawn"} <= set(codes)


def test_with_ninety_days_notice_the_licensee_keeps_the_item_until_the_notice_ends():
    agreement = an_agreement(90)
    assert why_not(agreement, WITHDRAWN_AT + timedelta(days=89)) == []
    ended = why_not(agreement, WITHDRAWN_AT + timedelta(days=90))
    assert {"item_withdrawn", "revoked", "consent_withdrawn"} <= set(ended)


def test_the_notice_runs_from_the_withdrawal_and_is_none_without_one():
    assert orders.notice_ends_at(Stored(), an_agreement(90)) == WITHDRAWN_AT + timedelta(days=90)
    assert orders.notice_ends_at(Stored(), an_agreement(0)) is None
    assert orders.notice_ends_at(Stored(withdrawn=False), an_agreement(90)) is None


def test_the_notice_never_keeps_an_item_for_an_organisation_that_is_not_the_licensee():
    other = Organisation(id=8, legal_name="Ada Lab Europe", country="DE")
    codes = why_not(an_agreement(90), WITHDRAWN_AT + timedelta(days=1), recipient=other)
    assert "recipient_not_licensee" in codes


def test_the_deletion_deadline_runs_from_the_end_of_the_notice():
    class One:
        def get(self, cls, ident):
            return an_agreement(90) if cls is AgreementRow else None

    # 90 days' notice, then the licence's 30 days to delete.
    assert revocations._deadline_days(One(), 1) == 120
