"""Per-type recall and precision of a PII finder on a corpus of planted spans.

Matching (stricter than ``corpus_chat.score``'s any-overlap):

* a planted span counts as **found** when the predicted spans together cover at least
  ``COVER`` of its letters and digits, whatever type they carry (a card redacted as a
  phone is still hidden; an address of which only the street number is hidden is not);
* a predicted span counts as **correct** when it overlaps a planted span; otherwise it is a
  false positive of the type it was predicted as (and, on a decoy line, of that decoy kind).

Recall is per planted type, precision per predicted type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

COVER = 0.8


class _Sample(Protocol):
    text: str
    spans: tuple[tuple[int, int, str], ...]


Predicted = list[tuple[int, int, str]]


@dataclass
class Quality:
    gold: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    predicted: Counter = field(default_factory=Counter)
    correct: Counter = field(default_factory=Counter)
    false_by_decoy: Counter = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (type, value, text)
    false: list[tuple[str, str, str]] = field(default_factory=list)  # (type, value, text)

    def recall(self, kind: str | None = None) -> float:
        g = self.gold[kind] if kind else sum(self.gold.values())
        f = self.found[kind] if kind else sum(self.found.values())
        return f / g if g else 1.0

    def precision(self, kind: str | None = None) -> float:
        p = self.predicted[kind] if kind else sum(self.predicted.values())
        c = self.correct[kind] if kind else sum(self.correct.values())
        return c / p if p else 1.0

    def types(self) -> list[str]:
        return sorted(set(self.gold) | set(self.predicted))

    def table(self, title: str) -> str:
        lines = [
            f"| {title} | planted | recall | predicted | precision |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for kind in self.types():
            lines.append(
                f"| {kind} | {self.gold[kind]} | {self.recall(kind):.3f} "
                f"| {self.predicted[kind]} | {self.precision(kind):.3f} |"
            )
        lines.append(
            f"| **all** | {sum(self.gold.values())} | **{self.recall():.3f}** "
            f"| {sum(self.predicted.values())} | **{self.precision():.3f}** |"
        )
        return "\n".join(lines)


def _alnum_covered(text: str, start: int, end: int, pred: Predicted) -> float:
    wanted = [i for i in range(start, end) if text[i].isalnum()]
    if not wanted:
        return 1.0
    hit = sum(any(s <= i < e for s, e, _ in pred) for i in wanted)
    return hit / len(wanted)


def evaluate(
    samples: Sequence[_Sample],
    predict: Callable[[str], Predicted],
    kinds: set[str] | None = None,
) -> Quality:
    """Score ``predict`` (text → ``[(start, end, type)]``) on ``samples``. With ``kinds``,
    only planted spans of those types count (for a tool that supports fewer types)."""
    q = Quality()
    for sample in samples:
        text = sample.text
        gold = [g for g in sample.spans if kinds is None or g[2] in kinds]
        pred = predict(text)
        for s, e, kind in gold:
            q.gold[kind] += 1
            if _alnum_covered(text, s, e, pred) >= COVER:
                q.found[kind] += 1
            else:
                q.misses.append((kind, text[s:e], text))
        for s, e, kind in pred:
            q.predicted[kind] += 1
            if any(s < ge and gs < e for gs, ge, _ in sample.spans):
                q.correct[kind] += 1
            else:
                q.false.append((kind, text[s:e], text))
                for decoy in getattr(sample, "decoys", ()):
                    q.false_by_decoy[decoy] += 1
    return q
