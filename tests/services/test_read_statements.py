"""The contributor's and buyer's reads of the load mix (issue 12) run a fixed number of
statements: what grows with the data (items, audit events, the people and buyers in them,
campaigns) is read in one query each, never one per row."""

from __future__ import annotations

from datetime import timedelta

from datatrust.adapters.payments import FakeCardRail
from datatrust.domain.accounts import Organisation, User
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import utcnow
from datatrust.domain.items import Item, ItemKind, ItemStatus, ReviewState
from datatrust.domain.money import Money
from datatrust.domain.permissions import Role
from datatrust.domain.snapshots import Revocation
from datatrust.services import money
from datatrust.services.contributions import show_my_items, show_my_items_page
from datatrust.services.money.sales import record_sale
from datatrust.services.trust import item_passport
from support import statements_sent, stored_campaign


def _item(uow, owner_id: int, n: int, **fields: object) -> Item:  # type: ignore[no-untyped-def]
    item = Item(  # type: ignore[arg-type]
        owner_id=owner_id,
        kind=ItemKind.PHOTO,
        filename=f"walk-{n}.jpg",
        content_type="image/jpeg",
        size=1,
        original_key=f"c/{owner_id}/items/walk-{n}",
        original_sha256=f"{n:064d}",
        **({"status": ItemStatus.WITHDRAWN} | fields),
    )
    uow.add(item)
    uow.flush()
    return item


def test_a_passport_reads_the_same_statements_for_2_and_for_20_people_and_buyers(services, people):
    """Its people were read one query each, and each notice's buyer one query each (2
    reviewers and one notice: 7 statements; 20 reviewers and 3 notices: 27); both now run
    the same statements, and each step still says who took it, each notice whose it is."""
    owner = people["owner"]
    counts, answers = [], []
    for n, (reviewers, buyers) in enumerate([(2, 1), (20, 3)]):
        with services.uow() as uow:
            item = _item(uow, owner.actor.uid, n)
            uow.record(AuditTag.ITEM_CREATE, f"user:{owner.actor.uid}", "item", item.id)
            for r in range(reviewers):
                role = Role.OPERATOR if r % 2 else Role.CONTRIBUTOR
                user = User(email=f"reviewer-{n}-{r}@example.org", password_hash="x", role=role)
                uow.add(user)
                uow.flush()
                uow.record(AuditTag.ITEM_REVIEW, f"user:{user.id}", "item", item.id)
            now = utcnow()
            for b in range(buyers):
                org = Organisation(legal_name=f"Buyer {n}-{b} Ltd", country="GB")
                uow.add(org)
                uow.flush()
                assert org.id is not None and item.id is not None
                notice = Revocation(
                    org_id=org.id,
                    item_id=item.id,
                    content_sha256=f"{b:064d}",
                    reason="withdrawn",
                    noticed_at=now,
                    deadline=now + timedelta(days=30),
                    seq=b + 1,
                )
                uow.add(notice)
            uow.commit()
            item_id = item.id
        with services.uow(read_only=True) as uow, statements_sent(uow.session.connection()) as seen:
            passport = item_passport(uow, owner.actor, item_id)
        counts.append(len(seen))
        answers.append(passport)
    assert counts[0] == counts[1], counts
    for n, (reviewers, buyers) in enumerate([(2, 1), (20, 3)]):
        actors = [e["actor"] for e in answers[n]["events"]]
        expected = ["operator" if r % 2 else "contributor" for r in range(reviewers)]
        assert actors == ["you", *expected]
        told = [b["buyer"] for b in answers[n]["buyers"]]
        assert told == [f"Buyer {n}-{b} Ltd" for b in range(buyers)]


def test_a_page_of_my_items_reads_the_same_statements_for_2_and_for_30_campaigns(services, people):
    """Each reviewed campaign item's report describes its campaign, which was read one
    query per campaign: a page of 2 items under 2 campaigns and one of 30 items under 30
    campaigns now run the same statements, and describe the same campaigns as the whole list."""
    owner, buyer = people["owner"], people["buyer"]
    counts = []
    for n in (2, 30):
        with services.uow() as uow:
            for old in uow.all(Item, owner_id=owner.actor.uid):
                uow.delete(old)
            uow.commit()
        ids = []
        for c in range(n):
            campaign = stored_campaign(services, buyer.actor, title=f"Lobbies {n}-{c}")
            ids.append(campaign.id)
            with services.uow() as uow:
                _item(
                    uow,
                    owner.actor.uid,
                    100 * n + c,
                    status=ItemStatus.ACCEPTED,
                    campaign_id=campaign.id,
                    review_state=ReviewState.ACCEPTED,
                )
                uow.commit()
        with services.uow(read_only=True) as uow, statements_sent(uow.session.connection()) as seen:
            shown = show_my_items_page(uow, services.storage, owner.actor, size=50)
        counts.append(len(seen))
        with services.uow(read_only=True) as uow:
            every = show_my_items(uow, services.storage, owner.actor)
        assert [i.report["campaign"]["id"] for i in shown.rows] == ids[::-1]  # newest first
        assert [i.report for i in shown.rows] == [i.report for i in every]
    assert counts[0] == counts[1], counts


def test_a_statement_reads_the_same_statements_for_earnings_in_1_and_in_3_currencies(
    services, people
):
    """Each currency's balances were read one query each (available, in transit): 5
    statements for earnings in one currency, 9 in three; both now run the same, and show
    each currency's balance."""
    owner, buyer = people["owner"].actor, people["buyer"].actor
    assert buyer.org_id is not None and owner.user_id is not None
    counts = []
    for n, currencies in enumerate([["USD"], ["EUR", "GBP"]]):
        for currency in currencies:
            with services.uow() as uow:
                deposit = Money(5000, currency)
                money.deposit_buyer_funds(uow, FakeCardRail(), buyer, deposit, f"t-{currency}")
            with services.uow() as uow:
                share = [(owner.user_id, Money(1000 * (n + 1), currency), 50, 41)]
                record_sale(uow, buyer.org_id, Money(1000 * (n + 1), currency), share, currency)
                uow.commit()
        with services.uow(read_only=True) as uow, statements_sent(uow.session.connection()) as seen:
            statement = money.contributor_statement(uow, owner)
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    available = {b["currency"]: b["available"]["amount_minor"] for b in statement["balances"]}
    assert available == {"EUR": 800, "GBP": 800, "USD": 400}
    assert [line["amount"]["currency"] for line in statement["lines"]] == ["GBP", "EUR", "USD"]
