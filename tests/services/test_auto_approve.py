"""Auto-approval: work not reviewed within its campaign's review window is accepted and paid
by a scheduled job (``items.auto_approve``), once, whoever runs it."""

from __future__ import annotations

from datetime import timedelta

from test_campaign_money import balance, fund, make_campaign, open_, usd, waiting_item

from datatrust.adapters.queue import SCHEDULE
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import OutboxJob
from datatrust.domain.ledger import AccountRef
from datatrust.services import campaigns
from datatrust.services.jobs import HANDLERS


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
        assert uow.get(Item, overdue).report["campaign"]["reviewed_by"] == "review_window"
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


def test_auto_approval_is_a_scheduled_job_enqueued_once_per_slot(services, people):
    assert "items.auto_approve" in HANDLERS
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
        HANDLERS["items.auto_approve"](uow, {}, None)
    with services.uow() as uow:
        assert uow.get(Item, item_id).status is ItemStatus.LISTED
