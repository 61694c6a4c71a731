"""Items: receiving a contribution and letting its owner (and only its owner) see it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from datatrust.domain.audit import AuditTag
from datatrust.domain.errors import InvalidInput
from datatrust.domain.items import Item, ItemKind
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.accounts import actor_label
from datatrust.services.ports import UnitOfWork
from datatrust.services.storage import EncryptedStorage

MAX_FILENAME = 300


def receive_item(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    *,
    kind: str,
    filename: str,
    content_type: str,
    chunks: Iterable[bytes],
    title: str = "",
    campaign_id: int | None = None,
) -> Item:
    """Store an upload encrypted under its contributor's key and record it as received.
    Processing (validation, de-identification) is queued as a job in the same transaction."""
    authorize(actor, Permission.ITEM_CREATE)
    problems = []
    try:
        item_kind = ItemKind(kind)
    except ValueError:
        problems.append(f"kind: must be one of {', '.join(k.value for k in ItemKind)}")
    if not filename or len(filename) > MAX_FILENAME:
        problems.append(f"filename: required, at most {MAX_FILENAME} characters")
    if problems:
        raise InvalidInput("the upload has problems", problems)
    stored = storage.put(uow, actor.user_id, chunks)
    if stored.size == 0:
        raise InvalidInput("the file is empty (0 bytes)", ["file: empty"])
    item = Item(
        owner_id=actor.user_id,
        kind=item_kind,
        filename=filename,
        content_type=content_type[:100] or "application/octet-stream",
        size=stored.size,
        original_key=stored.key,
        original_sha256=stored.sha256,
        title=title.strip()[:300],
        campaign_id=campaign_id,
    )
    uow.add(item)
    uow.flush()
    uow.record(
        AuditTag.ITEM_CREATE,
        actor_label(actor),
        "item",
        item.id,
        kind=item_kind.value,
        sha256=stored.sha256,
    )
    uow.commit()
    return item


def list_my_items(uow: UnitOfWork, actor: Actor) -> list[Item]:
    authorize(actor, Permission.ITEM_READ)
    return uow.all(Item, owner_id=actor.user_id, order_by="-id")


def get_item(uow: UnitOfWork, actor: Actor, item_id: int) -> Item:
    item = uow.get(Item, item_id)
    authorize(actor, Permission.ITEM_READ, item or MISSING)
    assert item is not None
    return item


def open_original(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, item_id: int
) -> tuple[Item, Iterator[bytes]]:
    """The owner's own upload, decrypted. Raw data never leaves the platform for anyone else."""
    item = get_item(uow, actor, item_id)
    uow.record(AuditTag.ITEM_ACCESS, actor_label(actor), "item", item.id, what="original")
    uow.commit()
    return item, storage.open(uow, item.owner_id, item.original_key)
