"""Auto-approval: work not reviewed within its campaign's review window is accepted and paid
by a scheduled job (``items.auto_approve``), once, whoever runs it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_campaign_money import balance, fund, make_campaign, open_, usd, waiting_item

from datatrust.adapters.queue import SCHEDULE
from datatrust.domain.audit import AuditEvent
from datatrust.domain.campaigns import Campaign
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict
from datatrust.domain.items import ERASED_FILENAME, Item, ItemStatus, ReviewDecider, ReviewState
from datatrust.domain.jobs import OutboxJob
from datatrust.domain.ledger import AccountRef
from datatrust.services import contributions
from datatrust.services.campaigns import campaigns


def opened_campaign(services, people, **changes):
    buyer = people["buyer"].actor
    campaign = make_campaign(services, buyer, review_mode="peer", **changes)
    fund(services, buyer, campaign.id, 1000)
    return open_(services, buyer, campaign.id)


def test_an_item_past_its_review_window_is_accepted_paid_and_audited(services, people):
    campaign = opened_campaign(services, people, review_window_days=7)
    owner = people["owner"].actor
    overdue = waiting_item(services, owner.user_id, campaign, days_old=8)
    recent = waiting_item(services, owner.user_id, campaign, days_old=1)
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow) == 1
    with services.uow() as uow:
        assert uow.get(Item, overdue).status is ItemStatus.LISTED
        assert uow.get(Item, overdue).reviewed_by is ReviewDecider.REVIEW_WINDOW
        assert uow.get(Item, recent).status is ItemStatus.ACCEPTED
        accepts = [
            e for e in uow.all(AuditEvent, tag="item:accept") if e.subject_id == str(overdue)
        ]
        assert [e.data.get("reason") for e in accepts] == ["review window passed"]
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(250)


def test_auto_approval_run_twice_accepts_and_pays_once(services, people):
    campaign = opened_campaign(services, people)
    owner = people["owner"].actor
    waiting_item(services, owner.user_id, campaign, days_old=30)
    later = utcnow() + timedelta(days=1)
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow, later) == 1
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow, later) == 0
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(250)


def test_an_overdue_item_is_found_by_its_columns_and_claimed_only_while_undecided(services, people):
    campaign = opened_campaign(services, people, review_window_days=7)
    owner = people["owner"].actor
    overdue = waiting_item(services, owner.user_id, campaign, days_old=8)
    recent = waiting_item(services, owner.user_id, campaign, days_old=1)
    now = utcnow()
    with services.uow() as uow:
        # Its report says nothing about the review nor the campaign: the columns decide.
        assert "campaign" not in uow.get(Item, overdue).report
        assert uow.reviews.overdue(now) == [overdue]
        assert not uow.reviews.claim_overdue(recent, now)
        assert uow.reviews.claim_overdue(overdue, now)
        uow.rollback()
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow, now) == 1
    with services.uow() as uow:
        assert uow.reviews.overdue(now + timedelta(days=30)) == [recent]
        assert not uow.reviews.claim_overdue(overdue, now + timedelta(days=30))


def test_auto_approval_is_a_scheduled_job_enqueued_once_per_slot(services, people):
    assert "items.auto_approve" in services.jobs.handlers
    assert any(job == "items.auto_approve" for _, _, job in SCHEDULE)
    at = utcnow()
    services.schedule("items.auto_approve", at)
    services.schedule("items.auto_approve", at)
    with services.uow() as uow:
        assert uow.count(OutboxJob, job="items.auto_approve") == 1


def test_the_auto_approve_job_accepts_overdue_work(services, people):
    campaign = opened_campaign(services, people)
    owner = people["owner"].actor
    item_id = waiting_item(services, owner.user_id, campaign, days_old=30)
    with services.uow() as uow:
        services.jobs.handlers["items.auto_approve"](uow, {}, None)
    with services.uow() as uow:
        assert uow.get(Item, item_id).status is ItemStatus.LISTED


def test_an_item_escrow_cannot_pay_waits_without_blocking_other_campaigns(services, people):
    owner, buyer = people["owner"].actor, people["buyer"].actor
    short = opened_campaign(services, people)  # 10.00 USD in escrow
    funded = opened_campaign(services, people)
    # A recheck raised the short campaign's rate above what its escrow holds.
    with services.uow() as uow:
        uow.get(Campaign, short.id).rate_minor = 1500
        uow.commit()
    stuck = waiting_item(services, owner.user_id, short, days_old=30)  # the lower id
    settled = waiting_item(services, owner.user_id, funded, days_old=30)
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow) == 1
    with services.uow() as uow:
        assert uow.get(Item, settled).status is ItemStatus.LISTED
        waiting = uow.get(Item, stuck)
        assert waiting.status is ItemStatus.ACCEPTED
        assert waiting.review_state is ReviewState.WAITING_FOR_ESCROW
    payable = AccountRef.contributor_payable(owner.user_id, "USD")
    assert balance(services, payable) == usd(250)
    assert balance(services, AccountRef.escrow(short.id, "USD")) == usd(1000)

    fund(services, buyer, short.id, 500, key="top-up")  # the buyer tops up
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow) == 1
    with services.uow() as uow:
        assert uow.get(Item, stuck).status is ItemStatus.LISTED
        assert uow.get(Item, stuck).review_state is ReviewState.ACCEPTED
    assert balance(services, payable) == usd(250 + 1500)


def test_a_reviewer_accepting_an_item_escrow_cannot_pay_is_told_the_shortfall(services, people):
    owner = people["owner"].actor
    campaign = opened_campaign(services, people)
    with services.uow() as uow:
        uow.get(Campaign, campaign.id).rate_minor = 1500
        uow.commit()
    item_id = waiting_item(services, owner.user_id, campaign)
    with services.uow() as uow, pytest.raises(Conflict, match=r"fund USD 5\.00 more"):
        campaigns.submit_review(uow, people["operator"].actor, campaign.id, item_id, up=True)
    with services.uow() as uow:
        assert uow.get(Item, item_id).status is ItemStatus.ACCEPTED


def test_the_owner_reads_the_campaign_in_the_report_from_the_campaign_until_erased(
    services, people
):
    campaign = opened_campaign(services, people, review_window_days=7)
    waiting = waiting_item(services, people["owner"].actor.user_id, campaign)
    with services.uow() as uow:
        item = uow.get(Item, waiting)
        assert "campaign" not in item.report  # stored: no copy of the campaign
        shown = contributions.readable(uow, services.storage, item).report["campaign"]
        assert shown == {
            "id": campaign.id,
            "review_mode": "peer",
            "currency": "USD",
            "pay_basis": "per_item",
            "review": "waiting",
            "review_due": shown["review_due"],
            "rate_minor": campaign.rate_minor,
            "coverage_bonus_minor": 0,
        }
        assert shown["review_due"] == item.review_due.isoformat()
        # Erasure clears the report, the campaign's part with it (its columns stay).
        item.filename = ERASED_FILENAME
        item.write_report({})
        assert contributions.readable(uow, services.storage, item).report == {}
        uow.rollback()
