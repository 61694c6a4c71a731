"""Ids of stored records.

A record's ``id`` is given by the database when the record is first flushed, so the
dataclasses declare it ``int | None``. Code that holds a record it loaded, or added and
flushed, knows the id is there: ``id_of`` says so to the type checker and fails loudly,
instead of writing ``None`` into a reference, if that ever is not true.
"""

from __future__ import annotations

from typing import Protocol


class Stored(Protocol):
    @property
    def id(self) -> int | None: ...


class NotStoredYet(RuntimeError):
    """A programming error: a record's id was needed before the record was flushed."""


def id_of(record: Stored) -> int:
    """``record.id``, which must be known (the record was loaded, or added and flushed)."""
    if record.id is None:
        raise NotStoredYet(f"{type(record).__name__} has no id yet: flush it first")
    return record.id
