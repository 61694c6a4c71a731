"""Contributor pages: tasks, capture and upload, items with what will ship, consent,
licences, passport and earnings."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from babel.numbers import format_decimal
from fastapi import Depends, Form, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from datatrust.bootstrap import Services
from datatrust.domain.consent import LicenceOffer
from datatrust.domain.currencies import is_known
from datatrust.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Problem,
    RateLimited,
)
from datatrust.domain.items import ItemKind
from datatrust.domain.missed import parse_clock
from datatrust.domain.money import Money
from datatrust.domain.orders import ReplicaApproval
from datatrust.domain.payout_methods import RAIL_CURRENCY, RAIL_FIELDS
from datatrust.domain.permissions import Permission, can
from datatrust.i18n import ITEM_STATUS_WORDS
from datatrust.services import campaigns, contributions, licensing, market, money, trust
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import RowId, services, unit_of_work
from datatrust.web.errors import set_retry_after
from datatrust.web.forms import FileTooLarge
from datatrust.web.pages.common import (
    KIND_LABELS,
    FormPage,
    Page,
    field_errors,
    form_page_requires,
    list_filters,
    page_number,
    page_requires,
    page_router,
    render,
    review_queue_page,
    review_vote,
    show_money,
    show_problem,
    task_view,
)
from datatrust.web.pages.explain import (
    MISSED_CATEGORIES,
    MISSED_REGIONS,
    Explain,
    duration_words,
    seconds_patterns,
)
from datatrust.web.pages.places import place_rows
from datatrust.web.security import sign_in_throttle

router = page_router()


@router.get("/my/items")
def my_items(
    page: Page = page_requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    filters = list_filters(page, "status", "kind")
    found = contributions.find_my_items(
        unit,
        svc.storage,
        page.actor,
        query=filters["q"],
        status=filters["status"],
        kind=filters["kind"],
        page=page_number(page),
    )
    deleted = page.request.query_params.get("deleted") == "1"
    return render(
        page,
        "my_items.html",
        items=found.rows,
        found=found,
        filters=filters,
        kinds=[(k, page._(label)) for k, label in KIND_LABELS.items()],
        statuses=[(k, page._(label)) for k, label in ITEM_STATUS_LABELS.items()],
        deleted=deleted,
    )


# The statuses a contributor filters their items by (msgids, as status.html words them).
ITEM_STATUS_LABELS = ITEM_STATUS_WORDS


@router.get("/my/items/{item_id}")
def my_item(
    item_id: RowId,
    page: Page = page_requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    return _item_page(page, svc, unit, item_id)


def _item_page(
    page: Page, svc: Services, unit: UnitOfWork, item_id: RowId, status: int = 200, **extra: Any
) -> HTMLResponse:
    item = contributions.show_item(unit, svc.storage, page.actor, item_id)
    removed = contributions.removed_from(unit, page.actor, item_id)
    marks = contributions.list_marks(unit, page.actor, item_id)
    return render(
        page,
        "item.html",
        status=status,
        item=item,
        progress=campaigns.review_progress(unit, page.actor, item_id),
        removed=removed,
        marks_pending=any(m.state.value == "pending" for m in marks),
        missed_categories=[(k, page._(v)) for k, v in MISSED_CATEGORIES.items()],
        missed_regions=[(k, page._(label)) for k, (label, _box) in MISSED_REGIONS.items()],
        **extra,
    )


@router.post("/my/items/{item_id}/missed")
def mark_missed(
    item_id: RowId,
    page: Page = page_requires(Permission.ITEM_MARK_MISSED),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    category: str = Form(""),
    words: str = Form("", max_length=500),
    region: str = Form(""),
    from_time: str = Form("", max_length=12),
    to_time: str = Form("", max_length=12),
) -> Response:
    """ "You missed something" from the item's page: the words (text), a ninth of the photo
    or a stretch of a recording (from, to as the player shows them); the item is re-done
    without it before anything ships."""
    box = MISSED_REGIONS[region][1] if region in MISSED_REGIONS else None
    try:
        timed = box is None and bool(from_time or to_time)
        contributions.mark_missed(
            unit,
            svc.storage,
            page.actor,
            item_id,
            category=category,
            words=words if box is None and not timed else None,
            box=box,
            start_ms=parse_clock(from_time) if timed else None,
            end_ms=parse_clock(to_time) if timed else None,
        )
    except (InvalidInput, Conflict) as exc:
        unit.rollback()
        if isinstance(exc, Conflict):
            message = page._("It is being processed again. Try again in a minute.")
        elif exc.details.get("field") in ("words", "start"):
            message = page._("Those words are not in what will ship. Copy them exactly as shown.")
        elif exc.details.get("field") == "start_ms":
            message = page._(
                "Give where it starts and ends as minutes:seconds within the recording, "
                "the end after the start."
            )
        else:
            message = page._("Choose what it was and where it is.")
        return _item_page(page, svc, unit, item_id, status=422, missed_error=message)
    return RedirectResponse(f"/my/items/{item_id}", status_code=303)


# --- tasks, capture, consent, passport, money ---------------------------------------------

# Kinds captured with the microphone in the page (record.js); the others use a file input.
RECORDED_KINDS = {"voice", "ambient", "call"}
# What a file input asks the phone for, per kind: ``accept`` and, where a camera or
# microphone can take it directly, ``capture``.
FILE_INPUT = {
    "photo": ("image/*", "environment"),
    "video": ("video/*", "environment"),
    "voice": ("audio/*", "user"),
    "ambient": ("audio/*", "environment"),
    "call": ("audio/*", ""),
    "chat": (".txt,.json,text/plain,application/json", ""),
}
# What to capture and what to leave out, per kind (msgids), shown before recording.
CAPTURE_DO = {
    "photo": (
        "What the task asks for, sharp and well lit.",
        "Your own photo, taken by you.",
    ),
    "video": (
        "What the task asks for, holding the phone steady.",
        "Your own video, filmed by you.",
    ),
    "voice": (
        "Your own voice, speaking clearly, close to the phone.",
        "A quiet room, without music or television in the background.",
    ),
    "ambient": (
        "The sound of the place as it is, for the whole recording.",
        "Keep the phone still and let it listen.",
    ),
    "call": (
        "A call you took part in, where everyone on it agreed to be recorded.",
        "The whole call, from start to end.",
    ),
    "chat": (
        "A chat you took part in, exported from WhatsApp (without media) or Telegram (JSON).",
    ),
}
CAPTURE_DONT = {
    "photo": (
        "Other people's faces close up, documents, screens or number plates (we blur what "
        "we find, but leave them out).",
    ),
    "video": (
        "Other people's faces close up, documents, screens or number plates (we blur what "
        "we find, but leave them out).",
    ),
    "voice": ("Other people's voices, or a text you may not read aloud.",),
    "ambient": ("People talking close to the phone, your own voice, or music played on purpose.",),
    "call": ("A call with anyone who did not agree to be recorded.",),
    "chat": ("Chats with people who did not agree, or messages with passwords or codes.",),
}


def _seconds(page: Page, seconds: float) -> str:
    """A length in the reader's words: whole minutes or hours as such, else seconds."""
    return duration_words(seconds, page.lang)


