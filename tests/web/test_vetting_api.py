"""Vetting through the API and the vetting page: a decision the organisation's status does
not allow is refused as a state change is (409, the problem ``organisation.decision_refused``
naming what is allowed) and changes nothing; the page says so in the reader's words."""

from __future__ import annotations

from datatrust.domain.accounts import Organisation, OrgStatus
from datatrust.i18n import translator


def _org(services, status: OrgStatus) -> int:
    with services.uow() as uow:
        org = Organisation(legal_name="Vetted Ltd", country="GB", status=status)
        uow.add(org)
        uow.commit()
        return org.id


def _stored(services, org_id: int) -> tuple[OrgStatus, str]:
    with services.uow() as uow:
        org = uow.get(Organisation, org_id)
        return org.status, org.status_reason


def test_the_api_refuses_a_decision_the_status_does_not_allow_with_409(client, services, people):
    operator = people["operator"].headers
    org_id = _org(services, OrgStatus.PENDING)
    suspended = client.post(
        f"/api/orgs/{org_id}/suspend", headers=operator, json={"reason": "unpaid"}
    )
    assert suspended.status_code == 409
    body = suspended.json()
    assert body["error"]["code"] == "conflict"
    assert body["problems"] == [
        {
            "field": "decision",
            "code": "organisation.decision_refused",
            "params": {"state": "pending", "choices": ["approve", "reject"]},
            "message": "an organisation that is pending can only be given these decisions: "
            "approve, reject",
        }
    ]
    assert _stored(services, org_id) == (OrgStatus.PENDING, "")

    approved = client.post(f"/api/orgs/{org_id}/approve", headers=operator, json={})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = client.post(f"/api/orgs/{org_id}/approve", headers=operator, json={})
    rejected = client.post(f"/api/orgs/{org_id}/reject", headers=operator, json={"reason": "late"})
    assert again.status_code == rejected.status_code == 409
    assert again.json()["problems"][0]["params"] == {"state": "approved", "choices": ["suspend"]}
    assert _stored(services, org_id) == (OrgStatus.APPROVED, "")


def test_the_vetting_page_says_in_words_that_a_stale_decision_is_no_longer_allowed(
    client, services, people
):
    """Another operator approved the buyer while this one's page still offered 'Reject'."""
    org_id = _org(services, OrgStatus.APPROVED)
    got = client.post(
        f"/operator/vetting/{org_id}?lang=hi",
        headers=people["operator"].headers,
        data={"decision": "reject", "reason": "no website"},
    )
    assert got.status_code == 422
    _ = translator("hi").gettext
    card = got.text.split(f'id="org-{org_id}"', 1)[1].split("</li>", 1)[0]
    error = card.split('<p class="error"', 1)[1].split("</p>", 1)[0]
    assert _("Approved").lower() in error and _("Suspend").lower() in error
    assert "approved" not in error and "suspend" not in error
    assert _stored(services, org_id) == (OrgStatus.APPROVED, "")


def test_a_rejected_buyers_token_is_refused_what_a_suspended_buyer_may_still_do(
    client, services, people
):
    """Why a rejected organisation is never suspended: a suspended buyer may still read
    its revocation feed and manage its webhook (to comply), a rejected one may do nothing,
    so suspension would loosen a rejection, and a rejected buyer never held data to delete
    (rejection is reached only from pending: tests/domain/test_org_decisions.py)."""
    from test_seed_story import buyer

    persona, org = buyer(services, people, "late", ["model_training"], ["technology"])
    org_id = org.id
    asks = [("GET", "/api/buyers/feed"), ("GET", "/api/buyers/webhook")]

    def answers(status: OrgStatus) -> list[int]:
        with services.uow() as uow:
            uow.get(Organisation, org_id).status = status
            uow.commit()
        return [client.request(m, path, headers=persona.headers).status_code for m, path in asks]

    assert answers(OrgStatus.SUSPENDED) == [200, 200]
    assert answers(OrgStatus.REJECTED) == [403, 403]
