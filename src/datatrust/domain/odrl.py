"""Licences as ODRL 2.2 JSON-LD offers and agreements, and back.

The export is plain JSON (dicts and lists) shaped as ODRL 2.2 JSON-LD:

- purposes are constraints on ``purpose`` with DPV IRIs (``purposes.PURPOSES``);
- one ``permission`` per permitted action, each constrained by purpose, ``dateTime``
  (``gteq`` start, ``lt`` end) and ``spatial`` (ISO 3166-1 alpha-2 codes; no spatial
  constraint means worldwide);
- each permission carries two ``compensate`` duties whose action is refined by the price
  (``dt:priceMinor`` + ``dt:currency`` + ``dt:priceUnit``; integers, never decimals) and
  by the royalty share (``percentage``);
- prohibitions: prohibited purposes, industries (``dt:industry``), kinds of use
  (``dt:useKind``), excluded territories (``spatial``), and always ``transfer`` and
  ``grantUse`` (no transfer, no sublicensing);
- obligations: ``delete`` within ``elapsedTime`` after revocation, and what happens to
  trained models when the licence ends;
- policy-level ``dt:`` properties for what ODRL has no term for (exclusivity, the replica
  description, the licence's own id and version).

Actions ODRL lacks (train, fineTune, evaluate, createDigitalReplica) live in the ``dt:``
profile. ``licence_from_odrl(licence_to_odrl(l)) == l`` for every valid licence: import
reads exactly this shape and rejects what it cannot place, listing every problem.

The documents name the ODRL context by URL. Consumers without network access (tests, air-
gapped installs) can swap in ``ODRL_INLINE_CONTEXT`` with ``inline_context``.

Pure: no JSON-LD processing here, just dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from datatrust.domain.clock import as_utc
from datatrust.domain.errors import InvalidInput
from datatrust.domain.licence import Licence, Organisation, Use
from datatrust.domain.purposes import ACTIONS, DPV, DT, INDUSTRIES, ODRL, PURPOSES, USES
from datatrust.domain.territories import WORLD

ODRL_CONTEXT_URL = "http://www.w3.org/ns/odrl.jsonld"
DCT = "http://purl.org/dc/terms/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PROFILE = "https://datatrust.example/odrl"
LICENCE_BASE = "https://datatrust.example/licence/"
ORG_BASE = "https://datatrust.example/org/"

PROJECT_CONTEXT = {"dpv": DPV, "dt": DT, "dct": DCT, "xsd": XSD, "rdf": RDF}
CONTEXT = [ODRL_CONTEXT_URL, PROJECT_CONTEXT]

# The part of the ODRL 2.2 context these documents use, for processing without a network.
ODRL_INLINE_CONTEXT: dict[str, Any] = {
    "odrl": ODRL,
    "@vocab": ODRL,
    "uid": "@id",
    "profile": {"@type": "@id"},
    "assigner": {"@type": "@id"},
    "assignee": {"@type": "@id"},
    "target": {"@type": "@id"},
    "action": {"@type": "@vocab"},
    "leftOperand": {"@type": "@vocab"},
    "operator": {"@type": "@vocab"},
}

_ON_END_ACTIONS = {
    "retrain_without": "dt:retrainWithout",
    "keep_no_new_training": "dt:keepNoNewTraining",
    "delete_model": "dt:deleteModel",
}
_ON_END_BY_ACTION = {v: k for k, v in _ON_END_ACTIONS.items()}
_ALWAYS_PROHIBITED = ("transfer", "grantUse")


def inline_context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with the ODRL context URL replaced by ``ODRL_INLINE_CONTEXT``."""
    context = [ODRL_INLINE_CONTEXT if c == ODRL_CONTEXT_URL else c for c in doc["@context"]]
    return {**doc, "@context": context}


def _compact(iri: str) -> str:
    for prefix, namespace in (("dpv:", DPV), ("dt:", DT)):
        if iri.startswith(namespace):
            return prefix + iri[len(namespace) :]
    if iri.startswith(ODRL):
        return iri[len(ODRL) :]
    return iri


