"""Campaign money on a real database (SQLite, or PostgreSQL with DATATRUST_TEST_DB=postgres):
a campaign opens only when escrow covers it and its rate meets the pay floor; accepted work
is paid from escrow as it is accepted; what is left returns to the buyer at closing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datatrust.adapters.payments import FakeCardRail
from datatrust.domain.audit import AuditEvent, AuditTag
from datatrust.domain.campaigns import Campaign, CampaignPayTerms, CampaignState, TaskStart
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, InvalidInput, PermissionDenied
from datatrust.domain.items import Item, ItemKind, ItemStatus, ReviewState
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import Money
from datatrust.domain.payfloor import PayFloors
from datatrust.domain.permissions import Role
from datatrust.services import money
from datatrust.services.campaigns import campaigns, payfloor
from datatrust.services.contributions import items
from support import make_persona

FLOOR = PayFloors(800, "USD", {"IN": 300})


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def balance(services, ref: AccountRef) -> Money:
    with services.uow() as uow:
        return uow.ledger.balance(ref)


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


def waiting_item(
    services,
    owner_id: int,
    campaign: Campaign,
    *,
    days_old: int = 0,
    effort_minutes: int = 0,
    h3_cell: str | None = None,
) -> int:
    """An item the pipeline accepted into ``campaign``, waiting for review (stored directly:
    the pipeline is tested elsewhere). With ``effort_minutes``, the contributor started the
    task that long before uploading, and the upload is linked to that start as
    ``items.receive_item`` does."""
    created = utcnow() - timedelta(days=days_old)
    with services.uow() as uow:
        if effort_minutes:
            started = created - timedelta(minutes=effort_minutes)
            uow.add(TaskStart(campaign_id=campaign.id, user_id=owner_id, started_at=started))
        item = Item(
            owner_id=owner_id,
            kind=campaign.kind,
            h3_cell=h3_cell,
            filename="shop.jpg",
            content_type="image/jpeg",
            size=10,
            original_key="k",
            original_sha256="0" * 64,
            deidentified_key="d",  # the pipeline accepted it: it has a version to list
            status=ItemStatus.ACCEPTED,
            campaign_id=campaign.id,
            created_at=created,
            review_state=ReviewState.WAITING,
            review_due=created + timedelta(days=campaign.review_window_days),
            terms_rate_minor=campaign.rate_minor,
            # What the pipeline promises an item from a cell nobody covered yet.
            terms_bonus_minor=campaign.coverage_bonus_minor if h3_cell else 0,
        )
        uow.add(item)
        uow.flush()
        payfloor.link_submission(uow, item)
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


def test_a_review_note_is_sealed_under_the_item_owners_key(services, people, opened):
    from datatrust.domain.campaigns import ReviewVote

    owner = people["owner"].actor
    item_id = waiting_item(services, owner.user_id, opened)
    note = "shows the house number of Asha's neighbour"
    with services.uow() as uow, pytest.raises(ValueError, match="storage"):
        campaigns.submit_review(
            uow, people["operator"].actor, opened.id, item_id, up=True, note=note
        )
    with services.uow() as uow:
        campaigns.submit_review(
            uow,
            people["operator"].actor,
            opened.id,
            item_id,
            up=False,
            note=note,
            storage=services.storage,
        )
    with services.uow() as uow:
        (vote,) = uow.all(ReviewVote, item_id=item_id)
        assert vote.note != note and "Asha" not in vote.note
        assert services.storage.open_text(uow, owner.user_id, vote.note) == note


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
        assert uow.get(Item, item_id).paid_minor == 250


def test_a_rejected_item_is_not_paid(services, people, opened):
    owner = people["owner"].actor
    item_id = waiting_item(services, owner.user_id, opened)
    reject(services, people, opened.id, item_id)
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(0)


def test_an_operator_cannot_reject_without_saying_why(services, people, opened):
    item_id = waiting_item(services, people["owner"].actor.user_id, opened)
    with services.uow() as uow, pytest.raises(InvalidInput) as refused:
        campaigns.submit_review(
            uow, people["operator"].actor, opened.id, item_id, up=False, note="  "
        )
    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("note", "review.reason_required")
    ]
    assert refused.value.details["problems"] == [
        "note: say why it is rejected: the contributor reads it"
    ]
    with services.uow() as uow:
        assert uow.get(Item, item_id).status.value != "rejected"


def test_the_contributor_reads_the_operators_reason_for_a_rejection(services, people, opened):
    owner = people["owner"].actor
    item_id = waiting_item(services, owner.user_id, opened)
    reject(services, people, opened.id, item_id, note="The traffic is drowned out by wind")
    with services.uow() as uow:
        view = items.show_item(uow, services.storage, owner, item_id)
        stored = uow.get(Item, item_id).report["reasons"][-1]
    (reason,) = [r for r in view.report["reasons"] if r["code"] == "review_rejected"]
    assert reason["notes"] == ["The traffic is drowned out by wind"]
    assert "wind" not in str(stored)  # sealed under the owner's key at rest


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
    assert returned_if_closed(services, opened.id) == usd(500)  # what the page shows first
    with services.uow() as uow:
        campaigns.close_campaign(uow, buyer, opened.id)
    # 10.00 funded, 2.50 paid, 2.50 kept for the item still waiting: 5.00 back.
    assert balance(services, funds) - before == usd(500)
    assert balance(services, AccountRef.escrow(opened.id, "USD")) == usd(250)
    reject(services, people, opened.id, pending)
    # The last pending item was decided (rejected): the rest goes back too.
    assert balance(services, AccountRef.escrow(opened.id, "USD")) == usd(0)
    assert balance(services, funds) - before == usd(750)
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(250)


def returned_if_closed(services, campaign_id: int) -> Money:
    """What the campaign's page says closing now gives back (read-only: nothing moves)."""
    with services.uow() as uow:
        before = uow.ledger.balance(AccountRef.escrow(campaign_id, "USD"))
        shown = campaigns.returned_if_closed(uow, uow.get(Campaign, campaign_id))
        assert uow.ledger.balance(AccountRef.escrow(campaign_id, "USD")) == before
        return shown


