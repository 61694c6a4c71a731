"""Benchmark: our text redactor vs Presidio (pattern-only) on the planted-PII chat corpus.

    uv run python bench/bench_text.py [--messages 3000] [--seed 7] [--write-results]

Both tools see the same messages, one call per message, single process. Presidio runs
with only pattern recognizers (email, phone for IN/ZA/US/GB, credit card, URL, US SSN,
Aadhaar) and an explicit entity list, on a *blank* spaCy English pipeline (tokenizer
only): no trained model exists offline here, and this way nothing tries to download one
(we check ``spacy.util.is_package`` is never asked for a model we would fetch).

Quality is span-level, type-agnostic, overlap-matched (see ``corpus_chat.score``).
Presidio has no recognizer for names without NER, South African ids, street addresses
or @handles, so its recall is also shown on just the types it supports.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from corpus_chat import generate, score

from datatrust.pipeline.text_pii import Pseudonymizer, redact

PRESIDIO_ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "URL", "US_SSN", "IN_AADHAAR"]
PRESIDIO_TYPES = {"EMAIL", "PHONE", "CARD", "URL", "SSN", "AADHAAR"}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


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


def run_ours(texts: list[str]) -> tuple[list[list[tuple[int, int]]], float]:
    redact("warm up the gazetteer")  # loading the name lists is a one-off, not per message
    pseudonyms = Pseudonymizer()
    start = time.perf_counter()
    preds = [[(s.start, s.end) for s in redact(t, pseudonyms).spans] for t in texts]
    return preds, time.perf_counter() - start


def run_presidio(texts: list[str]) -> tuple[list[list[tuple[int, int]]], float]:
    analyzer = build_presidio()
    analyzer.analyze("warm up", language="en", entities=PRESIDIO_ENTITIES)
    start = time.perf_counter()
    preds = [
        [(r.start, r.end) for r in analyzer.analyze(t, language="en", entities=PRESIDIO_ENTITIES)]
        for t in texts
    ]
    return preds, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write-results", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    corpus = generate(args.messages, args.seed)
    texts = [s.text for s in corpus]
    gold = [s.spans for s in corpus]
    supported_gold = [tuple(g for g in spans if g[2] in PRESIDIO_TYPES) for spans in gold]

    ours, t_ours = run_ours(texts)
    theirs, t_theirs = run_presidio(texts)
    q_ours, q_theirs = score(ours, gold), score(theirs, gold)
    q_theirs_supported = score(theirs, supported_gold)
    q_ours_supported = score(ours, supported_gold)
    rate_ours, rate_theirs = len(texts) / t_ours, len(texts) / t_theirs

    rows = [
        ("datatrust", rate_ours, q_ours, q_ours_supported),
        ("presidio (patterns)", rate_theirs, q_theirs, q_theirs_supported),
    ]
    header = "| tool | msg/s | precision | recall | recall on Presidio's types |"
    lines = [header, "| --- | ---: | ---: | ---: | ---: |"]
    for name, rate, q, qs in rows:
        lines.append(
            f"| {name} | {rate:,.0f} | {q['precision']:.3f} | {q['recall']:.3f} "
            f"| {qs['recall']:.3f} |"
        )
    table = "\n".join(lines)
    summary = {
        "messages": len(texts),
        "planted_spans": q_ours["gold"],
        "seed": args.seed,
        "ours_msgs_per_s": round(rate_ours),
        "presidio_msgs_per_s": round(rate_theirs),
        "throughput_ratio": round(rate_ours / rate_theirs, 2),
        "ours_precision": round(q_ours["precision"], 4),
        "ours_recall": round(q_ours["recall"], 4),
        "presidio_precision": round(q_theirs["precision"], 4),
        "presidio_recall": round(q_theirs["recall"], 4),
        "presidio_recall_on_its_types": round(q_theirs_supported["recall"], 4),
        "matching": "span-level, type-agnostic, overlap",
    }
    print(table)
    print(json.dumps(summary))
    if args.write_results:
        command = "uv run python bench/bench_text.py " + " ".join(
            a for a in sys.argv[1:] if a != "--write-results"
        )
        _append_results(table, summary, command.strip())


def _append_results(table: str, summary: dict, command: str) -> None:
    """Append (never rewrite) a dated run under the "Text redaction" heading."""
    existing = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = (
        f"\n### Run {time.strftime('%Y-%m-%d %H:%M')}\n\n`{command}`\n\n{table}\n\n"
        f"```json\n{json.dumps(summary)}\n```\n"
    )
    heading = "## Text redaction"
    if heading not in existing:
        intro = (
            f"\n{heading}\n\nOur redactor (`datatrust.pipeline.text_pii.redact`) vs Presidio "
            "pattern-only (blank spaCy tokenizer, explicit entity list, phone regions "
            "IN/ZA/US/GB) on the deterministic planted-PII chat corpus of "
            "`bench/corpus_chat.py`; one call per message, one process on the shared 2-core "
            "machine. Precision/recall are span-level, type-agnostic, overlap-matched. "
            "Presidio has no name, ZA id, address or handle recognizer without NER, hence "
            "the extra recall column restricted to the types it supports.\n"
        )
        RESULTS.write_text(existing.rstrip("\n") + "\n" + intro + block, encoding="utf-8")
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
