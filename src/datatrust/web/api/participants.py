"""The other participants of a chat or call: the contributor's links (owner only), and the
public confirmation page where the token in the link is the credential."""

from __future__ import annotations

from datetime import datetime

from fastapi import Depends, Request
from pydantic import BaseModel

from datatrust.bootstrap import Services
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import contributions
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import RowId, api_router, requires, services, unit_of_work

router = api_router(tags=["participants"])


class InvitationOut(BaseModel):
    label: str
    state: str
    expires_at: datetime
    decided_at: datetime | None = None
    link: str | None = None  # only while it can still be used


class InvitationPage(BaseModel):
    label: str
    state: str
    expires_at: datetime
    conversation: str
    what: str
    licence: list[str]


class DecisionOut(BaseModel):
    label: str
    state: str


def _secret(svc: Services) -> bytes:
    return svc.settings.secret_key.get_secret_value().encode()


@router.get("/api/items/{item_id}/participants")
def item_participants(
    item_id: RowId,
    request: Request,
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> list[InvitationOut]:
    rows = contributions.list_for_owner(unit, _secret(svc), actor, item_id)
    return [
        InvitationOut(
            label=r["label"],
            state=r["state"],
            expires_at=r["expires_at"],
            decided_at=r["decided_at"],
            link=str(request.url_for("participant_invitation", token=r["token"]))
            if r["token"]
            else None,
        )
        for r in rows
    ]


# Public: whoever holds the link's token is the participant it was made for. A wrong or
# expired token reads as missing (404), whoever asks.
@router.get("/confirm/{token}", name="participant_invitation")
def invitation(
    token: str,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    unit: UnitOfWork = unit_of_work(),
) -> InvitationPage:
    return InvitationPage(**contributions.describe_invitation(unit, token))


@router.post("/confirm/{token}/confirm")
def confirm(
    token: str,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    unit: UnitOfWork = unit_of_work(),
) -> DecisionOut:
    invitation = contributions.decide(unit, token, confirm=True)
    return DecisionOut(label=invitation.label, state=invitation.state.value)


@router.post("/confirm/{token}/decline")
def decline(
    token: str,
    _actor: Actor = requires(Permission.PUBLIC_READ),
    unit: UnitOfWork = unit_of_work(),
) -> DecisionOut:
    invitation = contributions.decide(unit, token, confirm=False)
    return DecisionOut(label=invitation.label, state=invitation.state.value)
