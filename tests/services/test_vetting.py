"""Vetting a buyer organisation: an operator takes only the decisions its status allows
(``Organisation.decisions``, the same the vetting page offers), on the in-memory unit of
work; the API's answer to a refused one is in tests/web/test_vetting_api.py."""

from __future__ import annotations

import pytest

from datatrust.domain.accounts import ORG_DECISIONS, Organisation, OrgStatus
from datatrust.domain.audit import AuditEvent
from datatrust.domain.errors import Conflict, InvalidInput
from datatrust.services import accounts
from support import MemoryServices, personas

ALL = ("approve", "reject", "suspend")
LEADS_TO = {"approve": OrgStatus.APPROVED, "reject": OrgStatus.REJECTED}


@pytest.fixture
def services() -> MemoryServices:
    return MemoryServices()


@pytest.fixture
def people(services: MemoryServices):
    return personas(services)


def _org(services: MemoryServices, status: OrgStatus) -> int:
    with services.uow() as uow:
        org = Organisation(legal_name=f"{status.value} Ltd", country="GB", status=status)
        uow.add(org)
        uow.commit()
        assert org.id is not None
        return org.id


def _decide(services, people, org_id: int, decision: str, reason: str = "a reason"):
    with services.uow() as uow:
        return accounts.decide_organisation(uow, people["operator"].actor, org_id, decision, reason)


def _stored(services, org_id: int) -> tuple[OrgStatus, str, int]:
    with services.uow() as uow:
        org = uow.get(Organisation, org_id)
        assert org is not None
        return org.status, org.status_reason, len(uow.all(AuditEvent))


def test_each_status_allows_the_decisions_the_vetting_page_offers():
    assert ORG_DECISIONS == {
        OrgStatus.PENDING: ("approve", "reject"),
        OrgStatus.APPROVED: ("suspend",),
        OrgStatus.REJECTED: ("approve",),
        OrgStatus.SUSPENDED: ("approve",),
    }


@pytest.mark.parametrize("status", list(OrgStatus))
def test_an_allowed_decision_moves_the_organisation_and_is_audited(services, people, status):
    for decision in ORG_DECISIONS[status]:
        org_id = _org(services, status)
        events = _stored(services, org_id)[2]
        org = _decide(services, people, org_id, decision, " unpaid invoices ")
        expected = LEADS_TO.get(decision, OrgStatus.SUSPENDED)
        assert org.status is expected
        assert _stored(services, org_id) == (expected, "unpaid invoices", events + 1)


@pytest.mark.parametrize("status", list(OrgStatus))
def test_a_decision_its_status_does_not_allow_is_refused_and_changes_nothing(
    services, people, status
):
    org_id = _org(services, status)
    before = _stored(services, org_id)
    refused = [d for d in ALL if d not in ORG_DECISIONS[status]]
    assert refused  # every status refuses at least one decision
    for decision in refused:
        with pytest.raises(Conflict) as caught:
            _decide(services, people, org_id, decision)
        [problem] = caught.value.problems
        assert (problem.field, problem.code) == ("decision", "organisation.decision_refused")
        assert problem.params == {"state": status.value, "choices": list(ORG_DECISIONS[status])}
        assert _stored(services, org_id) == before


def test_an_approved_buyer_is_not_approved_again_nor_rejected_after_the_fact(services, people):
    org_id = _org(services, OrgStatus.PENDING)
    _decide(services, people, org_id, "approve", "")
    for decision in ("approve", "reject"):
        with pytest.raises(Conflict, match="can only be given these decisions: suspend"):
            _decide(services, people, org_id, decision)
    assert _stored(services, org_id)[0] is OrgStatus.APPROVED


def test_a_refusal_or_suspension_without_a_reason_is_invalid_and_an_unknown_decision_too(
    services, people
):
    org_id = _org(services, OrgStatus.PENDING)
    before = _stored(services, org_id)
    with pytest.raises(InvalidInput) as caught:
        _decide(services, people, org_id, "reject", "  ")
    assert caught.value.codes == ["organisation.reason_required"]
    with pytest.raises(InvalidInput) as caught:
        _decide(services, people, org_id, "ban")
    assert caught.value.codes == ["organisation.decision_unknown"]
    assert _stored(services, org_id) == before
