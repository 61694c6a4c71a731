"""Errors that carry a stable code, a message that names the problem, and details.

Entry points map them onto the one error shape ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}


class InvalidInput(DomainError):
    """The input breaks a rule; ``details["problems"]`` lists every problem found."""

    code = "invalid_input"
    status = 422

    def __init__(self, message: str, problems: list[str] | None = None, **details: Any) -> None:
        problems = problems or [message]
        super().__init__(message, {"problems": problems, **details})
        self.problems = problems


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401


class SecondFactorRequired(NotAuthenticated):
    """The password was right; the account also needs its authenticator code."""

    code = "totp_required"


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class NotFound(DomainError):
    """Also returned for objects that exist but the caller may not see (no existence leak)."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
