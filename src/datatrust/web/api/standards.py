"""The instance's own IRIs, resolved: the ODRL profile, each licence, and the parties.

Every document is JSON-LD (``application/ld+json``). The IRIs are built in one place,
``domain.iris.InstanceIris``, from the configured public base URL.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Response

from datatrust.bootstrap import Services
from datatrust.domain import iris
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import licensing
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import RowId, api_router, requires, services, unit_of_work

router = api_router(tags=["standards"])
JSON_LD = "application/ld+json"


def _ld(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document, indent=2, ensure_ascii=False), media_type=JSON_LD)


@router.get(iris.PROFILE_PATH, response_class=Response)
def odrl_profile(
    _actor: Actor = requires(Permission.PUBLIC_READ), svc: Services = Depends(services)
) -> Response:
    """The ODRL profile: every term this instance's policies use beyond ODRL 2.2."""
    return _ld(licensing.profile(svc.publication))


@router.get(iris.PEOPLE_PATH + "/{user_id}.{check}", response_class=Response)
def person(
    user_id: RowId,
    check: str,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    return _ld(licensing.person_document(unit, svc.publication, user_id, check))


@router.get(iris.ORGANISATIONS_PATH + "/{org_id}", response_class=Response)
def organisation(
    org_id: str,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    return _ld(licensing.organisation_document(unit, svc.publication, org_id))


@router.get(iris.OPERATOR_PATH, response_class=Response)
def operator(
    _actor: Actor = requires(Permission.PUBLIC_READ), svc: Services = Depends(services)
) -> Response:
    return _ld(licensing.operator_document(svc.publication))
