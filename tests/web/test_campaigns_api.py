"""Campaigns over the API: a buyer opens one, contributors upload to it, the pipeline
accepts, the owner previews, reviewers decide, and the item is listed."""

from __future__ import annotations

from datetime import timedelta

import pytest

import ingest_media as media
from datatrust.domain.clock import utcnow
from datatrust.domain.items import Item
from datatrust.domain.permissions import Role
from datatrust.services.campaigns import campaigns
from support import fund_and_open, make_persona

UPLOADS = {
    "photo": ("me.jpg", media.photo, {}),
    "video": ("walk.mp4", media.video_bytes, {"lat": "52.37", "lng": "4.9"}),
    "ambient": ("street.wav", media.ambient, {"lat": "19.076", "lng": "72.8777"}),
    "voice": ("voice.ogg", media.voice, {}),
    "call": ("call.m4a", media.call, {"transcript": media.CALL_TRANSCRIPT}),
    "chat": ("chat.txt", media.whatsapp_chat, {"me": "Priya Sharma"}),
}


def open_campaign(client, persona, kind="photo", **changes):
    body = {
        "title": f"{kind} campaign",
        "kind": kind,
        "rate_minor": 250,
        "currency": "USD",
        "quota": 100,
        "expected_minutes_per_item": 10,
        **changes,
    }
    created = client.post("/api/campaigns", headers=persona.headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "draft"
    # Every campaign opens once escrow covers it (a platform one: the operator funds it).
    opened = fund_and_open(client, persona.headers, created.json()["id"])
    assert opened.status_code == 200 and opened.json()["state"] == "open"
    return opened.json()


def upload(client, persona, kind, campaign_id=None, data=None, **fields):
    filename, make, extra = UPLOADS[kind]
    form = {"kind": kind, **extra, **fields}
    if campaign_id is not None:
        form["campaign_id"] = str(campaign_id)
    response = client.post(
        "/api/items",
        headers=persona.headers,
        data=form,
        files={
            "file": (filename, data if data is not None else make(), "application/octet-stream")
        },
    )
    assert response.status_code == 201, response.text
    return client.get(f"/api/items/{response.json()['id']}", headers=persona.headers).json()


def vote(client, persona, campaign_id, item_id, up=True):
    return client.post(
        f"/api/campaigns/{campaign_id}/review/{item_id}",
        headers=persona.headers,
        json={"up": up},
    )


@pytest.fixture
def reviewers(services):
    return [make_persona(services, f"reviewer{i}", Role.CONTRIBUTOR) for i in range(3)]


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_every_kind_goes_from_upload_to_listed_through_peer_review(
    client, services, people, reviewers, kind
):
    campaign = open_campaign(client, people["buyer"], kind)
    owner = people["owner"]
    item = upload(client, owner, kind, campaign["id"])
    assert item["status"] == "accepted", item["report"]["reasons"]
    assert item["report"]["campaign"]["review"] == "waiting"
    # The owner reads the campaign in the report as before; the stored report keeps no copy.
    assert item["report"]["campaign"] | {"review_due": None, "rate_minor": 0} == {
        "id": campaign["id"],
        "review_mode": "peer",
        "currency": campaign["currency"],
        "pay_basis": campaign["pay_basis"],
        "review": "waiting",
        "review_due": None,
        "rate_minor": 0,
    }
    with services.uow() as uow:
        assert "campaign" not in uow.get(Item, item["id"]).report

    preview = client.get(f"/api/items/{item['id']}/preview", headers=owner.headers)
    assert preview.status_code == 200 and preview.content
    assert preview.headers["content-type"].split(";")[0] == item["report"]["output"]["content_type"]
    removed = client.get(f"/api/items/{item['id']}/removed", headers=owner.headers).json()
    assert removed["summary"] == item["report"]["removed_summary"]

    queue = client.get(f"/api/campaigns/{campaign['id']}/review", headers=reviewers[0].headers)
    assert [e["item_id"] for e in queue.json()] == [item["id"]]
    seen = client.get(
        f"/api/campaigns/{campaign['id']}/review/{item['id']}/preview",
        headers=reviewers[0].headers,
    )
    assert seen.content == preview.content  # reviewers see exactly what would ship

    first = vote(client, reviewers[0], campaign["id"], item["id"])
    assert first.json()["decision"] is None and first.json()["status"] == "accepted"
    second = vote(client, reviewers[1], campaign["id"], item["id"])
    assert second.json() == {
        "item_id": item["id"],
        "up": 2,
        "down": 0,
        "decision": "accept",
        "status": "listed",
    }
    assert client.get(f"/api/items/{item['id']}", headers=owner.headers).json()["status"] == (
        "listed"
    )


def test_a_recording_for_a_task_in_a_language_is_offered_in_that_language(client, services, people):
    """A task that asks for isiZulu speech: the recordings it accepts carry that language,
    which the catalogue's language filter and facet read (not "unknown")."""
    operator = people["operator"]
    campaign = open_campaign(
        client, operator, kind="voice", spec={"language": "zu", "max_duration_s": 60}
    )
    item = upload(client, people["owner"], "voice", campaign["id"])
    assert item["status"] in ("accepted", "listed"), item
    with services.uow() as uow:
        assert uow.get(Item, item["id"]).language == "zu"


def test_peer_review_needs_two_up_votes_and_more_up_than_down(client, people, reviewers):
    campaign = open_campaign(client, people["buyer"])
    item = upload(client, people["owner"], "photo", campaign["id"], data=media.photo(seed=12))
    assert (
        vote(client, reviewers[0], campaign["id"], item["id"], up=True).json()["decision"] is None
    )
    assert (
        vote(client, reviewers[1], campaign["id"], item["id"], up=False).json()["decision"] is None
    )
    again = vote(client, reviewers[1], campaign["id"], item["id"], up=True)
    assert again.status_code in (404, 409)  # one vote each
    last = vote(client, reviewers[2], campaign["id"], item["id"], up=False).json()
    assert last["decision"] == "reject" and last["status"] == "rejected"
    mine = client.get(f"/api/items/{item['id']}", headers=people["owner"].headers).json()
    assert mine["report"]["reasons"][-1]["code"] == "review_rejected"


def test_nobody_reviews_their_own_item(client, people):
    campaign = open_campaign(client, people["buyer"])
    item = upload(client, people["owner"], "photo", campaign["id"], data=media.photo(seed=13))
    own = vote(client, people["owner"], campaign["id"], item["id"])
    assert own.status_code == 404
    queue = client.get(f"/api/campaigns/{campaign['id']}/review", headers=people["owner"].headers)
    assert queue.json() == []


def test_in_an_operator_campaign_the_operator_decides_and_peers_cannot(client, people):
    campaign = open_campaign(client, people["operator"], review_mode="operator")
    assert campaign["org_id"] is None  # a platform campaign
    item = upload(client, people["owner"], "photo", campaign["id"], data=media.photo(seed=14))
    assert item["report"]["campaign"]["review_mode"] == "operator"
    assert item["report"]["campaign"]["review_queue"] == "operator"
    assert vote(client, people["other"], campaign["id"], item["id"]).status_code == 404
    queue = client.get(
        f"/api/campaigns/{campaign['id']}/review", headers=people["operator"].headers
    )
    assert [e["item_id"] for e in queue.json()] == [item["id"]]
    decided = vote(client, people["operator"], campaign["id"], item["id"]).json()
    assert decided["decision"] == "accept" and decided["status"] == "listed"


def test_only_operators_and_approved_buyers_create_campaigns(client, services, people):
    body = {"title": "t", "kind": "photo", "rate_minor": 1, "currency": "USD", "quota": 1}
    assert client.post(
        "/api/campaigns", headers=people["owner"].headers, json=body
    ).status_code == (403)
    pending = make_persona(services, "pending-buyer", Role.BUYER, org=True)
    refused = client.post("/api/campaigns", headers=pending.headers, json=body)
    assert refused.status_code == 403 and "approved" in refused.json()["error"]["message"]


def test_a_campaign_with_problems_is_refused_naming_each(client, people):
    body = {
        "title": "",
        "kind": "photo",
        "rate_minor": -5,
        "currency": "usd",
        "quota": 0,
        "pay_basis": "per_minute",
        "spec": {"colour": "red"},
    }
    response = client.post("/api/campaigns", headers=people["buyer"].headers, json=body)
    assert response.status_code == 422
    problems = " ".join(response.json()["error"]["details"]["problems"])
    for word in ("title", "rate_minor", "quota", "pay_basis", "spec.colour", "currency"):
        assert word in problems


def test_drafts_are_hidden_from_contributors_and_open_campaigns_are_not(client, people):
    draft = client.post(
        "/api/campaigns",
        headers=people["buyer"].headers,
        json={"title": "draft", "kind": "photo", "rate_minor": 1, "currency": "USD", "quota": 5},
    ).json()
    assert (
        client.get(f"/api/campaigns/{draft['id']}", headers=people["owner"].headers).status_code
        == 404
    )
    opened = open_campaign(client, people["buyer"])
    listed = client.get("/api/campaigns", headers=people["owner"].headers).json()
    assert [c["id"] for c in listed] == [opened["id"]]
    closed = client.post(f"/api/campaigns/{opened['id']}/close", headers=people["buyer"].headers)
    assert closed.json()["state"] == "closed"
    assert client.get("/api/campaigns", headers=people["owner"].headers).json() == []
    reopen = client.post(f"/api/campaigns/{opened['id']}/open", headers=people["buyer"].headers)
    assert reopen.status_code == 409


def test_an_upload_to_a_campaign_of_another_kind_or_a_closed_one_is_refused(client, people):
    campaign = open_campaign(client, people["buyer"], "voice")
    response = client.post(
        "/api/items",
        headers=people["owner"].headers,
        data={"kind": "photo", "campaign_id": str(campaign["id"])},
        files={"file": ("a.jpg", media.photo(seed=15), "image/jpeg")},
    )
    assert response.status_code == 422
    assert "collects voice, not photo" in response.text


def test_coverage_counts_ambient_items_per_cell_and_pays_a_bonus_for_a_new_cell(
    client, people, services
):
    campaign = open_campaign(
        client, people["buyer"], "ambient", coverage_bonus_minor=100, review_window_days=3
    )
    first = upload(client, people["owner"], "ambient", campaign["id"], data=media.ambient(seed=33))
    second = upload(client, people["other"], "ambient", campaign["id"], data=media.ambient(seed=32))
    assert first["status"] == second["status"] == "accepted"
    assert first["h3_cell"] == second["h3_cell"]
    assert first["report"]["campaign"]["coverage_bonus_minor"] == 100
    assert second["report"]["campaign"]["coverage_bonus_minor"] == 0
    # Two people's recordings: the cell is not listed (tests/web/test_map_page.py), a
    # third person's lists it with every recording there.
    coverage_url = f"/api/campaigns/{campaign['id']}/coverage"
    assert client.get(coverage_url, headers=people["owner"].headers).json()["cells"] == {}
    third = make_persona(services, "third", Role.CONTRIBUTOR)
    upload(client, third, "ambient", campaign["id"], data=media.ambient(seed=34))
    coverage = client.get(coverage_url, headers=people["owner"].headers).json()
    assert coverage["cells"] == {first["h3_cell"]: 3}


def test_an_item_not_reviewed_within_the_window_is_listed(client, services, people):
    campaign = open_campaign(client, people["buyer"], review_window_days=1)
    item = upload(client, people["owner"], "photo", campaign["id"], data=media.photo(seed=16))
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow, utcnow()) == 0
    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow, utcnow() + timedelta(days=2)) == 1
    after = client.get(f"/api/items/{item['id']}", headers=people["owner"].headers).json()
    assert after["status"] == "listed"
    assert after["report"]["campaign"]["reviewed_by"] == "review_window"
