"""Why a rejected organisation is never suspended (an outside review asked): rejection is
reached only from pending, so a rejected buyer was never approved and never held data;
and suspension would give it more than rejection does, not less."""

from __future__ import annotations

import pytest

from datatrust.domain.accounts import ORG_DECISION_STATUS, ORG_DECISIONS, Organisation, OrgStatus
from datatrust.domain.errors import Conflict


def reached_from(status: OrgStatus) -> set[OrgStatus]:
    """The statuses a decision leads to ``status`` from."""
    return {
        s for s, ds in ORG_DECISIONS.items() if any(ORG_DECISION_STATUS[d] is status for d in ds)
    }


def test_only_a_pending_organisation_can_be_rejected_so_a_rejected_one_was_never_approved():
    assert reached_from(OrgStatus.REJECTED) == {OrgStatus.PENDING}
    # Nothing leads back to pending: a rejected buyer was never approved in between.
    assert reached_from(OrgStatus.PENDING) == set()


def test_a_rejected_organisation_is_offered_approval_alone_and_suspension_is_refused():
    org = Organisation(legal_name="Late Lab", country="GB", status=OrgStatus.REJECTED)
    assert org.decisions == ("approve",)
    with pytest.raises(Conflict) as refused:
        org.decide("suspend", "holds tokens")
    assert refused.value.problems[0].params["choices"] == ["approve"]
    assert org.status is OrgStatus.REJECTED