def rules_view(page: Page, campaign: Any) -> dict[str, Any]:
    """The task's recording rules (``upload_limits.recording_rules``, the figures its
    uploads are judged by) in the reader's words, with what the browser's pre-upload
    check reads and says (``static/precheck.js``: ``{duration}`` and ``{size}`` are
    filled in there)."""
    rules = contributions.recording_rules(campaign)
    low, high = rules.min_seconds, rules.max_seconds
    if low and high:
        length = page._("Between %(least)s and %(most)s long.") % {
            "least": _seconds(page, low),
            "most": _seconds(page, high),
        }
    elif low:
        length = page._("At least %(least)s long.") % {"least": _seconds(page, low)}
    elif high:
        length = page._("At most %(most)s long.") % {"most": _seconds(page, high)}
    else:
        length = ""
    limit = f"{format_decimal(contributions.megabytes(rules.max_bytes), locale=page.lang)} MB"
    types = ", ".join(rules.extensions)
    kind = campaign.kind.value
    return {
        "length": length,
        "size": page._("At most %(limit)s per file.") % {"limit": limit},
        "types": page._("File types: %(types)s.") % {"types": types},
        "do": [page._(m) for m in CAPTURE_DO.get(kind, ())] + list(rules.prompts),
        "dont": [page._(m) for m in CAPTURE_DONT.get(kind, ())],
        "browser": rules.for_browser(),
        "seconds": seconds_patterns(page.lang),
        "messages": {
            "short": page._(
                "This recording lasts %(duration)s; this task needs at least %(least)s. "
                "Record a longer one."
            )
            % {"duration": "{duration}", "least": _seconds(page, low) if low else ""},
            "long": page._(
                "This recording lasts %(duration)s; this task takes at most %(most)s. "
                "Record a shorter one, or cut it."
            )
            % {"duration": "{duration}", "most": _seconds(page, high) if high else ""},
            "big": page._("This file is %(size)s; a file for this task may be at most %(limit)s.")
            % {"size": "{size}", "limit": limit},
            "type": page._("This kind of file is not taken here. Use one of: %(types)s.")
            % {"types": types},
        },
    }


