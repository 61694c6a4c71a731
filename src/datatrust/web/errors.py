"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from datatrust.domain.errors import DomainError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status)


def too_large_message(limit: object) -> str:
    """The 413 of a body past its route's limit (``web.body_limits``)."""
    return f"the body is larger than this route's limit of {limit} bytes"


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    kind = error.get("type", "")
    if kind == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
    if kind == "extra_forbidden":
        return f"{where}: unknown field"
    if kind == "missing":
        return f"{where}: required"
    return f"{where}: {error.get('msg', 'invalid')}"


# What a client waiting for the database is told to wait before retrying, in seconds.
RETRY_AFTER_S = 5


def failure_response(request: Request, exc: BaseException) -> JSONResponse:
    """The answer to an exception no handler expected: 503 with Retry-After when the
    database cannot serve right now (it comes back without a restart), else a logged 500."""
    if request.app.state.services.is_unavailable(exc):
        log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc)[:200])
        response = error_response(
            503, "unavailable", "the service is busy or its database is down; try again shortly"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side; it was logged")


def set_retry_after(response: Response, exc: DomainError) -> None:
    """A throttled answer says when to try again (``details["retry_after_seconds"]``)."""
    wait = exc.details.get("retry_after_seconds") if isinstance(exc.details, dict) else None
    if wait:
        response.headers["Retry-After"] = str(wait)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        set_retry_after(response, exc)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in exc.errors()]
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        return error_response(
            400 if malformed else 422,
            "malformed_json" if malformed else "invalid_input",
            "; ".join(problems) if problems else "the request is invalid",
            {"problems": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        details = None
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route"
        limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        if exc.status_code == 413 and limit is not None:  # the route's body limit
            message = too_large_message(limit)
            details = {"limit_bytes": limit}
        return error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"), message, details
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return failure_response(request, exc)