def test_what_closing_would_give_back_is_what_closing_gives_back_with_top_ups_owed(
    services, people
):
    """Before closing, the page says what comes back at once: escrow less the top-ups owed
    to work already paid (paid from escrow at closing) and what waiting work may be owed."""
    owner, other, buyer = people["owner"].actor, people["other"].actor, people["buyer"].actor
    campaign = make_campaign(services, buyer, quota=4)
    fund(services, buyer, campaign.id, 1000)
    open_(services, buyer, campaign.id)
    for who in (owner, other):
        accept(
            services,
            people,
            campaign.id,
            waiting_item(services, who.user_id, campaign, effort_minutes=40),
        )
    later = [waiting_item(services, owner.user_id, campaign, effort_minutes=40) for _ in range(18)]
    for item_id in later[1:]:
        reject(services, people, campaign.id, item_id)
    # The recheck raised the rate to 5.34 USD and escrow paid one 2.84 top-up, not both;
    # the buyer then adds 20.00: closing pays the other top-up, keeps 5.34 for the item
    # still waiting and gives back the rest.
    fund(services, buyer, campaign.id, 2000, key="fund-2")
    funds = AccountRef.buyer_funds(buyer.org_id, "USD")
    before = balance(services, funds)
    with services.uow() as uow:
        due = campaigns.topups_due(uow, uow.get(Campaign, campaign.id))
    assert [owed for _, _, owed in due] == [usd(284)]
    shown = returned_if_closed(services, campaign.id)
    assert shown == usd(2216 - 284 - 534)
    with services.uow() as uow:
        campaigns.close_campaign(uow, buyer, campaign.id)
    assert balance(services, funds) - before == shown


# -- the pay floor, rechecked against measured effort ----------------------------------------


def accept(services, people, campaign_id: int, item_id: int) -> None:
    with services.uow() as uow:
        campaigns.submit_review(uow, people["operator"].actor, campaign_id, item_id, up=True)


def audit_tags(services, campaign_id: int) -> list[str]:
    with services.uow() as uow:
        return [
            e.tag
            for e in uow.all(AuditEvent, order_by="seq", subject_type="campaign")
            if e.subject_id == str(campaign_id)
        ]


@pytest.fixture
def floor_campaign(services, people):
    """2.50 USD for a stated 10 minutes (15 USD an hour), quota 30, funded and open."""
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer, quota=30)
    fund(services, buyer, campaign.id, 30 * 250)
    return open_(services, buyer, campaign.id)


