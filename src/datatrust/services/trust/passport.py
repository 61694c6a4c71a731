"""The data passport: everything the hash-chained audit log says about one item, for its
contributor alone.

Events about the item itself (created, processed, accepted, listed, consent given or
withdrawn, selected, sold — to which organisation, for which use, at what price and the
contributor's share — delivered, revocation notices, deletion attested) plus the downloads
of every snapshot that delivered it. Each entry keeps its chain ``seq`` and ``hash`` so
the contributor can check it against ``datatrust audit verify``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrust.domain.accounts import Organisation, User
from datatrust.domain.audit import AuditEntry, AuditTag
from datatrust.domain.clock import as_utc
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.domain.snapshots import Revocation
from datatrust.services.ports import UnitOfWork, by_ids

# Plain words for each step (msgids), in the order a contributor thinks about them. A tag
# not named here (a step added later) reads as ``OTHER_STEP``: never as its code.
STEPS = {
    "item:create": "uploaded",
    "item:process": "processed",
    "item:reprocess": "processed again",
    "item:accept": "accepted",
    "item:reject": "rejected",
    "item:review": "reviewed",
    "item:access": "opened",
    "item:list": "listed",
    "licence:attach": "licence attached",
    "consent:give": "consent given",
    "consent:give_again": "consent given again",
    "item:recheck": "being checked again, as a new upload is",
    "consent:renew": "consent renewed",
    "consent:receipt": "new receipt: who received your data",
    "participant:invite": "others in it asked to agree",
    "participant:confirm": "others in it agreed",
    "participant:decline": "others in it declined",
    "escrow:pay": "paid for your work",
    "coverage:bonus": "bonus paid: the first recording from its place",
    "payfloor:topup": "pay topped up to the pay floor",
    "replica:request": "a buyer asked to use a replica of you",
    "replica:approve": "you approved a replica use",
    "replica:refuse": "you refused a replica use",
    "item:select": "selected",
    "item:sell": "sold",
    "snapshot:deliver": "delivered",
    "snapshot:download": "downloaded",
    "sample:access": "seen in an evaluation sample",
    "consent:withdraw": "withdrawn",
    "item:delete": "deleted by you",
    "consent:expire": "expired",
    "revocation:notify": "buyer told to delete",
    "revocation:acknowledge": "buyer acknowledged",
    "deletion:attest": "deletion attested",
    "revocation:overdue": "deletion overdue",
    "revocation:supersede": "buyer keeps it: you gave consent again before its notice ended",
    "incident:affect": "touched by a security incident",
    "misuse:report": "misuse reported",
}
OTHER_STEP = "recorded in the log"
# Who took a step (msgids): the audit log's actor, with another person's role but never
# who they are; a buyer's organisation is named by the step's ``org_name`` where it has one.
ACTORS = {
    "you": "you",
    "system": "Datatrust, automatically",
    "contributor": "another contributor",
    "buyer": "a buyer",
    "operator": "the operator",
    "someone": "someone else",
}
# Audit data fields never shown in a passport (another party's private details).
_HIDDEN = frozenset({"statement", "signed_statement"})


def _held(event: AuditEntry) -> bool:
    """False for a withdrawal's notice that found no buyer holding the item: nobody was
    told to delete anything, so the passport does not say so."""
    data = event.data or {}
    return not (event.tag == AuditTag.REVOCATION_NOTIFY.value and data.get("holders") == [])


def _actors(uow: UnitOfWork, labels: Iterable[str], owner_id: int) -> dict[str, str]:
    """Each audit actor label of ``labels`` as a key of ``ACTORS``: the owner is "you", an
    organisation "buyer", another person their role, anything else its kind where
    ``ACTORS`` has it ("system"), else "someone". The people are read in one query
    (``by_ids``), however many took a step."""
    people = {
        int(ident)
        for label in labels
        for kind, _, ident in [label.partition(":")]
        if kind == "user" and ident.isdigit() and label != f"user:{owner_id}"
    }
    roles = {user.id: user.role.value for user in by_ids(uow, User, people)}
    out: dict[str, str] = {}
    for label in labels:
        kind, _, ident = label.partition(":")
        if label == f"user:{owner_id}":
            out[label] = "you"
        elif kind == "org":
            out[label] = "buyer"
        elif kind == "user" and ident.isdigit():
            role = roles.get(int(ident))
            out[label] = role if role in ACTORS else "someone"
        else:
            out[label] = kind if kind in ACTORS else "someone"
    return out


def item_passport(uow: UnitOfWork, actor: Actor, item_id: int) -> dict[str, Any]:
    """The item's passport; only its owner may read it (others get ``NotFound``)."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.PASSPORT_READ, item or MISSING)
    assert item is not None
    events = uow.audit.entries("item", [str(item.id)])
    delivered_in = uow.holdings.snapshots_of(id_of(item))
    if delivered_in:
        downloads = [AuditTag.SNAPSHOT_DOWNLOAD.value]
        events += uow.audit.entries("snapshot", [str(s) for s in delivered_in], downloads)
    events = sorted((e for e in events if _held(e)), key=lambda e: e.seq)
    actors = _actors(uow, {e.actor for e in events}, item.owner_id)
    return {
        "item_id": item.id,
        "status": item.status.value,
        "buyers": buyers_told(uow, id_of(item)),
        "events": [
            {
                "seq": e.seq,
                "at": as_utc(e.at).isoformat(),
                "tag": e.tag,
                "step": STEPS.get(e.tag, OTHER_STEP),
                "actor": actors[e.actor],
                "actor_words": ACTORS[actors[e.actor]],
                "details": {k: v for k, v in (e.data or {}).items() if k not in _HIDDEN},
                "hash": e.hash,
            }
            for e in events
        ],
    }


def buyers_told(uow: UnitOfWork, item_id: int) -> list[dict[str, Any]]:
    """Each buyer told to delete the item: its name, when it was told, its deadline, when
    it acknowledged and when it attested deletion (None: not yet), whether the
    attestation came late and whether the deadline passed unattested (it was then
    suspended). From the notices themselves, in the order they were made."""

    def iso(moment: Any) -> str | None:
        return as_utc(moment).isoformat() if moment is not None else None

    out = []
    notices = uow.all(Revocation, item_id=item_id, order_by="id")
    names = {o.id: o.legal_name for o in by_ids(uow, Organisation, (n.org_id for n in notices))}
    for n in notices:
        out.append(
            {
                "buyer": names.get(n.org_id, ""),
                "told_at": iso(n.noticed_at),
                "deadline": iso(n.deadline),
                "acknowledged_at": iso(n.acknowledged_at),
                "attested_at": iso(n.attested_at),
                "late": n.late,
                "overdue": n.overdue_at is not None,
            }
        )
    return out
