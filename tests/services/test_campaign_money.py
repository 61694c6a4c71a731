"""Campaign money on a real database (SQLite, or PostgreSQL with DATATRUST_TEST_DB=postgres):
a campaign opens only when escrow covers it and its rate meets the pay floor; accepted work
is paid from escrow as it is accepted; what is left returns to the buyer at closing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datatrust.adapters.payments import FakeCardRail
from datatrust.domain.campaigns import Campaign, CampaignState
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, InvalidInput
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import Money
from datatrust.services import campaigns, money

FLOOR = campaigns.PayFloors(800, "USD", {"IN": 300})


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def balance(services, ref: AccountRef) -> Money:
    with services.uow() as uow:
        return uow.queries.ledger.balance(ref)


def make_campaign(services, buyer, **changes) -> Campaign:
    terms = {
        "title": "Shop fronts",
        "kind": "photo",
        "rate_minor": 250,
        "currency": "USD",
        "quota": 4,
        "expected_minutes_per_item": 10,
        "review_mode": "operator",
        **changes,
    }
    with services.uow() as uow:
        return campaigns.create_campaign(uow, buyer, **terms)


def fund(services, buyer, campaign_id: int, minor: int, key: str = "fund-1") -> None:
    with services.uow() as uow:
        money.fund_campaign_escrow(uow, FakeCardRail(), buyer, campaign_id, usd(minor), key)


def open_(services, actor, campaign_id: int, floors=FLOOR) -> Campaign:
    with services.uow() as uow:
        return campaigns.open_campaign(uow, actor, campaign_id, floors)


def waiting_item(services, owner_id: int, campaign: Campaign, *, days_old: int = 0) -> int:
    """An item the pipeline accepted into ``campaign``, waiting for review (stored directly:
    the pipeline is tested elsewhere)."""
    created = utcnow() - timedelta(days=days_old)
    with services.uow() as uow:
        item = Item(
            owner_id=owner_id,
            kind=ItemKind.PHOTO,
            filename="shop.jpg",
            content_type="image/jpeg",
            size=10,
            original_key="k",
            original_sha256="0" * 64,
            status=ItemStatus.ACCEPTED,
            campaign_id=campaign.id,
            created_at=created,
            report={
                "campaign": {
                    "id": campaign.id,
                    "review": "waiting",
                    "review_mode": campaign.review_mode.value,
                    "review_due": (
                        created + timedelta(days=campaign.review_window_days)
                    ).isoformat(),
                    "rate_minor": campaign.rate_minor,
                    "currency": campaign.currency,
                    "pay_basis": campaign.pay_basis.value,
                }
            },
        )
        uow.add(item)
        uow.commit()
        return item.id


def test_a_campaign_does_not_open_until_escrow_covers_quota_times_rate(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer)  # 4 × 2.50 USD = 10.00 USD
    fund(services, buyer, campaign.id, 600)
    with pytest.raises(Conflict) as refused:
        open_(services, buyer, campaign.id)
    assert "more" in refused.value.message and "escrow holds" in refused.value.message
    assert refused.value.details["shortfall"]["amount_minor"] == 400
    fund(services, buyer, campaign.id, 400, key="fund-2")
    assert open_(services, buyer, campaign.id).state is CampaignState.OPEN


def test_escrow_for_an_ambient_campaign_also_covers_a_coverage_bonus_per_item(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer, kind="ambient", coverage_bonus_minor=50)
    fund(services, buyer, campaign.id, 1000)
    with pytest.raises(Conflict) as refused:
        open_(services, buyer, campaign.id)
    assert refused.value.details["required"]["amount_minor"] == 4 * 250 + 4 * 50
    fund(services, buyer, campaign.id, 200, key="fund-2")
    assert open_(services, buyer, campaign.id).state is CampaignState.OPEN


def test_a_rate_below_the_pay_floor_is_refused_naming_the_shortfall(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer, rate_minor=100, expected_minutes_per_item=15)
    fund(services, buyer, campaign.id, 5000)
    with pytest.raises(InvalidInput) as refused:
        open_(services, buyer, campaign.id)
    # 1.00 USD for 15 minutes is 4.00 USD an hour; 8.00 USD an hour needs 2.00 USD an item.
    assert "below the pay floor" in refused.value.message
    assert refused.value.details["shortfall_minor"] == 100


def test_a_per_country_floor_applies_to_a_campaign_in_that_country(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(
        services, buyer, rate_minor=100, expected_minutes_per_item=15, country="in"
    )
    fund(services, buyer, campaign.id, 5000)
    assert open_(services, buyer, campaign.id).state is CampaignState.OPEN  # 4 USD/h ≥ 3


def test_a_campaign_without_expected_effort_cannot_open(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer, expected_minutes_per_item=None)
    fund(services, buyer, campaign.id, 5000)
    with pytest.raises(InvalidInput, match="expected_minutes_per_item"):
        open_(services, buyer, campaign.id)


@pytest.fixture
def opened(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer)
    fund(services, buyer, campaign.id, 1000)
    return open_(services, buyer, campaign.id)


def test_an_item_accepted_in_review_is_paid_from_escrow_in_the_same_transaction(
    services, people, opened
):
    owner = people["owner"].actor
    item_id = waiting_item(services, owner.user_id, opened)
    with services.uow() as uow:
        outcome = campaigns.submit_review(
            uow, people["operator"].actor, opened.id, item_id, up=True
        )
    assert outcome.decision == "accept"
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(250)
    assert balance(services, AccountRef.escrow(opened.id, "USD")) == usd(750)
    with services.uow() as uow:
        assert uow.get(Item, item_id).report["campaign"]["paid_minor"] == 250


def test_a_rejected_item_is_not_paid(services, people, opened):
    owner = people["owner"].actor
    item_id = waiting_item(services, owner.user_id, opened)
    with services.uow() as uow:
        campaigns.submit_review(uow, people["operator"].actor, opened.id, item_id, up=False)
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(0)


def test_closing_returns_what_is_left_to_the_buyer_keeping_what_waiting_items_are_owed(
    services, people, opened
):
    owner, buyer = people["owner"].actor, people["buyer"].actor
    paid = waiting_item(services, owner.user_id, opened)
    pending = waiting_item(services, owner.user_id, opened)
    with services.uow() as uow:
        campaigns.submit_review(uow, people["operator"].actor, opened.id, paid, up=True)
    funds = AccountRef.buyer_funds(buyer.org_id, "USD")
    before = balance(services, funds)
    with services.uow() as uow:
        campaigns.close_campaign(uow, buyer, opened.id)
    # 10.00 funded, 2.50 paid, 2.50 kept for the item still waiting: 5.00 back.
    assert balance(services, funds) - before == usd(500)
    assert balance(services, AccountRef.escrow(opened.id, "USD")) == usd(250)
    with services.uow() as uow:
        campaigns.submit_review(uow, people["operator"].actor, opened.id, pending, up=False)
    # The last pending item was decided (rejected): the rest goes back too.
    assert balance(services, AccountRef.escrow(opened.id, "USD")) == usd(0)
    assert balance(services, funds) - before == usd(750)
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(250)
