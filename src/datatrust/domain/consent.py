"""Consent records (ISO/IEC TS 27560 fields) with an append-only history of events.

A ``ConsentRecord`` is immutable; ``withdraw``, ``expire`` and ``renew`` return a new
record with one more event. The state is always the last event's resulting state.

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
from datatrust.domain.errors import Conflict, InvalidInput
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


@dataclass(frozen=True)
class ConsentEvent:
    type: ConsentEventType
    at: datetime
    actor: str  # "user:12", "system", "operator:3"
    resulting_state: ConsentState


@dataclass(frozen=True)
class ConsentRecord:
    """Who agreed to what, when and how, and every later change of state.

    Fields follow ISO/IEC TS 27560: the PII principal (``subject_id``), the ``controller``,
    ``purposes`` (codes from ``purposes.PURPOSES``), ``data_categories`` (each flagged
    biometric or not), the notice shown (``notice_version``, ``notice_language`` as BCP
    47), ``jurisdiction``, ``recipients``, ``retention`` (free text such as "until
    withdrawn, deleted within 30 days"), ``withdrawal_method`` and ``expires_at``.
    """

    record_id: str
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
    events: tuple[ConsentEvent, ...]
    expires_at: datetime | None = None
    licence_id: str | None = None

    @property
    def state(self) -> ConsentState:
        return self.events[-1].resulting_state

    @property
    def given_at(self) -> datetime:
        return self.events[0].at

    @property
    def includes_biometric_data(self) -> bool:
        return any(c.biometric for c in self.data_categories)

    def withdraw(self, at: datetime, actor: str) -> ConsentRecord:
        """Withdraw; raises ``Conflict`` if already withdrawn."""
        if self.state is ConsentState.WITHDRAWN:
            raise Conflict("consent is already withdrawn", {"record_id": self.record_id})
        return self._append(ConsentEventType.WITHDRAWN, at, actor, ConsentState.WITHDRAWN)

    def expire(self, at: datetime, actor: str = "system") -> ConsentRecord:
        """Mark expired; raises ``Conflict`` unless active."""
        if self.state is not ConsentState.ACTIVE:
            raise Conflict(f"consent is {self.state}, not active", {"record_id": self.record_id})
        return self._append(ConsentEventType.EXPIRED, at, actor, ConsentState.EXPIRED)

    def renew(self, at: datetime, actor: str, expires_at: datetime | None) -> ConsentRecord:
        """Renew an active or expired consent until ``expires_at`` (None: no end).

        Raises ``Conflict`` for a withdrawn consent (the person must give new consent, on
        a new record) and ``InvalidInput`` if ``expires_at`` is not after ``at``.
        """
        if self.state is ConsentState.WITHDRAWN:
            raise Conflict(
                "a withdrawn consent cannot be renewed; give consent again instead",
                {"record_id": self.record_id},
            )
        if expires_at is not None and as_utc(expires_at) <= as_utc(at):
            raise InvalidInput("the renewed consent must end after it is renewed")
        renewed = self._append(ConsentEventType.RENEWED, at, actor, ConsentState.ACTIVE)
        return dataclasses.replace(
            renewed, expires_at=as_utc(expires_at) if expires_at is not None else None
        )

    def _append(
        self, kind: ConsentEventType, at: datetime, actor: str, state: ConsentState
    ) -> ConsentRecord:
        at = as_utc(at)
        if at < self.events[-1].at:
            raise InvalidInput(
                "a consent event cannot be earlier than the one before it",
                problems=[f"at: {at.isoformat()} is before {self.events[-1].at.isoformat()}"],
            )
        if not actor.strip():
            raise InvalidInput("every consent event names its actor", problems=["actor: required"])
        event = ConsentEvent(type=kind, at=at, actor=actor, resulting_state=state)
        return dataclasses.replace(self, events=(*self.events, event))


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
) -> ConsentRecord:
    """A new record whose only event is ``given``; raises ``InvalidInput`` listing every
    problem (empty fields, unknown purposes, no data categories, an end before the start).
    """
    problems = []
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
            problems.append(f"{name}: required")
    if not purposes:
        problems.append("purposes: name at least one purpose")
    unknown = sorted(p for p in purposes if p not in PURPOSES)
    if unknown:
        problems.append(f"purposes: unknown code(s): {', '.join(unknown)}")
    if not data_categories:
        problems.append("data_categories: name at least one category of personal data")
    if any(not c.code.strip() for c in data_categories):
        problems.append("data_categories: every category needs a code")
    if expires_at is not None and as_utc(expires_at) <= as_utc(at):
        problems.append("expires_at: must be after the consent is given")
    if problems:
        raise InvalidInput("the consent record is not valid", problems=problems)
    given = ConsentEvent(ConsentEventType.GIVEN, as_utc(at), actor, ConsentState.ACTIVE)
    return ConsentRecord(
        record_id=record_id,
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
        events=(given,),
        expires_at=as_utc(expires_at) if expires_at is not None else None,
        licence_id=licence_id,
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
        raise InvalidInput("the event does not belong to this consent record")
    claims = _base_claims(record, event)
    if context is None:
        return claims
    recipients = [
        {"@id": p.iri, "name": p.name} for p in sorted(context.recipients, key=lambda p: p.iri)
    ]
    controller: dict[str, Any] = {"@id": context.controller.iri, "name": context.controller.name}
    if context.controller.email:
        controller["contact"] = f"mailto:{context.controller.email}"
    termination = f"until withdrawn ({record.withdrawal_method})" + (
        f" or until {record.expires_at.isoformat()}" if record.expires_at else ""
    )
    sensitive = [c.code for c in record.data_categories if c.biometric]
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
            for code in sorted(record.purposes)
        ],
        "purpose": sorted(PURPOSES.term(code).iri for code in record.purposes),
        "recipient_parties": recipients,
        "sensitive": bool(sensitive),
        "spi_categories": sensitive,
    }
    if record.jurisdiction in ISO_3166_ALPHA2:
        claims["jurisdiction_iri"] = DPV_LOC + record.jurisdiction
    if context.licence is not None:
        claims["licence"] = context.licence
    return claims


def _base_claims(record: ConsentRecord, event: ConsentEvent) -> dict[str, Any]:
    index = record.events.index(event)
    return {
        "version": RECEIPT_VERSION,
        "record_id": record.record_id,
        "event": {
            "index": index,
            "type": str(event.type),
            "at": event.at.isoformat(),
            "actor": event.actor,
            "resulting_state": str(event.resulting_state),
        },
        "pii_principal_id": record.subject_id,
        "pii_controller": record.controller,
        "purposes": [
            {"code": code, "dpv": PURPOSES.term(code).iri} for code in sorted(record.purposes)
        ],
        "pii_categories": [
            {"code": c.code, "biometric": c.biometric} for c in record.data_categories
        ],
        "notice": {"version": record.notice_version, "language": record.notice_language},
        "jurisdiction": record.jurisdiction,
        "recipients": list(record.recipients),
        "retention": record.retention,
        "withdrawal_method": record.withdrawal_method,
        "given_at": record.given_at.isoformat(),
        "licence_id": record.licence_id,
    }


@dataclass(eq=False)
class ConsentRow:
    """A stored consent record: the 27560 fields as JSON (``fields``), its events in
    ``ConsentEventRow``. ``state`` is the last event's resulting state, kept here so a
    selection can read it without replaying events."""

    uid: str
    owner_id: int
    item_id: int
    offer_id: int
    fields: dict[str, Any]
    state: ConsentState = ConsentState.ACTIVE
    holders_notified: list[Any] | None = None
    holders_notified_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass(eq=False)
class ConsentEventRow:
    """One append-only event of a consent record; ``seq`` counts from 0."""

    consent_id: int
    seq: int
    type: ConsentEventType
    at: datetime
    actor: str
    resulting_state: ConsentState
    id: int | None = None


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
