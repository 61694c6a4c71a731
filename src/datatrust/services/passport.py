"""The data passport: everything the hash-chained audit log says about one item, for its
contributor alone.

Events about the item itself (created, processed, accepted, listed, consent given or
withdrawn, selected, sold — to which organisation, for which use, at what price and the
contributor's share — delivered, revocation notices, deletion attested) plus the downloads
of every snapshot that delivered it. Each entry keeps its chain ``seq`` and ``hash`` so
the contributor can check it against ``datatrust audit verify``.
"""

from __future__ import annotations

from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc
from datatrust.domain.items import Item
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.ports import UnitOfWork
from datatrust.services.snapshots import SnapshotItem

# Plain words for each step, in the order a contributor thinks about them.
STEPS = {
    "item:create": "uploaded",
    "item:process": "processed",
    "item:accept": "accepted",
    "item:reject": "rejected",
    "item:list": "listed",
    "licence:attach": "licence attached",
    "consent:give": "consent given",
    "item:select": "selected",
    "item:sell": "sold",
    "snapshot:deliver": "delivered",
    "snapshot:download": "downloaded",
    "consent:withdraw": "withdrawn",
    "consent:expire": "expired",
    "revocation:notify": "buyer told to delete",
    "revocation:acknowledge": "buyer acknowledged",
    "deletion:attest": "deletion attested",
    "revocation:overdue": "deletion overdue",
    "incident:affect": "touched by a security incident",
}
# Audit data fields never shown in a passport (another party's private details).
_HIDDEN = frozenset({"statement"})


def item_passport(uow: UnitOfWork, actor: Actor, item_id: int) -> dict[str, Any]:
    """The item's passport; only its owner may read it (others get ``NotFound``)."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.PASSPORT_READ, item or MISSING)
    assert item is not None
    events = list(uow.queries.audit_events_about("item", [str(item.id)]))
    deliveries = uow.all(SnapshotItem, item_id=item.id)
    by_snapshot = {d.snapshot_id: d for d in deliveries}
    if by_snapshot:
        for event in uow.queries.audit_events_about(
            "snapshot", [str(s) for s in sorted(by_snapshot)]
        ):
            if event.tag == AuditTag.SNAPSHOT_DOWNLOAD.value:
                events.append(event)
    events.sort(key=lambda e: e.seq)
    return {
        "item_id": item.id,
        "status": item.status.value,
        "events": [
            {
                "seq": e.seq,
                "at": as_utc(e.at).isoformat(),
                "tag": e.tag,
                "step": STEPS.get(e.tag, e.tag),
                "actor": e.actor
                if e.actor == "system" or e.actor.startswith("org:")
                else ("you" if e.actor == f"user:{item.owner_id}" else e.actor.split(":")[0]),
                "details": {k: v for k, v in (e.data or {}).items() if k not in _HIDDEN},
                "hash": e.hash,
            }
            for e in events
        ],
    }
