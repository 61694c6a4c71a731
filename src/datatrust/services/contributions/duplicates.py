"""Duplicates: has this upload, or something very like it, been shared already?

Exact copies are found by the original's sha256 (an indexed column). Near-duplicates are
found through the fingerprint index: each accepted item's keys (pHash bands, audio word
prefixes; ``pipeline.fingerprint.index_keys``) are stored, a new item looks up the items
sharing one of its probe keys, and only those are compared by the exact measure. For
pHash this gives exactly the answer of comparing with every item; for audio, the same
answer with high probability (the argument is in ``pipeline.fingerprint``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.pipeline.fingerprint import (
    AudioFingerprint,
    index_keys,
    is_near_duplicate,
    is_near_duplicate_audio,
    probe_keys,
)
from datatrust.services.ports import UnitOfWork

AUDIO_KINDS = frozenset({ItemKind.AMBIENT, ItemKind.VOICE, ItemKind.CALL})
# Items whose fingerprints count when looking for duplicates: everything that got through.
LIVE = (ItemStatus.PROCESSED, ItemStatus.ACCEPTED, ItemStatus.LISTED)


@dataclass(frozen=True)
class DuplicateCheck:
    """``compared``: how many stored items were compared by fingerprint (the candidates the
    index gave). ``code``/``message``: why the item is a duplicate, or None."""

    compared: int
    code: str | None = None
    message: str | None = None


def index_fingerprints(uow: UnitOfWork, item: Item) -> None:
    """Store the item's index keys (replacing any earlier ones). Call whenever its
    ``fingerprints`` change; the lookup only counts items whose status is live."""
    uow.fingerprints.replace(id_of(item), index_keys(item.fingerprints or {}))


def comparable_kinds(kind: ItemKind) -> list[str]:
    return sorted(k.value for k in (AUDIO_KINDS if kind in AUDIO_KINDS else {kind}))


def candidates(uow: UnitOfWork, item: Item, fingerprints: dict[str, Any]) -> list[Item]:
    """The live items of a comparable kind sharing at least one index key with
    ``fingerprints``, by id."""
    ids = uow.fingerprints.items_sharing(
        probe_keys(fingerprints),
        comparable_kinds(item.kind),
        [s.value for s in LIVE],
        id_of(item),
    )
    found: list[Item] = []
    for lo in range(0, len(ids), 5000):
        found.extend(uow.all(Item, order_by="id", id__in=ids[lo : lo + 5000]))
    return found


def check_duplicates(uow: UnitOfWork, item: Item, fingerprints: dict[str, Any]) -> DuplicateCheck:
    """Is ``item`` (with the fingerprints just computed) an exact or near copy of a live
    item, the contributor's own or anyone's? Someone else's item is never named."""

    def whose(other: Item) -> str:
        if other.owner_id == item.owner_id:
            return f"your item {other.id}"
        return "an item another contributor already shared"

    same = [
        other
        for other in uow.all(
            Item,
            order_by="id",
            original_sha256=item.original_sha256,
            kind__in=comparable_kinds(item.kind),
            status__in=list(LIVE),
        )
        if other.id != item.id
    ]
    if same:
        return DuplicateCheck(0, "duplicate", f"This exact file is already {whose(same[0])}.")
    found = candidates(uow, item, fingerprints)
    by_id = {str(o.id): o for o in found}
    hit = None
    if fingerprints.get("phash"):
        hit = is_near_duplicate(
            fingerprints["phash"],
            {str(o.id): _prints(o)["phash"] for o in found if _has(o, "phash")},
        )
    elif fingerprints.get("frame_phashes"):
        existing = {
            str(o.id): _prints(o)["frame_phashes"] for o in found if _has(o, "frame_phashes")
        }
        hit = is_near_duplicate(fingerprints["frame_phashes"], existing)
    elif fingerprints.get("audio"):
        mine = AudioFingerprint(**fingerprints["audio"])
        existing_audio = {
            str(o.id): AudioFingerprint(**_prints(o)["audio"]) for o in found if _has(o, "audio")
        }
        hit = is_near_duplicate_audio(mine, existing_audio)
    if hit is None:
        return DuplicateCheck(len(found))
    other = by_id[hit.key]
    how = "looks the same as" if "perceptual" in hit.reason else "sounds the same as"
    return DuplicateCheck(
        len(found),
        "near_duplicate",
        f"This {item.kind.value} {how} {whose(other)} "
        f"({hit.reason.split(' of item')[0].split(' to item')[0]}). "
        "Upload something new.",
    )


def _prints(item: Item) -> dict[str, Any]:
    return item.fingerprints or {}


def _has(item: Item, key: str) -> bool:
    return bool(item.fingerprints and item.fingerprints.get(key))
