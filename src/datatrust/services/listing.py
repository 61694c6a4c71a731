"""Long lists a page shows a part of: the words searched for, and one page of the rows
that match, with how many pages there are. Filtering happens here, on the server (a
contributor's titles are sealed under their key, so only a service can read them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
PAGE_SIZE = 20


@dataclass(frozen=True)
class Paged(Generic[T]):
    """``rows``: page ``page`` (from 1) of ``pages``, out of ``total`` matching rows."""

    rows: list[T]
    page: int
    pages: int
    total: int


def paged(rows: Sequence[T], page: int, size: int | None = None) -> Paged[T]:
    """Page ``page`` of ``rows``, ``size`` (``PAGE_SIZE``) a page (past the last, the
    last; before the first, the first)."""
    size = size or PAGE_SIZE
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return Paged(list(rows[(page - 1) * size : page * size]), page, pages, len(rows))


def matches(query: str, *texts: str | None) -> bool:
    """Whether every word of ``query`` is found in ``texts``, ignoring case."""
    haystack = " ".join(t for t in texts if t).casefold()
    return all(word in haystack for word in query.casefold().split())
