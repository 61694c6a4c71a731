"""Redaction quality on the planted-PII chat corpus (bench/corpus_chat.py); no timings."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from corpus_chat import generate, score  # the bench's generator and scorer, shared on purpose

from datatrust.pipeline.text_pii import Pseudonymizer, redact


def test_redactor_reaches_recall_and_precision_of_at_least_095_on_planted_pii():
    corpus = generate(800, seed=11)
    pseudonyms = Pseudonymizer()
    predicted = [[(s.start, s.end) for s in redact(m.text, pseudonyms).spans] for m in corpus]
    quality = score(predicted, [m.spans for m in corpus])
    assert quality["gold"] > 300
    assert quality["recall"] >= 0.95, quality
    assert quality["precision"] >= 0.95, quality


def test_every_pii_type_is_planted_in_the_corpus():
    planted = {t for m in generate(800, seed=11) for _, _, t in m.spans}
    assert planted == {
        "PHONE",
        "EMAIL",
        "CARD",
        "AADHAAR",
        "ZA_ID",
        "SSN",
        "URL",
        "HANDLE",
        "ADDRESS",
        "PERSON",
    }
