""" "You missed something": a mark a contributor puts on the preview of their own item where
de-identification left a personal detail in.

A mark never holds the detail itself: a text mark keeps where it was (character offsets
into the shipped text it was made on) and how long it was; a region mark keeps a box in
thousandths of the photo's width and height; a time mark keeps a stretch of a recording
(audio, or a video's soundtrack) in milliseconds from its start. All keep a category, so
operators can count what the recognisers miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.items import ItemKind


class MarkKind(StrEnum):
    TEXT = "text"
    REGION = "region"
    TIME = "time"  # a stretch of a recording: a name said in a call, a number read out


class MarkState(StrEnum):
    PENDING = "pending"  # the item is held back until it is applied
    APPLIED = "applied"


# What the contributor says the missed detail was. A closed list so counts add up.
CATEGORIES = (
    "name",
    "phone",
    "email",
    "address",
    "id_number",
    "payment",
    "handle",
    "face",
    "plate",
    "other",
)
# A box is given in thousandths of the photo's width and height.
BOX_SCALE = 1000


@dataclass(eq=False)
class MissedMark:
    item_id: int
    owner_id: int
    item_kind: ItemKind  # kept here so counts need no join
    kind: MarkKind
    category: str
    # The de-identified version the mark was made on (its offsets or box refer to it).
    source_key: str
    # TEXT: character offsets into the shipped text; TIME: milliseconds from the start.
    start: int | None = None
    end: int | None = None
    length: int = 0  # end - start, in the same unit
    box_left: int | None = None
    box_top: int | None = None
    box_width: int | None = None
    box_height: int | None = None
    state: MarkState = MarkState.PENDING
    created_at: datetime = field(default_factory=utcnow)
    applied_at: datetime | None = None
    id: int | None = None

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        if self.box_left is None:
            return None
        return (self.box_left, self.box_top or 0, self.box_width or 0, self.box_height or 0)


def check_category(category: str) -> str:
    """The category, or ``InvalidInput`` naming the allowed ones."""
    if category not in CATEGORIES:
        raise InvalidInput(Problem("category", "one_of", {"choices": list(CATEGORIES)}))
    return category


def check_span(start: int, end: int, text_length: int) -> None:
    """A span must be non-empty and inside the text (``InvalidInput`` otherwise)."""
    if not 0 <= start < end <= text_length:
        span = {"start": start, "end": end, "length": text_length}
        raise InvalidInput(Problem("start", "missed.span_outside", span))


def check_box(box: tuple[int, int, int, int]) -> None:
    """A box (left, top, width, height in thousandths) must have an area and fit the photo."""
    left, top, width, height = box
    if not (
        0 <= left < BOX_SCALE
        and 0 <= top < BOX_SCALE
        and 0 < width <= BOX_SCALE - left
        and 0 < height <= BOX_SCALE - top
    ):
        raise InvalidInput(Problem("box", "missed.box", {"scale": BOX_SCALE}))


def check_time_span(start_ms: int, end_ms: int, duration_ms: int) -> None:
    """A stretch of a recording must be non-empty and inside it (``InvalidInput`` naming
    ``start_ms`` otherwise)."""
    if not 0 <= start_ms < end_ms <= duration_ms:
        span = {"start": start_ms, "end": end_ms, "length": duration_ms}
        raise InvalidInput(Problem("start_ms", "missed.stretch_outside", span))


def parse_clock(text: str) -> int:
    """A time as a player shows it ("1:05", "0:07.5", "1:02:03") or in seconds ("65") →
    milliseconds; ``InvalidInput`` naming ``start_ms`` for anything else."""
    parts = text.strip().split(":")
    try:
        if not 1 <= len(parts) <= 3 or any(not p.strip() for p in parts):
            raise ValueError(text)
        seconds = float(parts[-1])
        whole = [int(p) for p in parts[:-1]]
        if not 0 <= seconds < (60 if whole else 10**7) or any(w < 0 for w in whole):
            raise ValueError(text)
        if len(whole) == 2 and whole[1] >= 60:
            raise ValueError(text)
    except ValueError:
        raise InvalidInput(Problem("start_ms", "missed.clock")) from None
    minutes = whole[-1] + 60 * whole[0] if len(whole) == 2 else (whole[0] if whole else 0)
    return round((minutes * 60 + seconds) * 1000)
