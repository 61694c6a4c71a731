"""The instance's ODRL profile as a JSON-LD document (served at ``InstanceIris.profile``).

It declares every term this instance's policies use that ODRL 2.2 does not define: the
AI actions, the left operands (``useKind``, ``pricePer``, ``deadlineAfterEvent``), the
events obligations follow, the policy-level properties, and the project's purposes,
industries, kinds of use, model tasks and outputs. A purpose that DPV lacks is a subclass
of its parent purpose, so every chain of ``rdfs:subClassOf`` ends at a DPV or DPV-AI
purpose: a consumer that knows only DPV can place it.

Pure: stdlib only, no I/O.
"""

from __future__ import annotations

from typing import Any

from datatrust.domain.iris import InstanceIris
from datatrust.domain.odrl import (
    EVENT_LICENCE_END,
    EVENT_REVOCATION,
    EVENT_SALE,
    ODRL_CONTEXT_URL,
    PRICE_PER,
    context,
)
from datatrust.domain.purposes import (
    ACTIONS,
    DT,
    INDUSTRIES,
    OUTPUTS,
    PURPOSES,
    REPLICA_CATEGORIES,
    REPLICA_CHANNELS,
    REPLICA_MEDIA_TERMS,
    TASKS,
    USES,
    Vocabulary,
)

_LEFT_OPERANDS = {
    "useKind": "A kind of use of the asset (replicas, biometric identification…), from "
    "this profile's uses; prohibited with isAnyOf.",
    "pricePer": "What one payment amount buys: one item, or one minute of recording.",
    "deadlineAfterEvent": "The longest time (xsd:duration) after the event named in the "
    "same rule (and after the rule's delayPeriod, when it has one) by which the duty must "
    "be fulfilled.",
    "replicaMedium": "The media a digital-replica grant covers (a voice clone, a face "
    "avatar, the whole likeness), from this profile's replica media.",
    "replicaCategory": "The kinds of product a digital replica may appear in, from this "
    "profile's replica categories.",
}
_EVENTS = {
    EVENT_REVOCATION: "The contributor withdrew consent or the item's licence was revoked.",
    EVENT_LICENCE_END: "The licence's period ended.",
    EVENT_SALE: "The platform sold a licence to the asset to a buyer.",
}
_ON_END = {
    "retrainWithout": "Retrain models without the asset when the licence ends.",
    "keepNoNewTraining": "Keep models already trained; train no new ones on the asset.",
    "deleteModel": "Delete models trained on the asset.",
}
_PROPERTIES = {
    "licenceId": "The licence's identifier on this instance (every version shares it).",
    "version": "The licence's version number.",
    "revocable": "Always true: the contributor can always withdraw.",
    "exclusive": "Whether the licence is exclusive to one organisation.",
    "exclusiveUntil": "When exclusivity ends.",
    "exclusiveTo": "The organisation the licence is exclusive to.",
    "offeredTo": "The organisations that may take the offer (none: any vetted buyer).",
    "permittedUseKind": "Sensitive kinds of use the licence permits by name.",
    "replicaUseDescription": "The contributor's description of the permitted replica use.",
    "agreedAt": "When the agreement was made.",
    "agreedUse": "The use the buyer declared and agreed to.",
}


def profile_document(iris: InstanceIris) -> dict[str, Any]:
    """The profile and its terms as JSON-LD (``application/ld+json``)."""
    p = iris.public
    graph: list[dict[str, Any]] = [
        {
            "@id": iris.profile,
            "@type": "owl:Ontology",
            "dct:title": "Datatrust licence profile of ODRL 2.2",
            "dct:description": "Terms this instance's ODRL policies use beyond ODRL 2.2, "
            "with purposes from DPV and DPV-AI.",
            "dct:conformsTo": {"@id": "http://www.w3.org/ns/odrl/2/"},
        }
    ]
    for code in ACTIONS:
        term = ACTIONS.term(code)
        if term.iri.startswith(DT):
            graph.append(
                {
                    "@id": p(term.iri),
                    "@type": "odrl:Action",
                    "rdfs:label": term.label,
                    "odrl:includedIn": {"@id": term.broader_iri},
                }
            )
    for name, text in _ON_END.items():
        graph.append(
            {
                "@id": p(DT + name),
                "@type": "odrl:Action",
                "skos:definition": text,
                "odrl:includedIn": {"@id": "odrl:use"},
            }
        )
    for name, text in _LEFT_OPERANDS.items():
        graph.append({"@id": p(DT + name), "@type": "odrl:LeftOperand", "skos:definition": text})
    for iri, text in _EVENTS.items():
        graph.append({"@id": p(iri), "@type": "odrl:RightOperand", "skos:definition": text})
    for unit, iri in PRICE_PER.items():
        graph.append({"@id": p(iri), "@type": "odrl:RightOperand", "rdfs:label": f"per {unit}"})
    for name, text in _PROPERTIES.items():
        graph.append({"@id": p(DT + name), "@type": "rdf:Property", "rdfs:comment": text})
    for code in PURPOSES:
        term = PURPOSES.term(code)
        if not term.iri.startswith(DT):
            continue  # a DPV or DPV-AI term: described there
        parent = PURPOSES.iri(term.parent) if term.parent else term.broader_iri
        graph.append(
            {
                "@id": p(term.iri),
                "@type": ["rdfs:Class", "skos:Concept"],
                "rdfs:label": term.label,
                "rdfs:subClassOf": {"@id": "dpv:Purpose"},
                "skos:broader": {"@id": p(parent or "")},
            }
        )
    for vocabulary in (
        INDUSTRIES,
        USES,
        TASKS,
        OUTPUTS,
        REPLICA_MEDIA_TERMS,
        REPLICA_CATEGORIES,
        REPLICA_CHANNELS,
    ):
        graph += _concepts(iris, vocabulary)
    return {
        "@context": [
            ODRL_CONTEXT_URL,
            {
                **context(iris)[1],
                "odrl": "http://www.w3.org/ns/odrl/2/",
                "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
                "owl": "http://www.w3.org/2002/07/owl#",
                "skos": "http://www.w3.org/2004/02/skos/core#",
            },
        ],
        "@graph": graph,
    }


def _concepts(iris: InstanceIris, vocabulary: Vocabulary) -> list[dict[str, Any]]:
    scheme = iris.vocab + vocabulary.name.replace(" ", "_")
    out: list[dict[str, Any]] = [
        {"@id": scheme, "@type": "skos:ConceptScheme", "rdfs:label": vocabulary.name}
    ]
    for code in vocabulary:
        term = vocabulary.term(code)
        node: dict[str, Any] = {
            "@id": iris.public(term.iri),
            "@type": "skos:Concept",
            "skos:prefLabel": term.label,
            "skos:notation": code,
            "skos:inScheme": {"@id": scheme},
        }
        if term.parent:
            node["skos:broader"] = {"@id": iris.public(vocabulary.iri(term.parent))}
        out.append(node)
    return out