def _expand(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    for prefix, namespace in (("dpv:", DPV), ("dt:", DT), ("odrl:", ODRL)):
        if value.startswith(prefix):
            return namespace + value[len(prefix) :]
    if ":" in value:
        return value
    return ODRL + value


def _datetime(moment: datetime) -> dict[str, str]:
    return {"@value": as_utc(moment).isoformat(), "@type": "xsd:dateTime"}


def _integer(n: int) -> dict[str, Any]:
    return {"@value": n, "@type": "xsd:integer"}


def _iris(vocabulary: Any, codes: frozenset[str]) -> list[dict[str, str]]:
    return [{"@id": _compact(vocabulary.iri(c))} for c in sorted(codes)]


def _constraint(left: str, operator: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


def licence_iri(base_url: str, licence_id: str, version: int) -> str:
    """The IRI of one version of a licence on the instance at ``base_url``: the same in
    the ODRL export and in every snapshot's Croissant manifest, and it resolves (the
    instance answers it with the licence's ODRL offer)."""
    return f"{base_url.rstrip('/')}/licences/{quote(licence_id, safe='')}/v{version}"


def licence_uid(licence: Licence, base_url: str | None = None) -> str:
    """``licence_iri`` on ``base_url``; without one (pure tests, documents made outside an
    instance) under the placeholder ``LICENCE_BASE``."""
    if base_url is None:
        return f"{LICENCE_BASE}{quote(licence.id, safe='')}/v{licence.version}"
    return licence_iri(base_url, licence.id, licence.version)


def licence_to_odrl(
    licence: Licence,
    *,
    assigner: str | None = None,
    target: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The licence as an ODRL 2.2 ``Offer``. ``assigner`` (the contributor's IRI) and
    ``target`` (the item's IRI) are added when given; neither is part of the licence.
    ``base_url`` is the instance's public URL, under which the offer's ``uid`` resolves.
    """
    when = [
        _constraint("dateTime", "gteq", _datetime(licence.valid_from)),
        _constraint("dateTime", "lt", _datetime(licence.valid_until)),
    ]
    shared = [_constraint("purpose", "isAnyOf", _iris(PURPOSES, licence.permitted_purposes))]
    shared += when
    if not licence.worldwide:
        shared.append(_constraint("spatial", "isAnyOf", sorted(licence.territories)))
    duties = [
        {
            "action": [
                {
                    "rdf:value": {"@id": "odrl:compensate"},
                    "refinement": [
                        _constraint("dt:priceMinor", "eq", _integer(licence.price_minor)),
                        _constraint("dt:currency", "eq", licence.currency),
                        _constraint("dt:priceUnit", "eq", licence.price_unit),
                    ],
                }
            ]
        },
        {
            "action": [
                {
                    "rdf:value": {"@id": "odrl:compensate"},
                    "refinement": [
                        _constraint("percentage", "eq", _integer(licence.royalty_share_percent)),
                    ],
                }
            ],
            "dt:trigger": "resale",
        },
    ]
    permissions = [
        {"action": _compact(ACTIONS.iri(action)), "constraint": shared, "duty": duties}
        for action in sorted(licence.permitted_actions)
    ]
    prohibitions: list[dict[str, Any]] = []
    for left, vocabulary, codes in (
        ("purpose", PURPOSES, licence.prohibited_purposes),
        ("dt:industry", INDUSTRIES, licence.prohibited_industries),
        ("dt:useKind", USES, licence.prohibited_uses),
    ):
        if codes:
            prohibitions.append(
                {
                    "action": "use",
                    "constraint": [_constraint(left, "isAnyOf", _iris(vocabulary, codes))],
                }
            )
    if licence.excluded_territories:
        prohibitions.append(
            {
                "action": "use",
                "constraint": [
                    _constraint("spatial", "isAnyOf", sorted(licence.excluded_territories))
                ],
            }
        )
    prohibitions += [{"action": action} for action in _ALWAYS_PROHIBITED]
    obligations = [
        {
            "action": "delete",
            "dt:trigger": "revocation",
            "constraint": [
                _constraint(
                    "elapsedTime",
                    "lteq",
                    {"@value": f"P{licence.deletion_deadline_days}D", "@type": "xsd:duration"},
                )
            ],
        },
        {"action": _ON_END_ACTIONS[licence.on_end], "dt:trigger": "licenceEnd"},
    ]
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Offer",
        "uid": licence_uid(licence, base_url),
        "profile": PROFILE,
        "dct:title": licence.title,
        "dt:licenceId": licence.id,
        "dt:version": _integer(licence.version),
        "dt:revocable": True,
        "dt:exclusive": licence.exclusive,
    }
    if licence.exclusive_until is not None:
        doc["dt:exclusiveUntil"] = _datetime(licence.exclusive_until)
    if licence.exclusive_to is not None:
        doc["dt:exclusiveTo"] = licence.exclusive_to
    if licence.offered_to:
        doc["dt:offeredTo"] = sorted(licence.offered_to)
    if licence.replica_media:
        doc["dt:replicaMedium"] = sorted(licence.replica_media)
    if licence.permitted_uses:
        # Sensitive uses are denied unless the licence names them; these are the named ones.
        doc["dt:permittedUseKind"] = _iris(USES, licence.permitted_uses)
    if licence.replica_use_description is not None:
        doc["dt:replicaUseDescription"] = licence.replica_use_description
    if assigner is not None:
        doc["assigner"] = assigner
    if target is not None:
        doc["target"] = target
    doc["permission"] = permissions
    doc["prohibition"] = prohibitions
    doc["obligation"] = obligations
    return doc


@dataclass(frozen=True)
class Agreement:
    """An offer taken by one buyer for one declared use on a given date."""

    licence: Licence
    assignee: Organisation
    use: Use
    agreed_at: datetime


def agreement_to_odrl(
    agreement: Agreement, *, assigner: str | None = None, base_url: str | None = None
) -> dict[str, Any]:
    """The agreement as an ODRL 2.2 ``Agreement``: the offer's rules, the buyer as
    ``assignee`` and the agreed use under ``dt:agreedUse``; its ``uid`` extends the
    licence's (``licence_uid`` on ``base_url``).
    """
    use = agreement.use
    doc = licence_to_odrl(agreement.licence, assigner=assigner, base_url=base_url)
    agreed_use: dict[str, Any] = {
        "dt:action": use.action,
        "dt:purpose": use.purpose,
        "dt:industry": use.industry,
        "dt:territory": use.territory,
        "dt:at": _datetime(use.at),
        "dt:declaredUses": sorted(use.declared_uses),
        "dt:recipientId": use.recipient_org.id,
        "dt:recipientName": use.recipient_org.name,
    }
    # What the model does and until when are part of what was agreed (issue 16 §2, §4).
    if use.task is not None:
        agreed_use["dt:task"] = use.task
    if use.outputs:
        agreed_use["dt:outputs"] = sorted(use.outputs)
    if use.until is not None:
        agreed_use["dt:until"] = _datetime(use.until)
    if use.purpose in PURPOSES:
        # For readers that know DPV but not our codes; the code above is what we read back.
        agreed_use["dpv:hasPurpose"] = {"@id": _compact(PURPOSES.iri(use.purpose))}
    stamp = as_utc(agreement.agreed_at).strftime("%Y%m%dT%H%M%S%fZ")
    org = agreement.assignee
    return {
        **doc,
        "@type": "Agreement",
        "uid": f"{doc['uid']}/agreement/{quote(org.id, safe='')}/{stamp}",
        "assignee": {
            "uid": ORG_BASE + quote(org.id, safe=""),
            "dt:orgId": org.id,
            "dt:name": org.name,
        },
        "dt:agreedAt": _datetime(agreement.agreed_at),
        "dt:agreedUse": agreed_use,
    }


# --- import ---------------------------------------------------------------------------


class _Reader:
    """Collects problems while reading, so import reports them all at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def value(self, node: Any, where: str, kind: type | tuple[type, ...]) -> Any:
        raw = node.get("@value") if isinstance(node, Mapping) else node
        if isinstance(raw, bool) and kind is int:
            raw = None
        if not isinstance(raw, kind):
            self.problem(f"{where}: unexpected value {node!r}")
            return None
        return raw

    def moment(self, node: Any, where: str) -> datetime | None:
        raw = self.value(node, where, str)
        if raw is None:
            return None
        try:
            return as_utc(datetime.fromisoformat(raw))
        except ValueError:
            self.problem(f"{where}: not an ISO 8601 date and time: {raw!r}")
            return None

    def codes(self, node: Any, vocabulary: Any, where: str) -> set[str]:
        if not isinstance(node, list):
            node = [node]
        out = set()
        for item in node:
            iri = _expand(item.get("@id") if isinstance(item, Mapping) else item)
            code = vocabulary.code_for_iri(iri) if iri else None
            if code is None:
                self.problem(f"{where}: unknown term {item!r}")
            else:
                out.add(code)
        return out

    def strings(self, node: Any, where: str) -> set[str]:
        if not isinstance(node, list) or not all(isinstance(v, str) for v in node):
            self.problem(f"{where}: expected a list of codes")
            return set()
        return set(node)


def _constraints(rule: Mapping[str, Any], key: str = "constraint") -> list[Mapping[str, Any]]:
    found = rule.get(key, [])
    return found if isinstance(found, list) else [found]


def _left(constraint: Mapping[str, Any]) -> str | None:
    return _expand(constraint.get("leftOperand"))


def licence_from_odrl(doc: Any) -> Licence:
    """The licence in an ``Offer`` or ``Agreement`` made by ``licence_to_odrl``.

    Raises ``InvalidInput`` listing every problem: a shape this module does not write,
    unknown terms, or a licence that breaks the licence rules (including any grant of
    transfer or sublicensing, which a licence cannot express).
    """
    if not isinstance(doc, Mapping) or doc.get("@type") not in ("Offer", "Agreement"):
        raise InvalidInput(
            "not an ODRL Offer or Agreement", problems=["@type: expected Offer or Agreement"]
        )
    r = _Reader()
    fields: dict[str, Any] = {
        "id": r.value(doc.get("dt:licenceId"), "dt:licenceId", str),
        "version": r.value(doc.get("dt:version"), "dt:version", int),
        "title": r.value(doc.get("dct:title"), "dct:title", str),
        "exclusive": r.value(doc.get("dt:exclusive"), "dt:exclusive", bool),
        "exclusive_until": None,
        "replica_use_description": None,
    }
    if doc.get("dt:revocable") is not True:
        r.problem("dt:revocable: a licence is always revocable")
    if "dt:exclusiveUntil" in doc:
        fields["exclusive_until"] = r.moment(doc["dt:exclusiveUntil"], "dt:exclusiveUntil")
    if "dt:exclusiveTo" in doc:
        fields["exclusive_to"] = r.value(doc["dt:exclusiveTo"], "dt:exclusiveTo", str)
    if "dt:offeredTo" in doc:
        fields["offered_to"] = r.strings(doc["dt:offeredTo"], "dt:offeredTo")
    if "dt:replicaMedium" in doc:
        fields["replica_media"] = r.strings(doc["dt:replicaMedium"], "dt:replicaMedium")
    if "dt:permittedUseKind" in doc:
        fields["permitted_uses"] = r.codes(doc["dt:permittedUseKind"], USES, "dt:permittedUseKind")
    if "dt:replicaUseDescription" in doc:
        fields["replica_use_description"] = r.value(
            doc["dt:replicaUseDescription"], "dt:replicaUseDescription", str
        )

    permissions = doc.get("permission") or []
    if not isinstance(permissions, list) or not permissions:
        r.problem("permission: expected at least one permission")
        permissions = []
    actions: set[str] = set()
    for i, rule in enumerate(permissions):
        where = f"permission[{i}]"
        if not isinstance(rule, Mapping):
            r.problem(f"{where}: expected an object")
            continue
        actions |= r.codes(rule.get("action"), ACTIONS, f"{where}.action")
        if rule.get("constraint") != permissions[0].get("constraint"):
            r.problem(f"{where}: every permission must carry the same constraints")
        if rule.get("duty") != permissions[0].get("duty"):
            r.problem(f"{where}: every permission must carry the same duties")
    fields["permitted_actions"] = actions
    fields["territories"] = {WORLD}
    if permissions and isinstance(permissions[0], Mapping):
        first = permissions[0]
        for c in _constraints(first):
            left, op = _left(c), c.get("operator")
            if left == ODRL + "purpose" and op == "isAnyOf":
                fields["permitted_purposes"] = r.codes(c.get("rightOperand"), PURPOSES, "purpose")
            elif left == ODRL + "dateTime" and op == "gteq":
                fields["valid_from"] = r.moment(c.get("rightOperand"), "dateTime gteq")
            elif left == ODRL + "dateTime" and op == "lt":
                fields["valid_until"] = r.moment(c.get("rightOperand"), "dateTime lt")
            elif left == ODRL + "spatial" and op == "isAnyOf":
                fields["territories"] = r.strings(c.get("rightOperand"), "spatial")
            else:
                r.problem(f"permission constraint: unexpected {c!r}")
        for duty in _constraints(first, "duty"):
            for action in _constraints(duty, "action"):
                if not isinstance(action, Mapping):
                    r.problem(f"duty: unexpected action {action!r}")
                    continue
                for c in _constraints(action, "refinement"):
                    left = _left(c)
                    right = c.get("rightOperand")
                    if left == DT + "priceMinor":
                        fields["price_minor"] = r.value(right, "dt:priceMinor", int)
                    elif left == DT + "currency":
                        fields["currency"] = r.value(right, "dt:currency", str)
                    elif left == DT + "priceUnit":
                        fields["price_unit"] = r.value(right, "dt:priceUnit", str)
                    elif left == ODRL + "percentage":
                        fields["royalty_share_percent"] = r.value(right, "percentage", int)
                    else:
                        r.problem(f"duty refinement: unexpected {c!r}")

    fields |= {
        "prohibited_purposes": set(),
        "prohibited_industries": set(),
        "prohibited_uses": set(),
        "excluded_territories": set(),
    }
    seen_always: set[str] = set()
    for i, rule in enumerate(doc.get("prohibition") or []):
        where = f"prohibition[{i}]"
        rule_action = _expand(rule.get("action")) if isinstance(rule, Mapping) else None
        if rule_action in {ODRL + a for a in _ALWAYS_PROHIBITED}:
            seen_always.add(rule_action[len(ODRL) :])
            continue
        if rule_action != ODRL + "use":
            r.problem(f"{where}: unexpected rule {rule!r}")
            continue
        for c in _constraints(rule):
            left, right = _left(c), c.get("rightOperand")
            if left == ODRL + "purpose":
                fields["prohibited_purposes"] |= r.codes(right, PURPOSES, where)
            elif left == DT + "industry":
                fields["prohibited_industries"] |= r.codes(right, INDUSTRIES, where)
            elif left == DT + "useKind":
                fields["prohibited_uses"] |= r.codes(right, USES, where)
            elif left == ODRL + "spatial":
                fields["excluded_territories"] |= r.strings(right, where)
            else:
                r.problem(f"{where}: unexpected constraint {c!r}")
    for missing in sorted(set(_ALWAYS_PROHIBITED) - seen_always):
        # Without these prohibitions the document would grant transfer or sublicensing.
        r.problem(f"prohibition: {missing} must be prohibited; a licence is not transferable")

    for i, rule in enumerate(doc.get("obligation") or []):
        rule_action = _expand(rule.get("action")) if isinstance(rule, Mapping) else None
        if rule_action == ODRL + "delete":
            for c in _constraints(rule):
                raw = r.value(c.get("rightOperand"), "elapsedTime", str)
                if raw and raw.startswith("P") and raw.endswith("D") and raw[1:-1].isdigit():
                    fields["deletion_deadline_days"] = int(raw[1:-1])
                else:
                    r.problem(f"obligation[{i}]: expected a duration in days, got {raw!r}")
        elif rule_action is not None and _compact(rule_action) in _ON_END_BY_ACTION:
            fields["on_end"] = _ON_END_BY_ACTION[_compact(rule_action)]
        else:
            r.problem(f"obligation[{i}]: unexpected rule {rule!r}")

    if r.problems:
        raise InvalidInput("the ODRL document is not a Datatrust licence", problems=r.problems)
    return Licence.from_dict({k: v for k, v in fields.items() if v is not None})


def agreement_from_odrl(doc: Any) -> Agreement:
    """The agreement in a document made by ``agreement_to_odrl``; raises ``InvalidInput``."""
    licence = licence_from_odrl(doc)
    if doc.get("@type") != "Agreement":
        raise InvalidInput("not an ODRL Agreement", problems=["@type: expected Agreement"])
    r = _Reader()
    assignee = doc.get("assignee")
    agreed = doc.get("dt:agreedUse")
    if not isinstance(assignee, Mapping) or not isinstance(agreed, Mapping):
        raise InvalidInput(
            "the agreement has no buyer or no agreed use",
            problems=["assignee and dt:agreedUse: both required"],
        )
    org = Organisation(
        id=r.value(assignee.get("dt:orgId"), "assignee", str) or "",
        name=r.value(assignee.get("dt:name"), "assignee", str) or "",
    )
    text = {
        key: r.value(agreed.get(f"dt:{key}"), f"dt:agreedUse.{key}", str) or ""
        for key in ("action", "purpose", "industry", "territory", "recipientId", "recipientName")
    }
    at = r.moment(agreed.get("dt:at"), "dt:agreedUse.at")
    agreed_at = r.moment(doc.get("dt:agreedAt"), "dt:agreedAt")
    declared = r.strings(agreed.get("dt:declaredUses"), "dt:agreedUse.declaredUses")
    task = r.value(agreed["dt:task"], "dt:agreedUse.task", str) if "dt:task" in agreed else None
    outputs = r.strings(agreed.get("dt:outputs", []), "dt:agreedUse.outputs")
    until = r.moment(agreed["dt:until"], "dt:agreedUse.until") if "dt:until" in agreed else None
    if r.problems or at is None or agreed_at is None:
        raise InvalidInput("the agreement is not valid", problems=r.problems)
    use = Use(
        action=text["action"],
        purpose=text["purpose"],
        industry=text["industry"],
        territory=text["territory"],
        recipient_org=Organisation(text["recipientId"], text["recipientName"]),
        at=at,
        declared_uses=frozenset(declared),
        task=task,
        outputs=frozenset(outputs),
        until=until,
    )
    return Agreement(licence=licence, assignee=org, use=use, agreed_at=agreed_at)
