"""Licences as ODRL 2.2 JSON-LD offers and agreements, and back, read by meaning.

Export (``licence_to_odrl``, ``agreement_to_odrl``) writes compacted JSON-LD with the ODRL
context and a small context of prefixes. The shape, term by term:

- the policy's ``uid`` is the licence IRI (``InstanceIris.licence``), ``profile`` the
  instance's ODRL profile (served there with every term below that is not ODRL's own);
- every rule (permission, prohibition, obligation) has a ``target``: the asset collection
  of the offer (every item the contributor attaches it to) or, when given, one item;
- permissions are constrained by ``purpose`` (DPV / DPV-AI IRIs, see ``purposes.py``),
  ``dateTime`` (``gteq`` start, ``lt`` end) and ``spatial`` (DPV-LOC ISO 3166-1 IRIs such
  as ``https://w3id.org/dpv/loc#IN``; none means worldwide);
- the price is a ``compensate`` duty refined by ``payAmount`` (an ``xsd:decimal`` in the
  currency's major unit, exact: it is written from integer minor units) with ``unit`` the
  currency (QUDT's ISO 4217 unit IRI) and the profile's ``pricePer`` (item or minute);
  the royalty is a ``compensate`` duty refined by ``percentage`` that applies after the
  ``event`` of a sale;
- prohibitions: purposes, ``industry`` (ODRL's left operand, values from the profile),
  kinds of use (the profile's ``useKind``), excluded territories, and always ``transfer``
  and ``grantUse``;
- a replica grant is a permission of its own to ``use`` the asset for the kind of use
  ``digital_replica`` (``dt:useKind``), constrained by its media (``dt:replicaMedium``),
  languages (ODRL's ``language``, BCP 47 tags), product categories
  (``dt:replicaCategory``), channels (ODRL's ``deliveryChannel``) and its own period
  (``dateTime``, to ``replica_until``, which may pass the licence's end). An empty list
  there allows nothing. It carries the price duties, and "ask me each time" as an
  ``obtainConsent`` duty;
- a promised notice before a withdrawal takes effect is the ``delayPeriod`` of the deletion
  duty (an ``xsd:duration``): the duty to delete waits that long after the revocation;
- obligations apply after an ``event`` (revocation, the licence's end). ODRL has no left
  operand for a deadline: ``elapsedTime`` is the total time an action may be exercised and
  ``delayPeriod`` a wait before it, neither a time limit after an event. So the deletion
  duty carries the profile's ``deadlineAfterEvent`` (``lteq`` an ``xsd:duration``).

Import (``licence_from_jsonld``, ``agreement_from_jsonld``) takes the document already
flattened to expanded JSON-LD (``adapters.jsonld.flatten``: any equivalent serialisation,
compacted with any context, expanded or flattened, gives the same nodes) and maps it by
IRI. Everything it cannot place is a problem; it raises ``InvalidInput`` listing all of
them, so an unknown purpose, territory, action or property is refused with its reason.

Pure: no JSON-LD processing here (the adapter does that), just dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from datatrust.domain.clock import as_utc
from datatrust.domain.currencies import MINOR_UNITS
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.iris import InstanceIris
from datatrust.domain.licence import Licence, Organisation, Use
from datatrust.domain.purposes import (
    ACTIONS,
    DPV,
    DPV_AI,
    DT,
    INDUSTRIES,
    ODRL,
    OUTPUTS,
    PURPOSES,
    REPLICA_CATEGORIES,
    REPLICA_CHANNELS,
    REPLICA_MEDIA_TERMS,
    REPLICA_USE,
    TASKS,
    USES,
    Vocabulary,
)
from datatrust.domain.territories import ISO_3166_ALPHA2, WORLD

ODRL_CONTEXT_URL = "http://www.w3.org/ns/odrl.jsonld"
DCT = "http://purl.org/dc/terms/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
DPV_LOC = "https://w3id.org/dpv/loc#"
# QUDT's currency units are named CCY_ plus the ISO 4217 code.
CURRENCY_UNIT = "http://qudt.org/vocab/unit/CCY_"

# The ODRL 2.2 context, as this project reads it (bundled by ``adapters.jsonld``; nothing is
# fetched). Terms map into the ODRL namespace; the ones whose string values are IRIs are
# coerced so that ``"action": "use"`` and ``"target": "https://…"`` mean nodes.
ODRL_CONTEXT: dict[str, Any] = {
    "odrl": ODRL,
    "@vocab": ODRL,
    "uid": "@id",
    "type": "@type",
    "rdf": RDF,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": XSD,
    "dct": DCT,
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "vcard": VCARD,
    "profile": {"@type": "@id"},
    "inheritFrom": {"@type": "@id"},
    "conflict": {"@type": "@vocab"},
    "assigner": {"@type": "@id"},
    "assignee": {"@type": "@id"},
    "target": {"@type": "@id"},
    "output": {"@type": "@id"},
    "partOf": {"@type": "@id"},
    "source": {"@type": "@id"},
    "action": {"@type": "@vocab"},
    "leftOperand": {"@type": "@vocab"},
    "operator": {"@type": "@vocab"},
    "rightOperandReference": {"@type": "@id"},
    "dataType": {"@type": "@id"},
    "unit": {"@type": "@id"},
    "status": {"@type": "@id"},
}

_ON_END_ACTIONS = {
    "retrain_without": DT + "retrainWithout",
    "keep_no_new_training": DT + "keepNoNewTraining",
    "delete_model": DT + "deleteModel",
}
_ON_END_BY_ACTION = {v: k for k, v in _ON_END_ACTIONS.items()}
_ALWAYS_PROHIBITED = ("transfer", "grantUse")
# Events obligations and duties follow (declared in the profile).
EVENT_REVOCATION = DT + "revocation"
EVENT_LICENCE_END = DT + "licenceEnd"
EVENT_SALE = DT + "sale"
PRICE_PER = {"item": DT + "perItem", "minute": DT + "perMinute"}
_PRICE_UNIT_BY_IRI = {v: k for k, v in PRICE_PER.items()}


def context(iris: InstanceIris) -> list[Any]:
    """The ``@context`` of exported documents: ODRL's, then this instance's prefixes."""
    return [
        ODRL_CONTEXT_URL,
        {
            "odrl": ODRL,
            "dpv": DPV,
            "ai": DPV_AI,
            "loc": DPV_LOC,
            "dt": iris.vocab,
            "dct": DCT,
            "xsd": XSD,
            "rdf": RDF,
            "vcard": VCARD,
        },
    ]


def territory_iri(code: str) -> str:
    """The DPV-LOC IRI of an ISO 3166-1 alpha-2 territory (``loc:IN``)."""
    return DPV_LOC + code


def territory_code(iri: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a DPV-LOC country IRI, else None."""
    if iri.startswith(DPV_LOC) and iri[len(DPV_LOC) :] in ISO_3166_ALPHA2:
        return iri[len(DPV_LOC) :]
    return None


