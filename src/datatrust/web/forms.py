"""Multipart forms whose file is refused as soon as it passes a limit.

Starlette's parser spools a file part whole before the route sees it; a route that knows
the most its file may hold (a task's kind's limit, or the limit of the kind its form names
before the file) parses with ``read_form`` instead, so a file past that limit is refused
while it streams in, after no more than the limit (and whatever the client sent in one
piece), whatever the body declared or did not declare."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request


class FileTooLarge(Exception):
    """A file part passed ``max_file_bytes`` while it streamed in. ``fields`` are the form's
    text fields that came before it (to show the form again as it was filled in)."""

    def __init__(self, max_file_bytes: int, fields: dict[str, str]) -> None:
        super().__init__(f"a file may be at most {max_file_bytes} bytes")
        self.max_file_bytes = max_file_bytes
        self.fields = fields


# The most a file may hold: a number, or one worked out from the text fields before it.
FileLimit = int | Callable[[dict[str, str]], int]


class _LimitedParser(MultiPartParser):
    """Starlette's parser, counting each file part's bytes as they arrive."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_file_bytes: FileLimit,
        **limits: Any,
    ) -> None:
        super().__init__(headers, stream, **limits)
        self._limit = max_file_bytes
        self._max_file_bytes = 0
        self._file_bytes = 0

    def _fields(self) -> dict[str, str]:
        return {name: value for name, value in self.items if isinstance(value, str)}

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None:
            limit = self._limit
            self._max_file_bytes = limit if isinstance(limit, int) else limit(self._fields())
            self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self._max_file_bytes:  # the parser closes its files
                raise FileTooLarge(self._max_file_bytes, self._fields())
        super().on_part_data(data, start, end)


async def read_form(request: Request, *, max_file_bytes: FileLimit, **limits: Any) -> FormData:
    """``request.form(**limits)``, except that a file over ``max_file_bytes`` (or over
    ``max_file_bytes(fields before it)``) raises ``FileTooLarge`` as soon as its bytes
    pass it. A body that is not multipart is parsed as ``request.form`` would."""
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or request._form is not None:
        # Not a file upload; or a session's CSRF check (deps.check_csrf) has read the form
        # already, whole: a caller with a session sends X-CSRF-Token to be limited here.
        return await request.form(**limits)
    parser = _LimitedParser(
        request.headers,
        request.stream(),
        max_file_bytes=max_file_bytes,
        **limits,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail=exc.message) from exc
    # The body is consumed: whoever asks the request for its form next (the CSRF check)
    # must get this one, which is where Starlette keeps it.
    request._form = form
    return form
