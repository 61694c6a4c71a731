"""Redaction quality on planted-PII chat corpora; no timings.

``bench/corpus_chat.py`` was written alongside the redactor (a tuning corpus);
``bench/corpus_faker.py`` places Faker's personal details in templates written for it, and
its test half is only ever measured. The floors below sit a little under what the test
half measured (``bench/RESULTS.md``), so a regression fails here.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import build_locale_names
import corpus_faker  # the bench's generators and scorers, shared on purpose
from corpus_chat import generate, score
from text_eval import evaluate

from datatrust.pipeline.text_pii import Pseudonymizer, find_pii, redact


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


# Measured on this sample (800 messages, seed 3), session 6: overall recall 0.998,
# precision 0.984; PERSON 0.998 / 0.972, every other type 1.000 / 1.000. (Session 5:
# 0.970 / 0.983, PERSON 0.953 / 0.971, ADDRESS 0.990 / 1.000.) Most of the gain is Faker's
# name lists, which hold the test half's own name locales: with those locales left out of
# the list (scripts/build_locale_names.py --without …) the sample measures 0.976 / 0.983,
# PERSON 0.960 / 0.971.
FLOORS = {
    "all": (0.98, 0.975),
    "PERSON": (0.98, 0.96),
    "ADDRESS": (0.98, 0.99),
    "PHONE": (0.98, 0.99),
    "CARD": (0.98, 0.99),
    "EMAIL": (0.98, 0.99),
    "UPI": (0.98, 0.99),
}


# The held-out set (test templates, names from locales no list holds), same sample:
# overall 0.958 / 0.981, PERSON 0.935 / 0.969, ADDRESS 1.000 / 1.000 (session 5: 0.948 /
# 0.981, PERSON 0.920 / 0.969).
HOLDOUT_FLOORS = {"all": (0.95, 0.975), "PERSON": (0.92, 0.96), "ADDRESS": (0.98, 0.99)}


@pytest.mark.parametrize(("half", "floors"), [("test", FLOORS), ("holdout", HOLDOUT_FLOORS)])
def test_measured_only_sets_stay_above_their_floors_per_type(half, floors):
    corpus = corpus_faker.generate(800, half, seed=3)
    quality = evaluate(corpus, lambda text: [(s.start, s.end, s.type) for s in find_pii(text)])
    # Only figures in the failure message: the misses of a measured-only set are never
    # printed, so nobody tunes on them by accident.
    table = quality.table(half)
    for kind, (recall, precision) in floors.items():
        key = None if kind == "all" else kind
        planted = sum(quality.gold.values()) if key is None else quality.gold[key]
        found_recall, found_precision = quality.recall(key), quality.precision(key)
        assert planted > 0, kind
        assert found_recall >= recall, (kind, table)
        assert found_precision >= precision, (kind, table)


def test_halves_of_the_faker_corpus_share_no_template():
    tune_pii, tune_decoy = corpus_faker.templates("tune")
    test_pii, test_decoy = corpus_faker.templates("test")
    for style in tune_pii:
        assert not set(tune_pii[style]) & set(test_pii[style])
        assert not set(tune_decoy[style]) & set(test_decoy[style])
    assert corpus_faker.generate(50, "tune") != corpus_faker.generate(50, "test")


def test_held_out_names_come_from_locales_no_other_set_draws_from():
    held_out = {loc for locs in corpus_faker.HOLDOUT_NAME_LOCALES.values() for loc in locs}
    assert not held_out & set(corpus_faker.NAME_LOCALES)
    for dev in ("dev", "dev2"):
        dev_pii, dev_decoy = corpus_faker.templates(dev)
        for style in dev_pii:
            assert not set(dev_pii[style]) & set(corpus_faker.PII_TEMPLATES[style])
            assert not set(dev_decoy[style]) & set(corpus_faker.DECOY_TEMPLATES[style])


def test_the_locale_name_list_leaves_out_the_held_out_locales():
    # The held-out set measures names outside every list only while no list holds them.
    held_out = {loc for locs in corpus_faker.HOLDOUT_NAME_LOCALES.values() for loc in locs}
    assert held_out == build_locale_names.HELD_OUT