def pay_amount(price_minor: int, currency: str) -> str:
    """Integer minor units as an exact decimal in major units ("1.50" for 150 USD)."""
    digits = MINOR_UNITS[currency]
    return str(Decimal(price_minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


# --- export ---------------------------------------------------------------------------


class _Writer:
    def __init__(self, iris: InstanceIris) -> None:
        self.iris = iris

    def ref(self, iri: str) -> dict[str, str]:
        return {"@id": self.compact(iri)}

    def compact(self, iri: str) -> str:
        iri = self.iris.public(iri)
        for prefix, namespace in (
            ("dpv:", DPV),
            ("ai:", DPV_AI),
            ("loc:", DPV_LOC),
            ("dt:", self.iris.vocab),
        ):
            if iri.startswith(namespace):
                return prefix + iri[len(namespace) :]
        return "odrl:" + iri[len(ODRL) :] if iri.startswith(ODRL) else iri

    def refs(self, vocabulary: Vocabulary, codes: Iterable[str]) -> list[dict[str, str]]:
        return [self.ref(vocabulary.iri(c)) for c in sorted(codes)]


def _datetime(moment: datetime) -> dict[str, str]:
    return {"@value": as_utc(moment).isoformat(), "@type": "xsd:dateTime"}


def _integer(n: int) -> dict[str, Any]:
    return {"@value": n, "@type": "xsd:integer"}


def _constraint(left: str, operator: str, right: Any, **extra: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right, **extra}


def licence_to_odrl(
    licence: Licence,
    iris: InstanceIris,
    *,
    assigner: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """The licence as an ODRL 2.2 ``Offer``. ``assigner`` is the contributor's party IRI;
    ``target`` one item's IRI (default: the offer's asset collection). Every rule names
    the target (and the assigner, when given)."""
    w = _Writer(iris)
    parties = {"assigner": assigner} if assigner is not None else {}
    target_node: Any = target
    if target is None:
        target_node = {
            "@id": iris.licence_assets(licence.id, licence.version),
            "@type": "AssetCollection",
        }

    def rule(action: str, **fields: Any) -> dict[str, Any]:
        return {"target": target_node, **parties, "action": action, **fields}

    shared = [
        _constraint("purpose", "isAnyOf", w.refs(PURPOSES, licence.permitted_purposes)),
        _constraint("dateTime", "gteq", _datetime(licence.valid_from)),
        _constraint("dateTime", "lt", _datetime(licence.valid_until)),
    ]
    if not licence.worldwide:
        places = [w.ref(territory_iri(c)) for c in sorted(licence.territories)]
        shared.append(_constraint("spatial", "isAnyOf", places))
    price = {
        "action": [
            {
                "rdf:value": {"@id": "odrl:compensate"},
                "refinement": [
                    _constraint(
                        "payAmount",
                        "eq",
                        {
                            "@value": pay_amount(licence.price_minor, licence.currency),
                            "@type": "xsd:decimal",
                        },
                        unit=CURRENCY_UNIT + licence.currency,
                    ),
                    _constraint("dt:pricePer", "eq", w.ref(PRICE_PER[licence.price_unit])),
                ],
            }
        ]
    }
    royalty = {
        "action": [
            {
                "rdf:value": {"@id": "odrl:compensate"},
                "refinement": [
                    _constraint("percentage", "eq", _integer(licence.royalty_share_percent))
                ],
            }
        ],
        "constraint": [_constraint("event", "gt", w.ref(EVENT_SALE))],
    }
    permissions = [
        rule(w.compact(ACTIONS.iri(action)), constraint=shared, duty=[price, royalty])
        for action in sorted(licence.permitted_actions)
    ]
    if licence.allows_replica:
        permissions.append(rule("use", **_replica_grant(w, licence, [price, royalty])))
    prohibitions: list[dict[str, Any]] = []
    for left, vocabulary, codes in (
        ("purpose", PURPOSES, licence.prohibited_purposes),
        ("industry", INDUSTRIES, licence.prohibited_industries),
        ("dt:useKind", USES, licence.prohibited_uses),
    ):
        if codes:
            constraint = [_constraint(left, "isAnyOf", w.refs(vocabulary, codes))]
            prohibitions.append(rule("use", constraint=constraint))
    if licence.excluded_territories:
        places = [w.ref(territory_iri(c)) for c in sorted(licence.excluded_territories)]
        prohibitions.append(rule("use", constraint=[_constraint("spatial", "isAnyOf", places)]))
    prohibitions += [rule(action) for action in _ALWAYS_PROHIBITED]
    deletion = [
        _constraint("event", "gt", w.ref(EVENT_REVOCATION)),
        _constraint("dt:deadlineAfterEvent", "lteq", _days(licence.deletion_deadline_days)),
    ]
    if licence.withdrawal_notice_days:
        deletion.append(_constraint("delayPeriod", "eq", _days(licence.withdrawal_notice_days)))
    obligations = [
        rule("delete", constraint=deletion),
        rule(
            w.compact(_ON_END_ACTIONS[licence.on_end]),
            constraint=[_constraint("event", "gt", w.ref(EVENT_LICENCE_END))],
        ),
    ]
    doc: dict[str, Any] = {
        "@context": context(iris),
        "@type": "Offer",
        "uid": iris.licence(licence.id, licence.version),
        "profile": iris.profile,
        "dct:title": licence.title,
        "dt:licenceId": licence.id,
        "dt:version": _integer(licence.version),
        "dt:revocable": True,
        "dt:exclusive": licence.exclusive,
    }
    if licence.exclusive_until is not None:
        doc["dt:exclusiveUntil"] = _datetime(licence.exclusive_until)
    if licence.exclusive_to is not None:
        doc["dt:exclusiveTo"] = {"@id": iris.organisation(licence.exclusive_to)}
    if licence.offered_to:
        doc["dt:offeredTo"] = [{"@id": iris.organisation(o)} for o in sorted(licence.offered_to)]
    if licence.permitted_uses:
        # Sensitive uses are denied unless the licence names them; these are the named ones.
        doc["dt:permittedUseKind"] = w.refs(USES, licence.permitted_uses)
    if licence.replica_use_description is not None:
        doc["dt:replicaUseDescription"] = licence.replica_use_description
    if assigner is not None:
        doc["assigner"] = assigner
    doc["permission"] = permissions
    doc["prohibition"] = prohibitions
    doc["obligation"] = obligations
    return doc


def _days(n: int) -> dict[str, str]:
    return {"@value": f"P{n}D", "@type": "xsd:duration"}


def _replica_grant(w: _Writer, licence: Licence, price_duties: list[Any]) -> dict[str, Any]:
    """The constraints and duties of the replica grant's own permission (see the module
    docstring)."""
    languages = [
        {"@value": code, "@type": "xsd:language"} for code in sorted(licence.replica_languages)
    ]
    duties = list(price_duties)
    if licence.replica_ask_each_time:
        duties.append({"action": "obtainConsent"})
    return {
        "constraint": [
            _constraint("dt:useKind", "isAnyOf", w.refs(USES, {REPLICA_USE})),
            _constraint(
                "dt:replicaMedium", "isAnyOf", w.refs(REPLICA_MEDIA_TERMS, licence.replica_media)
            ),
            _constraint("language", "isAnyOf", languages),
            _constraint(
                "dt:replicaCategory",
                "isAnyOf",
                w.refs(REPLICA_CATEGORIES, licence.replica_categories),
            ),
            _constraint(
                "deliveryChannel", "isAnyOf", w.refs(REPLICA_CHANNELS, licence.replica_channels)
            ),
            _constraint("dateTime", "gteq", _datetime(licence.valid_from)),
            _constraint("dateTime", "lt", _datetime(licence.replica_ends_at)),
        ],
        "duty": duties,
    }


@dataclass(frozen=True)
class Agreement:
    """An offer taken by one buyer for one declared use on a given date; ``id`` is the
    agreement's id on this instance (its IRI is ``InstanceIris.agreement``)."""

    licence: Licence
    assignee: Organisation
    use: Use
    agreed_at: datetime
    id: int


def agreement_to_odrl(
    agreement: Agreement,
    iris: InstanceIris,
    *,
    assigner: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """The agreement as an ODRL 2.2 ``Agreement``: the offer's rules, the buyer as
    ``assignee`` of every rule and the agreed use under ``dt:agreedUse``, its terms as IRIs.
    """
    w = _Writer(iris)
    use = agreement.use
    org = agreement.assignee
    buyer = iris.organisation(org.id)
    doc = licence_to_odrl(agreement.licence, iris, assigner=assigner, target=target)
    for key in ("permission", "prohibition", "obligation"):
        doc[key] = [{**rule, "assignee": buyer} for rule in doc[key]]
    agreed_use: dict[str, Any] = {
        "dt:action": w.ref(ACTIONS.iri(use.action)),
        "dpv:hasPurpose": w.ref(PURPOSES.iri(use.purpose)),
        "dt:industry": w.ref(INDUSTRIES.iri(use.industry)),
        "dt:territory": w.ref(territory_iri(use.territory)),
        "dt:at": _datetime(use.at),
        "dt:declaredUse": w.refs(USES, use.declared_uses),
        "dt:recipient": {
            "@id": iris.organisation(use.recipient_org.id),
            "vcard:fn": use.recipient_org.name,
        },
    }
    # What the model does and until when are part of what was agreed (issue 16 §2, §4).
    if use.task is not None:
        agreed_use["dt:task"] = w.ref(TASKS.iri(use.task))
    if use.outputs:
        agreed_use["dt:output"] = w.refs(OUTPUTS, use.outputs)
    if use.until is not None:
        agreed_use["dt:until"] = _datetime(use.until)
    licence = agreement.licence
    return {
        **doc,
        "@type": "Agreement",
        "uid": iris.agreement(licence.id, licence.version, agreement.id),
        "assignee": {"@id": buyer, "vcard:fn": org.name},
        "dt:agreedAt": _datetime(agreement.agreed_at),
        "dt:agreedUse": agreed_use,
    }


# --- import (expanded, flattened JSON-LD) ---------------------------------------------

_TYPE = "@type"
_RULE_KEYS = {"@id", ODRL + "target", ODRL + "action", ODRL + "constraint", ODRL + "assigner"}
_CONSTRAINT_KEYS = {"@id", _TYPE, ODRL + "leftOperand", ODRL + "operator", ODRL + "rightOperand"}
_XSD_INTEGER = XSD + "integer"
_POLICY_KEYS = {
    "@id",
    _TYPE,
    ODRL + "profile",
    ODRL + "assigner",
    ODRL + "assignee",
    ODRL + "permission",
    ODRL + "prohibition",
    ODRL + "obligation",
    DCT + "title",
    *(
        DT + name
        for name in (
            "licenceId",
            "version",
            "revocable",
            "exclusive",
            "exclusiveUntil",
            "exclusiveTo",
            "offeredTo",
            "permittedUseKind",
            "replicaUseDescription",
            "agreedAt",
            "agreedUse",
        )
    ),
}


# The problem for an IRI a vocabulary does not know, by the vocabulary's name.
_UNKNOWN_TERM = {
    "purposes": "odrl.unknown_purpose",
    "industries": "odrl.unknown_industry",
    "actions": "odrl.unknown_action",
    "uses": "odrl.unknown_use",
    "replica categories": "odrl.unknown_replica_category",
    "replica media": "odrl.unknown_replica_medium",
    "replica channels": "odrl.unknown_replica_channel",
    "tasks": "odrl.unknown_task",
    "outputs": "odrl.unknown_output",
}


class _Reader:
    """Reads flattened, expanded JSON-LD nodes by IRI, collecting every problem."""

    def __init__(self, flat: Any, iris: InstanceIris) -> None:
        self.iris = iris
        self.problems: list[Problem] = []
        nodes = flat if isinstance(flat, list) else []
        self.nodes = {n["@id"]: n for n in nodes if isinstance(n, Mapping) and "@id" in n}

    def problem(self, where: str | None, code: str, **params: Any) -> None:
        self.problems.append(Problem(where, code, params))

    def node(self, ref: Any) -> Mapping[str, Any]:
        if isinstance(ref, Mapping) and "@id" in ref:
            return self.nodes.get(ref["@id"], ref)
        return ref if isinstance(ref, Mapping) else {}

    def nodes_of(self, node: Mapping[str, Any], prop: str) -> list[Mapping[str, Any]]:
        return [self.node(v) for v in node.get(prop, [])]

    def iris_of(self, node: Mapping[str, Any], prop: str, where: str) -> list[str]:
        out = []
        for value in node.get(prop, []):
            if isinstance(value, Mapping) and isinstance(value.get("@id"), str):
                out.append(self.iris.internal(value["@id"]))
            else:
                self.problem(where, "odrl.expected_iri", given=_show(value))
        return out

    def one_iri(self, node: Mapping[str, Any], prop: str, where: str) -> str | None:
        found = self.iris_of(node, prop, where)
        if len(found) != 1:
            if found or prop in node:
                self.problem(where, "odrl.one_iri")
            else:
                self.problem(where, "odrl.missing")
            return None
        return found[0]

    def literal(self, node: Mapping[str, Any], prop: str, where: str) -> Any:
        values = node.get(prop, [])
        if len(values) != 1 or not isinstance(values[0], Mapping) or "@value" not in values[0]:
            self.problem(where, "odrl.one_value" if values else "odrl.no_value")
            return None
        return _python(values[0])

    def typed(self, node: Mapping[str, Any], prop: str, where: str, kind: type) -> Any:
        value = self.literal(node, prop, where)
        if value is None:
            return None
        if kind is int and isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if kind is bool and value in ("true", "false"):
            value = value == "true"
        if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
            self.problem(where, "odrl.unexpected_value", given=repr(value))
            return None
        return value

    def moment(self, node: Mapping[str, Any], prop: str, where: str) -> datetime | None:
        raw = self.typed(node, prop, where, str)
        if raw is None:
            return None
        try:
            return as_utc(datetime.fromisoformat(raw))
        except ValueError:
            self.problem(where, "date_time_not_iso", given=raw)
            return None

    def codes(self, iris: Iterable[str], vocabulary: Vocabulary, where: str) -> set[str]:
        out = set()
        for iri in iris:
            code = vocabulary.code_for_iri(iri)
            if code is None:
                unknown = _UNKNOWN_TERM[vocabulary.name]
                self.problem(where, unknown, iri=self.iris.public(iri))
            else:
                out.add(code)
        return out

    def territories(self, iris: Iterable[str], where: str) -> set[str]:
        out = set()
        for iri in iris:
            code = territory_code(iri)
            if code is None:
                self.problem(where, "odrl.territory", iri=iri)
            else:
                out.add(code)
        return out

    def organisations(self, iris: Iterable[str], where: str) -> set[str]:
        out = set()
        for iri in iris:
            org = self.iris.organisation_id(iri)
            if org is None:
                self.problem(where, "odrl.organisation", iri=iri)
            else:
                out.add(org)
        return out

    def unexpected_keys(self, node: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in sorted(set(node) - allowed):
            self.problem(where, "odrl.unexpected_property", key=key)


def _python(value: Mapping[str, Any]) -> Any:
    raw = value["@value"]
    if value.get(_TYPE) == _XSD_INTEGER and isinstance(raw, str) and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class _Constraint:
    left: str | None
    operator: str | None
    node: Mapping[str, Any]


def _constraints(r: _Reader, node: Mapping[str, Any], prop: str, where: str) -> list[_Constraint]:
    out = []
    for i, c in enumerate(r.nodes_of(node, ODRL + prop)):
        here = f"{where}.{prop}[{i}]"
        if set(c) & {ODRL + "and", ODRL + "or", ODRL + "xone", ODRL + "andSequence"}:
            r.problem(here, "odrl.logical_constraint")
            continue
        r.unexpected_keys(c, _CONSTRAINT_KEYS | {ODRL + "unit"}, here)
        left = r.one_iri(c, ODRL + "leftOperand", f"{here}.leftOperand")
        op = r.one_iri(c, ODRL + "operator", f"{here}.operator")
        out.append(_Constraint(left, op, c))
    return out


def _policy(r: _Reader) -> tuple[Mapping[str, Any] | None, str | None]:
    found = [
        (n, t)
        for n in r.nodes.values()
        for t in n.get(_TYPE, [])
        if t in (ODRL + "Offer", ODRL + "Agreement")
    ]
    if len(found) != 1:
        return None, None
    return found[0][0], found[0][1][len(ODRL) :]


def licence_from_jsonld(flat: Any, iris: InstanceIris) -> Licence:
    """The licence in an ODRL ``Offer`` or ``Agreement`` (flattened, expanded JSON-LD).

    Raises ``InvalidInput`` listing every problem: not exactly one Offer or Agreement,
    an unknown purpose, action, territory, industry or kind of use, a constraint or
    property this profile does not define, or a licence that breaks the licence rules
    (including any grant of transfer or sublicensing, which a licence cannot express).
    """
    r = _Reader(flat, iris)
    licence = _read_licence(r)
    if r.problems or licence is None:
        raise InvalidInput(r.problems)
    return licence


def _read_licence(r: _Reader) -> Licence | None:
    doc, _kind = _policy(r)
    if doc is None:
        r.problem("@type", "odrl.one_policy")
        return None
    doc = _internal_keys(r, doc)
    r.unexpected_keys(doc, _POLICY_KEYS, "policy")
    profile = r.one_iri(doc, ODRL + "profile", "profile")
    if profile is not None and profile != r.iris.profile:
        # Another profile's terms may share names with ours and mean something else.
        r.problem("profile", "odrl.other_profile", given=profile, profile=r.iris.profile)
    dt = DT
    fields: dict[str, Any] = {
        "id": r.typed(doc, dt + "licenceId", "dt:licenceId", str),
        "version": r.typed(doc, dt + "version", "dt:version", int),
        "title": r.typed(doc, DCT + "title", "dct:title", str),
        "exclusive": r.typed(doc, dt + "exclusive", "dt:exclusive", bool),
        "exclusive_until": None,
        "replica_use_description": None,
    }
    if r.typed(doc, dt + "revocable", "dt:revocable", bool) is not True:
        r.problem("dt:revocable", "odrl.revocable")
    if dt + "exclusiveUntil" in doc:
        fields["exclusive_until"] = r.moment(doc, dt + "exclusiveUntil", "dt:exclusiveUntil")
    if dt + "exclusiveTo" in doc:
        org = r.organisations(
            r.iris_of(doc, dt + "exclusiveTo", "dt:exclusiveTo"), "dt:exclusiveTo"
        )
        fields["exclusive_to"] = next(iter(org), None)
    if dt + "offeredTo" in doc:
        fields["offered_to"] = r.organisations(
            r.iris_of(doc, dt + "offeredTo", "dt:offeredTo"), "dt:offeredTo"
        )
    if dt + "permittedUseKind" in doc:
        named = r.iris_of(doc, dt + "permittedUseKind", "dt:permittedUseKind")
        fields["permitted_uses"] = r.codes(named, USES, "dt:permittedUseKind")
    if dt + "replicaUseDescription" in doc:
        fields["replica_use_description"] = r.typed(
            doc, dt + "replicaUseDescription", "dt:replicaUseDescription", str
        )
    _read_permissions(r, doc, fields)
    _read_prohibitions(r, doc, fields)
    _read_obligations(r, doc, fields)
    if r.problems:
        return None
    try:
        return Licence.from_dict({k: v for k, v in fields.items() if v is not None})
    except InvalidInput as error:
        r.problems.extend(error.problems)
        return None


def _rule_action(r: _Reader, rule: Mapping[str, Any], where: str) -> str | None:
    action = r.one_iri(rule, ODRL + "action", f"{where}.action")
    if ODRL + "target" not in rule:
        r.problem(where, "odrl.target")
    return action


def _read_permissions(r: _Reader, doc: Mapping[str, Any], fields: dict[str, Any]) -> None:
    permissions, grants = [], []
    actions: set[str] = set()
    shapes = set()
    for i, rule in enumerate(r.nodes_of(doc, ODRL + "permission")):
        where = f"permission[{i}]"
        r.unexpected_keys(rule, _RULE_KEYS | {ODRL + "duty", ODRL + "assignee"}, where)
        action = _rule_action(r, rule, where)
        if action == ODRL + "use":  # only the replica grant permits plain use
            grants.append((where, rule))
            continue
        permissions.append(rule)
        if action is not None:
            actions |= r.codes([action], ACTIONS, f"{where}.action")
        shapes.add(_shape(r, rule))
    if not permissions:
        r.problem("permission", "odrl.permission_required")
        return
    if len(shapes) > 1:
        r.problem("permission", "odrl.permissions_differ")
    fields["permitted_actions"] = actions
    fields["territories"] = {WORLD}
    first = permissions[0]
    if len(grants) > 1:
        r.problem("permission", "odrl.one_replica_grant")
    for where, grant in grants[:1]:
        if _shape_of_duties(r, grant, price_only=True) != _shape_of_duties(r, first):
            r.problem(where, "odrl.replica_price_duties")
        _read_replica_grant(r, grant, where, fields)
    for c in _constraints(r, first, "constraint", "permission[0]"):
        right = c.node
        if c.left == ODRL + "purpose" and c.operator == ODRL + "isAnyOf":
            named = r.iris_of(right, ODRL + "rightOperand", "purpose")
            fields["permitted_purposes"] = r.codes(named, PURPOSES, "permission purpose")
        elif c.left == ODRL + "dateTime" and c.operator == ODRL + "gteq":
            fields["valid_from"] = r.moment(right, ODRL + "rightOperand", "dateTime gteq")
        elif c.left == ODRL + "dateTime" and c.operator == ODRL + "lt":
            fields["valid_until"] = r.moment(right, ODRL + "rightOperand", "dateTime lt")
        elif c.left == ODRL + "spatial" and c.operator == ODRL + "isAnyOf":
            places = r.iris_of(right, ODRL + "rightOperand", "spatial")
            fields["territories"] = r.territories(places, "permission spatial")
        else:
            r.problem(
                "permission constraint",
                "odrl.unexpected_pair",
                left=_name(r, c.left),
                operator=_name(r, c.operator),
            )
    for j, duty in enumerate(r.nodes_of(first, ODRL + "duty")):
        _read_duty(r, duty, f"permission[0].duty[{j}]", fields)


def _read_replica_grant(
    r: _Reader, rule: Mapping[str, Any], where: str, fields: dict[str, Any]
) -> None:
    """The replica grant's permission (see the module docstring) into ``fields``."""
    until = None
    for c in _constraints(r, rule, "constraint", where):
        right, here = c.node, f"{where} {_name(r, c.left)}"
        if c.left == ODRL + "dateTime" and c.operator == ODRL + "gteq":
            continue  # the licence's own start, read from the other permissions
        if c.left == ODRL + "dateTime" and c.operator == ODRL + "lt":
            until = r.moment(right, ODRL + "rightOperand", here)
            continue
        if c.operator != ODRL + "isAnyOf":
            r.problem(where, "odrl.unexpected_operator", operator=_name(r, c.operator))
            continue
        if c.left == ODRL + "language":
            tags = [v.get("@value") for v in right.get(ODRL + "rightOperand", [])]
            if not all(isinstance(t, str) for t in tags):
                r.problem(here, "odrl.language_tags")
            fields["replica_languages"] = {t for t in tags if isinstance(t, str)}
            continue
        named = r.iris_of(right, ODRL + "rightOperand", here)
        if c.left == DT + "useKind":
            if r.codes(named, USES, here) != {REPLICA_USE}:
                r.problem(where, "odrl.use_is_replica_only")
        elif c.left == DT + "replicaMedium":
            fields["replica_media"] = r.codes(named, REPLICA_MEDIA_TERMS, here)
        elif c.left == DT + "replicaCategory":
            fields["replica_categories"] = r.codes(named, REPLICA_CATEGORIES, here)
        elif c.left == ODRL + "deliveryChannel":
            fields["replica_channels"] = r.codes(named, REPLICA_CHANNELS, here)
        else:
            r.problem(where, "odrl.unexpected_constraint", left=_name(r, c.left))
    if until is None:
        r.problem(where, "odrl.replica_end")
    fields["replica_until"] = until  # the licence makes its own end None again
    fields["replica_ask_each_time"] = any(
        r.one_iri(duty, ODRL + "action", f"{where}.duty") == ODRL + "obtainConsent"
        for duty in r.nodes_of(rule, ODRL + "duty")
    )


def _shape_of_duties(r: _Reader, rule: Mapping[str, Any], price_only: bool = False) -> str:
    """A rule's duties as a comparable value; ``price_only`` leaves out ``obtainConsent``."""
    duties = [
        d
        for d in rule.get(ODRL + "duty", [])
        if not price_only or r.one_iri(r.node(d), ODRL + "action", "duty") != ODRL + "obtainConsent"
    ]
    return _shape(r, {ODRL + "duty": duties})


def _shape(r: _Reader, rule: Mapping[str, Any]) -> str:
    """The constraints and duties of a rule as a comparable value (blank ids ignored)."""

    def walk(value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return "…"
        if isinstance(value, Mapping):
            node = r.node(value) if "@id" in value and len(value) == 1 else value
            if node is not value and str(value["@id"]).startswith("_:"):
                return walk({k: v for k, v in node.items() if k != "@id"}, depth + 1)
            return tuple(sorted((k, walk(v, depth + 1)) for k, v in node.items()))
        if isinstance(value, list):
            return tuple(sorted(repr(walk(v, depth + 1)) for v in value))
        return value

    return repr((walk(rule.get(ODRL + "constraint", [])), walk(rule.get(ODRL + "duty", []))))


def _read_duty(r: _Reader, duty: Mapping[str, Any], where: str, fields: dict[str, Any]) -> None:
    r.unexpected_keys(duty, {"@id", ODRL + "action", ODRL + "constraint", ODRL + "target"}, where)
    events = []
    for c in _constraints(r, duty, "constraint", where):
        if c.left == ODRL + "event" and c.operator == ODRL + "gt":
            events.append(r.one_iri(c.node, ODRL + "rightOperand", f"{where} event"))
        else:
            r.problem(where, "odrl.unexpected_constraint", left=_name(r, c.left))
    for action in r.nodes_of(duty, ODRL + "action"):
        value = r.one_iri(action, RDF + "value", f"{where}.action")
        if value != ODRL + "compensate":
            r.problem(where, "odrl.compensate", given=_name(r, value))
            continue
        for c in _constraints(r, action, "refinement", where):
            right = c.node
            if c.left == ODRL + "payAmount" and c.operator == ODRL + "eq":
                _read_price(r, right, where, fields)
            elif c.left == DT + "pricePer" and c.operator == ODRL + "eq":
                per = r.one_iri(right, ODRL + "rightOperand", f"{where} pricePer")
                fields["price_unit"] = _PRICE_UNIT_BY_IRI.get(per or "")
                if fields["price_unit"] is None:
                    r.problem(where, "odrl.price_unit", given=_name(r, per))
            elif c.left == ODRL + "percentage" and c.operator == ODRL + "eq" and events:
                if events != [EVENT_SALE]:
                    r.problem(where, "odrl.royalty_event")
                fields["royalty_share_percent"] = r.typed(
                    right, ODRL + "rightOperand", "percentage", int
                )
            else:
                r.problem(where, "odrl.unexpected_refinement", left=_name(r, c.left))


def _read_price(r: _Reader, node: Mapping[str, Any], where: str, fields: dict[str, Any]) -> None:
    unit = r.one_iri(node, ODRL + "unit", f"{where} payAmount unit")
    code = unit[len(CURRENCY_UNIT) :] if unit and unit.startswith(CURRENCY_UNIT) else None
    if code not in MINOR_UNITS:
        r.problem(where, "odrl.currency", given=str(unit))
        return
    raw = r.literal(node, ODRL + "rightOperand", f"{where} payAmount")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        r.problem(where, "odrl.decimal", given=repr(raw))
        return
    minor = amount.scaleb(MINOR_UNITS[code])
    if minor != minor.to_integral_value():
        r.problem(where, "odrl.decimals", amount=str(raw), currency=code)
        return
    fields["price_minor"] = int(minor)
    fields["currency"] = code


def _read_prohibitions(r: _Reader, doc: Mapping[str, Any], fields: dict[str, Any]) -> None:
    fields |= {
        "prohibited_purposes": set(),
        "prohibited_industries": set(),
        "prohibited_uses": set(),
        "excluded_territories": set(),
    }
    seen_always: set[str] = set()
    for i, rule in enumerate(r.nodes_of(doc, ODRL + "prohibition")):
        where = f"prohibition[{i}]"
        r.unexpected_keys(rule, _RULE_KEYS | {ODRL + "assignee"}, where)
        action = _rule_action(r, rule, where)
        if action in {ODRL + a for a in _ALWAYS_PROHIBITED}:
            seen_always.add(action[len(ODRL) :])
            continue
        if action != ODRL + "use":
            r.problem(where, "odrl.prohibited_action", action=_name(r, action))
            continue
        for c in _constraints(r, rule, "constraint", where):
            if c.operator != ODRL + "isAnyOf":
                r.problem(where, "odrl.unexpected_operator", operator=_name(r, c.operator))
                continue
            named = r.iris_of(c.node, ODRL + "rightOperand", where)
            if c.left == ODRL + "purpose":
                fields["prohibited_purposes"] |= r.codes(named, PURPOSES, where)
            elif c.left == ODRL + "industry":
                fields["prohibited_industries"] |= r.codes(named, INDUSTRIES, where)
            elif c.left == DT + "useKind":
                fields["prohibited_uses"] |= r.codes(named, USES, where)
            elif c.left == ODRL + "spatial":
                fields["excluded_territories"] |= r.territories(named, where)
            else:
                r.problem(where, "odrl.unexpected_constraint", left=_name(r, c.left))
    for missing in sorted(set(_ALWAYS_PROHIBITED) - seen_always):
        # Without these prohibitions the document would grant transfer or sublicensing.
        r.problem("prohibition", "odrl.must_prohibit", action=missing)


def _read_obligations(r: _Reader, doc: Mapping[str, Any], fields: dict[str, Any]) -> None:
    for i, rule in enumerate(r.nodes_of(doc, ODRL + "obligation")):
        where = f"obligation[{i}]"
        r.unexpected_keys(rule, _RULE_KEYS | {ODRL + "assignee"}, where)
        action = _rule_action(r, rule, where)
        event = deadline = delay = None
        for c in _constraints(r, rule, "constraint", where):
            if c.left == ODRL + "event" and c.operator == ODRL + "gt":
                event = r.one_iri(c.node, ODRL + "rightOperand", f"{where} event")
            elif c.left == DT + "deadlineAfterEvent" and c.operator == ODRL + "lteq":
                deadline = r.typed(c.node, ODRL + "rightOperand", f"{where} deadline", str)
            elif c.left == ODRL + "delayPeriod" and c.operator == ODRL + "eq" and delay is None:
                delay = r.typed(c.node, ODRL + "rightOperand", f"{where} delayPeriod", str)
            else:
                r.problem(where, "odrl.unexpected_constraint", left=_name(r, c.left))
        if action == ODRL + "delete":
            if event != EVENT_REVOCATION:
                r.problem(where, "odrl.deletion_event")
            fields["deletion_deadline_days"] = _read_days(r, deadline, where, "odrl.deadline_days")
            if delay is not None:
                fields["withdrawal_notice_days"] = _read_days(r, delay, where, "odrl.notice_days")
        elif action in _ON_END_BY_ACTION:
            if event != EVENT_LICENCE_END:
                r.problem(where, "odrl.on_end_event")
            fields["on_end"] = _ON_END_BY_ACTION[action]
        else:
            r.problem(where, "odrl.unexpected_obligation", action=_name(r, action))


def _read_days(r: _Reader, duration: str | None, where: str, code: str) -> int | None:
    """Whole days out of an ``xsd:duration`` such as ``P30D``; else the problem ``code``."""
    if duration and duration[:1] == "P" and duration[-1:] == "D" and duration[1:-1].isdigit():
        return int(duration[1:-1])
    r.problem(where, code, given=repr(duration))
    return None


def _internal_keys(r: _Reader, node: Mapping[str, Any]) -> dict[str, Any]:
    return {r.iris.internal(k): v for k, v in node.items()}


def _name(r: _Reader, iri: str | None) -> str:
    return "(none)" if iri is None else r.iris.public(iri)


def agreement_from_jsonld(flat: Any, iris: InstanceIris) -> Agreement:
    """The agreement in an ODRL ``Agreement`` (flattened, expanded JSON-LD); raises
    ``InvalidInput`` listing every problem."""
    r = _Reader(flat, iris)
    licence = _read_licence(r)
    doc, kind = _policy(r)
    if doc is not None and kind != "Agreement":
        r.problem("@type", "odrl.agreement_type")
    agreement = _read_agreement(r, doc, licence) if doc is not None else None
    if r.problems or agreement is None:
        raise InvalidInput(r.problems)
    return agreement


def _read_agreement(
    r: _Reader, doc: Mapping[str, Any], licence: Licence | None
) -> Agreement | None:
    doc = _internal_keys(r, doc)
    assignees = r.nodes_of(doc, ODRL + "assignee")
    agreed = r.nodes_of(doc, DT + "agreedUse")
    if len(assignees) != 1 or len(agreed) != 1:
        r.problem(None, "odrl.one_assignee_and_use")
        return None
    buyer, use_node = assignees[0], agreed[0]
    use_node = _internal_keys(r, use_node)
    org_id = next(iter(r.organisations([buyer.get("@id", "")], "assignee")), "")
    org = Organisation(id=org_id, name=r.typed(buyer, VCARD + "fn", "assignee name", str) or "")

    def code(prop: str, vocabulary: Vocabulary) -> str:
        iri = r.one_iri(use_node, prop, f"dt:agreedUse {_name(r, prop)}")
        return next(iter(r.codes([iri] if iri else [], vocabulary, "dt:agreedUse")), "")

    recipients = r.nodes_of(use_node, DT + "recipient")
    if len(recipients) != 1:
        r.problem("dt:agreedUse", "odrl.one_recipient")
        return None
    recipient_id = next(
        iter(r.organisations([recipients[0].get("@id", "")], "dt:agreedUse recipient")), ""
    )
    territory_iris = r.iris_of(use_node, DT + "territory", "dt:agreedUse territory")
    territories = r.territories(territory_iris, "dt:agreedUse territory")
    action = code(DT + "action", ACTIONS)
    purpose = code(DPV + "hasPurpose", PURPOSES)
    industry = code(DT + "industry", INDUSTRIES)
    task = code(DT + "task", TASKS) if DT + "task" in use_node else None
    declared = r.codes(r.iris_of(use_node, DT + "declaredUse", "declaredUse"), USES, "use")
    outputs = r.codes(r.iris_of(use_node, DT + "output", "output"), OUTPUTS, "output")
    at = r.moment(use_node, DT + "at", "dt:agreedUse at")
    until = r.moment(use_node, DT + "until", "until") if DT + "until" in use_node else None
    agreed_at = r.moment(doc, DT + "agreedAt", "dt:agreedAt")
    if r.problems or licence is None or at is None or agreed_at is None or len(territories) != 1:
        if len(territories) != 1 and not r.problems:
            r.problem("dt:agreedUse", "odrl.one_territory")
        return None
    use = Use(
        action=action,
        purpose=purpose,
        industry=industry,
        territory=next(iter(territories)),
        recipient_org=Organisation(
            recipient_id,
            r.typed(recipients[0], VCARD + "fn", "recipient name", str) or "",
        ),
        at=at,
        declared_uses=frozenset(declared),
        task=task,
        outputs=frozenset(outputs),
        until=until,
    )
    agreement_id = r.iris.agreement_id(str(doc.get("@id", "")))
    if agreement_id is None:
        r.problem("uid", "odrl.agreement_iri", given=str(doc.get("@id")))
        return None
    return Agreement(licence=licence, assignee=org, use=use, agreed_at=agreed_at, id=agreement_id)
