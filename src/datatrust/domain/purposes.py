"""The closed vocabularies a licence speaks: purposes, industries, actions and uses.

Each vocabulary is a small tree. A term names at most one parent, and "X is a kind of Y"
(``is_a``) follows parents upwards. Licences and uses may name only known terms; a use that
names an unknown term is denied (fail closed), so adding a term here is the only way to
make it usable.

Purposes carry a W3C Data Privacy Vocabulary (DPV) IRI. Where DPV has the concept we use
its term (``dpv:ResearchAndDevelopment``); finer purposes DPV lacks (``model_training``) get
an IRI in the project namespace together with the DPV IRI of their nearest DPV ancestor,
so a consumer that only knows DPV can still place them.

Pure: stdlib only, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DPV = "https://w3id.org/dpv#"
# DPV's AI extension: ``ai:ModelTraining`` names training an AI model, which DPV's purposes
# lack (it sits under ``dpv:ResearchAndDevelopment`` here).
DPV_AI = "https://w3id.org/dpv/ai#"
ODRL = "http://www.w3.org/ns/odrl/2/"
# The internal namespace of the project's own terms. Documents show them under the
# instance's profile namespace instead (``iris.InstanceIris.public``).
DT = "https://datatrust.example/odrl#"


@dataclass(frozen=True)
class Term:
    """One entry of a vocabulary.

    ``iri`` identifies the term in exported documents; ``broader_iri`` is the DPV (or
    ODRL) IRI a consumer that does not know ``iri`` should read it as. For terms that are
    themselves DPV/ODRL terms, ``broader_iri`` equals ``iri``.
    """

    code: str
    label: str
    iri: str
    parent: str | None = None
    broader_iri: str | None = None


class Vocabulary:
    """A closed tree of terms with lookups by code and by IRI.

    ``is_a(child, ancestor)`` is reflexive (every term is a kind of itself) and False when
    either code is unknown, so callers cannot accidentally widen a permission with a typo.
    """

    def __init__(self, name: str, terms: Iterable[Term]) -> None:
        self.name = name
        self._terms: dict[str, Term] = {}
        for term in terms:
            if term.code in self._terms:
                raise ValueError(f"{name}: duplicate term {term.code!r}")
            self._terms[term.code] = term
        by_iri = {t.iri: t.code for t in self._terms.values()}
        if len(by_iri) != len(self._terms):
            raise ValueError(f"{name}: two terms share an IRI")
        self._by_iri = by_iri
        for term in self._terms.values():
            if term.parent is not None and term.parent not in self._terms:
                raise ValueError(f"{name}: {term.code!r} has unknown parent {term.parent!r}")
        # A cycle would make ``ancestors`` loop forever; catching it at import time is cheap.
        for code in self._terms:
            self.ancestors(code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._terms

    def __iter__(self) -> Iterator[str]:
        return iter(self._terms)

    def __len__(self) -> int:
        return len(self._terms)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._terms)

    def term(self, code: str) -> Term:
        """The term for ``code``; raises ``KeyError`` if unknown."""
        return self._terms[code]

    def ancestors(self, code: str) -> tuple[str, ...]:
        """``code`` followed by its parent, grandparent… up to the root; () if unknown."""
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in self._terms:
            if current in chain:
                raise ValueError(f"{self.name}: cycle through {current!r}")
            chain.append(current)
            current = self._terms[current].parent
        return tuple(chain)

    def is_a(self, child: str, ancestor: str) -> bool:
        """True when ``child`` is ``ancestor`` or descends from it; False if either is unknown."""
        return ancestor in self._terms and ancestor in self.ancestors(child)

    def matching(self, code: str, candidates: Iterable[str]) -> tuple[str, ...]:
        """The candidates that ``code`` is a kind of, sorted (for stable reasons)."""
        return tuple(sorted(c for c in candidates if self.is_a(code, c)))

    def iri(self, code: str) -> str:
        return self._terms[code].iri

    def code_for_iri(self, iri: str) -> str | None:
        """The code whose IRI is ``iri``, or None if no term has it."""
        return self._by_iri.get(iri)


def _dpv(code: str, label: str, dpv_name: str, parent: str | None = None) -> Term:
    return Term(code, label, DPV + dpv_name, parent, DPV + dpv_name)


def _own(code: str, label: str, name: str, parent: str | None, broader_dpv: str) -> Term:
    return Term(code, label, DT + name, parent, DPV + broader_dpv)


PURPOSES = Vocabulary(
    "purposes",
    [
        _dpv("research_and_development", "Research and development", "ResearchAndDevelopment"),
        _dpv(
            "academic_research", "Academic research", "AcademicResearch", "research_and_development"
        ),
        _dpv(
            "non_commercial_research",
            "Non-commercial research",
            "NonCommercialResearch",
            "research_and_development",
        ),
        _dpv(
            "commercial_research",
            "Commercial research",
            "CommercialResearch",
            "research_and_development",
        ),
        # Not under research and development: building a product to sell is a different
        # purpose, and a permission for research must never reach it (issue 16 §4).
        _own(
            "commercial_product_development",
            "Commercial product development",
            "CommercialProductDevelopment",
            None,
            "CommercialResearch",
        ),
        Term(
            "model_training",
            "AI model training",
            DPV_AI + "ModelTraining",
            "research_and_development",
            DPV + "ResearchAndDevelopment",
        ),
        _own(
            "speech_recognition_training",
            "Speech recognition training",
            "SpeechRecognitionTraining",
            "model_training",
            "ResearchAndDevelopment",
        ),
        _own(
            "speech_synthesis_training",
            "Speech synthesis training",
            "SpeechSynthesisTraining",
            "model_training",
            "ResearchAndDevelopment",
        ),
        _own(
            "computer_vision_training",
            "Computer vision training",
            "ComputerVisionTraining",
            "model_training",
            "ResearchAndDevelopment",
        ),
        _own(
            "language_model_training",
            "Language model training",
            "LanguageModelTraining",
            "model_training",
            "ResearchAndDevelopment",
        ),
        _own(
            "fine_tuning",
            "Fine-tuning an existing model",
            "FineTuning",
            "model_training",
            "ResearchAndDevelopment",
        ),
        _own(
            "model_evaluation",
            "AI model evaluation",
            "ModelEvaluation",
            "research_and_development",
            "ResearchAndDevelopment",
        ),
        _own(
            "safety_evaluation",
            "AI safety and bias evaluation",
            "SafetyEvaluation",
            "model_evaluation",
            "ResearchAndDevelopment",
        ),
        _dpv("marketing", "Marketing", "Marketing"),
        _dpv("advertising", "Advertising", "Advertising", "marketing"),
        _dpv(
            "personalised_advertising",
            "Personalised advertising",
            "PersonalisedAdvertising",
            "advertising",
        ),
        _dpv("direct_marketing", "Direct marketing", "DirectMarketing", "marketing"),
        _dpv("service_provision", "Providing a service", "ServiceProvision"),
        _dpv(
            "service_personalisation",
            "Personalising a service",
            "ServicePersonalisation",
            "service_provision",
        ),
        _dpv(
            "service_optimisation",
            "Improving a service",
            "ServiceOptimisation",
            "service_provision",
        ),
        _own(
            "media_production",
            "Film, TV, games and other media production",
            "MediaProduction",
            "service_provision",
            "ServiceProvision",
        ),
        _dpv("enforce_security", "Security", "EnforceSecurity"),
        _dpv(
            "fraud_prevention",
            "Fraud prevention and detection",
            "FraudPreventionAndDetection",
            "enforce_security",
        ),
        _dpv(
            "identity_verification",
            "Identity verification",
            "IdentityVerification",
            "enforce_security",
        ),
    ],
)

INDUSTRIES = Vocabulary(
    "industries",
    [
        Term(code, label, DT + "industry/" + code, parent)
        for code, label, parent in [
            # Sensitive industries contributors commonly exclude.
            ("political_campaigning", "Political campaigns", None),
            ("alcohol", "Alcohol", None),
            ("tobacco", "Tobacco", None),
            ("vaping", "Vaping and e-cigarettes", "tobacco"),
            ("adult_content", "Adult content", None),
            ("gambling", "Gambling", None),
            ("sports_betting", "Sports betting", "gambling"),
            ("weapons", "Weapons", None),
            ("health_claims", "Products making health claims", None),
            ("dietary_supplements", "Dietary supplements", "health_claims"),
            ("medical_products", "Medical products", None),
            ("surveillance", "Surveillance", None),
            ("law_enforcement", "Law enforcement", None),
            ("military", "Military and defence", None),
            ("cryptocurrency", "Cryptocurrency", None),
            # Ordinary industries.
            ("technology", "Technology", None),
            ("education", "Education", None),
            ("entertainment", "Entertainment", None),
            ("advertising", "Advertising and marketing services", None),
            ("retail", "Retail", None),
            ("automotive", "Automotive", None),
            ("finance", "Finance", None),
            ("healthcare_research", "Healthcare research", None),
            ("telecommunications", "Telecommunications", None),
            ("media_publishing", "Media and publishing", None),
            ("public_sector", "Public sector", None),
            ("non_profit", "Non-profit organisations", None),
        ]
    ],
)

# Actions a licence permits. ODRL has ``distribute`` and ``display``; the others are in the
# project profile (see ``odrl.py``).
ACTIONS = Vocabulary(
    "actions",
    [
        Term("train", "Train an AI model", DT + "train", None, ODRL + "use"),
        Term("fine_tune", "Fine-tune an AI model", DT + "fineTune", None, ODRL + "use"),
        Term("evaluate", "Test or evaluate an AI model", DT + "evaluate", None, ODRL + "use"),
        Term(
            "create_replica",
            "Create a digital replica (voice clone, face avatar)",
            DT + "createDigitalReplica",
            None,
            ODRL + "use",
        ),
        Term(
            "display",
            "Show the data itself (for example in an advert)",
            ODRL + "display",
            None,
            ODRL + "display",
        ),
        Term(
            "redistribute",
            "Pass the data on to others",
            ODRL + "distribute",
            None,
            ODRL + "distribute",
        ),
    ],
)

# Kinds of use a licence may prohibit whatever the purpose. A buyer declares the ones its
# use involves; some actions imply one (see ``uses_implied_by_action``).
USES = Vocabulary(
    "uses",
    [
        Term(code, label, DT + "use/" + code, parent)
        for code, label, parent in [
            ("digital_replica", "Digital replicas of the person", None),
            ("voice_cloning", "Voice cloning", "digital_replica"),
            ("face_avatar", "Face avatars and face swaps", "digital_replica"),
            ("impersonation", "Impersonating the person", None),
            ("biometric_identification", "Biometric identification", None),
            ("emotion_recognition", "Emotion recognition", None),
            ("surveillance", "Surveillance and tracking of people", None),
            ("political_persuasion", "Political persuasion", None),
            ("sexual_content", "Sexual content", None),
            ("redistribution", "Redistribution to third parties", None),
        ]
    ],
)

REPLICA_USE = "digital_replica"

# What a replica grant names besides its medium and languages (issue 16 §3): the kind of
# product the replica appears in and the channels it reaches people through. A replica
# use must name one category and its channels, and every one must be in the grant.
REPLICA_CATEGORIES = Vocabulary(
    "replica categories",
    [
        Term(code, label, DT + "replicaCategory/" + code, None)
        for code, label in [
            ("audiobook_narration", "Audiobook narration"),
            ("podcast", "Podcasts"),
            ("advertising", "Advertisements"),
            ("film_and_television", "Film and television"),
            ("video_game", "Video games"),
            ("e_learning", "Teaching and training courses"),
            ("virtual_assistant", "Virtual assistants"),
            ("customer_service", "Customer service"),
            ("dubbing", "Dubbing and translation of films"),
            ("accessibility", "Accessibility (reading aloud for people who need it)"),
        ]
    ],
)
# The media a replica grant covers, as terms (the codes are ``licence.REPLICA_MEDIA``).
REPLICA_MEDIA_TERMS = Vocabulary(
    "replica media",
    [
        Term(code, label, DT + "replicaMedium/" + code, None)
        for code, label in [
            ("voice", "A voice clone"),
            ("face", "A face avatar"),
            ("full_likeness", "The whole likeness (face and voice)"),
        ]
    ],
)
REPLICA_CHANNELS = Vocabulary(
    "replica channels",
    [
        Term(code, label, DT + "replicaChannel/" + code, None)
        for code, label in [
            ("audio_stores", "Audiobook and music stores"),
            ("streaming", "Streaming services"),
            ("broadcast_tv", "Broadcast television"),
            ("radio", "Radio"),
            ("cinema", "Cinemas"),
            ("social_media", "Social media"),
            ("websites_and_apps", "Websites and apps"),
            ("telephone", "Telephone lines"),
            ("outdoor_and_print", "Posters, billboards and print"),
        ]
    ],
)

# Uses a licence must permit by name (or, for a replica, by its replica grant): a licence
# that says nothing about them denies them (issue 16 §2: fail closed on sensitive uses).
SENSITIVE_USES = frozenset(
    {
        "biometric_identification",
        "surveillance",
        "emotion_recognition",
        "political_persuasion",
        "impersonation",
        REPLICA_USE,
    }
)

_IMPLIED_USES = {"create_replica": "digital_replica", "redistribute": "redistribution"}

# What the resulting model will do. A use names its task, and the task (not the purpose
# name the buyer chose) says which sensitive uses it involves: "computer vision training"
# for face recognition is biometric identification.
TASKS = Vocabulary(
    "tasks",
    [
        Term(code, label, DT + "task/" + code, None)
        for code, label in [
            ("speech_recognition", "Speech recognition (speech to text)"),
            ("speech_synthesis", "Speech synthesis in generic voices"),
            ("voice_cloning", "Speaking in this person's voice"),
            ("voice_conversion", "Converting a voice into this person's voice"),
            ("speaker_identification", "Recognising who is speaking"),
            ("speaker_verification", "Checking a speaker's claimed identity"),
            ("face_detection", "Finding faces without recognising them"),
            ("face_recognition", "Recognising who a face belongs to"),
            ("face_verification", "Checking a face against a claimed identity"),
            ("face_generation", "Generating or swapping this person's face"),
            ("gait_recognition", "Recognising people by how they walk"),
            ("person_reidentification", "Following the same person across cameras"),
            ("person_tracking", "Tracking where people go"),
            ("emotion_recognition", "Inferring emotions"),
            ("pose_estimation", "Estimating body pose"),
            ("object_detection", "Detecting objects"),
            ("image_classification", "Classifying images"),
            ("scene_understanding", "Understanding scenes"),
            ("image_generation", "Generating images of no real person"),
            ("language_modelling", "Language modelling and text generation"),
            ("translation", "Translation"),
            ("text_classification", "Classifying text"),
            ("content_moderation", "Content moderation"),
            ("political_messaging", "Writing or targeting political messages"),
            ("audio_classification", "Classifying sounds"),
        ]
    ],
)

# What the model outputs; some outputs are themselves sensitive whatever the task.
OUTPUTS = Vocabulary(
    "outputs",
    [
        Term(code, label, DT + "output/" + code, None)
        for code, label in [
            ("text", "Text"),
            ("transcript", "Transcripts"),
            ("labels", "Labels or scores about content"),
            ("bounding_boxes", "Positions of things in images"),
            ("synthetic_speech", "Speech in generic voices"),
            ("synthetic_images", "Images of no real person"),
            ("identity", "Who a person is"),
            ("biometric_template", "Face or voice templates"),
            ("emotion_labels", "Labels about people's emotions"),
            ("location_tracks", "Where people went"),
            ("person_voice", "Audio in this person's voice"),
            ("person_likeness", "Images or video of this person's face or body"),
            ("political_messages", "Political messages"),
        ]
    ],
)

_TASK_USES = {
    "voice_cloning": {"voice_cloning"},
    "voice_conversion": {"voice_cloning"},
    "speaker_identification": {"biometric_identification"},
    "speaker_verification": {"biometric_identification"},
    "face_recognition": {"biometric_identification"},
    "face_verification": {"biometric_identification"},
    "face_generation": {"face_avatar"},
    "gait_recognition": {"biometric_identification"},
    "person_reidentification": {"biometric_identification", "surveillance"},
    "person_tracking": {"surveillance"},
    "emotion_recognition": {"emotion_recognition"},
    "political_messaging": {"political_persuasion"},
}
_OUTPUT_USES = {
    "identity": {"biometric_identification"},
    "biometric_template": {"biometric_identification"},
    "emotion_labels": {"emotion_recognition"},
    "location_tracks": {"surveillance"},
    "person_voice": {"voice_cloning"},
    "person_likeness": {"face_avatar"},
    "political_messages": {"political_persuasion"},
}
# An industry or a purpose whose very point is a sensitive use.
_INDUSTRY_USES = {
    "surveillance": {"surveillance"},
    "law_enforcement": {"surveillance"},
    "political_campaigning": {"political_persuasion"},
}
_PURPOSE_USES = {"identity_verification": {"biometric_identification"}}


def uses_implied_by_action(action: str) -> frozenset[str]:
    """Uses an action always involves: creating a replica is a replica use, and so on."""
    implied = _IMPLIED_USES.get(action)
    return frozenset({implied}) if implied else frozenset()


def uses_implied(
    *,
    action: str,
    purpose: str,
    industry: str,
    task: str | None = None,
    outputs: Iterable[str] = (),
) -> frozenset[str]:
    """Every use the declared action, purpose, industry, task and outputs involve.

    Follows each vocabulary upwards, so a narrower industry (or purpose) implies what its
    broader one does. Unknown codes imply nothing here; the evaluation denies them.
    """
    found: set[str] = set(uses_implied_by_action(action))
    for code in PURPOSES.ancestors(purpose):
        found |= _PURPOSE_USES.get(code, set())
    for code in INDUSTRIES.ancestors(industry):
        found |= _INDUSTRY_USES.get(code, set())
    if task is not None:
        found |= _TASK_USES.get(task, set())
    for output in outputs:
        found |= _OUTPUT_USES.get(output, set())
    return frozenset(found)


def sensitive_kind(use: str) -> str | None:
    """The sensitive use ``use`` is a kind of (itself, or e.g. a replica), else None."""
    for ancestor in USES.ancestors(use):
        if ancestor in SENSITIVE_USES:
            return ancestor
    return None


def is_a(child: str, ancestor: str) -> bool:
    """Purpose ``child`` is ``ancestor`` or a kind of it; False if either is unknown.

    >>> is_a("speech_recognition_training", "research_and_development")
    True
    """
    return PURPOSES.is_a(child, ancestor)
