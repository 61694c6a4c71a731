"""One error shape for every failure, an RFC 9457 problem details object
(``application/problem+json``) that also keeps the older ``error`` member::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "password: use at least 10 characters",
     "problems": [{"field": "password", "code": "password.too_short",
                   "params": {"minimum": 10}, "message": "use at least 10 characters"}],
     "error": {"code": "invalid_input", "message": "…", "details": {"problems": ["…"]}}}

``problems`` is what a client acts on: each names its field (or null), a stable code from
``domain.problem_texts`` and the code's parameters; ``message`` is the English sentence
(a client that speaks another language renders its own from code and parameters). The
schema is ``ErrorOut`` in the OpenAPI document, declared on every route (``ERROR_RESPONSES``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from datatrust.domain.errors import DomainError, Problem
from datatrust.domain.money import Money

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ProblemOut(BaseModel):
    field: str | None = Field(description="The request field it concerns; null: the whole request.")
    code: str = Field(
        description="Stable identifier (domain.problem_texts), e.g. password.too_short."
    )
    params: dict[str, Any] = Field(
        description="The code's parameters: numbers, text, ISO 8601 dates, durations in "
        "seconds, money as {amount_minor, currency}, lists of these."
    )
    message: str = Field(description="The sentence in English, without the field name.")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """RFC 9457 problem details, with the structured ``problems`` and the older ``error``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    problems: list[ProblemOut]
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "The input breaks a rule: every problem listed."},
    "4XX": {"model": ErrorOut, "description": "Refused: problem details say why."},
}


def jsonable(value: Any) -> Any:
    """A problem parameter as JSON: money as the API's money shape, durations in seconds."""
    if isinstance(value, Money):
        return {"amount_minor": value.amount_minor, "currency": value.currency}
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds == int(seconds) else seconds
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "field": problem.field,
        "code": problem.code,
        "params": jsonable(problem.params),
        "message": problem.text,
    }


# Statuses that protocols define outside the HTTP registry: tus's checksum extension answers
# a chunk whose Upload-Checksum does not match with 460.
NON_STANDARD_PHRASES = {460: "Checksum Mismatch"}


def status_phrase(status: int) -> str:
    """The reason phrase of ``status`` (RFC 9457's ``title`` for ``about:blank``)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return NON_STANDARD_PHRASES.get(status, "Error")


def error_body(
    code: str,
    message: str,
    details: object = None,
    *,
    status: int = 400,
    problems: Iterable[Problem] = (),
) -> dict:
    listed = [problem_json(p) for p in problems]
    return {
        "type": "about:blank",
        "title": status_phrase(status),
        "status": status,
        "detail": message,
        "problems": listed,
        "error": {"code": code, "message": message, "details": jsonable(details or {})},
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: object = None,
    problems: Iterable[Problem] = (),
) -> JSONResponse:
    body = error_body(code, message, details, status=status, problems=problems)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def domain_error_response(exc: DomainError) -> JSONResponse:
    response = error_response(exc.status, exc.code, exc.message, exc.details, exc.problems)
    set_retry_after(response, exc)
    return response


def too_large_problem(limit: object) -> Problem:
    """The 413 of a body past its route's limit (``web.body_limits``)."""
    return Problem(None, "request.too_large", {"limit_bytes": limit})


def _problem(error: dict) -> Problem:
    """One of pydantic's validation errors as a problem."""
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    kind = error.get("type", "")
    if kind == "json_invalid":
        reason = str(error.get("ctx", {}).get("error", "parse error"))
        return Problem(None, "request.malformed_json", {"reason": reason})
    if kind == "extra_forbidden":
        return Problem(where, "request.unknown_field")
    if kind == "missing":
        return Problem(where, "required")
    return Problem(where, "request.invalid", {"reason": str(error.get("msg", "invalid"))})


# What a client waiting for the database is told to wait before retrying, in seconds.
RETRY_AFTER_S = 5


def failure_response(request: Request, exc: BaseException) -> JSONResponse:
    """The answer to an exception no handler expected: 503 with Retry-After when the
    database cannot serve right now (it comes back without a restart), else a logged 500."""
    if request.app.state.services.is_unavailable(exc):
        log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc)[:200])
        return unavailable_response()
    log.error("unhandled error", exc_info=exc)
    failed = Problem(None, "service.internal_error")
    return error_response(500, "internal_error", failed.text, problems=[failed])


def unavailable_response() -> JSONResponse:
    """503 with ``Retry-After``: the service is busy or its database does not answer; the
    same request may succeed later."""
    busy = Problem(None, "service.unavailable")
    response = error_response(503, "unavailable", busy.text, problems=[busy])
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def set_retry_after(response: Response, exc: DomainError) -> None:
    """A throttled answer says when to try again (``details["retry_after_seconds"]``)."""
    wait = exc.details.get("retry_after_seconds") if isinstance(exc.details, dict) else None
    if wait:
        response.headers["Retry-After"] = str(wait)


def http_error_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own refusals (no such route, wrong method, a body over its limit) in
    the API's problem shape."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    said = exc.detail if isinstance(exc.detail, str) else "request failed"
    problem = Problem(None, "request.failed", {"reason": said})
    details = None
    if exc.status_code == 404 and said == "Not Found":
        problem = Problem(None, "request.no_such_route")
    if exc.status_code == 405:
        problem = Problem(None, "request.method_not_allowed")
    limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    if exc.status_code == 413 and limit is not None:  # the route's body limit
        problem = too_large_problem(limit)
        details = {"limit_bytes": limit}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http_error"),
        problem.text,
        details,
        [problem],
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e) for e in exc.errors()] or [Problem(None, "request.invalid_any")]
        malformed = any(p.code == "request.malformed_json" for p in problems)
        return error_response(
            400 if malformed else 422,
            "malformed_json" if malformed else "invalid_input",
            "; ".join(map(str, problems)),
            {"problems": [str(p) for p in problems]},
            problems,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_error_response(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return failure_response(request, exc)
