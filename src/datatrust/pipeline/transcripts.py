"""A call transcript's turns: who said what, and the contributor's side alone.

A transcript the contributor provides is plain text, one turn per line in the form
``Speaker: words`` (an optional leading time stamp such as ``[00:01:02]`` or ``00:01`` is
allowed); a line without a label continues the previous turn. ``split_turns`` reads it;
``pseudonymised`` writes it back with the contributor as ``CONTRIBUTOR`` and everyone
else as ``PARTICIPANT_1``, ``PARTICIPANT_2`` … (numbered in order of first turn, the
labels the confirmation invitations use), keeping only the speakers asked for.

Fail closed: a transcript with no speaker labels, or in which the contributor's label is
not found, has no turns that are provably the contributor's, so ``own_side`` returns None.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

CONTRIBUTOR = "CONTRIBUTOR"
# Labels a contributor naturally gives themselves when they did not say their name.
DEFAULT_SELF_LABELS = frozenset({"me", "contributor", "myself"})

_TURN = re.compile(
    r"^\s*(?:\[?\d{1,2}(?::\d{2}){1,2}(?:[.,]\d+)?\]?\s*[-–]?\s*)?"  # optional time stamp
    r"(?P<speaker>[^\W\d][\w .'()-]{0,39}?)\s*:\s+(?P<text>.*)$"
)


@dataclass(frozen=True)
class Turn:
    speaker: str  # as the transcript spells it, whitespace-normalised
    text: str


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def split_turns(transcript: str) -> list[Turn]:
    """The labelled turns, in order. Empty when no line carries a speaker label (text
    before the first label is dropped: nobody can be said to have spoken it)."""
    turns: list[Turn] = []
    for line in transcript.splitlines():
        m = _TURN.match(line)
        if m:
            turns.append(Turn(" ".join(m["speaker"].split()), m["text"].strip()))
        elif turns and line.strip():
            last = turns[-1]
            turns[-1] = Turn(last.speaker, f"{last.text} {line.strip()}".strip())
    return turns


def contributor_label(turns: list[Turn], me: str | None) -> str | None:
    """The speaker label that is the contributor: ``me`` when given (case and spacing
    ignored), else one of ``DEFAULT_SELF_LABELS``; None when not found."""
    speakers = {_norm(t.speaker): t.speaker for t in turns}
    wanted = [_norm(me)] if me else sorted(DEFAULT_SELF_LABELS)
    return next((speakers[w] for w in wanted if w in speakers), None)


def pseudonymised(
    turns: list[Turn], me_label: str | None, keep_others: bool | Collection[str] = True
) -> tuple[str, int]:
    """(text, turns left out). The contributor's turns are labelled ``CONTRIBUTOR``; other
    speakers ``PARTICIPANT_n``; ``keep_others`` is True (everyone), False (nobody else) or
    the ``PARTICIPANT_n`` labels to keep."""
    labels: dict[str, str] = {}
    lines: list[str] = []
    dropped = 0
    for turn in turns:
        key = _norm(turn.speaker)
        if me_label is not None and key == _norm(me_label):
            label = CONTRIBUTOR
        else:
            label = labels.setdefault(key, f"PARTICIPANT_{len(labels) + 1}")
            if not (keep_others is True or (keep_others and label in keep_others)):
                dropped += 1
                continue
        lines.append(f"{label}: {turn.text}")
    return "\n".join(lines) + ("\n" if lines else ""), dropped


def other_speakers(transcript: str, me: str | None) -> list[str] | None:
    """The ``PARTICIPANT_n`` labels of everyone but the contributor, in order of first turn
    (the numbering ``pseudonymised`` uses), or None when the transcript cannot say who they
    are: no speaker labels, the contributor's label not found, or nobody else labelled
    (a call always has another side, so an unlabelled one is not "nobody")."""
    turns = split_turns(transcript)
    label = contributor_label(turns, me)
    if label is None:
        return None
    others = dict.fromkeys(_norm(t.speaker) for t in turns if _norm(t.speaker) != _norm(label))
    return [f"PARTICIPANT_{n}" for n in range(1, len(others) + 1)] or None


def own_side(transcript: str, me: str | None) -> tuple[str, int] | None:
    """(the contributor's turns only, pseudonymised; how many other turns were left out),
    or None when the contributor's turns cannot be told apart (fail closed)."""
    turns = split_turns(transcript)
    label = contributor_label(turns, me)
    if label is None:
        return None
    return pseudonymised(turns, label, keep_others=False)