def test_the_floor_is_rechecked_once_twenty_submissions_are_measured(
    services, people, floor_campaign
):
    owner = people["owner"].actor
    for _ in range(19):
        waiting_item(services, owner.user_id, floor_campaign, effort_minutes=12)
    with services.uow() as uow:
        assert uow.get(CampaignPayTerms, floor_campaign.id).rechecked_at is None
    waiting_item(services, owner.user_id, floor_campaign, effort_minutes=12)
    with services.uow() as uow:
        terms = uow.get(CampaignPayTerms, floor_campaign.id)
        assert terms.rechecked_at is not None and not terms.paused
        assert terms.measured_submissions == 20 and terms.median_effort_seconds == 12 * 60
        assert uow.get(Campaign, floor_campaign.id).rate_minor == 250  # 12.50 USD/h holds
    assert "payfloor:recheck" in audit_tags(services, floor_campaign.id)
    assert "campaign:pause" not in audit_tags(services, floor_campaign.id)


def test_below_the_floor_the_rate_rises_the_campaign_pauses_and_paid_work_is_topped_up(
    services, people, floor_campaign
):
    owner, other, buyer = people["owner"].actor, people["other"].actor, people["buyer"].actor
    # The work really takes 40 minutes: 2.50 USD is 3.75 USD an hour; 8 USD an hour needs
    # 5.34 USD an item (800 × 2400 / 3600, rounded up).
    paid = [
        waiting_item(services, who.user_id, floor_campaign, effort_minutes=40)
        for who in (owner, other)
    ]
    for item_id in paid:
        accept(services, people, floor_campaign.id, item_id)
    later = [
        waiting_item(services, owner.user_id, floor_campaign, effort_minutes=40) for _ in range(18)
    ]
    with services.uow() as uow:
        terms = uow.get(CampaignPayTerms, floor_campaign.id)
        assert terms.paused and terms.required_rate_minor == 534
        assert uow.get(Campaign, floor_campaign.id).rate_minor == 534
        topups = uow.ledger.entries_with_key_prefix("floor-topup:")
        assert sorted(e.key for e in topups) == sorted(f"floor-topup:{i}:534" for i in paid)
    for who in (owner, other):
        assert balance(services, AccountRef.contributor_payable(who.user_id, "USD")) == usd(534)
    tags = audit_tags(services, floor_campaign.id)
    assert tags.index("payfloor:recheck") < tags.index("campaign:pause")

    # A re-run pays nobody twice.
    with services.uow() as uow:
        assert payfloor.recheck_pay_floor(uow, floor_campaign.id, FLOOR) is None
        campaigns.pay_floor_topups(uow, uow.get(Campaign, floor_campaign.id))
        uow.commit()
    assert balance(services, AccountRef.contributor_payable(other.user_id, "USD")) == usd(534)

    # Paused: no new starts or uploads, with the reason.
    with services.uow() as uow, pytest.raises(Conflict, match="paused"):
        payfloor.start_task(uow, other, floor_campaign.id)
    with services.uow() as uow:
        (problem,) = campaigns.check_upload_campaign(uow, floor_campaign.id, ItemKind.PHOTO)
    assert problem.code == "campaign.paused_below_floor" and problem.params["rate"] == usd(534)
    assert "below the pay floor" in problem.text and "USD 5.34" in problem.text

    # Work already submitted is accepted at the new rate.
    accept(services, people, floor_campaign.id, later[0])
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(1068)

    # The buyer tops up: 27 items left at 5.34 USD; escrow holds 75.00 − 5.00 − 5.68 − 5.34.
    with services.uow() as uow:
        state = payfloor.floor_state(uow, buyer, floor_campaign.id)
    assert state.needed == usd(27 * 534) and state.escrow == usd(7500 - 500 - 568 - 534)
    with services.uow() as uow:
        short = payfloor.top_up_campaign(
            uow, FakeCardRail(), buyer, floor_campaign.id, state.shortfall - usd(1), "t-1"
        )
    assert short.state.paused and short.state.shortfall == usd(1)
    with services.uow() as uow:
        done = payfloor.top_up_campaign(
            uow, FakeCardRail(), buyer, floor_campaign.id, usd(1), "t-2"
        )
    assert not done.state.paused
    assert audit_tags(services, floor_campaign.id)[-1] == "campaign:resume"
    with services.uow() as uow:
        assert payfloor.start_task(uow, other, floor_campaign.id).id
    with services.uow() as uow:
        assert money.check_ledger(uow, people["operator"].actor).ok


