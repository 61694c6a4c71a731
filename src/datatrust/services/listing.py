"""Long lists a page shows a part of: the words searched for, and one page of the rows
that match, with how many pages there are. Filters on columns and the paging go to the
database (``paged_by_query``); words are searched here, on the server, among the rows
those filters leave (a contributor's titles are sealed under their key, so only a
service can read them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def window(total: int, page: int, size: int | None = None) -> tuple[int, int, int]:
    """Where page ``page`` of ``total`` rows lies, ``size`` (``PAGE_SIZE``) a page:
    ``(page, pages, offset)``, the page asked for brought within the pages there are
    (past the last, the last; before the first, the first)."""
    size = size or PAGE_SIZE
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    return page, pages, (page - 1) * size


def paged(rows: Sequence[T], page: int, size: int | None = None) -> Paged[T]:
    """Page ``page`` of ``rows`` (``window``)."""
    size = size or PAGE_SIZE
    page, pages, offset = window(len(rows), page, size)
    return Paged(list(rows[offset : offset + size]), page, pages, len(rows))


def paged_by_query(
    total: int, page: int, fetch: Callable[[int, int], list[T]], size: int | None = None
) -> Paged[T]:
    """Page ``page`` (``window``) of ``total`` rows that a query gives: ``fetch(offset,
    limit)`` reads that page alone, so a long list is never read whole."""
    size = size or PAGE_SIZE
    page, pages, offset = window(total, page, size)
    return Paged(fetch(offset, size) if total else [], page, pages, total)


def matches(query: str, *texts: str | None) -> bool:
    """Whether every word of ``query`` is found in ``texts``, ignoring case."""
    haystack = " ".join(t for t in texts if t).casefold()
    return all(word in haystack for word in query.casefold().split())
