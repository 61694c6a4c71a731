""" "Ask me each time": a contributor approves each replica use of their likeness.

A licence with ``replica_ask_each_time`` allows a replica use only once its contributor
approved that use for that organisation (issue 16 §3). Everything else about the use must
already match the grant: an approval never widens it (``licence.evaluate`` judges the
grant first and adds ``replica_approval_pending`` only for the approval).

When a selection finds items held only for approval (``Selection.awaiting_approval``), the
order asks their contributors (``request_approvals``: one pending request per item,
organisation and use). The contributor approves or refuses on the licences page or
through the API. An approval covers the use it was asked for and any narrower one
(``orders.covers``: same action, purpose, industry, territory, recipient, task and replica
scope, within its period); the buyer then declares the use again and the item is selected.
Builds and deliveries look approvals up the same way (``approved_for``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item
from datatrust.domain.orders import APPROVED, PENDING, REFUSED, ReplicaApproval, covers
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.accounts import actor_label
from datatrust.services.ports import UnitOfWork, by_ids

DECISIONS = {"approve": APPROVED, "refuse": REFUSED}


def approved_for(uow: UnitOfWork, org_id: int, use: Mapping[str, Any]) -> set[int]:
    """Ids of the items whose contributors approved ``use`` (or a wider one) for
    ``org_id``."""
    rows = uow.all(ReplicaApproval, org_id=org_id, state=APPROVED)
    return {r.item_id for r in rows if covers(r.use, use)}


def request_approvals(
    uow: UnitOfWork,
    actor: Actor,
    *,
    org_id: int,
    org_name: str,
    order_id: int | None,
    use: Mapping[str, Any],
    item_ids: Iterable[int],
) -> list[ReplicaApproval]:
    """Ask the contributors of ``item_ids`` to approve ``use`` for the organisation; an
    item already asked for this use (pending or refused) is not asked again, so a buyer
    cannot wear a contributor down by declaring the same use over and over. Records
    ``replica:request`` per new request; the caller commits."""
    wanted = sorted(set(item_ids))
    if not wanted:
        return []
    asked = {
        r.item_id
        for r in by_ids(uow, ReplicaApproval, wanted, attr="item_id", org_id=org_id)
        if covers(r.use, use)
    }
    made = []
    for item in sorted(by_ids(uow, Item, wanted), key=id_of):
        if item.id in asked:
            continue
        row = ReplicaApproval(
            item_id=id_of(item),
            owner_id=item.owner_id,
            org_id=org_id,
            org_name=org_name,
            use=dict(use),
            order_id=order_id,
        )
        uow.add(row)
        uow.flush()
        uow.record(
            AuditTag.REPLICA_REQUEST,
            actor_label(actor),
            "item",
            item.id,
            approval_id=row.id,
            org_id=org_id,
            org_name=org_name,
            order_id=order_id,
            replica=use.get("replica"),
        )
        made.append(row)
    return made


def my_requests(
    uow: UnitOfWork, actor: Actor, *, state: str | None = PENDING
) -> list[ReplicaApproval]:
    """The caller's requests (default: those still waiting), newest first."""
    authorize(actor, Permission.LICENCE_READ)
    if state:
        return uow.all(ReplicaApproval, owner_id=actor.user_id, order_by="-id", state=state)
    return uow.all(ReplicaApproval, owner_id=actor.user_id, order_by="-id")


def decide(
    uow: UnitOfWork, actor: Actor, approval_id: int, decision: str, *, now: datetime | None = None
) -> ReplicaApproval:
    """Approve or refuse one request of the caller's. Deciding again is a ``Conflict``
    (a refused use stays refused; an approved one is withdrawn by withdrawing consent)."""
    row = uow.get_for_update(ReplicaApproval, approval_id)
    authorize(actor, Permission.LICENCE_CREATE, row or MISSING)
    assert row is not None
    if decision not in DECISIONS:
        raise InvalidInput(Problem("decision", "one_of", {"choices": ["approve", "refuse"]}))
    if row.state != PENDING:
        raise Conflict(
            Problem(None, "replica.already", {"state": row.state}), {"approval_id": row.id}
        )
    row.state = DECISIONS[decision]
    row.decided_at = as_utc(now or utcnow())
    uow.record(
        AuditTag.REPLICA_APPROVE if row.state == APPROVED else AuditTag.REPLICA_REFUSE,
        actor_label(actor),
        "item",
        row.item_id,
        approval_id=row.id,
        org_id=row.org_id,
        org_name=row.org_name,
    )
    uow.commit()
    return row
