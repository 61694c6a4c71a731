"""Every participant's consent for chats and calls (issue 4).

A conversation holds other people's words. Until they agree, only the contributor's own
messages ship. When a chat or call item is processed, each other participant gets one
invitation: a pseudonymised label (``PARTICIPANT_1`` …, the label the de-identified chat
already uses), an unguessable token, an expiry. The contributor sees the links and shares
them however they like; whoever opens one sees what they are asked to agree to (the
licence in plain words, nothing else of the contributor's) and confirms or declines.
A confirmation queues the item's re-processing so their (redacted) messages join the
de-identified version; a decline keeps them out for good.

Tokens: ``token = base64url(HMAC-SHA256(secret, "dt-participant:" + nonce))``. The row keeps
the random ``nonce`` (so the contributor's link can be shown again) and ``sha256(token)``
(to find the row from a link); neither is a usable credential without the server secret,
so a copy of the database alone cannot confirm anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import datetime
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import LicenceOffer
from datatrust.domain.errors import Conflict, NotFound, Problem
from datatrust.domain.invitations import INVITATION_LIFETIME, InvitationState, ParticipantInvitation
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.i18n import explain_licence
from datatrust.services.ports import UnitOfWork

REPROCESS_JOB = "item.reprocess"
CONVERSATION_KINDS = frozenset({ItemKind.CHAT, ItemKind.CALL})
# Items whose de-identified version may still change (a listed chat is shipped as it was
# consented: not re-done here; see ``reprocessable`` for a listed call).
REPROCESSABLE = (ItemStatus.PROCESSED, ItemStatus.ACCEPTED)


def reprocessable(item: Item) -> bool:
    """Whether a confirmation may re-do the item's de-identified version. A listed call
    ships only its contributor's turns until the other side confirms (fail closed), so it
    is re-done too and stays listed: the next snapshot ships its audio, snapshots already
    delivered keep what they had."""
    if item.kind not in CONVERSATION_KINDS:
        return False
    return item.status in REPROCESSABLE or (
        item.kind is ItemKind.CALL and item.status is ItemStatus.LISTED
    )


def make_token(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, f"dt-participant:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_participants(
    uow: UnitOfWork, secret: bytes, item: Item, labels: list[str], *, now: datetime | None = None
) -> list[ParticipantInvitation]:
    """Create one invitation per label that has none yet (idempotent: a re-run job or a
    re-processing never invites anyone twice). Does not commit: runs inside the
    processing job's transaction."""
    now = now or utcnow()
    have = {i.label for i in uow.all(ParticipantInvitation, item_id=item.id)}
    made = []
    for label in labels:
        if label in have:
            continue
        nonce = secrets.token_hex(16)
        invitation = ParticipantInvitation(
            item_id=item.id or 0,
            owner_id=item.owner_id,
            label=label,
            nonce=nonce,
            token_hash=_hash(make_token(secret, nonce)),
            expires_at=now + INVITATION_LIFETIME,
            created_at=now,
        )
        uow.add(invitation)
        made.append(invitation)
    if made:
        uow.flush()
        for invitation in made:
            uow.record(
                AuditTag.PARTICIPANT_INVITE,
                "system",
                "item",
                item.id,
                invitation=invitation.id,
                label=invitation.label,
            )
    return made


def confirmed_labels(uow: UnitOfWork, item_id: int) -> list[str]:
    return sorted(
        i.label
        for i in uow.all(ParticipantInvitation, item_id=item_id)
        if i.state is InvitationState.CONFIRMED
    )


def all_confirmed(uow: UnitOfWork, item_id: int, expected: Collection[str] | None) -> bool:
    """Whether every one of ``expected`` (the labels of everyone else in the conversation)
    has confirmed: what a call needs before its audio, which holds every voice, may ship.
    Fails closed: False when ``expected`` is empty or None (the others are not known), and
    whatever other invitations exist, a label without a confirmed one is not confirmed."""
    if not expected:
        return False
    return set(expected) <= set(confirmed_labels(uow, item_id))