def test_top_ups_escrow_cannot_cover_yet_are_paid_when_the_buyer_tops_up(services, people):
    buyer, owner = people["buyer"].actor, people["owner"].actor
    campaign = make_campaign(services, buyer, quota=2)
    fund(services, buyer, campaign.id, 500)
    open_(services, buyer, campaign.id)
    for _ in range(2):
        accept(
            services,
            people,
            campaign.id,
            waiting_item(services, owner.user_id, campaign, effort_minutes=40),
        )
    # The quota is filled and escrow is empty; 18 more submissions are measured (stored
    # directly, as if uploaded 40 minutes after their task starts).
    with services.uow() as uow:
        for _ in range(18):
            started = utcnow() - timedelta(minutes=40)
            uow.add(TaskStart(campaign_id=campaign.id, user_id=owner.user_id, started_at=started))
        uow.commit()
    for _ in range(18):
        waiting_item(services, owner.user_id, campaign)
    with services.uow() as uow:
        assert uow.get(CampaignPayTerms, campaign.id).paused  # the 20th queued the recheck
        assert payfloor.recheck_pay_floor(uow, campaign.id, FLOOR) is None  # once only
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(500)
    with services.uow() as uow:
        assert payfloor.floor_state(uow, buyer, campaign.id).needed == usd(2 * 284)
    with services.uow() as uow:
        reopened = payfloor.top_up_campaign(uow, FakeCardRail(), buyer, campaign.id, usd(568), "t")
    assert not reopened.state.paused
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(1068)


# -- coverage bonus ---------------------------------------------------------------------------

CELL = "8a1fb46622dffff"


def test_the_first_accepted_item_from_an_uncovered_cell_earns_the_coverage_bonus_once(
    services, people
):
    buyer, owner, other = people["buyer"].actor, people["owner"].actor, people["other"].actor
    campaign = make_campaign(services, buyer, kind="ambient", coverage_bonus_minor=50)
    fund(services, buyer, campaign.id, 4 * 300)
    open_(services, buyer, campaign.id)
    first = waiting_item(services, owner.user_id, campaign, h3_cell=CELL)
    second = waiting_item(services, other.user_id, campaign, h3_cell=CELL)  # also promised
    accept(services, people, campaign.id, first)
    accept(services, people, campaign.id, second)
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(300)
    assert balance(services, AccountRef.contributor_payable(other.user_id, "USD")) == usd(250)
    with services.uow() as uow:
        (bonus,) = uow.ledger.entries_with_key_prefix("coverage-bonus:")
        assert bonus.key == f"coverage-bonus:{CELL}"
        assert money.pay_from_escrow(
            uow,
            campaign.id,
            owner.user_id,
            usd(50),
            first,
            key=bonus.key,
            kind="coverage_bonus",
            memo="again",
            tag=AuditTag.COVERAGE_BONUS,
            h3_cell=CELL,
        ).replayed
        statement = money.contributor_statement(uow, owner)
    bonus_line, pay_line = statement["lines"]
    assert bonus_line["amount"]["amount_minor"] == 50
    assert bonus_line["source"]["kind"] == "coverage_bonus"
    assert bonus_line["source"]["h3_cell"] == CELL and bonus_line["source"]["item_id"] == first
    assert pay_line["source"] == {"kind": "item", "campaign_id": campaign.id, "item_id": first}
    assert "coverage:bonus" in [e.tag for e in _events(services) if e.subject_id == str(first)]


def _events(services):
    with services.uow() as uow:
        return uow.all(AuditEvent, order_by="seq")


# -- platform campaigns ------------------------------------------------------------------------


def test_a_platform_campaign_opens_only_once_the_operator_funds_its_escrow(services, people):
    operator, owner = people["operator"].actor, people["owner"].actor
    campaign = make_campaign(services, operator, quota=2)
    assert campaign.org_id is None
    with pytest.raises(Conflict) as refused:
        open_(services, operator, campaign.id)
    assert refused.value.details["shortfall"]["amount_minor"] == 500
    with services.uow() as uow, pytest.raises(PermissionDenied):  # not a buyer's to fund
        money.fund_campaign_escrow(
            uow, FakeCardRail(), people["buyer"].actor, campaign.id, usd(500), "b"
        )
    rail = FakeCardRail()
    with services.uow() as uow:
        funded = money.fund_campaign_escrow(uow, rail, operator, campaign.id, usd(500), "op-1")
    assert funded.balance == usd(500) and len(rail.charges) == 1
    assert open_(services, operator, campaign.id).state is CampaignState.OPEN

    accept(services, people, campaign.id, waiting_item(services, owner.user_id, campaign))
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(250)
    revenue = balance(services, AccountRef.platform_revenue("USD"))
    with services.uow() as uow:
        campaigns.close_campaign(uow, operator, campaign.id)
    # What was not spent is the platform's own money again.
    assert balance(services, AccountRef.platform_revenue("USD")) - revenue == usd(250)
    assert balance(services, AccountRef.escrow(campaign.id, "USD")) == usd(0)
    with services.uow() as uow:
        assert money.check_ledger(uow, operator).ok


