"""Licence offers: a contributor's terms, stored, versioned, attached to items.

An offer is a validated ``domain.licence.Licence`` kept as its ``to_dict()`` JSON. Offers
are never edited in place: ``revise_offer`` makes version n+1 that supersedes version n
(which becomes ``replaced``), so consent given and agreements taken under version n keep
pointing at exactly the terms they were given under. Items already attached stay on the
version they were attached to until their owner attaches the new one.

``selectable_items`` is the one place a build or selection asks "which items may this
use take?": it evaluates every candidate's licence and consent state and fails closed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from datatrust.domain.accounts import Organisation as OrgRecord
from datatrust.domain.accounts import OrgStatus
from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import Campaign, CampaignState, PayBasis
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import ConsentRecord, LicenceOffer, OfferStatus
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.licence import (
    TEMPLATES,
    Decision,
    Licence,
    Organisation,
    ReasonCode,
    ReplicaUse,
    Use,
    evaluate,
    licence_from_template,
)
from datatrust.domain.odrl import licence_to_odrl
from datatrust.domain.orders import unit_pay
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.i18n import explain_flagged
from datatrust.services.accounts import actor_label
from datatrust.services.campaigns import get_campaign
from datatrust.services.licensing.standards import Publication
from datatrust.services.ports import UnitOfWork

# The platform assigns these; a caller's values would only confuse the version chain.
_PLATFORM_FIELDS = ("id", "version")


def _now(at: datetime | None) -> datetime:
    # Whole seconds: licences are shown and exported to the second.
    return as_utc(at or utcnow()).replace(microsecond=0)


def _strip_platform_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _PLATFORM_FIELDS}


def build_licence(
    *,
    template: str | None = None,
    changes: Mapping[str, Any] | None = None,
    licence: Mapping[str, Any] | None = None,
    licence_id: str | None = None,
    version: int = 1,
    now: datetime | None = None,
) -> Licence:
    """Validate terms from a template plus ``changes``, or from a full ``licence`` dict.

    Exactly one of ``template`` and ``licence`` must be given. ``valid_from`` defaults to
    now. Raises ``InvalidInput`` naming every problem.
    """
    if (template is None) == (licence is None):
        raise InvalidInput(Problem("template/licence", "licence.template_or_licence"))
    if changes is not None and not isinstance(changes, Mapping):
        raise InvalidInput(Problem("changes", "must_be_object"))
    if licence is not None and not isinstance(licence, Mapping):
        raise InvalidInput(Problem("licence", "must_be_object"))
    fields = _strip_platform_fields(licence if licence is not None else changes or {})
    fields["id"] = licence_id or f"lic-{uuid.uuid4().hex[:16]}"
    fields["version"] = version
    fields.setdefault("valid_from", _now(now))
    if isinstance(fields["valid_from"], str):
        # A template computes valid_until from a datetime; a bad string is left for the
        # licence's own validation to name.
        with contextlib.suppress(ValueError):
            fields["valid_from"] = as_utc(datetime.fromisoformat(fields["valid_from"]))
    terms = (
        licence_from_template(template, **fields)
        if template is not None
        else Licence.from_dict(fields)
    )
    gaps = terms.replica_grant_gaps()
    if gaps:
        raise InvalidInput(gaps)
    return terms


def licence_templates() -> list[dict[str, Any]]:
    """The templates a contributor starts from, with their default terms (public)."""
    out = []
    for name, values in TEMPLATES.items():
        entry: dict[str, Any] = {"name": name}
        for key, value in values.items():
            entry[key] = sorted(value) if isinstance(value, set | frozenset) else value
        out.append(entry)
    return out


def create_offer(
    uow: UnitOfWork,
    actor: Actor,
    *,
    template: str | None = None,
    changes: Mapping[str, Any] | None = None,
    licence: Mapping[str, Any] | None = None,
    make_default: bool = False,
    now: datetime | None = None,
) -> LicenceOffer:
    """Store a new offer (version 1). Invalid terms raise ``InvalidInput`` naming every
    problem; nothing is stored then."""
    authorize(actor, Permission.LICENCE_CREATE)
    terms = build_licence(template=template, changes=changes, licence=licence, now=now)
    offer = LicenceOffer(owner_id=actor.uid, licence=terms.to_dict())
    uow.add(offer)
    uow.flush()
    if make_default:
        _make_default(uow, offer)
    uow.record(
        AuditTag.LICENCE_CREATE,
        actor_label(actor),
        "licence",
        offer.id,
        licence_id=terms.id,
        version=terms.version,
        template=template,
        default=make_default,
    )
    uow.commit()
    return offer


# Example terms a template is shown and offered with (each text a msgid, which the caller
# translates): the price is set by a task, never by a template.
TEMPLATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "voice_library": {
        "replica_use_description": "Narration of audiobooks for a named publisher, in my own "
        "voice, with no other use",
        "replica_languages": ["en"],
        "replica_categories": ["audiobook_narration"],
        "replica_channels": ["audio_stores"],
    },
}
# The price a template is shown with on the templates page (a task sets the real one).
EXAMPLE_PRICE_MINOR = 100
Translate = Callable[[str], str]


def template_examples(template: str, translate: Translate) -> dict[str, Any]:
    """``TEMPLATE_EXAMPLES`` for ``template``, each text in the reader's words."""
    return {
        key: translate(value) if isinstance(value, str) else value
        for key, value in TEMPLATE_EXAMPLES.get(template, {}).items()
    }