def list_for_owner(
    uow: UnitOfWork, secret: bytes, actor: Actor, item_id: int
) -> list[dict[str, Any]]:
    """The contributor's own item's invitations, each with the token for its link.
    Anyone else's item reads as missing."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.ITEM_READ, item or MISSING)
    now = utcnow()
    return [
        {
            "label": i.label,
            "state": "expired" if i.expired(now) else i.state.value,
            "expires_at": as_utc(i.expires_at),
            "decided_at": as_utc(i.decided_at) if i.decided_at else None,
            "token": make_token(secret, i.nonce)
            if i.state is InvitationState.PENDING and not i.expired(now)
            else None,
        }
        for i in uow.all(ParticipantInvitation, item_id=item_id, order_by="label")
    ]


def _by_token(uow: UnitOfWork, token: str, *, lock: bool = False) -> ParticipantInvitation:
    """The invitation a token opens. A wrong, expired or used-up token reads as missing;
    the message never says which (nothing to probe)."""
    if not token or len(token) > 100:
        raise NotFound(Problem(None, "invitation.not_found"))
    found = uow.one(ParticipantInvitation, token_hash=_hash(token))
    if found is not None and lock:
        found = uow.get_for_update(ParticipantInvitation, found.id)
    if found is None or found.expired(utcnow()):
        raise NotFound(Problem(None, "invitation.not_found_or_expired"))
    return found


def _licence_summary(uow: UnitOfWork, item: Item) -> list[str]:
    offer = uow.get(LicenceOffer, item.licence_id) if item.licence_id else None
    if offer is not None:
        return explain_licence(offer.terms(), "en")
    return [
        "The contributor has not chosen licence terms yet. Whatever they choose, a licence "
        "here is always revocable, time-limited, limited to stated purposes and cannot be "
        "passed on to anyone else.",
    ]


def describe_invitation(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """What the person holding ``token`` is asked to agree to: the conversation's kind,
    their label, what would ship of their words, and the licence in plain words. Nothing
    else about the contributor or their items."""
    invitation = _by_token(uow, token)
    item = uow.get(Item, invitation.item_id)
    if item is None:
        raise NotFound(Problem(None, "invitation.not_found_or_expired"))
    kind = "phone call" if item.kind is ItemKind.CALL else "chat"
    return {
        "label": invitation.label,
        "state": invitation.state.value,
        "expires_at": as_utc(invitation.expires_at),
        "conversation": item.kind.value,
        "what": (
            f"Someone you had a {kind} with wants to license it to AI developers. Your "
            f"part would ship as {invitation.label}, with names, phone numbers, emails, "
            "addresses and similar details replaced by placeholders. Until you confirm, "
            "nothing you said is included; if you decline, it never will be."
        ),
        "licence": _licence_summary(uow, item),
    }


def decide(uow: UnitOfWork, token: str, *, confirm: bool) -> ParticipantInvitation:
    """Confirm or decline, once; commits. A confirmation queues re-processing of the item
    so the participant's redacted messages are included. Deciding again the same way is a
    no-op; changing one's mind afterwards is a ``Conflict`` (a confirmation is withdrawn
    through the contributor's item, not by replaying a link)."""
    invitation = _by_token(uow, token, lock=True)
    wanted = InvitationState.CONFIRMED if confirm else InvitationState.DECLINED
    if invitation.state is wanted:
        return invitation
    if invitation.state is not InvitationState.PENDING:
        raise Conflict(Problem(None, "invitation.already", {"state": invitation.state.value}))
    invitation.state = wanted
    invitation.decided_at = utcnow()
    tag = AuditTag.PARTICIPANT_CONFIRM if confirm else AuditTag.PARTICIPANT_DECLINE
    uow.record(
        tag,
        f"participant:{invitation.id}",
        "item",
        invitation.item_id,
        invitation=invitation.id,
        label=invitation.label,
    )
    if confirm:
        uow.enqueue(
            REPROCESS_JOB,
            {"item_id": invitation.item_id},
            key=f"{REPROCESS_JOB}:{invitation.item_id}:{invitation.id}",
        )
    uow.commit()
    return invitation
