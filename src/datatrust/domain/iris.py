"""Every IRI this instance mints, in one place, under its own public base URL.

ODRL policies, Croissant manifests and consent receipts name licences, parties and the
ODRL profile by IRI. Those IRIs must be the same wherever they appear (one IRI per licence
version, whichever document names it) and must resolve on this instance, so they are
built here and nowhere else, from ``Settings.base_url`` (``InstanceIris.for_base_url``).
The web layer serves each of them (``web/api/standards.py``).

The project vocabularies (``purposes.py``) give their own terms IRIs under ``DT``, an
internal namespace. Documents this instance writes use ``vocab`` (the profile's
namespace, ``{base}/odrl/profile#``) instead; ``public`` and ``internal`` translate.

A person's IRI carries a keyed check (``person_check``, computed by the service from the
secret key) so that it resolves only for real people without revealing anything else.

Pure: stdlib only, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.purposes import DT

LICENCES_PATH = "/licences"
PROFILE_PATH = "/odrl/profile"
PEOPLE_PATH = "/parties/people"
ORGANISATIONS_PATH = "/parties/organisations"
OPERATOR_PATH = "/parties/operator"
# After a licence version's IRI: ``{licence}/agreements/{agreement id}``.
AGREEMENTS_SEGMENT = "/agreements/"


@dataclass(frozen=True)
class InstanceIris:
    """IRIs under ``base`` (scheme and host, optionally a path; no trailing slash)."""

    base: str

    @classmethod
    def for_base_url(cls, base_url: str) -> InstanceIris:
        """From the configured public address; ``InvalidInput`` unless it is http(s)."""
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(Problem("base_url", "base_url.not_http"))
        if parts.query or parts.fragment:
            raise InvalidInput(Problem("base_url", "base_url.query"))
        return cls(f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}")

    # --- the profile and its vocabulary -------------------------------------------------

    @property
    def profile(self) -> str:
        """The ODRL profile this instance's policies conform to (served as JSON-LD)."""
        return self.base + PROFILE_PATH

    @property
    def vocab(self) -> str:
        """The namespace of the profile's own terms (actions, left operands, events…)."""
        return self.profile + "#"

    def public(self, iri: str) -> str:
        """``iri`` as documents show it: the internal ``DT`` namespace becomes ``vocab``."""
        return self.vocab + iri[len(DT) :] if iri.startswith(DT) else iri

    def internal(self, iri: str) -> str:
        """The inverse of ``public``: a term of this profile back in the ``DT`` namespace."""
        return DT + iri[len(self.vocab) :] if iri.startswith(self.vocab) else iri

    # --- licences and what they cover ---------------------------------------------------

    def licence(self, licence_id: str, version: int) -> str:
        """The one IRI of a licence version: ODRL ``uid`` and Croissant ``license`` alike."""
        return f"{self.base}{LICENCES_PATH}/{quote(licence_id, safe='')}/v{version}"

    def licence_assets(self, licence_id: str, version: int) -> str:
        """The asset collection an offer covers: every item its contributor attaches it to."""
        return self.licence(licence_id, version) + "#assets"

    def item(self, item_id: int | str) -> str:
        return f"{self.base}/items/{quote(str(item_id), safe='')}"

    def agreement(self, licence_id: str, version: int, agreement_id: int) -> str:
        """An agreement (one item's licence version taken by one buyer), under the IRI of
        its licence version; it resolves for the buyer (and the operator)."""
        return f"{self.licence(licence_id, version)}{AGREEMENTS_SEGMENT}{agreement_id}"

    def agreement_id(self, iri: str) -> int | None:
        """The agreement id in an IRI made by ``agreement``, else None."""
        head, sep, tail = iri.rpartition(AGREEMENTS_SEGMENT)
        if not sep or not head.startswith(self.base + LICENCES_PATH + "/"):
            return None
        return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 9 else None

    # --- parties ------------------------------------------------------------------------

    def person(self, user_id: int, check: str) -> str:
        """A contributor, as ``{user_id}.{check}`` (see ``person_check`` in services)."""
        return f"{self.base}{PEOPLE_PATH}/{user_id}.{check}"

    def organisation(self, org_id: str) -> str:
        return f"{self.base}{ORGANISATIONS_PATH}/{quote(org_id, safe='')}"

    @property
    def operator(self) -> str:
        """The operator of this instance: the controller named in consent receipts."""
        return self.base + OPERATOR_PATH

    def organisation_id(self, iri: str) -> str | None:
        """The organisation id in an IRI made by ``organisation``, else None."""
        prefix = f"{self.base}{ORGANISATIONS_PATH}/"
        if not iri.startswith(prefix) or "/" in iri[len(prefix) :]:
            return None

        return unquote(iri[len(prefix) :]) or None