def template_example(template: str, translate: Translate, now: datetime | None = None) -> Licence:
    """A template as the templates page shows it: its example terms at the example price,
    with the template's own title (the plain-words summary translates it)."""
    changes = {"price_minor": EXAMPLE_PRICE_MINOR, **template_examples(template, translate)}
    return build_licence(
        template=template, changes=changes, licence_id=f"example-{template}", now=now
    )


def task_terms(campaign: Campaign, translate: Translate) -> dict[str, Any]:
    """What a task changes in its licence template: its rate, per item or per minute of
    recording as the task pays (so the licence says what the task pays for), and the
    template's example terms. The licence a task shows (``task_licence``) and the offer
    accepting it makes (``accept_task``) are both built from these."""
    return {
        "price_minor": campaign.rate_minor,
        "currency": campaign.currency,
        "price_unit": "minute" if campaign.pay_basis is PayBasis.PER_MINUTE else "item",
        **template_examples(campaign.licence_template, translate),
    }


def task_licence(campaign: Campaign, translate: Translate, now: datetime | None = None) -> Licence:
    """The licence a task offers, as its page shows it (the template's own title)."""
    return build_licence(
        template=campaign.licence_template,
        changes=task_terms(campaign, translate),
        licence_id=f"task-{campaign.id}",
        now=now,
    )


def accept_task(
    uow: UnitOfWork, actor: Actor, campaign_id: int, translate: Translate
) -> LicenceOffer:
    """Accept an open task: the caller's offer from its licence template at its rate,
    titled after the task (``NotFound`` for a task not open). Consent for each item is
    given with that offer when the item is uploaded. Commits."""
    campaign = get_campaign(uow, actor, campaign_id)
    if campaign.state is not CampaignState.OPEN:
        raise NotFound(Problem(None, "campaign.not_found"))
    return create_offer(
        uow,
        actor,
        template=campaign.licence_template,
        changes={"title": campaign.title[:200], **task_terms(campaign, translate)},
    )


def explain_terms(
    terms: Licence, lang: str, fee_percent: int, names: Mapping[str, str] | None = None
) -> list[tuple[str, str | None]]:
    """Terms in plain words in ``lang``, each sentence with its risk flag, the money as a
    sale on this instance charges and pays it (``domain.orders.unit_pay`` with its fee)."""
    return explain_flagged(terms, lang, unit_pay(terms, fee_percent), names)


