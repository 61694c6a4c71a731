"""The compliance pack of a snapshot: the documents a model builder must publish about the
training data, filled in with what the marketplace knows of this snapshot.

- ``eu_ai_act``: the public summary of training content of Art. 53(1)(d) of the EU AI Act,
  laid out as the Commission's template of July 2025: general information (modalities,
  size per modality in the template's ranges, types of content, collection period,
  languages), the data sources (here one category: licensed from the individuals the data
  is about) and the data processing aspects (how rights reservations — each contributor's
  licence terms — and withdrawals were honoured).
- ``ab_2013``: California's training-data documentation (Civil Code §3111, AB 2013): sources,
  purpose fit, data point counts and types, intellectual property, licensing, personal
  information, cleaning and de-identification, collection dates, synthetic data.

What the marketplace cannot know (the model, its provider, the other data it was trained
on, when training used it) is a ``to_complete`` entry naming what the buyer must add.

Every entry that is words carries a ``code`` (what the readable page translates) and the
English ``text``; numbers and dates are plain values. Pure: dicts in, dicts out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TO_COMPLETE = "to_complete"

# Item kinds by the template's modalities (a call's transcript adds text).
KIND_MODALITY = {
    "photo": "image",
    "video": "video",
    "ambient": "audio",
    "voice": "audio",
    "call": "audio",
    "chat": "text",
}
MODALITIES = ("text", "image", "audio", "video")

# The template's size ranges per modality: (upper bound exclusive, code, English).
SIZE_RANGES: dict[str, list[tuple[float, str, str]]] = {
    "text": [
        (1e9, "text_under_1b_tokens", "Less than 1 billion tokens"),
        (1e13, "text_1b_to_10t_tokens", "1 billion to 10 trillion tokens"),
        (float("inf"), "text_over_10t_tokens", "More than 10 trillion tokens"),
    ],
    "image": [
        (1e6, "image_under_1m", "Less than 1 million images"),
        (1e9, "image_1m_to_1b", "1 million to 1 billion images"),
        (float("inf"), "image_over_1b", "More than 1 billion images"),
    ],
    "audio": [
        (1e4, "audio_under_10k_hours", "Less than 10,000 hours"),
        (1e6, "audio_10k_to_1m_hours", "10,000 to 1 million hours"),
        (float("inf"), "audio_over_1m_hours", "More than 1 million hours"),
    ],
    "video": [
        (1e4, "video_under_10k_hours", "Less than 10,000 hours"),
        (1e6, "video_10k_to_1m_hours", "10,000 to 1 million hours"),
        (float("inf"), "video_over_1m_hours", "More than 1 million hours"),
    ],
}

# Words the documents use, by code (the readable page translates each code's text).
TEXTS: dict[str, str] = {
    "licensed_from_individuals": (
        "Licensed from the individuals concerned: each item was recorded and uploaded by the "
        "person it is about, who chose its licence and gave recorded consent."
    ),
    "rights_reservations": (
        "Each contributor's licence states the purposes, industries and uses it permits or "
        "prohibits; an item is selected only when its licence permits the declared use, and "
        "every build checks it again."
    ),
    "withdrawals": (
        "A contributor may withdraw at any time. Items withdrawn or expired before this build "
        "were left out of it; later withdrawals reach the buyer through the signed revocation "
        "feed with a deadline to delete them and attest the deletion."
    ),
    "cleaning": (
        "Files were validated; metadata was stripped; bystanders' faces and licence plates "
        "were blurred; personal details in text and transcripts were replaced by "
        "placeholders; locations were coarsened to a region; duplicates were refused. The "
        "purpose is to protect the people recorded and to keep the data fit for training."
    ),
    "personal_information": (
        "Yes: each item shows or records its contributor (likeness, voice or words) and may "
        "be biometric data. No face templates or voiceprints were computed."
    ),
    "copyright": (
        "Yes: the recordings are the contributors' own works, licensed from them for the "
        "agreed use only. No third-party works were knowingly included."
    ),
    "licensed": "Licensed, not purchased: a licence from each contributor, per item.",
    "no_aggregate_consumer_information": "No aggregate consumer information.",
    "no_synthetic_data": "The marketplace generated no synthetic data for this dataset.",
    "not_ongoing": "Collection for this dataset is not ongoing: a snapshot is a fixed build.",
    "illegal_content": (
        "Every item was reviewed before listing and contributors and buyers can report "
        "content; reported items are withheld while an operator examines them."
    ),
}
COMPLETE: dict[str, str] = {
    "provider": "The provider's name and contact details.",
    "model": "The model's name and version, and the models it is built on.",
    "placed_on_market": "The date the model was placed on the market.",
    "other_sources": (
        "Every other source of training data (public datasets, crawled data, user data, "
        "synthetic data), which this summary does not cover."
    ),
    "purpose_fit": "How this dataset furthers the model's intended purpose.",
    "first_used": "The dates the dataset was first used in developing the model.",
    "buyer_synthetic": "Whether the model's developer generated synthetic data.",
    "illegal_content_other": "Measures taken on the model's other training data.",
}


@dataclass(frozen=True)
class PackRecord:
    """What the pack needs of one delivered record."""

    kind: str
    content_type: str
    size: int
    duration_seconds: int | None
    language: str | None
    collected_at: datetime
    licence_iri: str
    has_transcript: bool = False


def words(code: str) -> dict[str, str]:
    return {"code": code, "text": TEXTS[code]}


def to_complete(code: str) -> dict[str, str]:
    """An entry the buyer must fill in: the marketplace cannot know it."""
    return {"status": TO_COMPLETE, "code": code, "text": COMPLETE[code]}


def size_range(modality: str, amount: float) -> dict[str, str]:
    for bound, code, text in SIZE_RANGES[modality]:
        if amount < bound:
            return {"code": code, "text": text}
    raise AssertionError("the last range is unbounded")


def compliance_pack(
    records: Iterable[PackRecord],
    *,
    dataset: str,
    version: str,
    built_at: datetime,
    use: Mapping[str, Any],
    dropped: Mapping[str, list[str]],
    excluded_at_order: Mapping[str, int],
) -> dict[str, Any]:
    """Both documents for one snapshot. ``dropped`` is the build's items left out with their
    reason codes; ``excluded_at_order`` the order's exclusion counts by reason."""
    listed = list(records)
    by_modality: dict[str, list[PackRecord]] = {m: [] for m in MODALITIES}
    for r in listed:
        by_modality[KIND_MODALITY.get(r.kind, "text")].append(r)
        if r.has_transcript:
            by_modality["text"].append(r)
    sizes: dict[str, Any] = {}
    for modality, members in by_modality.items():
        if not members:
            continue
        if modality == "text":
            # A token is at least one byte: the bytes bound the tokens from above.
            amount: float = sum(r.size for r in members)
            sizes[modality] = {"items": len(members), "bytes": int(amount)}
        elif modality == "image":
            amount = len(members)
            sizes[modality] = {"items": len(members)}
        else:
            seconds = sum(r.duration_seconds or 0 for r in members)
            amount = seconds / 3600
            sizes[modality] = {"items": len(members), "seconds": seconds}
        sizes[modality]["range"] = size_range(modality, amount)
    moments = sorted(r.collected_at for r in listed)
    period = {
        "from": moments[0].isoformat() if moments else None,
        "to": moments[-1].isoformat() if moments else None,
    }
    languages = sorted({r.language for r in listed if r.language})
    kinds = Counter(r.kind for r in listed)
    formats = sorted({r.content_type for r in listed})
    withdrawn = sorted(
        item for item, codes in dropped.items() if any("withdrawn" in c for c in codes)
    )
    honoured = {
        "rights_reservations": words("rights_reservations"),
        "excluded_by_licence_terms": sum(excluded_at_order.values()),
        "withdrawals": words("withdrawals"),
        "left_out_of_this_build": len(dropped),
        "withdrawn_before_this_build": len(withdrawn),
    }
    eu = {
        "template": "European Commission, template for the public summary of training "
        "content of general-purpose AI models (Art. 53(1)(d) AI Act), July 2025",
        "general_information": {
            "provider": to_complete("provider"),
            "model": to_complete("model"),
            "placed_on_market": to_complete("placed_on_market"),
            "modalities": [m for m in MODALITIES if m in sizes],
            "size_per_modality": sizes,
            "content_types": {"kinds": dict(sorted(kinds.items())), "formats": formats},
            "collection_period": period,
            "languages": languages,
        },
        "data_sources": {
            "licensed_from_individuals": {
                **words("licensed_from_individuals"),
                "dataset": dataset,
                "version": version,
                "items": len(listed),
                "licences": sorted({r.licence_iri for r in listed}),
            },
            "other_sources": to_complete("other_sources"),
        },
        "data_processing": {
            **honoured,
            "illegal_content": words("illegal_content"),
            "illegal_content_other": to_complete("illegal_content_other"),
        },
    }
    ab = {
        "law": "California Civil Code §3111 (AB 2013), in force since 1 January 2026",
        "sources_or_owners": words("licensed_from_individuals"),
        "purpose_fit": to_complete("purpose_fit"),
        "agreed_use": dict(use),
        "data_points": {"total": len(listed), "by_kind": dict(sorted(kinds.items()))},
        "types_of_data_points": {"kinds": sorted(kinds), "formats": formats},
        "intellectual_property": words("copyright"),
        "purchased_or_licensed": words("licensed"),
        "licences": sorted({r.licence_iri for r in listed}),
        "personal_information": words("personal_information"),
        "aggregate_consumer_information": words("no_aggregate_consumer_information"),
        "cleaning_and_deidentification": words("cleaning"),
        "collection_period": {**period, "ongoing": words("not_ongoing")},
        "first_used_in_development": to_complete("first_used"),
        "synthetic_data": {
            "marketplace": words("no_synthetic_data"),
            "developer": to_complete("buyer_synthetic"),
        },
    }
    return {
        "dataset": dataset,
        "version": version,
        "generated_at": built_at.isoformat(),
        "eu_ai_act_art_53_1_d": eu,
        "california_ab_2013": ab,
    }


def to_complete_entries(pack: Mapping[str, Any]) -> list[str]:
    """The codes of every entry left for the buyer, in document order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("status") == TO_COMPLETE:
                found.append(str(node["code"]))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(pack)
    return found
