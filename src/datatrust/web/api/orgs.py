"""Buyer organisations: registration by a buyer, vetting by an operator."""

from __future__ import annotations

from typing import Literal

from datatrust.domain.accounts import Organisation
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import accounts
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import OrgDecisionIn, OrgIn, OrgOut
from datatrust.web.deps import RowId, api_router, requires, unit_of_work

router = api_router(prefix="/api/orgs", tags=["organisations"])


def org_out(org: Organisation) -> OrgOut:
    return OrgOut(
        id=org.id,
        legal_name=org.legal_name,
        country=org.country,
        website=org.website,
        contact_email=org.contact_email,
        intended_uses=org.intended_uses,
        status=org.status.value,
        status_reason=org.status_reason,
    )


@router.post("", status_code=201)
def register(
    body: OrgIn, actor: Actor = requires(Permission.ORG_CREATE), unit: UnitOfWork = unit_of_work()
) -> OrgOut:
    return org_out(accounts.register_organisation(unit, actor, **body.model_dump()))


@router.get("")
def list_orgs(
    status: Literal["pending", "approved", "rejected", "suspended"] | None = None,
    actor: Actor = requires(Permission.ORG_READ),
    unit: UnitOfWork = unit_of_work(),
) -> list[OrgOut]:
    return [org_out(o) for o in accounts.list_organisations(unit, actor, status)]


@router.get("/{org_id}")
def get_org(
    org_id: RowId, actor: Actor = requires(Permission.ORG_READ), unit: UnitOfWork = unit_of_work()
) -> OrgOut:
    return org_out(accounts.get_organisation(unit, actor, org_id))


@router.post("/{org_id}/{decision}")
def decide(
    org_id: RowId,
    decision: Literal["approve", "reject", "suspend"],
    body: OrgDecisionIn,
    actor: Actor = requires(Permission.ORG_VET),
    unit: UnitOfWork = unit_of_work(),
) -> OrgOut:
    return org_out(accounts.decide_organisation(unit, actor, org_id, decision, body.reason))
