"""Errors that carry structured problems: which field, a stable code, and plain parameters.

A ``Problem`` says what is wrong without words: ``Problem("password", "password.too_short",
{"minimum": 10})``. Its sentence comes from its code: ``domain.problem_texts.TEXTS`` holds
the English one (a msgid with ``%(name)s`` placeholders), the ``problems`` gettext
catalogue of each language holds the others (keyed by code as the context), and
``datatrust.i18n.render_problem`` fills in the parameters formatted for the reader's
locale (money, numbers, dates, durations and lists by Babel). Nothing downstream parses a
sentence: pages put each problem next to its field, the API returns them as they are.

Every error raised by ``domain/`` and ``services/`` is built from problems
(``tests/test_problems.py`` reads the source to make sure). ``message`` is the English
sentence, for logs, the CLI and the API's ``detail``. Entry points map an error onto one
shape: ``{"error": {"code", "message", "details"}}`` plus RFC 9457 members
(``web.errors``).

Code outside those layers may still raise with an English string: it becomes a problem
with the code ``text`` (its words shown as written, translated only if the ``messages``
catalogue happens to hold them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from datatrust.domain.problem_texts import TEXT, TEXTS


@dataclass(frozen=True, eq=True)
class Problem:
    """One thing wrong with a request: the ``field`` it concerns (``None`` for the request
    as a whole), a stable ``code`` from ``problem_texts.TEXTS`` and its ``params`` (plain
    values: ``Money``, ints, strings, dates, ``timedelta``, or lists of those)."""

    field: str | None
    code: str
    params: Mapping[str, Any] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEXTS:
            raise ValueError(f"unknown problem code {self.code!r}: add it to problem_texts")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    __hash__ = None  # type: ignore[assignment]  # params is a mapping

    @property
    def text(self) -> str:
        """The sentence in English, parameters written plainly (``USD 1.50``)."""
        values = {key: english(value) for key, value in self.params.items()}
        return TEXTS[self.code] % values  # every text is a %-format ("%%" for "%")

    def at(self, field: str | None) -> Problem:
        """The same problem about another field (``password`` → ``new_password``)."""
        return Problem(field, self.code, self.params)

    def __str__(self) -> str:
        """``"field: text"``, the shape problems had before they were structured; kept for
        the API's ``details.problems`` and logs."""
        return f"{self.field}: {self.text}" if self.field else self.text


def english(value: Any) -> str:
    """A parameter written in plain English for logs and the API's ``message``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size and seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'' if count == 1 else 's'}"
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(english(v) for v in value)
    return str(value)


ProblemsLike = Problem | Iterable[Problem | str] | str


def _problems(given: ProblemsLike, legacy: Sequence[str | Problem] | None) -> tuple[Problem, ...]:
    if isinstance(given, Problem):
        found = [given]
    elif isinstance(given, str):
        found = [_from_text(p) for p in legacy or []] or [Problem(None, TEXT, {"text": given})]
    else:  # problems; words from code not yet converted are read the old way
        found = [_from_text(p) for p in given]
    if legacy is not None and not isinstance(given, str):
        found += [_from_text(p) for p in legacy]
    if not found:
        raise ValueError("an error needs at least one problem")
    return tuple(found)


def _from_text(problem: str | Problem) -> Problem:
    """A problem written the old way, ``"field: text"``, for code outside domain/ and
    services/ that still raises with strings."""
    if isinstance(problem, Problem):
        return problem
    name, sep, text = problem.partition(": ")
    if sep and name and " " not in name:
        return Problem(name, TEXT, {"text": text})
    return Problem(None, TEXT, {"text": problem})


class DomainError(Exception):
    """An error a person or client can act on. ``code`` names the kind (and the HTTP
    status); ``problems`` say what exactly is wrong; ``details`` holds machine-readable
    extras (ids, ``retry_after_seconds``)."""

    code = "error"
    status = 400

    def __init__(
        self,
        what: ProblemsLike,
        /,
        details: Mapping[str, Any] | None = None,
        *,
        problems: Sequence[str | Problem] | None = None,
    ) -> None:
        self.problems: tuple[Problem, ...] = _problems(what, problems)
        self.message = what if isinstance(what, str) else "; ".join(map(str, self.problems))
        super().__init__(self.message)
        self.details: dict[str, Any] = dict(details or {})

    @property
    def problem(self) -> Problem:
        """The first problem: what an error page shows as its message."""
        return self.problems[0]

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


class InvalidInput(DomainError):
    """The input breaks a rule; ``problems`` lists every problem found, and
    ``details["problems"]`` the same as ``"field: text"`` strings (the older shape)."""

    code = "invalid_input"
    status = 422

    def __init__(
        self, what: ProblemsLike, /, problems: Sequence[str | Problem] | None = None, **details: Any
    ) -> None:
        super().__init__(what, details, problems=problems)
        self.details["problems"] = [str(p) for p in self.problems]
        fields = [p.field for p in self.problems if p.field]
        if fields:
            self.details.setdefault("field", fields[0])


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