def list_my_offers(
    uow: UnitOfWork, actor: Actor, *, include_replaced: bool = False
) -> list[LicenceOffer]:
    authorize(actor, Permission.LICENCE_READ)
    filters: dict[str, Any] = {} if include_replaced else {"status": OfferStatus.ACTIVE}
    return uow.all(LicenceOffer, owner_id=actor.user_id, order_by="-id", **filters)


def get_offer(uow: UnitOfWork, actor: Actor, offer_id: int) -> LicenceOffer:
    offer = uow.get(LicenceOffer, offer_id)
    authorize(actor, Permission.LICENCE_READ, offer or MISSING)
    assert offer is not None
    return offer


def _own_active_offer(uow: UnitOfWork, actor: Actor, offer_id: int) -> LicenceOffer:
    offer = uow.get_for_update(LicenceOffer, offer_id)
    authorize(actor, Permission.LICENCE_CREATE, offer or MISSING)
    assert offer is not None
    if offer.status is not OfferStatus.ACTIVE:
        raise Conflict(
            Problem(None, "licence.replaced", {"offer": offer.id}),
            {"offer_id": offer.id},
        )
    return offer


def revise_offer(
    uow: UnitOfWork,
    actor: Actor,
    offer_id: int,
    changes: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> LicenceOffer:
    """A new version with ``changes`` applied over the current terms; the old version
    becomes ``replaced`` and keeps its terms for whoever holds it. Being the default
    moves to the new version; attached items stay on the old one."""
    old = _own_active_offer(uow, actor, offer_id)
    if not isinstance(changes, Mapping):
        raise InvalidInput(Problem("changes", "must_be_object"))
    if not changes:
        raise InvalidInput(Problem("changes", "name_at_least_one"))
    current = old.terms()
    fields = {**current.to_dict(), **_strip_platform_fields(changes)}
    fields.pop("revocable", None)
    terms = build_licence(licence=fields, licence_id=current.id, version=old.version + 1, now=now)
    new = LicenceOffer(
        owner_id=old.owner_id,
        licence=terms.to_dict(),
        version=old.version + 1,
        supersedes_id=old.id,
        is_default=old.is_default,
    )
    old.status = OfferStatus.REPLACED
    old.is_default = False
    uow.add(new)
    uow.flush()
    uow.record(
        AuditTag.LICENCE_REVISE,
        actor_label(actor),
        "licence",
        new.id,
        supersedes=old.id,
        licence_id=terms.id,
        version=terms.version,
        changed=sorted(_strip_platform_fields(changes)),
    )
    uow.commit()
    return new


def attach_offer(
    uow: UnitOfWork, actor: Actor, offer_id: int, item_ids: Iterable[int]
) -> list[Item]:
    """Offer the given items (all the caller's own) under this offer.

    An item whose consent is active was consented under its current licence: changing
    its terms underneath that consent would misstate what was agreed, so it is a
    ``Conflict`` (withdraw, then give consent under the new licence).
    """
    offer = _own_active_offer(uow, actor, offer_id)
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise InvalidInput(Problem("item_ids", "name_at_least_one"))
    attached = []
    for item_id in ids:
        item = uow.get_for_update(Item, item_id)
        authorize(actor, Permission.LICENCE_CREATE, item or MISSING)
        assert item is not None
        if item.licence_id == offer.id:
            attached.append(item)
            continue
        if item.consent_id is not None and _consent_is_live(uow, item.consent_id):
            raise Conflict(
                Problem(
                    None, "licence.item_has_consent", {"item": item.id, "offer": item.licence_id}
                ),
                {"item_id": item.id},
            )
        item.licence_id = offer.id
        item.updated_at = utcnow()
        uow.record(AuditTag.LICENCE_ATTACH, actor_label(actor), "item", item.id, offer_id=offer.id)
        attached.append(item)
    uow.commit()
    return attached


def _consent_is_live(uow: UnitOfWork, consent_id: int) -> bool:
    row = uow.get(ConsentRecord, consent_id)
    return row is not None and row.state != "withdrawn"


def set_default_offer(uow: UnitOfWork, actor: Actor, offer_id: int) -> LicenceOffer:
    """Make this offer the one used for items that have none when consent is given."""
    offer = _own_active_offer(uow, actor, offer_id)
    if not offer.is_default:
        _make_default(uow, offer)
        uow.record(AuditTag.LICENCE_SET_DEFAULT, actor_label(actor), "licence", offer.id)
        uow.commit()
    return offer


def _make_default(uow: UnitOfWork, offer: LicenceOffer) -> None:
    for other in uow.all(LicenceOffer, owner_id=offer.owner_id, is_default=True):
        if other is not offer:
            other.is_default = False
    offer.is_default = True


def default_offer(uow: UnitOfWork, owner_id: int) -> LicenceOffer | None:
    return uow.one(LicenceOffer, owner_id=owner_id, is_default=True, status=OfferStatus.ACTIVE)


def offer_odrl(
    uow: UnitOfWork, actor: Actor, offer_id: int, publication: Publication
) -> dict[str, Any]:
    """The offer as ODRL 2.2 JSON-LD, the contributor as assigner (the document its IRI
    serves, ``standards.licence_document``)."""
    offer = get_offer(uow, actor, offer_id)
    return licence_to_odrl(
        offer.terms(), publication.iris, assigner=publication.person(offer.owner_id)
    )


# Who may take an offer, as a contributor picks it on the licences page (issue 16 §1).
HOLDER_CHOICES = ("any", "named", "exclusive")


def holder_choices(uow: UnitOfWork, actor: Actor) -> list[tuple[str, str]]:
    """The organisations a contributor may name as holders of an offer: every approved
    buyer organisation, as (id as a licence names it, legal name), by name."""
    authorize(actor, Permission.LICENCE_CREATE)
    found = uow.all(OrgRecord, status=OrgStatus.APPROVED)
    return sorted(((str(o.id), o.legal_name) for o in found), key=lambda p: (p[1], p[0]))


def name_holders(
    uow: UnitOfWork,
    actor: Actor,
    offer_id: int,
    who: str,
    org_ids: Collection[str],
    *,
    exclusive_until: datetime | None = None,
    now: datetime | None = None,
) -> LicenceOffer:
    """Who may take the offer, as a new version (``revise_offer``): any vetted buyer
    (``who="any"``), only the organisations ``org_ids`` (``"named"``), or the one
    organisation in ``org_ids`` exclusively until ``exclusive_until`` (``"exclusive"``;
    anyone vetted may take it after that). ``InvalidInput`` names each problem: an unknown
    choice, no organisation or more than one for exclusivity, an organisation that is not
    an approved buyer, or an exclusivity the licence rules refuse (too long, past the
    licence's end)."""
    known = {org_id for org_id, _ in holder_choices(uow, actor)}
    chosen = sorted(set(org_ids))
    problems = [
        Problem("offered_to", "licence.holder_not_approved", {"org": o})
        for o in chosen
        if o not in known
    ]
    if who not in HOLDER_CHOICES:
        problems.append(Problem("who", "one_of", {"choices": list(HOLDER_CHOICES)}))
    elif who == "named" and not chosen:
        problems.append(Problem("offered_to", "licence.name_an_organisation"))
    elif who == "exclusive" and len(chosen) != 1:
        problems.append(Problem("exclusive_to", "licence.exclusive_one_organisation"))
    elif who == "exclusive" and exclusive_until is None:
        problems.append(Problem("exclusive_until", "licence.exclusive_until"))
    if problems:
        raise InvalidInput(problems)
    changes: dict[str, Any] = {
        "offered_to": chosen if who == "named" else [],
        "exclusive": who == "exclusive",
        "exclusive_to": chosen[0] if who == "exclusive" else None,
        "exclusive_until": as_utc(exclusive_until).isoformat()
        if who == "exclusive" and exclusive_until is not None
        else None,
    }
    return revise_offer(uow, actor, offer_id, changes, now=now)


def organisation_names(uow: UnitOfWork, ids: Iterable[str]) -> dict[str, str]:
    """Organisation id (as a licence names it) → its legal name, for those that exist, so
    a contributor reads who holds their exclusivity or may take their offer, never an id."""
    numbers = {int(i) for i in ids if i.isdigit()}
    found = uow.all(OrgRecord, id__in=numbers) if numbers else []
    return {str(o.id): o.legal_name for o in found}


def explain_offer(
    uow: UnitOfWork, actor: Actor, offer_id: int, lang: str, *, fee_percent: int
) -> list[tuple[str, str | None]]:
    """The offer in plain words in ``lang`` (English when there is no catalogue), each
    sentence with its risk flag: the money as a sale charges and pays it
    (``domain.orders.unit_pay`` with the instance's ``fee_percent``), organisations by name."""
    offer = get_offer(uow, actor, offer_id)
    terms = offer.terms()
    names = organisation_names(uow, {*terms.offered_to, terms.exclusive_to or ""})
    return explain_terms(terms, lang, fee_percent, names)


# --- uses and selection ---------------------------------------------------------------

_USE_FIELDS = {
    "action",
    "purpose",
    "industry",
    "territory",
    "recipient_org",
    "starts_at",
    "ends_at",
    "declared_uses",
    "task",
    "outputs",
    "replica",
}
# Actions that yield a model, whose task the use must state.
MODEL_ACTIONS = frozenset({"train", "fine_tune", "evaluate", "create_replica"})


def parse_use(data: Any) -> Use:
    """A buyer's declared use from JSON; ``InvalidInput`` naming every problem.

    ``recipient_org`` is ``{"id": ..., "name": ...}``; ``starts_at`` and ``ends_at`` (ISO
    8601) the period of use, all of which must fit the licence; ``task`` (required for an
    action that yields a model) and ``outputs`` say what the resulting model will do.
    There is no ``at``: the time a use is judged at is the server's clock, never the
    buyer's. Unknown codes are *not* problems here: ``evaluate`` denies them with a reason.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(Problem("use", "must_be_object"))
    problems: list[Problem] = []
    for key in data:
        if key == "at":
            problems.append(Problem("at", "use.at_is_server_time"))
        elif key not in _USE_FIELDS:
            problems.append(Problem(str(key), "request.unknown_field"))
    values: dict[str, Any] = {}
    task = data.get("task")
    if task is None and data.get("action") in MODEL_ACTIONS:
        problems.append(Problem("task", "use.task_required"))
    elif task is not None and (not isinstance(task, str) or not task.strip()):
        problems.append(Problem("task", "use.task_code"))
    else:
        values["task"] = task
    outputs = data.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        problems.append(Problem("outputs", "list_of_codes"))
    else:
        values["outputs"] = frozenset(outputs)
    for name in ("action", "purpose", "industry", "territory"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(name, "required"))
        else:
            values[name] = value
    org = data.get("recipient_org")
    if (
        not isinstance(org, Mapping)
        or not isinstance(org.get("id"), str)
        or not isinstance(org.get("name", ""), str)
    ):
        problems.append(Problem("recipient_org", "use.recipient_org"))
    else:
        values["recipient_org"] = Organisation(org["id"], org.get("name", ""))
    for name, key in (("starts_at", "at"), ("ends_at", "until")):
        raw = data.get(name)
        try:
            values[key] = as_utc(datetime.fromisoformat(raw)) if isinstance(raw, str) else None
        except ValueError:
            values[key] = None
        if values[key] is None:
            problems.append(Problem(name, "date_time_required"))
    if values["at"] is not None and values["until"] is not None and values["until"] <= values["at"]:
        problems.append(Problem("ends_at", "ends_after_start"))
    declared = data.get("declared_uses", [])
    if not isinstance(declared, list) or not all(isinstance(u, str) for u in declared):
        problems.append(Problem("declared_uses", "list_of_codes"))
    else:
        values["declared_uses"] = frozenset(declared)
    values["replica"] = parse_replica_use(data.get("replica"), problems)
    if problems:
        raise InvalidInput(problems)
    return Use(**values)


def parse_replica_use(data: Any, problems: list[Problem]) -> ReplicaUse | None:
    """A use's ``replica`` part, ``{"languages": [...], "category": "...", "channels":
    [...]}``, or None when absent; shape problems are appended to ``problems``.

    Codes are not checked here: one outside the grant (unknown ones included) denies with
    its reason, and a replica use without this part is denied (``replica_use_not_described``).
    """
    if data is None:
        return None
    if not isinstance(data, Mapping):
        problems.append(Problem("replica", "use.replica_shape"))
        return None
    for key in data:
        if key not in ("languages", "category", "channels"):
            problems.append(Problem(f"replica.{key}", "request.unknown_field"))
    lists = {}
    for name in ("languages", "channels"):
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(Problem(f"replica.{name}", "list_of_codes"))
            value = []
        lists[name] = frozenset(value)
    category = data.get("category")
    if category is not None and not isinstance(category, str):
        problems.append(Problem("replica.category", "use.category_code"))
        category = None
    return ReplicaUse(lists["languages"], category or None, lists["channels"])


@dataclass(frozen=True)
class Selection:
    """Items a use may take (their ids, ascending), and how many were left out for each
    reason code.

    An item left out for several reasons counts once under each; ``excluded`` is the
    number of items left out.
    """

    item_ids: list[int]
    excluded: int
    reasons: dict[str, int]
    # Items left out only because their contributor approves each replica use and has
    # not approved this one (counted under ``replica_approval_pending`` too).
    awaiting_approval: list[int] = field(default_factory=list)
    # The licences judged, by offer id (those that validate): whoever prices the selection
    # reads them here rather than again. Not part of what was selected.
    terms: Mapping[int, Licence] = field(default_factory=dict, compare=False, repr=False)


# Statuses that are candidates at all. Withdrawn items are looked at only so that the
# exclusion counts say why they are missing; they can never be selected.
_CANDIDATE_STATUSES = (ItemStatus.LISTED, ItemStatus.WITHDRAWN)
ENDS_WITHIN_PERIOD = str(ReasonCode.LICENCE_ENDS_WITHIN_PERIOD)
APPROVAL_PENDING = str(ReasonCode.REPLICA_APPROVAL_PENDING)
NO_DEIDENTIFIED_VERSION = "no_deidentified_version"


def selectable_items(
    uow: UnitOfWork,
    use: Use,
    at: datetime | None = None,
    *,
    until: datetime | None = None,
    among: Collection[int] | None = None,
    denied_industries: Iterable[str] = (),
    replica_approved: Collection[int] = (),
    unjudged: Collection[str] = (),
) -> Selection:
    """Listed items whose licence allows ``use`` judged at ``at`` (the server's time;
    default now, never the buyer's ``use.at``, which is only when its period starts), with
    the reasons every other candidate was left out. Fails closed: an item with no licence,
    no consent, consent given under other terms, a licence that no longer validates or any
    denying reason is left out; ``denied_industries`` (the instance's deny-list) is part
    of every decision. With ``until`` (or ``use.until``), an item whose licence ends before
    it is left out too (``licence_ends_within_period``); with ``among``, only those item
    ids are candidates (ids that are not listed or withdrawn are simply not counted).
    An item whose licence asks its contributor to approve each replica use, and that
    nothing else keeps out, is selected when its id is in ``replica_approved`` (the
    contributor approved this use for this recipient: ``replica_approvals.approved_for``)
    and otherwise left out and listed in ``awaiting_approval``. Reason codes in
    ``unjudged`` keep nothing out (a catalogue search judges only the facets of a use the
    buyer chose).

    The decision for an item depends only on its status, its licence, and its consent
    record's offer and state, so the database groups the candidates by those (a few
    dozen groups for a million items), each licence is validated and evaluated once per
    consent state, and only the ids of allowed groups are read: the same answer as judging
    every item on its own, without loading a million objects.

    It reads the committed state of this transaction, so a withdrawal committed a moment
    earlier (even in the same second) is already excluded.
    """
    moment = as_utc(at) if at is not None else utcnow()
    if until is not None:
        use = dataclasses.replace(use, until=as_utc(until))
    denied = tuple(denied_industries)
    ignored = frozenset(str(code) for code in unjudged)
    selection = uow.selection
    groups = selection.groups([str(s) for s in _CANDIDATE_STATUSES], among)
    offers = {
        id_of(o): o
        for o in uow.all(LicenceOffer, id__in={g.licence_id for g in groups if g.licence_id})
    }
    terms: dict[int, Licence | None] = {}
    for offer_id, offer in offers.items():
        try:
            terms[offer_id] = offer.terms()
        except InvalidInput:
            terms[offer_id] = None  # fails closed: licence_invalid
    reasons: Counter[str] = Counter()
    excluded = 0
    allowed: set[tuple[int, str]] = set()
    held_for_approval: set[tuple[int, str]] = set()
    for group in groups:
        codes = _exclusion_codes(group, terms, use, moment, denied) - ignored
        if codes == {APPROVAL_PENDING}:
            assert group.licence_id is not None and group.consent_state is not None
            held_for_approval.add((group.licence_id, group.consent_state))
        elif codes:
            excluded += group.count
            for code in codes:
                reasons[code] += group.count
        else:
            assert group.licence_id is not None and group.consent_state is not None
            allowed.add((group.licence_id, group.consent_state))
    chosen = selection.selected_ids(str(ItemStatus.LISTED), allowed, among)
    waiting: list[int] = []
    if held_for_approval:
        approved = set(replica_approved)
        held = selection.selected_ids(str(ItemStatus.LISTED), held_for_approval, among)
        chosen = sorted([*chosen, *(i for i in held if i in approved)])
        waiting = [i for i in held if i not in approved]
        excluded += len(waiting)
        if waiting:
            reasons[APPROVAL_PENDING] += len(waiting)
    # Nothing to deliver, nothing to sell (fails closed on rows older than the rule that
    # keeps such items from being listed).
    empty = set(selection.undeliverable_ids(str(ItemStatus.LISTED), among))
    if empty:
        reasons[NO_DEIDENTIFIED_VERSION] += len(empty)
        excluded += sum(1 for i in chosen if i in empty)
        chosen = [i for i in chosen if i not in empty]
    return Selection(
        chosen,
        excluded,
        dict(sorted(reasons.items())),
        [i for i in waiting if i not in empty],
        {k: v for k, v in terms.items() if v is not None},
    )


def _exclusion_codes(
    group: Any,
    terms: Mapping[int, Licence | None],
    use: Use,
    at: datetime,
    denied_industries: tuple[str, ...],
) -> set[str]:
    """Why the items of one ``SelectionGroup`` may not be taken (empty: they may)."""
    codes: set[str] = set()
    if group.status != ItemStatus.LISTED:
        codes.add("item_withdrawn" if group.status == ItemStatus.WITHDRAWN else "item_not_listed")
    has_offer = group.licence_id is not None and group.licence_id in terms
    if not has_offer:
        codes.add("no_licence")
    if group.consent_state is None:
        codes.add("no_consent")
    if not has_offer:
        return codes
    licence = terms[group.licence_id]
    if licence is None:
        codes.add("licence_invalid")
        return codes
    if group.consent_state is not None and group.consent_offer_id != group.licence_id:
        # Consent was given under other terms than the item now carries: not consented.
        codes.add("consent_for_other_licence")
    state = group.consent_state if group.consent_state is not None else "active"
    decision: Decision = evaluate(
        licence, use, at, state=state, denied_industries=denied_industries
    )
    codes.update(str(c) for c in decision.codes if not decision.allowed)
    return codes