def task_licence(page: Page, campaign: Any, fee_percent: int) -> list[tuple[str, str | None]]:
    """The licence accepting the task offers (``licences.task_licence``), in plain words,
    risks flagged, the money as a sale of it would be charged."""
    terms = licensing.task_licence(campaign, page._)
    return licensing.explain_terms(terms, page.lang, fee_percent)


@router.get("/tasks")
def tasks(
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """Every open task, for anyone: people browse them before signing up."""
    floors = svc.policy.pay_floors
    filters = list_filters(page, "kind")
    found = campaigns.open_tasks(
        unit, page.actor, query=filters["q"], kind=filters["kind"], page=page_number(page)
    )
    shown = [task_view(page, c, unit, floors) for c in found.rows]
    kinds = [(k, page._(label)) for k, label in KIND_LABELS.items()]
    return render(page, "tasks.html", tasks=shown, found=found, filters=filters, kinds=kinds)


@router.get("/tasks/{campaign_id}")
def task(
    campaign_id: RowId,
    page: Page = page_requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """A task's pay, rules and licence; read before signing up, taken once signed in."""
    campaign = campaigns.get_task(unit, page.actor, campaign_id)
    bonus, places = None, []
    if campaigns.pays_coverage_bonus(campaign):
        # Where the bonus is still paid and where it is not, as /map shows it.
        bonus = campaign.coverage_bonus
        places = place_rows(
            Explain(page.tr, page.lang, str), campaigns.coverage_need(unit, campaign)
        )
    return render(
        page,
        "task.html",
        task=task_view(page, campaign, unit, svc.policy.pay_floors),
        sentences=task_licence(page, campaign, svc.policy.platform_fee_percent),
        rules=rules_view(page, campaign),
        bonus=bonus,
        places=places,
        shown_from=campaigns.SHOWN_FROM_PEOPLE,
        can_take=can(page.actor, Permission.ITEM_CREATE),
        errors={},
    )


@router.post("/tasks/{campaign_id}/accept")
def accept_task(
    campaign_id: RowId,
    page: Page = page_requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """Accepting a task makes the contributor's offer (``licences.accept_task``)."""
    offer = licensing.accept_task(unit, page.actor, campaign_id, page._)
    return RedirectResponse(f"/tasks/{campaign_id}/capture?offer={offer.id}", status_code=303)


def _capture(page: Page, campaign: Any, offer_id: str, status: int = 200, **extra: Any) -> Any:
    accept, capture = FILE_INPUT.get(campaign.kind.value, ("", ""))
    # What record.js says when the server refuses a PATCH with upload.busy (the same
    # upload sent from another tab): the server's text for that code, in the page's
    # language, which its problem JSON gives only in English.
    busy = show_problem(page, Problem(None, "upload.busy"))
    return render(
        page,
        "capture.html",
        status,
        task=task_view(page, campaign),
        offer_id=offer_id,
        accept=accept,
        capture=capture,
        record=campaign.kind.value in RECORDED_KINDS,
        rules=rules_view(page, campaign),
        busy=busy[:1].upper() + busy[1:],
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/tasks/{campaign_id}/capture")
def capture_form(
    campaign_id: RowId,
    page: Page = page_requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    campaign = campaigns.get_campaign(unit, page.actor, campaign_id)
    offer = page.request.query_params.get("offer", "")
    return _capture(page, campaign, offer if offer.isdigit() else "")


@router.post("/tasks/{campaign_id}/upload", max_body_size=contributions.multipart_body_limit())
async def upload_to_task(
    campaign_id: RowId,
    page: FormPage = form_page_requires(Permission.ITEM_CREATE),
    svc: Services = Depends(services),
) -> Response:
    """The plain multipart fallback (no JavaScript): receive the file, then consent to it
    under the offer made when the task was accepted (two calls: the tus path does the
    same in two requests).

    A file over the task's kind's limit is refused (413, on the capture page) before any
    of the body is read when its declared length says so, else as soon as the file
    streams past the limit (a chunked body declares none), its CSRF token included: a
    refusal changes nothing. The route's body limit is only the largest of any kind, so
    without this a 2 GB body to a photo task would be spooled to disk first. The offer
    then comes from the form's ``?offer=``. Storage checks the limit once more."""
    campaign = await run_in_threadpool(_get_campaign, svc, page, campaign_id)
    length = page.request.headers.get("content-length", "")
    offer = page.request.query_params.get("offer", "")
    try:
        contributions.check_multipart_length(
            campaign.kind, int(length) if length.isdigit() else None
        )
        form = await page.form(
            max_files=1, max_fields=10, max_file_bytes=contributions.max_bytes(campaign.kind)
        )
    except contributions.UploadTooLarge as exc:
        return _refused(page, campaign, offer if offer.isdigit() else "", "", exc)
    except FileTooLarge as exc:
        offer = exc.fields.get("offer_id", offer)
        refusal = contributions.too_large(campaign.kind, None)
        title = exc.fields.get("title", "")
        return _refused(page, campaign, offer if offer.isdigit() else "", title, refusal)
    try:
        return await run_in_threadpool(_receive_upload, svc, page, campaign, form)
    finally:
        await form.close()


def _get_campaign(svc: Services, page: Page, campaign_id: RowId) -> Any:
    with svc.uow(read_only=True) as unit:
        return campaigns.get_campaign(unit, page.actor, campaign_id)


def _receive_upload(svc: Services, page: Page, campaign: Any, form: FormData) -> Response:
    file, offer_id, title = form.get("file"), _text(form, "offer_id"), _text(form, "title")
    if not isinstance(file, UploadFile) or not file.filename:
        errors = {"file": [page._("Choose a file to upload.")]}
        return _capture(page, campaign, offer_id, 422, form={"title": title}, errors=errors)
    with svc.uow() as unit:
        try:
            item = contributions.receive_item(
                unit,
                svc.storage,
                page.actor,
                kind=campaign.kind.value,
                filename=file.filename,
                content_type=file.content_type or "application/octet-stream",
                chunks=iter(lambda: file.file.read(1 << 16), b""),
                title=title,
                campaign_id=campaign.id,
                size=file.size,
            )
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            return _refused(page, campaign, offer_id, title, exc)
        if offer_id.isdigit():
            # A Conflict means its checks already rejected it: the item's page shows why.
            with contextlib.suppress(Conflict):
                licensing.give_consent_for_item(
                    unit,
                    svc.signer,
                    page.actor,
                    item.id,
                    offer_id=int(offer_id),
                    language=page.lang,
                    publication=svc.publication,
                )
    return RedirectResponse(f"/my/items/{item.id}", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _refused(page: Page, campaign: Any, offer_id: str, title: str, exc: DomainError) -> Response:
    """The capture page again, the problem next to the file field, what was typed kept."""
    if isinstance(exc, contributions.UploadTooLarge):
        errors = {
            "file": [
                too_large(
                    page, campaign.kind, exc.details.get("length"), exc.details["limit_bytes"]
                )
            ]
        }
    else:
        errors = field_errors(page, exc, "file")
    status = 413 if exc.status == 413 else 422
    return _capture(page, campaign, offer_id, status, form={"title": title}, errors=errors)


def too_large(page: Page, kind: ItemKind, size: int | None, limit: int) -> str:
    """The 413 in the page's language, naming the kind, the limit that refused it and the
    size when known (the API answers with the service's English sentence)."""

    def mb(n: int, over: int | None = None) -> str:
        return f"{format_decimal(contributions.megabytes(n, over=over), locale=page.lang)} MB"

    words = {"kind": page._(KIND_LABELS[kind.value]), "limit": mb(limit)}
    if size is None:
        sentence = page._(
            "This file is too large; a file for this task (%(kind)s) may be at most %(limit)s."
        )
    else:
        sentence = page._(
            "This file is %(size)s; a file for this task (%(kind)s) may be at most %(limit)s."
        )
        words["size"] = mb(size, over=limit)
    return sentence % words


@router.get("/my/items/{item_id}/consent")
def consent_form(
    item_id: RowId,
    page: Page = page_requires(Permission.CONSENT_GIVE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """The licence an item is offered under, in plain words, before the button that
    gives consent: for a first consent, and after a withdrawal for consent given again
    (a new consent). Each of the contributor's licences is a choice, the item's own (or
    the default) chosen. An item with live consent, or one that can never be offered
    again, has nothing to give: its own page says where it stands."""
    return _consent_page(page, svc, unit, item_id)


def _consent_page(
    page: Page,
    svc: Services,
    unit: UnitOfWork,
    item_id: int,
    status: int = 200,
    errors: Any = None,
    chosen: int | None = None,
) -> Response:
    item = contributions.show_item(unit, svc.storage, page.actor, item_id)
    if item.consent_step not in ("give", "give_again"):
        return RedirectResponse(f"/my/items/{item_id}", status_code=303)
    again = item.consent_step == "give_again"
    fee = svc.policy.platform_fee_percent
    offers = licensing.list_my_offers(unit, page.actor)
    default = next((o.id for o in offers if o.is_default), None)
    own = item.licence_id if any(o.id == item.licence_id for o in offers) else None
    return render(
        page,
        "item_consent.html",
        status,
        item=item,
        again=again,
        offers=[(o, _offer_sentences(page, unit, o, fee)) for o in offers],
        chosen=chosen or own or default or (offers[0].id if offers else None),
        errors=errors or {},
    )


@router.post("/my/items/{item_id}/consent/again")
def give_consent_again(
    item_id: RowId,
    page: Page = page_requires(Permission.CONSENT_GIVE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    offer_id: str = Form(""),
) -> Response:
    """Consent given again under the licence chosen (``licensing.give_consent_again``);
    a refusal (the licence replaced meanwhile, say) is shown on the
    consent page in the reader's language."""
    chosen = int(offer_id) if offer_id.isdigit() else None
    try:
        licensing.give_consent_again(
            unit,
            svc.signer,
            page.actor,
            item_id,
            offer_id=chosen,
            language=page.lang,
            publication=svc.publication,
            storage=svc.storage,
            keep_in_notice=market.keep_buyers_in_notice,
        )
    except (Conflict, InvalidInput) as exc:
        unit.rollback()
        errors = field_errors(page, exc)
        return _consent_page(page, svc, unit, item_id, exc.status, errors, chosen)
    return RedirectResponse(f"/my/items/{item_id}", status_code=303)


@router.post("/my/items/{item_id}/consent")
def give_consent(
    item_id: RowId,
    page: Page = page_requires(Permission.CONSENT_GIVE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    offer_id: str = Form(""),
) -> Response:
    # A Conflict (consent already given, or the item was rejected by its checks) is shown
    # by the item's page itself; 403/404 still answer as errors.
    with contextlib.suppress(Conflict):
        licensing.give_consent_for_item(
            unit,
            svc.signer,
            page.actor,
            item_id,
            offer_id=int(offer_id) if offer_id.isdigit() else None,
            language=page.lang,
            publication=svc.publication,
        )
    return RedirectResponse(f"/my/items/{item_id}", status_code=303)


@router.get("/my/items/{item_id}/withdraw")
def withdraw_form(
    item_id: RowId,
    page: Page = page_requires(Permission.CONSENT_WITHDRAW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """What withdrawing does, in the reader's words, before the button that does it: out
    of every future sale at once, how many buyers holding a copy are told to delete it
    and within how many days (the figures the delete page states), money paid kept. One
    click to come here and one to confirm, as giving consent is the licence read and its
    one button; the API withdraws in one call. An item without live consent has nothing
    to withdraw: its own page says where it stands."""
    item = contributions.show_item(unit, svc.storage, page.actor, item_id)
    effects = market.deletion_effects(unit, page.actor, item_id)
    if not effects.consent_withdrawn:  # "would be withdrawn": only a live consent is
        return RedirectResponse(f"/my/items/{item_id}", status_code=303)
    return render(page, "item_withdraw.html", item=item, effects=effects)


@router.post("/my/items/{item_id}/withdraw")
def withdraw(
    item_id: RowId,
    page: Page = page_requires(Permission.CONSENT_WITHDRAW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    licensing.withdraw_consent(unit, svc.signer, page.actor, item_id, publication=svc.publication)
    return RedirectResponse(f"/my/items/{item_id}", status_code=303)


@router.get("/my/items/{item_id}/delete")
def delete_item_form(
    item_id: RowId,
    page: Page = page_requires(Permission.PERSONAL_DATA_ERASE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """What deleting the item does, in words, before the button that does it."""
    item = contributions.show_item(unit, svc.storage, page.actor, item_id)
    effects = market.deletion_effects(unit, page.actor, item_id)
    return render(page, "item_delete.html", item=item, effects=effects)


@router.post("/my/items/{item_id}/delete")
def delete_item(
    item_id: RowId,
    page: Page = page_requires(Permission.PERSONAL_DATA_ERASE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    try:
        market.delete_my_item(
            unit,
            svc.storage,
            page.actor,
            item_id,
            signer=svc.signer,
            publication=svc.publication,
        )
    except Conflict:  # still being checked, or deleted already: its page says which
        unit.rollback()
        return RedirectResponse(f"/my/items/{item_id}", status_code=303)
    return RedirectResponse("/my/items?deleted=1", status_code=303)


@router.get("/my/items/{item_id}/passport")
def passport_page(
    item_id: RowId,
    page: Page = page_requires(Permission.PASSPORT_READ),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    return render(page, "passport.html", passport=trust.item_passport(unit, page.actor, item_id))


@router.get("/my/licences")
def my_licences(
    page: Page = page_requires(Permission.CONSENT_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    return _licences_page(page, svc, unit)


def _licences_page(
    page: Page, svc: Services, unit: UnitOfWork, status: int = 200, **failed: Any
) -> HTMLResponse:
    """The caller's consents, waiting replica uses and offers; ``failed`` carries the
    ``errors`` and ``form`` of a holder choice that was refused, and its ``offer_id``."""
    return render(
        page,
        "my_licences.html",
        status,
        offers=[
            (offer, _offer_sentences(page, unit, offer, svc.policy.platform_fee_percent))
            for offer in licensing.list_my_offers(unit, page.actor)
        ],
        consents=licensing.list_my_consents(unit, page.actor),
        approvals=[_approval_view(page, r) for r in licensing.my_requests(unit, page.actor)],
        organisations=licensing.holder_choices(unit, page.actor),
        failed_offer=failed.get("offer_id"),
        errors=failed.get("errors", {}),
        form=failed.get("form", {}),
    )


@router.post("/my/licences/{offer_id}/holders")
def name_holders(
    offer_id: RowId,
    page: Page = page_requires(Permission.LICENCE_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    who: str = Form(""),
    orgs: list[str] = Form([]),
    exclusive_org: str = Form(""),
    exclusive_until: str = Form(""),
) -> Response:
    """Who may take the offer (any vetted buyer, named organisations, or one exclusively
    until a date): a new version of it, shown on the licences page."""
    chosen = [exclusive_org] if who == "exclusive" and exclusive_org else orgs
    try:
        until = _day_starting(exclusive_until) if exclusive_until else None
        new = licensing.name_holders(unit, page.actor, offer_id, who, chosen, exclusive_until=until)
    except InvalidInput as exc:
        form = {"who": who, "orgs": orgs, "exclusive_org": exclusive_org}
        form["exclusive_until"] = exclusive_until
        errors = field_errors(page, exc)
        return _licences_page(page, svc, unit, 422, offer_id=offer_id, errors=errors, form=form)
    return RedirectResponse(f"/my/licences#licence-{new.id}", status_code=303)


def _day_starting(day: str) -> datetime:
    """A date from a date field as the start of that day, UTC ("exclusive until 1 March"
    ends as 1 March begins, so the licence's own last day still fits); ``InvalidInput``
    if it is no date."""
    try:
        return datetime.combine(date.fromisoformat(day), time(0, 0), tzinfo=UTC)
    except ValueError:
        raise InvalidInput("not a date", problems=["exclusive_until: choose a date"]) from None


def _offer_sentences(
    page: Page, unit: UnitOfWork, offer: LicenceOffer, fee_percent: int
) -> list[tuple[str, str | None]]:
    """One of the caller's offers in plain words, risks flagged: the money as a sale
    charges and pays it, the exclusive holder and named buyers by name."""
    terms = offer.terms()
    names = licensing.organisation_names(unit, {*terms.offered_to, terms.exclusive_to or ""})
    return licensing.explain_terms(terms, page.lang, fee_percent, names)


def _approval_view(page: Page, row: ReplicaApproval) -> dict[str, Any]:
    """One waiting replica use in words: who asks, for what, where and until when."""
    from babel import Locale
    from babel.lists import format_list

    from datatrust.domain.purposes import PURPOSES, REPLICA_CATEGORIES, REPLICA_CHANNELS

    locale = Locale.parse(page.lang)
    replica = row.use.get("replica") or {}

    def labels(vocabulary: Any, codes: list[str]) -> str:
        words = [page._(vocabulary.term(c).label) for c in codes if c in vocabulary]
        return format_list(words, locale=locale) if words else ""

    return {
        "id": row.id,
        "item_id": row.item_id,
        "organisation": row.org_name,
        "purpose": labels(PURPOSES, [row.use.get("purpose", "")]),
        "languages": format_list(
            [locale.languages.get(c, c) for c in replica.get("languages", [])], locale=locale
        ),
        "category": labels(REPLICA_CATEGORIES, [replica.get("category") or ""]),
        "channels": labels(REPLICA_CHANNELS, replica.get("channels", [])),
        "until": Explain(page.tr, page.lang, str).day(str(row.use.get("ends_at", ""))),
    }


@router.post("/my/replica-approvals/{approval_id}/{decision}")
def decide_replica_use(
    approval_id: RowId,
    decision: str,
    page: Page = page_requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """Approve or refuse one replica use a buyer asked for ("ask me each time")."""
    licensing.decide(unit, page.actor, approval_id, decision)
    return RedirectResponse("/my/licences#replica-approvals", status_code=303)


def _show_in(page: Page) -> str | None:
    """``?currency=EUR`` on the earnings page: approximate values in that currency."""
    asked = page.request.query_params.get("currency", "").strip().upper()
    return asked if is_known(asked) else None


def _earnings(
    page: Page, unit: UnitOfWork, svc: Services, status: int = 200, **extra: Any
) -> HTMLResponse:
    statement = money.contributor_statement(
        unit,
        page.actor,
        show_in=_show_in(page) or money.home_currency(unit, page.actor),
        page=page_number(page),
    )
    return render(
        page,
        "earnings.html",
        status,
        statement=statement,
        shown_in=_show_in(page),
        payouts=money.payout_page(
            unit, page.actor, svc.policy.minimum_payout, svc.policy.payout_method_hold
        ),
        key=uuid.uuid4().hex,
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/my/earnings")
def my_earnings(
    page: Page = page_requires(Permission.STATEMENT_READ),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> HTMLResponse:
    requested = page.request.query_params.get("requested") == "1"
    return _earnings(page, unit, svc, requested=requested)


@router.post("/my/earnings/payout")
def payout(
    page: Page = page_requires(Permission.PAYOUT_REQUEST),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
    amount: str = Form(""),
    currency: str = Form(""),
    method: str = Form(""),
    idempotency_key: str = Form(""),
) -> Response:
    """A payout to one of the person's methods, at least the minimum the page showed."""
    form = {"amount": amount, "currency": currency, "method": method}
    if not method.isdigit() or len(method) > 9:
        errors = {"method": [page._("Choose where to be paid.")]}
        return _earnings(page, unit, svc, 422, form=form, errors=errors)
    if not amount.strip():
        errors = {"amount": [page._("Write an amount such as 12.50.")]}
        return _earnings(page, unit, svc, 422, form=form, errors=errors)
    try:
        value = Money.parse(amount.strip(), currency.strip().upper() or "USD")
        money.request_payout_to(
            unit,
            page.actor,
            value,
            idempotency_key or uuid.uuid4().hex,
            method_id=int(method),
            minimum=svc.policy.minimum_payout,
            hold=svc.policy.payout_method_hold,
        )
    except NotFound:
        errors = {"method": [page._("Choose where to be paid.")]}
        return _earnings(page, unit, svc, 422, form=form, errors=errors)
    except DomainError as exc:
        return _earnings(page, unit, svc, 422, form=form, errors=_payout_refusal(page, exc))
    except ValueError:
        errors = {"amount": [page._("Write an amount such as 12.50.")]}
        return _earnings(page, unit, svc, 422, form=form, errors=errors)
    return RedirectResponse("/my/earnings?requested=1", status_code=303)


def _payout_refusal(page: Page, exc: DomainError) -> dict[str, list[str]]:
    """A refused payout in the reader's words, with the service's own figures (the
    minimum it refused below, the balance it found)."""
    details = exc.details or {}
    if "minimum" in details:
        least = show_money(page, details["minimum"])
        return {"amount": [page._("The smallest payout is %(amount)s.") % {"amount": least}]}
    if "available" in details:
        have = show_money(page, details["available"])
        text = page._("That is more than you have available: %(amount)s.") % {"amount": have}
        return {"amount": [text]}
    return field_errors(page, exc, "amount")


def _methods_page(
    page: Page, unit: UnitOfWork, svc: Services, status: int = 200, **extra: Any
) -> HTMLResponse:
    methods = money.payout_methods(unit, page.actor)
    hold = svc.policy.payout_method_hold
    return render(
        page,
        "payout_methods.html",
        status,
        methods=methods,
        held=money.held_methods(methods, hold),
        hold_hours=int(hold.total_seconds() // 3600),
        rails=RAIL_FIELDS,
        rail_currency=RAIL_CURRENCY,
        rail=extra.pop("rail", ""),
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/my/payout-methods")
def my_payout_methods(
    page: Page = page_requires(Permission.STATEMENT_READ),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> HTMLResponse:
    return _methods_page(page, unit, svc, added=page.request.query_params.get("added") == "1")


@router.post("/my/payout-methods")
def add_payout_method(
    page: Page = page_requires(Permission.PAYOUT_REQUEST),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    rail: str = Form(""),
    account_holder: str = Form(""),
    account_number: str = Form(""),
    bank_code: str = Form(""),
    phone: str = Form(""),
    vpa: str = Form(""),
    current_password: str = Form(""),
) -> Response:
    """One form per rail; the service reads the fields its rail asks for
    (``domain.payout_methods.RAIL_FIELDS``), and the password again (a session alone,
    or an API token, cannot say where money goes)."""
    typed = {
        "account_holder": account_holder,
        "account_number": account_number,
        "bank_code": bank_code,
        "phone": phone,
        "vpa": vpa,
    }
    try:
        money.add_payout_method(
            unit,
            svc.storage,
            page.actor,
            rail,
            typed,
            hasher=svc.hasher,
            password=current_password,
            hold=svc.policy.payout_method_hold,
            throttle=sign_in_throttle(svc.settings),
        )
    except (InvalidInput, RateLimited) as exc:
        # A problem about no field (too many wrong passwords) shows next to the password.
        errors = field_errors(page, exc, "current_password" if exc.status == 429 else "rail")
        response = _methods_page(page, unit, svc, exc.status, form=typed, errors=errors, rail=rail)
        set_retry_after(response, exc)
        return response
    return RedirectResponse("/my/payout-methods?added=1", status_code=303)


@router.post("/my/payout-methods/{method_id}/remove")
def remove_payout_method(
    method_id: RowId,
    page: Page = page_requires(Permission.PAYOUT_REQUEST),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    money.remove_payout_method(unit, page.actor, method_id)
    return RedirectResponse("/my/payout-methods", status_code=303)


def _peer_review_page(
    page: Page, unit: UnitOfWork, status: int = 200, errors: Any = None
) -> HTMLResponse:
    queue = campaigns.peer_review_queue(unit, page.actor)
    return review_queue_page(page, status, queue, "/review", {}, errors, peer=True)


@router.get("/review")
def peer_review(
    page: Page = page_requires(Permission.REVIEW), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    """Other contributors' items waiting for a vote in peer-reviewed campaigns, each with
    what will ship (the de-identified version) and up and down buttons."""
    return _peer_review_page(page, unit)


@router.post("/review")
def vote(
    page: Page = page_requires(Permission.REVIEW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    campaign_id: str = Form(""),
    item_id: str = Form(""),
    decision: str = Form(""),
    note: str = Form(""),
) -> Response:
    form = (campaign_id, item_id, decision, note)
    errors = review_vote(page, unit, form, ("up", "down"), svc.storage)
    if errors:
        return _peer_review_page(page, unit, 422, errors)
    return RedirectResponse("/review", status_code=303)


@router.get("/my/notices")
def my_notices(
    page: Page = page_requires(Permission.NOTICE_READ), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    """Notices about incidents that touched the reader's data, as they were written to
    them (in the language their account had then)."""
    return render(page, "notices.html", notices=trust.my_notices(unit, page.actor))
