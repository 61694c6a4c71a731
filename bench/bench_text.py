"""Benchmark: our text redactor vs Presidio (pattern-only), per PII type, on two corpora.

    uv run python bench/bench_text.py [--messages 3000] [--seed 7] [--write-results]

Corpora (``--messages`` each):

* ``chat``: the planted-PII corpus of ``bench/corpus_chat.py``, written alongside the
  redactor; a tuning corpus, nothing more.
* ``faker-tune`` / ``faker-test``: ``bench/corpus_faker.py``, Faker's names, addresses,
  phone numbers, e-mail addresses and cards in chat templates written for it (Hinglish,
  Hindi, South-African and US/UK English), split by seed and by template. The redactor
  was tuned on the tuning half; the test half is only ever measured.
* ``faker-dev``, ``faker-dev2``: more tuning data, in templates of their own.
* ``faker-holdout``: the test half's templates with names from Faker locales no other
  set uses; only ever measured.

Both tools see the same messages, one call per message, single process, taking turns
every ``CHUNK`` messages, timed in CPU seconds of the process (``--rounds`` rounds, the
median rate reported): the machine is shared and noisy, so the figure that matters is the
ratio measured in the same run, and wall-clock time there mostly measures waiting for a
core. Presidio runs with only
pattern recognizers (email, phone for IN/ZA/US/GB, credit card, URL, US SSN, Aadhaar)
and an explicit entity list, on a *blank* spaCy English pipeline (tokenizer only): no
trained model exists offline here, and this way nothing tries to download one.

Quality: ``bench/text_eval.py`` — a planted detail is found when predicted spans of any
type cover 80% of its letters and digits; a prediction is correct when it overlaps a
planted detail; recall per planted type, precision per predicted type.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import corpus_chat
import corpus_faker
from text_eval import Quality, evaluate

from datatrust.pipeline.text_pii import Pseudonymizer, redact

PRESIDIO_ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "URL", "US_SSN", "IN_AADHAAR"]
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "URL": "URL",
    "US_SSN": "SSN",
    "IN_AADHAAR": "AADHAAR",
}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
Predicted = list[tuple[int, int, str]]


def build_presidio():
    """A pattern-only AnalyzerEngine that cannot reach for a spaCy model download."""
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        InAadhaarRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer as email_module

    class BlankSpacyNlpEngine(SpacyNlpEngine):
        # spacy.blank needs no model package; load() would otherwise try to download
        # en_core_web_lg.
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    def no_download(*args, **kwargs):
        raise RuntimeError("Presidio tried to download a spaCy model")

    SpacyNlpEngine._download_spacy_model_if_needed = staticmethod(no_download)
    spacy.cli.download = no_download
    # The email recognizer calls tldextract, whose default fetches the public suffix list
    # over the network; use the snapshot bundled with tldextract instead.
    email_module.tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    registry = RecognizerRegistry(
        recognizers=[
            EmailRecognizer(),
            PhoneRecognizer(supported_regions=("IN", "ZA", "US", "GB")),
            CreditCardRecognizer(),
            UrlRecognizer(),
            UsSsnRecognizer(),
            InAadhaarRecognizer(),
        ]
    )
    engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


CHUNK = 100  # messages per timed slice; the tools take turns slice by slice


def run_both(analyzer, texts: list[str]) -> tuple[list[Predicted], list[Predicted], float, float]:
    """Both tools over ``texts`` in turns of ``CHUNK`` messages (who goes first alternates),
    timed in CPU seconds of this process: on a loaded machine, wall-clock time mostly
    measures how long each tool waited for a core, and whole-corpus runs one after the
    other see different loads. Returns both predictions and both CPU times."""
    redact("warm up the gazetteer")  # loading the name lists is a one-off, not per message
    pseudonyms = Pseudonymizer()
    ours: list[Predicted] = []
    theirs: list[Predicted] = []
    t_ours = t_theirs = 0.0
    for k in range(0, len(texts), CHUNK):
        chunk = texts[k : k + CHUNK]
        for tool in ("ours", "theirs") if (k // CHUNK) % 2 else ("theirs", "ours"):
            start = time.process_time()
            if tool == "ours":
                ours += [
                    [(s.start, s.end, s.type) for s in redact(t, pseudonyms).spans] for t in chunk
                ]
                t_ours += time.process_time() - start
            else:
                theirs += [
                    [
                        (r.start, r.end, PRESIDIO_TYPES[r.entity_type])
                        for r in analyzer.analyze(t, language="en", entities=PRESIDIO_ENTITIES)
                    ]
                    for t in chunk
                ]
                t_theirs += time.process_time() - start
    return ours, theirs, t_ours, t_theirs


def _score(samples, preds: list[Predicted], kinds: set[str] | None = None) -> Quality:
    by_text = iter(preds)
    return evaluate(samples, lambda _text: next(by_text), kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per corpus")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per tool")
    parser.add_argument("--write-results", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    corpora = {
        "chat": corpus_chat.generate(args.messages, args.seed),
        "faker-tune": corpus_faker.generate(args.messages, "tune", args.seed),
        "faker-dev": corpus_faker.generate(args.messages, "dev", args.seed),
        "faker-dev2": corpus_faker.generate(args.messages, "dev2", args.seed),
        "faker-test": corpus_faker.generate(args.messages, "test", args.seed),
        "faker-holdout": corpus_faker.generate(args.messages, "holdout", args.seed),
    }
    analyzer = build_presidio()
    analyzer.analyze("warm up", language="en", entities=PRESIDIO_ENTITIES)
    tables: list[str] = []
    summary: dict = {"messages_per_corpus": args.messages, "seed": args.seed, "cover": 0.8}
    for name, samples in corpora.items():
        texts = [s.text for s in samples]
        ours_rates, theirs_rates = [], []
        for t in texts[:CHUNK]:  # both tools compile patterns and load data lazily
            analyzer.analyze(t, language="en", entities=PRESIDIO_ENTITIES)
            redact(t)
        for _ in range(args.rounds):
            ours, theirs, t_ours, t_theirs = run_both(analyzer, texts)
            ours_rates.append(len(texts) / t_ours)
            theirs_rates.append(len(texts) / t_theirs)
        q_ours = _score(samples, ours)
        q_theirs = _score(samples, theirs)
        q_theirs_own = _score(samples, theirs, set(PRESIDIO_TYPES.values()))
        rate_ours = statistics.median(ours_rates)
        rate_theirs = statistics.median(theirs_rates)
        tables.append(_per_type_table(name, q_ours, q_theirs, q_theirs_own))
        tables.append(
            f"Speed on `{name}`: datatrust {rate_ours:,.0f} msg/s, Presidio "
            f"{rate_theirs:,.0f} msg/s of CPU time, ratio {rate_ours / rate_theirs:.1f}× "
            f"(medians of {args.rounds} rounds, the tools taking turns every {CHUNK} messages)."
        )
        summary[name] = {
            "planted": sum(q_ours.gold.values()),
            "ours_recall": round(q_ours.recall(), 4),
            "ours_precision": round(q_ours.precision(), 4),
            "ours_recall_by_type": {k: round(q_ours.recall(k), 4) for k in sorted(q_ours.gold)},
            "ours_precision_by_type": {
                k: round(q_ours.precision(k), 4) for k in sorted(q_ours.predicted)
            },
            "ours_false_positives_by_decoy": dict(q_ours.false_by_decoy),
            "presidio_recall": round(q_theirs.recall(), 4),
            "presidio_precision": round(q_theirs.precision(), 4),
            "presidio_recall_on_its_types": round(q_theirs_own.recall(), 4),
            "ours_msgs_per_s": round(rate_ours),
            "presidio_msgs_per_s": round(rate_theirs),
            "throughput_ratio": round(rate_ours / rate_theirs, 2),
        }
    text = "\n\n".join(tables)
    print(text)
    print(json.dumps(summary))
    if args.write_results:
        command = "uv run python bench/bench_text.py " + " ".join(
            a for a in sys.argv[1:] if a != "--write-results"
        )
        _append_results(text, summary, command.strip())


def _per_type_table(name: str, ours: Quality, theirs: Quality, theirs_own: Quality) -> str:
    lines = [
        f"`{name}` | planted | datatrust recall | datatrust precision (n) "
        "| Presidio recall | Presidio precision (n) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in sorted(set(ours.types()) | set(theirs.types())):
        lines.append(
            f"| {kind} | {ours.gold[kind]} | {_r(ours, kind)} | {_p(ours, kind)} "
            f"| {_r(theirs, kind)} | {_p(theirs, kind)} |"
        )
    lines.append(
        f"| **all** | {sum(ours.gold.values())} | **{ours.recall():.3f}** "
        f"| **{ours.precision():.3f}** ({sum(ours.predicted.values())}) "
        f"| {theirs.recall():.3f} (on its types {theirs_own.recall():.3f}) "
        f"| {theirs.precision():.3f} ({sum(theirs.predicted.values())}) |"
    )
    return "| " + "\n".join(lines)


def _r(q: Quality, kind: str) -> str:
    return f"{q.recall(kind):.3f}" if q.gold[kind] else "–"


def _p(q: Quality, kind: str) -> str:
    return f"{q.precision(kind):.3f} ({q.predicted[kind]})" if q.predicted[kind] else "–"


def _append_results(table: str, summary: dict, command: str) -> None:
    """Append (never rewrite) a dated run under the "Text redaction" heading."""
    existing = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = (
        f"\n### Run {time.strftime('%Y-%m-%d %H:%M')}\n\n`{command}`\n\n{table}\n\n"
        f"```json\n{json.dumps(summary)}\n```\n"
    )
    heading = "## Text redaction"
    if heading not in existing:
        RESULTS.write_text(existing.rstrip("\n") + f"\n\n{heading}\n" + block, encoding="utf-8")
        return
    # Insert at the end of our section, i.e. before the next "## " heading if any.
    start = existing.index(heading)
    nxt = existing.find("\n## ", start + len(heading))
    if nxt == -1:
        RESULTS.write_text(existing.rstrip("\n") + "\n" + block, encoding="utf-8")
    else:
        RESULTS.write_text(existing[:nxt].rstrip("\n") + "\n" + block + existing[nxt:], "utf-8")


if __name__ == "__main__":
    main()
