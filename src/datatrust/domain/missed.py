""" "You missed something": a mark a contributor puts on the preview of their own item where
de-identification left a personal detail in.

A mark never holds the detail itself: a text mark keeps where it was (character offsets
into the shipped text it was made on) and how long it was; a region mark keeps a box in
thousandths of the photo's width and height. Both keep a category, so operators can count
what the recognisers miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput
from datatrust.domain.items import ItemKind


class MarkKind(StrEnum):
    TEXT = "text"
    REGION = "region"


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
    start: int | None = None
    end: int | None = None
    length: int = 0
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
        raise InvalidInput(f"category: one of {', '.join(CATEGORIES)}", field="category")
    return category


def check_span(start: int, end: int, text_length: int) -> None:
    """A span must be non-empty and inside the text (``InvalidInput`` otherwise)."""
    if not 0 <= start < end <= text_length:
        raise InvalidInput(
            f"the span {start}-{end} is not inside the text (0-{text_length})", field="start"
        )


def check_box(box: tuple[int, int, int, int]) -> None:
    """A box (left, top, width, height in thousandths) must have an area and fit the photo."""
    left, top, width, height = box
    if not (
        0 <= left < BOX_SCALE
        and 0 <= top < BOX_SCALE
        and 0 < width <= BOX_SCALE - left
        and 0 < height <= BOX_SCALE - top
    ):
        raise InvalidInput(
            f"box: left, top, width, height in thousandths (0-{BOX_SCALE}) inside the photo",
            field="box",
        )
