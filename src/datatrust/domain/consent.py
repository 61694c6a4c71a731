"""Consent records (ISO/IEC TS 27560 fields) with an append-only history of events.

A ``ConsentRecord`` is the one consent record, stored as it is: its terms (a frozen
``ConsentTerms``) and its append-only events. ``withdraw``, ``expire`` and ``renew`` check
the transition and append one event (or change nothing and raise); the state is always
the last event's resulting state.

Transitions (anything else raises ``Conflict``):

    given     → active                (only as the first event: ``give_consent``)
    active    → withdrawn | expired   (``withdraw`` / ``expire``)
    expired   → withdrawn | active    (``withdraw`` / ``renew``)
    active    → active                (``renew``: extends ``expires_at``)
    withdrawn → nothing               (final: new consent means a new record)

Withdrawing must be as easy as giving (design §5), so withdrawing needs nothing but the
time and the actor. Event times may not go backwards, so the history reads in order.

``receipt_claims`` returns the JSON-able claims of a receipt for one event; signing them
is an adapter's job (no cryptography in the domain).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.licence import Licence
from datatrust.domain.purposes import PURPOSES
from datatrust.domain.territories import ISO_3166_ALPHA2

RECEIPT_VERSION = "datatrust-consent-receipt/2"
DPV = "https://w3id.org/dpv#"
DPV_LOC = "https://w3id.org/dpv/loc#"
DCT = "http://purl.org/dc/terms/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
# Giving consent is one button that does nothing else, after the licence was shown.
CONSENT_TYPE = DPV + "ExplicitlyExpressedConsent"
COLLECTION_METHOD = (
    "explicit action: the contributor pressed the consent button for this item (web page "
    "or API) after the licence was shown in plain words in their language"
)


class ConsentState(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class ConsentEventType(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    RENEWED = "renewed"


@dataclass(frozen=True)
class DataCategory:
    """A category of personal data (ideally a DPV ``pd:`` code such as "voice")."""

    code: str
    biometric: bool = False


@dataclass(eq=False)
class ConsentEvent:
    """One append-only event of a consent record; ``seq`` is its place, counting from 0."""

    type: ConsentEventType
    at: datetime
    actor: str  # "user:12", "system", "operator:3"
    resulting_state: ConsentState
    seq: int = 0
    consent_id: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class ConsentTerms:
    """What was agreed, in ISO/IEC TS 27560's fields: the PII principal (``subject_id``),
    the ``controller``, ``purposes`` (codes from ``purposes.PURPOSES``),
    ``data_categories`` (each flagged biometric or not), the notice shown
    (``notice_version``, ``notice_language`` as BCP 47), ``jurisdiction``, ``recipients``,
    ``retention`` (free text such as "until withdrawn, deleted within 30 days"),
    ``withdrawal_method``, ``expires_at`` and the licence version (``licence_id``)."""

    subject_id: str
    controller: str
    purposes: frozenset[str]
    data_categories: tuple[DataCategory, ...]
    notice_version: str
    notice_language: str
    jurisdiction: str
    recipients: tuple[str, ...]
    retention: str
    withdrawal_method: str
    expires_at: datetime | None = None
    licence_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, keys stable (what is stored, exported and shown as the fields)."""
        return {
            "subject_id": self.subject_id,
            "controller": self.controller,
            "purposes": sorted(self.purposes),
            "data_categories": [
                {"code": c.code, "biometric": c.biometric} for c in self.data_categories
            ],
            "notice_version": self.notice_version,
            "notice_language": self.notice_language,
            "jurisdiction": self.jurisdiction,
            "recipients": list(self.recipients),
            "retention": self.retention,
            "withdrawal_method": self.withdrawal_method,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "licence_id": self.licence_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsentTerms:
        """The inverse of ``to_dict``."""
        expires_at = data.get("expires_at")
        return cls(
            subject_id=data["subject_id"],
            controller=data["controller"],
            purposes=frozenset(data["purposes"]),
            data_categories=tuple(
                DataCategory(c["code"], c["biometric"]) for c in data["data_categories"]
            ),
            notice_version=data["notice_version"],
            notice_language=data["notice_language"],
            jurisdiction=data["jurisdiction"],
            recipients=tuple(data["recipients"]),
            retention=data["retention"],
            withdrawal_method=data["withdrawal_method"],
            expires_at=as_utc(datetime.fromisoformat(expires_at)) if expires_at else None,
            licence_id=data.get("licence_id"),
        )


@dataclass(eq=False)
class ConsentRecord:
    """Who agreed to what (``terms``), when and how, and every later change of state
    (``events``, append-only, in order). One record per item's consent; stored as such.

    ``state`` is always the last event's resulting state (kept as a column, so a
    selection reads it without replaying events). ``owner_id``, ``item_id`` and
    ``offer_id`` say whose item it is and under which licence offer; a record made by
    ``give_consent`` alone (in a test, say) may leave them unset.
    ``holders_notified``: the buyers found holding the item once it was withdrawn.
    """

    record_id: str
    terms: ConsentTerms
    events: list[ConsentEvent]
    state: ConsentState = ConsentState.ACTIVE
    owner_id: int | None = None
    item_id: int | None = None
    offer_id: int | None = None
    holders_notified: list[Any] | None = None
    holders_notified_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @property
    def given_at(self) -> datetime:
        return as_utc(self.events[0].at)

    @property
    def includes_biometric_data(self) -> bool:
        return any(c.biometric for c in self.terms.data_categories)

    def withdraw(self, at: datetime, actor: str) -> ConsentRecord:
        """Withdraw; raises ``Conflict`` if already withdrawn. Returns the record."""
        if self.state is ConsentState.WITHDRAWN:
            raise Conflict(
                Problem(None, "consent.withdrawn_already"), {"record_id": self.record_id}
            )
        return self._append(ConsentEventType.WITHDRAWN, at, actor, ConsentState.WITHDRAWN)

    def expire(self, at: datetime, actor: str = "system") -> ConsentRecord:
        """Mark expired; raises ``Conflict`` unless active. Returns the record."""
        if self.state is not ConsentState.ACTIVE:
            raise Conflict(
                Problem(None, "consent.not_active", {"state": str(self.state)}),
                {"record_id": self.record_id},
            )
        return self._append(ConsentEventType.EXPIRED, at, actor, ConsentState.EXPIRED)

    def renew(self, at: datetime, actor: str, expires_at: datetime | None) -> ConsentRecord:
        """Renew an active or expired consent until ``expires_at`` (None: no end).

        Raises ``Conflict`` for a withdrawn consent (the person must give new consent, on
        a new record) and ``InvalidInput`` if ``expires_at`` is not after ``at``.
        """
        if self.state is ConsentState.WITHDRAWN:
            raise Conflict(
                Problem(None, "consent.renew_withdrawn"),
                {"record_id": self.record_id},
            )
        if expires_at is not None and as_utc(expires_at) <= as_utc(at):
            raise InvalidInput(Problem("expires_at", "consent.renew_end"))
        self._append(ConsentEventType.RENEWED, at, actor, ConsentState.ACTIVE)
        self.terms = dataclasses.replace(
            self.terms, expires_at=as_utc(expires_at) if expires_at is not None else None
        )
        return self

    def add_recipient(self, recipient: str) -> bool:
        """Name ``recipient`` among those who received the data; False if already named."""
        if recipient in self.terms.recipients:
            return False
        self.terms = dataclasses.replace(self.terms, recipients=(*self.terms.recipients, recipient))
        return True

    def _append(
        self, kind: ConsentEventType, at: datetime, actor: str, state: ConsentState
    ) -> ConsentRecord:
        """Check and append one event; nothing changes when a check fails."""
        at = as_utc(at)
        last = as_utc(self.events[-1].at)
        if at < last:
            raise InvalidInput(Problem("at", "consent.event_earlier", {"at": at, "last": last}))
        if not actor.strip():
            raise InvalidInput(Problem("actor", "required"))
        self.events.append(
            ConsentEvent(type=kind, at=at, actor=actor, resulting_state=state, seq=len(self.events))
        )
        self.state = state
        self.updated_at = at
        return self


def give_consent(
    *,
    record_id: str,
    subject_id: str,
    controller: str,
    purposes: frozenset[str] | set[str],
    data_categories: tuple[DataCategory, ...] | list[DataCategory],
    notice_version: str,
    notice_language: str,
    jurisdiction: str,
    recipients: tuple[str, ...] | list[str] = (),
    retention: str,
    withdrawal_method: str,
    at: datetime,
    actor: str,
    expires_at: datetime | None = None,
    licence_id: str | None = None,
    owner_id: int | None = None,
    item_id: int | None = None,
    offer_id: int | None = None,
) -> ConsentRecord:
    """A new record whose only event is ``given``; raises ``InvalidInput`` listing every
    problem (empty fields, unknown purposes, no data categories, an end before the start).
    """
    problems: list[Problem] = []
    for name, value in (
        ("record_id", record_id),
        ("subject_id", subject_id),
        ("controller", controller),
        ("notice_version", notice_version),
        ("notice_language", notice_language),
        ("jurisdiction", jurisdiction),
        ("retention", retention),
        ("withdrawal_method", withdrawal_method),
        ("actor", actor),
    ):
        if not value.strip():
            problems.append(Problem(name, "required"))
    if not purposes:
        problems.append(Problem("purposes", "consent.purpose_required"))
    unknown = sorted(p for p in purposes if p not in PURPOSES)
    if unknown:
        problems.append(Problem("purposes", "unknown_codes", {"codes": unknown}))
    if not data_categories:
        problems.append(Problem("data_categories", "consent.category_required"))
    if any(not c.code.strip() for c in data_categories):
        problems.append(Problem("data_categories", "consent.category_code"))
    if expires_at is not None and as_utc(expires_at) <= as_utc(at):
        problems.append(Problem("expires_at", "consent.expires_after_given"))
    if problems:
        raise InvalidInput(problems)
    at = as_utc(at)
    given = ConsentEvent(ConsentEventType.GIVEN, at, actor, ConsentState.ACTIVE, seq=0)
    terms = ConsentTerms(
        subject_id=subject_id,
        controller=controller,
        purposes=frozenset(purposes),
        data_categories=tuple(data_categories),
        notice_version=notice_version,
        notice_language=notice_language,
        jurisdiction=jurisdiction,
        recipients=tuple(recipients),
        retention=retention,
        withdrawal_method=withdrawal_method,
        expires_at=as_utc(expires_at) if expires_at is not None else None,
        licence_id=licence_id,
    )
    return ConsentRecord(
        record_id=record_id,
        terms=terms,
        events=[given],
        state=ConsentState.ACTIVE,
        owner_id=owner_id,
        item_id=item_id,
        offer_id=offer_id,
        created_at=at,
        updated_at=at,
    )


@dataclass(frozen=True)
class Party:
    """A party named in a receipt by its IRI, with a name and a contact where known."""

    iri: str
    name: str
    email: str = ""


@dataclass(frozen=True)
class ReceiptContext:
    """Who issues the receipt and what the record points at, as IRIs (``domain.iris``).

    ``recipients`` are the organisations known to have received the data when the receipt
    is issued (a new receipt is issued when that list changes, for example after a sale).
    ``vocab`` is the instance's profile namespace: receipt keys with no DPV or Dublin Core
    term are terms of that profile.
    """

    issuer: str
    jwks_uri: str
    controller: Party
    policy_url: str
    subject: str
    vocab: str
    licence: str | None = None
    recipients: tuple[Party, ...] = ()


_STATUS = {
    ConsentState.ACTIVE: DPV + "ConsentGiven",
    ConsentState.WITHDRAWN: DPV + "ConsentWithdrawn",
    ConsentState.EXPIRED: DPV + "ConsentExpired",
}


def receipt_context(vocab: str) -> dict[str, Any]:
    """The JSON-LD ``@context`` of a receipt: ISO/IEC TS 27560 fields as DPV terms."""
    ref = {"@type": "@id"}
    return {
        "@vocab": vocab,
        "dpv": DPV,
        "dct": DCT,
        "vcard": VCARD,
        "record_id": "dct:identifier",
        "issuer": {"@id": "dct:publisher", **ref},
        "pii_principal": {"@id": "dpv:hasDataSubject", **ref},
        "pii_controllers": "dpv:hasDataController",
        "recipient_parties": "dpv:hasRecipient",
        "name": "vcard:fn",
        "contact": {"@id": "vcard:hasEmail", **ref},
        "policy_url": {"@id": "dpv:hasPolicy", **ref},
        "purpose": {"@id": "dpv:hasPurpose", **ref},
        "consent_type": {"@id": "dpv:hasLegalBasis", **ref},
        "consent_status": {"@id": "dpv:hasConsentStatus", **ref},
        "jurisdiction_iri": {"@id": "dpv:hasJurisdiction", **ref},
        "licence": ref,
        "jwks_uri": ref,
    }


def receipt_claims(
    record: ConsentRecord, event: ConsentEvent, context: ReceiptContext | None = None
) -> dict[str, Any]:
    """The claims of a receipt for ``event`` of ``record``: JSON-able, keys stable.

    The event must be one of the record's events (``InvalidInput`` otherwise). The claims
    describe the record as it stood right after that event, so a receipt for an old event
    does not change when later events are added. With a ``context`` they are a JSON-LD
    consent record per ISO/IEC TS 27560 (and the Kantara consent receipt's fields):
    issuer, collection method, the controller's identity and contact, the policy URL,
    each purpose with its DPV IRI, consent type and termination, third-party disclosure
    (the recipients known now), sensitive categories, the status as a DPV IRI.
    """
    if event not in record.events:
        raise InvalidInput(Problem("event", "consent.event_not_in_record"))
    claims = _base_claims(record, event)
    terms = record.terms
    if context is None:
        return claims
    recipients = [
        {"@id": p.iri, "name": p.name} for p in sorted(context.recipients, key=lambda p: p.iri)
    ]
    controller: dict[str, Any] = {"@id": context.controller.iri, "name": context.controller.name}
    if context.controller.email:
        controller["contact"] = f"mailto:{context.controller.email}"
    termination = f"until withdrawn ({terms.withdrawal_method})" + (
        f" or until {terms.expires_at.isoformat()}" if terms.expires_at else ""
    )
    sensitive = [c.code for c in terms.data_categories if c.biometric]
    status = _STATUS[event.resulting_state]
    if event.type is ConsentEventType.RENEWED:
        status = DPV + "RenewedConsentGiven"
    claims |= {
        "@context": receipt_context(context.vocab),
        "@id": f"{context.issuer}/consents/{record.record_id}",
        "iss": context.issuer,
        "issuer": context.issuer,
        "jwks_uri": context.jwks_uri,
        "schema": "ISO/IEC TS 27560:2023 consent record with DPV; Kantara CR v1.1 fields",
        "collection_method": COLLECTION_METHOD,
        "consent_timestamp": record.given_at.isoformat(),
        "pii_principal": context.subject,
        "pii_controllers": [controller],
        "policy_url": context.policy_url,
        "consent_status": status,
        "purpose_consents": [
            {
                "purpose": PURPOSES.term(code).iri,
                "code": code,
                "consent_type": CONSENT_TYPE,
                "primary_purpose": True,
                "termination": termination,
                "third_party_disclosure": bool(recipients),
                "third_party_names": [r["name"] for r in recipients],
            }
            for code in sorted(terms.purposes)
        ],
        "purpose": sorted(PURPOSES.term(code).iri for code in terms.purposes),
        "recipient_parties": recipients,
        "sensitive": bool(sensitive),
        "spi_categories": sensitive,
    }
    if terms.jurisdiction in ISO_3166_ALPHA2:
        claims["jurisdiction_iri"] = DPV_LOC + terms.jurisdiction
    if context.licence is not None:
        claims["licence"] = context.licence
    return claims


def _base_claims(record: ConsentRecord, event: ConsentEvent) -> dict[str, Any]:
    index = record.events.index(event)
    terms = record.terms
    return {
        "version": RECEIPT_VERSION,
        "record_id": record.record_id,
        "event": {
            "index": index,
            "type": str(event.type),
            "at": as_utc(event.at).isoformat(),
            "actor": event.actor,
            "resulting_state": str(event.resulting_state),
        },
        "pii_principal_id": terms.subject_id,
        "pii_controller": terms.controller,
        "purposes": [
            {"code": code, "dpv": PURPOSES.term(code).iri} for code in sorted(terms.purposes)
        ],
        "pii_categories": [
            {"code": c.code, "biometric": c.biometric} for c in terms.data_categories
        ],
        "notice": {
            "version": terms.notice_version,
            "language": terms.notice_language,
        },
        "jurisdiction": terms.jurisdiction,
        "recipients": list(terms.recipients),
        "retention": terms.retention,
        "withdrawal_method": terms.withdrawal_method,
        "given_at": record.given_at.isoformat(),
        "licence_id": terms.licence_id,
    }


@dataclass(eq=False)
class Receipt:
    """A signed receipt for one event (compact JWS, Ed25519)."""

    consent_id: int
    owner_id: int
    event_seq: int
    event_type: ConsentEventType
    jws: str
    kid: str
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


class OfferStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"


@dataclass(eq=False)
class LicenceOffer:
    """One version of a contributor's licence offer. ``licence`` is ``Licence.to_dict()``."""

    owner_id: int
    licence: dict[str, Any]
    version: int = 1
    supersedes_id: int | None = None
    status: OfferStatus = OfferStatus.ACTIVE
    is_default: bool = False
    created_at: datetime = field(default_factory=utcnow)
    # The licence's own id (``licence["id"]``), a column so a licence IRI finds its row.
    licence_key: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.licence_key:
            self.licence_key = str(self.licence.get("id") or "")

    def terms(self) -> Licence:
        """The stored terms, validated again (a stored offer that no longer validates
        raises ``InvalidInput``; ``selectable_items`` treats that as a denial)."""
        return Licence.from_dict(self.licence)