def test_a_cell_pays_its_coverage_bonus_once_even_after_its_first_item_is_withdrawn(
    services, people
):
    buyer, owner, other = people["buyer"].actor, people["owner"].actor, people["other"].actor
    campaign = make_campaign(services, buyer, kind="ambient", coverage_bonus_minor=50)
    fund(services, buyer, campaign.id, 4 * 300)
    open_(services, buyer, campaign.id)
    first = waiting_item(services, owner.user_id, campaign, h3_cell=CELL)
    accept(services, people, campaign.id, first)
    with services.uow() as uow:
        uow.get(Item, first).move_to(ItemStatus.WITHDRAWN)  # the cell has no listed item now
        uow.commit()
    later = waiting_item(services, other.user_id, campaign, h3_cell=CELL)
    accept(services, people, campaign.id, later)
    assert balance(services, AccountRef.contributor_payable(other.user_id, "USD")) == usd(250)
    with services.uow() as uow:
        assert len(uow.ledger.entries_with_key_prefix("coverage-bonus:")) == 1


# -- per-minute campaigns ----------------------------------------------------------------------


def test_a_per_minute_campaign_must_state_its_longest_recording(services, people):
    with pytest.raises(InvalidInput) as refused:
        make_campaign(services, people["buyer"].actor, kind="voice", pay_basis="per_minute")
    assert any("spec.max_duration_s" in p for p in refused.value.details["problems"])


def test_funding_a_campaign_escrow_cannot_be_sized_for_is_refused_before_charging(services, people):
    buyer = people["buyer"].actor
    campaign = make_campaign(
        services, buyer, kind="voice", pay_basis="per_minute", spec={"max_duration_s": 60}
    )
    with services.uow() as uow:  # stored before the rule: no longest recording
        uow.get(Campaign, campaign.id).spec = {}
        uow.commit()
    rail = FakeCardRail()
    with services.uow() as uow, pytest.raises(InvalidInput, match=r"spec\.max_duration_s"):
        payfloor.top_up_campaign(uow, rail, buyer, campaign.id, usd(1000), "fund-1")
    assert rail.charges == {}
    assert balance(services, AccountRef.escrow(campaign.id, "USD")) == usd(0)


# -- what counts as measured effort --------------------------------------------------------------


def reject(services, people, campaign_id: int, item_id: int, note: str = "Not the street") -> None:
    with services.uow() as uow:
        campaigns.submit_review(
            uow,
            people["operator"].actor,
            campaign_id,
            item_id,
            up=False,
            note=note,
            storage=services.storage,
        )


def floor_terms(services, campaign_id: int) -> tuple[CampaignPayTerms, int]:
    with services.uow() as uow:
        return uow.get(CampaignPayTerms, campaign_id), uow.get(Campaign, campaign_id).rate_minor


def test_task_starts_held_open_for_days_measure_nothing(services, people, floor_campaign):
    owner = people["owner"].actor
    # The attack: start 20 tasks, hold them three days, upload junk (rejected in review).
    for _ in range(20):
        item_id = waiting_item(services, owner.user_id, floor_campaign, effort_minutes=3 * 24 * 60)
        reject(services, people, floor_campaign.id, item_id)
    terms, rate = floor_terms(services, floor_campaign.id)
    assert terms.rechecked_at is None and not terms.paused and rate == 250
    with services.uow() as uow:
        assert payfloor.measured_efforts(uow, uow.get(Campaign, floor_campaign.id)) == {}


def test_rejected_work_is_not_measured(services, people, floor_campaign):
    owner, other = people["owner"].actor, people["other"].actor
    for _ in range(10):  # ten hours a task, and reviewers reject every one
        item_id = waiting_item(services, other.user_id, floor_campaign, effort_minutes=600)
        reject(services, people, floor_campaign.id, item_id)
    for _ in range(20):
        waiting_item(services, owner.user_id, floor_campaign, effort_minutes=12)
    terms, rate = floor_terms(services, floor_campaign.id)
    assert terms.rechecked_at is not None and terms.measured_submissions == 20
    assert terms.median_effort_seconds == 12 * 60 and not terms.paused and rate == 250


