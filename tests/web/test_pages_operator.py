"""The operator's pages without a browser: campaigns, the review queue (accept, reject
with a reason), a payout batch and the instance settings (read-only)."""

from __future__ import annotations

import pytest

import ingest_media as media
from datatrust.domain.accounts import Organisation, OrgStatus
from support import fund_and_open


def platform_campaign(client, operator):
    body = {
        "title": "Street sounds (operator review)",
        "kind": "ambient",
        "rate_minor": 50,
        "currency": "USD",
        "quota": 10,
        "pay_basis": "per_minute",
        "review_mode": "operator",
        "spec": {"max_duration_s": 60},
        "expected_minutes_per_item": 1,
    }
    created = client.post("/api/campaigns", headers=operator.headers, json=body)
    assert created.status_code == 201, created.text
    opened = fund_and_open(client, operator.headers, created.json()["id"])
    assert opened.status_code == 200, opened.text
    return opened.json()


def upload(client, persona, campaign_id):
    response = client.post(
        "/api/items",
        headers=persona.headers,
        data={"kind": "ambient", "campaign_id": str(campaign_id)},
        files={"file": ("street.ogg", media.ambient(seed=9, fmt="opus"), "audio/ogg")},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_the_operator_accepts_an_item_from_the_review_queue(client, people):
    operator = people["operator"].headers
    campaign = platform_campaign(client, people["operator"])
    item_id = upload(client, people["owner"], campaign["id"])
    assert campaign["title"] in client.get("/operator/campaigns", headers=operator).text
    queue = client.get(f"/operator/review?campaign={campaign['id']}", headers=operator)
    assert queue.status_code == 200 and f'id="item-{item_id}"' in queue.text
    decided = client.post(
        "/operator/review",
        headers=operator,
        data={"campaign_id": campaign["id"], "item_id": item_id, "decision": "accept"},
        follow_redirects=False,
    )
    assert decided.status_code == 303, decided.text
    after = client.get(f"/operator/review?campaign={campaign['id']}", headers=operator)
    assert f'id="item-{item_id}"' not in after.text


def test_payouts_and_settings_for_the_operator_only(client, people):
    operator = people["operator"].headers
    ran = client.post("/operator/payouts", headers=operator, follow_redirects=False)
    assert ran.status_code == 303 and "queued=" in ran.headers["location"]
    settings = client.get("/operator/settings", headers=operator)
    assert settings.status_code == 200 and 'id="platform-fee">20%' in settings.text
    for path in ("/operator/campaigns", "/operator/payouts", "/operator/settings"):
        assert client.get(path, headers=people["owner"].headers).status_code == 403, path


def test_the_operator_records_an_incident_and_tells_those_affected_from_the_page(client, people):
    operator = people["operator"].headers
    item_id = upload(client, people["owner"], platform_campaign(client, people["operator"])["id"])
    refused = client.post(
        "/operator/incidents",
        headers=operator,
        data={"title": "", "discovered_at": "soon"},
        cookies={"dt_lang": "hi"},
    )
    assert refused.status_code == 422 and "तारीख और समय" in refused.text
    opened = client.post(
        "/operator/incidents",
        headers=operator,
        data={
            "title": "Laptop with exports stolen",
            "discovered_at": "2026-01-01T09:00",
            "item_ids": str(item_id),
            "kinds": ["ambient"],
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    page = client.get("/operator/incidents", headers=operator)
    assert "Laptop with exports stolen" in page.text
    assert "1 items, 1 contributors, 0 buyers" in page.text
    assert "The 72-hour deadline has passed." in page.text  # found in January
    (incident,) = client.get("/api/incidents", headers=operator).json()
    told = client.post(
        f"/operator/incidents/{incident['id']}",
        headers=operator,
        data={"step": "notify"},
        follow_redirects=False,
    )
    assert told.status_code == 303
    notices = client.get("/api/notices", headers=people["owner"].headers).json()
    assert [n["incident_id"] for n in notices] == [incident["id"]]
    shown = client.get("/my/notices", headers=people["owner"].headers)
    assert "A security incident touched your data" in shown.text
    assert "Laptop with exports stolen" in shown.text
    other = client.get("/my/notices", headers=people["other"].headers)
    assert other.status_code == 200 and "Laptop" not in other.text
    report = client.get(f"/api/incidents/{incident['id']}/report", headers=operator).json()
    assert report["data_subjects_affected"] == 1 and not report["notified_within_72_hours"]
    assert client.get("/operator/incidents", headers=people["owner"].headers).status_code == 403


def test_the_vetting_page_offers_each_buyer_the_decisions_its_status_allows(
    client, services, people
):
    ids = {}
    with services.uow() as uow:
        for status in OrgStatus:
            org = Organisation(legal_name=f"{status.value} Ltd", country="GB", status=status)
            uow.add(org)
            uow.flush()
            ids[status] = org.id
        uow.commit()
    page = client.get("/operator/vetting", headers=people["operator"].headers).text

    def offered(org_id: int) -> list[str]:
        card = page.split(f'id="org-{org_id}"', 1)[1].split("</li>", 1)[0]
        return [part.split('"', 1)[0] for part in card.split('name="decision" value="')[1:]]

    assert offered(ids[OrgStatus.PENDING]) == ["approve", "reject"]
    assert offered(ids[OrgStatus.APPROVED]) == ["suspend"]
    assert offered(ids[OrgStatus.REJECTED]) == ["approve"]
    assert offered(ids[OrgStatus.SUSPENDED]) == ["approve"]
    assert '<button type="submit" name="decision" value="suspend" class="secondary">Suspend' in page


def test_the_settings_page_says_loudly_when_chromaprint_is_missing(client, people, monkeypatch):
    """Issue 18 §9: what /health and the start-up log name (a missing media tool, and that
    audio prints then come from an engine never compared with Chromaprint's) the operator
    reads on the settings page too, in their language."""
    from datatrust.pipeline import fingerprint

    operator = people["operator"].headers
    installed = client.get("/operator/settings?lang=en", headers=operator).text
    assert 'id="media-tools-missing"' not in installed
    assert "All installed: audio fingerprints by Chromaprint" in installed

    monkeypatch.setattr(fingerprint, "HAVE_CHROMAPRINT", False)
    missing = client.get("/operator/settings?lang=en", headers=operator).text
    assert 'class="alert" role="alert" id="media-tools-missing"' in missing
    assert "Chromaprint is not installed on this machine." in missing
    assert "near-duplicate recorded across the two goes unseen" in missing
    assert "Install libchromaprint1" in missing
    assert "Chromaprint missing: audio fingerprints by another engine" in missing
    hindi = client.get("/operator/settings?lang=hi", headers=operator).text
    assert "इस मशीन पर Chromaprint इंस्टॉल नहीं है।" in hindi
    zulu = client.get("/operator/settings?lang=zu", headers=operator).text
    assert "I-Chromaprint ayifakiwe kulo mshini." in zulu


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_review_queue_without_a_campaign_leads_to_the_campaigns_not_to_english(
    client, people, lang
):
    """``/operator/review`` without ``?campaign=`` answered 404 with 'choose a campaign to
    review' in English on Hindi and isiZulu pages. The operator is taken to the campaigns
    (each links its queue); a contributor, who reviews peers, to the peer review page."""
    operator = client.get(
        f"/operator/review?lang={lang}", headers=people["operator"].headers, follow_redirects=False
    )
    assert operator.status_code == 303 and operator.headers["location"] == "/operator/campaigns"
    shown = client.get(f"/operator/review?lang={lang}", headers=people["operator"].headers)
    assert shown.status_code == 200
    assert "choose a campaign" not in shown.text
    contributor = client.get(
        "/operator/review", headers=people["owner"].headers, follow_redirects=False
    )
    assert contributor.status_code == 303 and contributor.headers["location"] == "/review"
