"""The pay-floor recheck over HTTP: contributors start tasks, the 20th measured submission
finds the rate below the floor, the campaign pauses (starts refused, saying why) and the
buyer's top-up through the escrow route reopens it."""

from __future__ import annotations

from datetime import timedelta

from datatrust.domain.campaigns import TaskStart
from datatrust.domain.clock import utcnow
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.permissions import Role
from datatrust.services.campaigns import payfloor
from support import make_persona


def test_a_campaign_paused_by_the_recheck_reopens_when_the_buyer_tops_up(client, services, people):
    buyer, owner = people["buyer"].headers, people["owner"]
    body = {
        "title": "Shop fronts",
        "kind": "photo",
        "rate_minor": 250,
        "currency": "USD",
        "quota": 30,
        "expected_minutes_per_item": 10,
    }
    campaign_id = client.post("/api/campaigns", json=body, headers=buyer).json()["id"]
    fund = {"amount_minor": 7500, "currency": "USD", "idempotency_key": "open"}
    assert client.post(f"/api/campaigns/{campaign_id}/escrow", json=fund, headers=buyer).json()[
        "covered"
    ]
    assert client.post(f"/api/campaigns/{campaign_id}/open", headers=buyer).status_code == 200

    for n in range(20):
        started = client.post(f"/api/campaigns/{campaign_id}/start", headers=owner.headers)
        assert started.status_code == 201, started.text
        with services.uow() as uow:
            # The work took 40 minutes (set back the clock rather than wait), then the
            # upload arrives, accepted (stored directly: the pipeline is tested elsewhere;
            # only accepted work is measured).
            start = uow.get(TaskStart, started.json()["id"])
            start.started_at = utcnow() - timedelta(minutes=40)
            item = Item(
                owner_id=owner.actor.user_id,
                kind=ItemKind.PHOTO,
                filename=f"shop-{n}.jpg",
                content_type="image/jpeg",
                size=10,
                original_key="k",
                original_sha256="0" * 64,
                deidentified_key="d",
                status=ItemStatus.ACCEPTED,
                campaign_id=campaign_id,
            )
            uow.add(item)
            uow.flush()
            payfloor.link_submission(uow, item)
            uow.commit()

    state = client.get(f"/api/campaigns/{campaign_id}/pay-floor", headers=buyer).json()
    assert state["paused"] and state["rate"]["display"] == "USD 5.34"
    assert state["measured_submissions"] == 20 and state["median_effort_seconds"] == 2400
    assert state["needed_to_reopen"]["amount_minor"] == 30 * 534
    refused = client.post(f"/api/campaigns/{campaign_id}/start", headers=owner.headers)
    assert refused.status_code == 409
    assert "paused" in refused.json()["error"]["message"]
    assert client.get(f"/api/campaigns/{campaign_id}", headers=buyer).json()["rate_minor"] == 534

    top_up = {
        "amount_minor": state["shortfall"]["amount_minor"],
        "currency": "USD",
        "idempotency_key": "floor",
    }
    topped = client.post(f"/api/campaigns/{campaign_id}/escrow", json=top_up, headers=buyer)
    assert topped.status_code == 201, topped.text
    assert topped.json()["paused"] is False
    again = client.post(f"/api/campaigns/{campaign_id}/start", headers=owner.headers)
    assert again.status_code == 201


def test_starting_a_task_on_a_campaign_that_is_not_open_is_refused(client, people):
    body = {"title": "Draft", "kind": "photo", "rate_minor": 250, "currency": "USD", "quota": 3}
    draft = client.post("/api/campaigns", json=body, headers=people["buyer"].headers).json()
    seen_by_owner = client.post(
        f"/api/campaigns/{draft['id']}/start", headers=people["owner"].headers
    )
    assert seen_by_owner.status_code == 404  # a draft is not visible to contributors
    assert (
        client.post("/api/campaigns/999999/start", headers=people["owner"].headers).status_code
        == 404
    )
    assert client.post(f"/api/campaigns/{draft['id']}/start").status_code == 401


ESCROW_FIELDS = {"escrow_balance", "needed_to_reopen", "shortfall"}


def test_only_the_campaigns_managers_see_its_escrow_on_the_pay_floor(client, services, people):
    buyer, operator = people["buyer"], people["operator"]
    rival = make_persona(services, "rival", Role.BUYER, org=True, approve_with=operator.actor)
    body = {
        "title": "Shop fronts",
        "kind": "photo",
        "rate_minor": 250,
        "currency": "USD",
        "quota": 4,
        "expected_minutes_per_item": 10,
    }
    campaign_id = client.post("/api/campaigns", json=body, headers=buyer.headers).json()["id"]
    fund = {"amount_minor": 1000, "currency": "USD", "idempotency_key": "open"}
    client.post(f"/api/campaigns/{campaign_id}/escrow", json=fund, headers=buyer.headers)
    assert client.post(f"/api/campaigns/{campaign_id}/open", headers=buyer.headers).is_success
    url = f"/api/campaigns/{campaign_id}/pay-floor"
    for who in (buyer, operator):
        state = client.get(url, headers=who.headers).json()
        assert state["escrow_balance"]["amount_minor"] == 1000, who.name
    for who in (rival, people["owner"]):
        shown = client.get(url, headers=who.headers)
        assert shown.status_code == 200 and shown.json()["rate"]["amount_minor"] == 250
        assert not ESCROW_FIELDS & shown.json().keys(), who.name
