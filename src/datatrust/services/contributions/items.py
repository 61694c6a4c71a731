"""Items: receiving a contribution and letting its owner (and only its owner) see it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import Campaign
from datatrust.domain.clock import as_utc
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.items import ERASED_FILENAME, Item, ItemKind
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.pipeline.deidentify_media import coarsen_location
from datatrust.services.accounts import actor_label
from datatrust.services.campaigns import check_upload_campaign, link_submission
from datatrust.services.contributions.ingest import (
    MAX_TRANSCRIPT_BYTES,
    TRANSCRIPT_NAMESPACE,
    enqueue_processing,
)
from datatrust.services.contributions.upload_limits import check_size, limited
from datatrust.services.listing import Paged, matches, paged, paged_by_query
from datatrust.services.ports import UnitOfWork, by_ids
from datatrust.services.repositories import OwnItemsWanted
from datatrust.services.storage import EncryptedStorage, OpenedTexts

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
    metadata: dict[str, Any] | None = None,
    transcript: str | None = None,
    size: int | None = None,
) -> Item:
    """Store an upload encrypted under its contributor's key and record it as received,
    committed: ``add_item``, then the commit."""
    item = add_item(
        uow,
        storage,
        actor,
        kind=kind,
        filename=filename,
        content_type=content_type,
        chunks=chunks,
        title=title,
        campaign_id=campaign_id,
        metadata=metadata,
        transcript=transcript,
        size=size,
    )
    uow.commit()
    return item


def add_item(
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
    metadata: dict[str, Any] | None = None,
    transcript: str | None = None,
    size: int | None = None,
) -> Item:
    """Store an upload encrypted under its contributor's key and add it to the unit of
    work as received, uncommitted: the caller commits it together with whatever else
    belongs in the item's transaction (a tus upload's link to its item). Processing
    (validation, de-identification) is queued as a job in that transaction.

    The caller's transaction so far is committed before the body is read (it streams
    outside any transaction), so call it before changing anything that must commit with
    the item; the item's own transaction begins after the body is stored.

    ``metadata`` may hold ``lat``/``lng`` (coarsened to an H3 cell here; the coordinates
    are not stored) and, for a chat, ``me``: the contributor's name as the export spells
    it. ``transcript`` (a call's) is stored encrypted beside the audio and redacted when
    the item is processed. ``campaign_id`` must name an open campaign for this kind.

    Raises ``UploadTooLarge`` (413, naming the kind's limit) before reading anything when
    the declared ``size`` is over it, and while streaming when the bytes are (nothing is
    kept then)."""
    authorize(actor, Permission.ITEM_CREATE)
    problems = []
    item_kind = None
    try:
        item_kind = ItemKind(kind)
    except ValueError:
        problems.append(Problem("kind", "one_of", {"choices": [k.value for k in ItemKind]}))
    if not filename or len(filename) > MAX_FILENAME:
        problems.append(Problem("filename", "required_at_most", {"maximum": MAX_FILENAME}))
    if campaign_id is not None and item_kind is not None:
        problems += check_upload_campaign(uow, campaign_id, item_kind)
    upload = _upload_facts(metadata or {}, problems)
    if transcript is not None:
        if item_kind is not ItemKind.CALL:
            problems.append(Problem("transcript", "upload.transcript_call_only"))
        elif len(transcript.encode()) > MAX_TRANSCRIPT_BYTES:
            problems.append(
                Problem("transcript", "at_most_bytes", {"maximum": MAX_TRANSCRIPT_BYTES})
            )
    if problems:
        raise InvalidInput(problems)
    assert item_kind is not None
    check_size(item_kind, size)
    # The checks above only read: the body streams outside any transaction.
    stored = storage.put_outside_transaction(uow, actor.uid, limited(item_kind, chunks))
    if stored.size == 0:
        raise InvalidInput(Problem("file", "upload.empty"))
    seal = storage.sealer(uow, actor.uid)  # the key read once for every sealed field
    if upload.get("me"):  # a name: sealed under the contributor's key like title and filename
        upload["me"] = seal(upload["me"])
    if transcript:
        upload["transcript_key"] = storage.put_outside_transaction(
            uow, actor.uid, [transcript.encode()], namespace=TRANSCRIPT_NAMESPACE
        ).key
    item = Item(
        owner_id=actor.uid,
        kind=item_kind,
        filename=seal(filename),
        content_type=content_type[:100] or "application/octet-stream",
        size=stored.size,
        original_key=stored.key,
        # The instance-keyed identity, not the plain hash: duplicates are still found
        # across contributors, and the raw hash of an upload is never stored.
        original_sha256=stored.content_id,
        title=seal(title.strip()[:300]),
        campaign_id=campaign_id,
        report={"upload": upload} if upload else {},
    )
    uow.add(item)
    uow.flush()
    uow.record(
        AuditTag.ITEM_CREATE,
        actor_label(actor),
        "item",
        item.id,
        kind=item_kind.value,
        content_id=stored.content_id,
    )
    link_submission(uow, item)  # task start → upload: the pay floor's measured effort
    enqueue_processing(uow, item)
    return item


def _upload_facts(metadata: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """What the pipeline needs from the client's metadata, with precise coordinates
    already coarsened to a cell (they are never stored)."""
    facts: dict[str, Any] = {}
    lat = metadata.get("lat", metadata.get("latitude"))
    lng = metadata.get("lng", metadata.get("longitude"))
    if lat not in (None, "") or lng not in (None, ""):
        cell = coarsen_location(lat, lng)  # type: ignore[arg-type]
        if cell is None:
            problems.append(Problem("lat/lng", "upload.position"))
        else:
            facts["h3_cell"] = cell
    me = metadata.get("me")
    if me not in (None, ""):
        if not isinstance(me, str) or len(me) > 200:
            problems.append(Problem("me", "upload.me", {"maximum": 200}))
        else:
            facts["me"] = me
    return facts


class ItemView:
    """An item as its owner sees it: the sealed fields (title, file name, the chat name in
    the report) opened, every other attribute the item's own. Read-only on purpose: the
    stored item keeps its sealed values, so nothing opened here is ever written back."""

    def __init__(self, item: Item, title: str, filename: str, report: dict[str, Any]) -> None:
        self._item = item
        self.title = title
        self.filename = filename
        self.report = report

    def __getattr__(self, name: str) -> Any:
        return getattr(self._item, name)


def review_in_report(item: Item) -> dict[str, Any]:
    """A campaign item's review as its owner reads it, under the keys of the report's
    ``campaign`` where it always was: the item's typed columns hold it (auto-approval
    queries the state; pay is reckoned from the terms), and a key the item has no value
    for is left out, as it was."""
    due = as_utc(item.review_due).isoformat() if item.review_due else None
    review: dict[str, Any] = {
        "review": item.review_state.value if item.review_state else None,
        "review_due": due,
    }
    typed = {
        "rate_minor": item.terms_rate_minor,
        "coverage_bonus_minor": item.terms_bonus_minor,
        "reviewed_by": item.reviewed_by.value if item.reviewed_by else None,
        "paid_minor": item.paid_minor,
        "coverage_bonus_paid_minor": item.bonus_paid_minor,
        "escrow_shortfall_minor": item.escrow_shortfall_minor,
    }
    return review | {key: value for key, value in typed.items() if value is not None}


def readable_all(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    items: list[Item],
    texts: OpenedTexts | None = None,
) -> list[ItemView]:
    """Each of ``items`` ``readable``, in a fixed number of queries however many there
    are: the owners' keys once (``storage.texts``) and the campaigns their reports
    describe in one query."""
    opened = texts or storage.texts(uow)
    wanted = [i.campaign_id for i in items if _describes_campaign(i)]
    campaigns = {c.id: c for c in by_ids(uow, Campaign, wanted)}
    return [readable(uow, storage, i, opened, campaigns) for i in items]


def readable(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    item: Item,
    texts: OpenedTexts | None = None,
    campaigns: Mapping[int | None, Campaign] | None = None,
) -> ItemView:
    """``item`` with its sealed fields opened (empty once its owner was erased); ``texts``
    (``storage.texts``) when there are many items, so that their owners' keys are read
    once, and ``campaigns`` (by id) holding the item's campaign where its report describes
    it (``readable_all`` gives both)."""
    opened = texts or storage.texts(uow)
    report = dict(item.report or {})
    if isinstance(report.get("upload"), dict) and report["upload"].get("me"):
        me = opened(item.owner_id, report["upload"]["me"])
        report["upload"] = {**report["upload"], "me": me}
    if any(isinstance(r, dict) and r.get("notes") for r in report.get("reasons") or []):
        report["reasons"] = [_open_notes(opened, item.owner_id, r) for r in report["reasons"]]
    part = _campaign_part(uow, item, report, campaigns)
    if part is not None:
        report["campaign"] = part
    return ItemView(
        item, opened(item.owner_id, item.title), opened(item.owner_id, item.filename), report
    )


def _describes_campaign(item: Item) -> bool:
    """Whether ``_campaign_part`` reads the item's campaign to describe it."""
    stored = (item.report or {}).get("campaign")
    return (
        item.review_state is not None
        and not isinstance(stored, dict)
        and item.campaign_id is not None
        and item.filename != ERASED_FILENAME
    )


def _campaign_part(
    uow: UnitOfWork,
    item: Item,
    report: dict[str, Any],
    campaigns: Mapping[int | None, Campaign] | None = None,
) -> dict[str, Any] | None:
    """The ``campaign`` part of a campaign item's report as its owner reads it, where it
    always was: the campaign's description (``Campaign.in_report``) and the review (the
    item's columns, ``review_in_report``). An item the pipeline accepted under a campaign
    (its review columns are set) has one unless it was erased (its report cleared); one
    whose stored report still holds a part migration 0035 could not rebuild shows that.
    None: the report has no campaign part."""
    if item.review_state is None:  # never reviewed by a campaign: as stored, if at all
        stored = report.get("campaign")
        return stored if isinstance(stored, dict) else None
    if isinstance(report.get("campaign"), dict):
        part: dict[str, Any] = report["campaign"]
    elif item.campaign_id is None or item.filename == ERASED_FILENAME:
        return None
    else:
        if campaigns is not None and item.campaign_id in campaigns:
            campaign: Campaign | None = campaigns[item.campaign_id]
        else:
            campaign = uow.get(Campaign, item.campaign_id)
        if campaign is None:
            return None
        part = campaign.in_report()
    return {**part, **review_in_report(item)}


def _open_notes(opened: OpenedTexts, owner_id: int, reason: Any) -> Any:
    """A rejection reason with its reviewers' notes opened (dropped once unreadable)."""
    if not isinstance(reason, dict) or not reason.get("notes"):
        return reason
    notes = [opened(owner_id, note) for note in reason["notes"]]
    return {**reason, "notes": [n for n in notes if n]}


def show_my_items(uow: UnitOfWork, storage: EncryptedStorage, actor: Actor) -> list[ItemView]:
    """``list_my_items``, readable, without the ones the person deleted: every one of them
    (``show_my_items_page`` reads one page)."""
    mine = list_my_items(uow, actor)
    return readable_all(uow, storage, [i for i in mine if i.filename != ERASED_FILENAME])


def show_my_items_page(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, *, page: int = 1, size: int
) -> Paged[ItemView]:
    """Page ``page`` (from 1) of ``show_my_items``, ``size`` items a page, newest first;
    only that page's rows are read and opened. Unlike a page that a person reads
    (``find_my_items``), a page past the last is not brought back to the last: it has no
    rows, so a client that asks for pages until one comes back empty stops."""
    authorize(actor, Permission.ITEM_READ)
    wanted = OwnItemsWanted(actor.uid)
    total = uow.own_items.count(wanted)
    offset = (max(1, page) - 1) * size
    rows = uow.own_items.page(wanted, offset, size) if offset < total else []
    return Paged(readable_all(uow, storage, rows), page, max(1, -(-total // size)), total)


def find_my_items(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    *,
    query: str = "",
    status: str = "",
    kind: str = "",
    page: int = 1,
) -> Paged[ItemView]:
    """One page of ``show_my_items``, newest first, narrowed to the words of ``query``
    (in the title or file name), one ``status`` and one ``kind`` when given.

    Status, kind and the paging are the database's (``uow.own_items``): without words,
    one page of rows is read and opened. Titles and file names are sealed under the
    person's key, so words are searched among the rows status and kind leave (their two
    sealed fields opened, the key read once), and only the page shown is opened whole."""
    authorize(actor, Permission.ITEM_READ)
    mine, texts = uow.own_items, storage.texts(uow)
    wanted = OwnItemsWanted(actor.uid, status, kind)
    if not query.split():
        return paged_by_query(
            mine.count(wanted),
            page,
            lambda offset, limit: readable_all(
                uow, storage, mine.page(wanted, offset, limit), texts
            ),
        )
    found = [
        i
        for i in mine.page(wanted)
        if matches(query, texts(i.owner_id, i.title), texts(i.owner_id, i.filename))
    ]
    shown = paged(found, page)
    return Paged(
        readable_all(uow, storage, shown.rows, texts), shown.page, shown.pages, shown.total
    )


def show_item(uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, item_id: int) -> ItemView:
    """``get_item``, readable."""
    return readable(uow, storage, get_item(uow, actor, item_id))


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
