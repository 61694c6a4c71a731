"""What this instance publishes under its own IRIs: the ODRL profile, each licence, the
parties, and the JSON-LD import of licences.

``Publication`` holds the instance's IRIs (``domain.iris``) and the key that makes a
person's IRI checkable. The documents served here are public by design: a licence IRI
carries the licence's random id (only those handed a policy or manifest know it), a
person's IRI says only "a person of this instance" and resolves only with its keyed
check, and an organisation's IRI gives the buyer's legal name, which contributors
already see in their passports.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from datatrust.domain.accounts import Organisation as OrgRecord
from datatrust.domain.accounts import OrgStatus, User
from datatrust.domain.consent import LicenceOffer
from datatrust.domain.errors import NotFound, Problem
from datatrust.domain.iris import InstanceIris
from datatrust.domain.licence import Licence
from datatrust.domain.odrl import context, licence_from_jsonld, licence_to_odrl
from datatrust.domain.odrl_profile import profile_document
from datatrust.services.ports import UnitOfWork

_PERSON_INFO = b"datatrust person iri v1"


@dataclass(frozen=True)
class Publication:
    """The instance's IRIs and who it says it is (the controller in consent receipts)."""

    iris: InstanceIris
    person_key: bytes
    operator_name: str = "the operator of this Datatrust instance"
    operator_email: str = ""
    policy_url: str = ""

    @classmethod
    def create(
        cls,
        base_url: str,
        secret_key: str,
        *,
        operator_name: str = "",
        operator_email: str = "",
        policy_url: str = "",
    ) -> Publication:
        iris = InstanceIris.for_base_url(base_url)
        key = hmac.new(secret_key.encode(), _PERSON_INFO, hashlib.sha256).digest()
        return cls(
            iris,
            key,
            operator_name or cls.operator_name,
            operator_email,
            policy_url or iris.base + "/licences",
        )

    def person_check(self, user_id: int) -> str:
        mac = hmac.new(self.person_key, str(user_id).encode(), hashlib.sha256).hexdigest()
        return mac[:16]

    def person(self, user_id: int) -> str:
        """A contributor's party IRI."""
        return self.iris.person(user_id, self.person_check(user_id))

    def licence_iri(self, licence: Licence) -> str:
        return self.iris.licence(licence.id, licence.version)


def profile(publication: Publication) -> dict[str, Any]:
    return profile_document(publication.iris)


def licence_document(
    uow: UnitOfWork, publication: Publication, licence_id: str, version: int
) -> dict[str, Any]:
    """The ODRL offer at a licence's IRI, for anyone holding the IRI (a manifest, an
    agreement): the terms only, with no contributor and no item (the contributor's own
    export and each agreement name the assigner). ``NotFound`` for an unknown id or
    version."""
    offer = uow.one(LicenceOffer, licence_key=licence_id, version=version)
    if offer is None:
        raise NotFound(
            Problem(None, "licence.not_found", {"licence": licence_id, "version": version})
        )
    return licence_to_odrl(offer.terms(), publication.iris)


def person_document(
    uow: UnitOfWork, publication: Publication, user_id: int, check: str
) -> dict[str, Any]:
    """A person as a party: nothing but that (no name, no contact)."""
    # As bytes: compare_digest refuses str with non-ASCII characters (that was a 500).
    known = hmac.compare_digest(check.encode(), publication.person_check(user_id).encode())
    user = uow.get(User, user_id) if known else None
    if user is None or user.erased_at is not None:
        raise NotFound(Problem(None, "person.not_found"))
    return _party(publication, publication.person(user_id), "foaf:Person", {})


def organisation_document(uow: UnitOfWork, publication: Publication, org_id: str) -> dict[str, Any]:
    """A buyer organisation as a party, with its legal name and country."""
    # ASCII digits a row id can be: "²" is a digit to isdigit(), and SQLite cannot bind
    # a number past 2**63 - 1 (both were 500s).
    plain = org_id.isascii() and org_id.isdigit() and len(org_id) <= 9
    org = uow.get(OrgRecord, int(org_id)) if plain else None
    if org is None or org.status not in (OrgStatus.APPROVED, OrgStatus.SUSPENDED):
        raise NotFound(Problem(None, "organisation.not_found"))
    iri = publication.iris.organisation(org_id)
    return _party(
        publication,
        iri,
        "foaf:Organization",
        {"vcard:fn": org.legal_name, "vcard:country-name": org.country},
    )


def operator_document(publication: Publication) -> dict[str, Any]:
    """The operator: the controller of the personal data contributors license."""
    extra: dict[str, Any] = {"vcard:fn": publication.operator_name}
    if publication.operator_email:
        extra["vcard:hasEmail"] = {"@id": f"mailto:{publication.operator_email}"}
    if publication.policy_url:
        extra["dpv:hasPolicy"] = {"@id": publication.policy_url}
    return _party(publication, publication.iris.operator, "foaf:Organization", extra)


def _party(publication: Publication, iri: str, kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [
            *context(publication.iris),
            {"foaf": "http://xmlns.com/foaf/0.1/"},
        ],
        "@id": iri,
        "@type": ["Party", kind],
        **extra,
    }


def import_licence(flat: Any, publication: Publication) -> Licence:
    """A licence from an ODRL document already flattened by ``adapters.jsonld``."""
    return licence_from_jsonld(flat, publication.iris)