def test_one_contributor_counts_once_and_each_measurement_is_capped(
    services, people, floor_campaign
):
    owner, other = people["owner"].actor, people["other"].actor
    third = make_persona(services, "third", Role.CONTRIBUTOR).actor
    for _ in range(18):  # slow, many uploads: one vote, capped at 4 × 10 minutes
        waiting_item(services, owner.user_id, floor_campaign, effort_minutes=600)
    with services.uow() as uow:
        efforts = payfloor.measured_efforts(uow, uow.get(Campaign, floor_campaign.id))
    assert efforts == {owner.user_id: [36_000] * 18}
    waiting_item(services, other.user_id, floor_campaign, effort_minutes=8)
    waiting_item(services, third.user_id, floor_campaign, effort_minutes=9)
    terms, rate = floor_terms(services, floor_campaign.id)
    # Contributor medians 40 (capped), 8 and 9 minutes: the median is 9 minutes.
    assert terms.measured_submissions == 20 and terms.median_effort_seconds == 9 * 60
    assert not terms.paused and rate == 250


def test_a_lone_slow_contributor_raises_the_rate_at_most_to_the_cap(
    services, people, floor_campaign
):
    owner = people["owner"].actor
    for _ in range(20):
        waiting_item(services, owner.user_id, floor_campaign, effort_minutes=600)
    terms, rate = floor_terms(services, floor_campaign.id)
    # 40 minutes (4 × the stated 10) at 8 USD an hour: 5.34 USD, not 80 USD.
    assert terms.paused and terms.median_effort_seconds == 40 * 60 and rate == 534


def test_closing_a_paused_campaign_keeps_what_its_top_ups_are_still_owed(services, people):
    owner, other, buyer = people["owner"].actor, people["other"].actor, people["buyer"].actor
    campaign = make_campaign(services, buyer, quota=4)
    fund(services, buyer, campaign.id, 1000)
    open_(services, buyer, campaign.id)
    for who in (owner, other):
        accept(
            services,
            people,
            campaign.id,
            waiting_item(services, who.user_id, campaign, effort_minutes=40),
        )
    later = [waiting_item(services, owner.user_id, campaign, effort_minutes=40) for _ in range(18)]
    # The recheck raised the rate to 5.34 USD: escrow (5.00) paid one 2.84 top-up, not both.
    assert balance(services, AccountRef.escrow(campaign.id, "USD")) == usd(216)
    for item_id in later:
        reject(services, people, campaign.id, item_id)
    funds = AccountRef.buyer_funds(buyer.org_id, "USD")
    before = balance(services, funds)
    assert returned_if_closed(services, campaign.id) == usd(0)
    with services.uow() as uow:
        campaigns.close_campaign(uow, buyer, campaign.id)
    assert balance(services, funds) == before  # 2.84 is still owed: nothing goes back
    assert balance(services, AccountRef.escrow(campaign.id, "USD")) == usd(216)


def test_a_top_up_for_work_paid_with_its_bonus_in_one_entry_does_not_count_the_bonus(
    services, people
):
    buyer, owner = people["buyer"].actor, people["owner"].actor
    campaign = make_campaign(services, buyer, kind="ambient", coverage_bonus_minor=50)
    fund(services, buyer, campaign.id, 4 * 300)
    open_(services, buyer, campaign.id)
    item_id = waiting_item(services, owner.user_id, campaign, h3_cell=CELL)
    with services.uow() as uow:  # accepted before the bonus had its own entry: 2.50 + 0.50
        item = uow.get(Item, item_id)
        money.pay_accepted_item(uow, campaign.id, owner.user_id, usd(300), item_id)
        item.move_to(ItemStatus.LISTED)
        item.paid_minor = 300  # and no bonus_paid_minor: the bonus had no entry of its own
        uow.get(Campaign, campaign.id).rate_minor = 534  # then a recheck raised the rate
        uow.commit()
    with services.uow() as uow:
        assert campaigns.pay_floor_topups(uow, uow.get(Campaign, campaign.id)).is_zero
        uow.commit()
    # The work is owed 5.34 - 2.50; the bonus already paid stays the contributor's.
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(300 + 284)
