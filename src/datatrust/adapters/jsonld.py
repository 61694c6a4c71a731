"""JSON-LD processing (PyLD) that never touches the network.

Documents name contexts by URL. The ones this project reads are bundled here
(``BUNDLED_CONTEXTS``); any other remote context is refused with ``InvalidInput`` naming
it (fail closed: a context fetched from elsewhere could change what every term means).
Nothing is cached across calls except PyLD's own resolved-context cache, which only ever
holds the bundled documents.
"""

from __future__ import annotations

from typing import Any

from pyld import jsonld

from datatrust.domain.errors import InvalidInput
from datatrust.domain.odrl import ODRL_CONTEXT, ODRL_CONTEXT_URL

# The ODRL context is published at both schemes; documents in the wild use either.
BUNDLED_CONTEXTS: dict[str, dict[str, Any]] = {
    ODRL_CONTEXT_URL: {"@context": ODRL_CONTEXT},
    ODRL_CONTEXT_URL.replace("http://", "https://"): {"@context": ODRL_CONTEXT},
}


class _Refused(Exception):
    """A context URL that is not bundled (kept to name it in the error)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def offline_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """PyLD document loader: the bundled contexts, nothing else."""
    document = BUNDLED_CONTEXTS.get(url)
    if document is None:
        raise _Refused(url)
    return {"contextUrl": None, "documentUrl": url, "document": document}


def _options(**extra: Any) -> Any:
    return {"documentLoader": offline_loader, **extra}


def _run(operation: Any, *args: Any) -> Any:
    try:
        return operation(*args)
    except jsonld.JsonLdError as error:
        refused = _refused_url(error)
        if refused is not None:
            raise InvalidInput(
                f"the document names a JSON-LD context this instance does not hold: {refused}",
                problems=[f"@context: unknown remote context {refused} (nothing is fetched)"],
            ) from None
        raise InvalidInput(
            f"the document is not valid JSON-LD: {error}",
            problems=[f"JSON-LD: {getattr(error, 'type', 'error')}: {error}"],
        ) from None
    except _Refused as refused:
        raise InvalidInput(
            f"the document names a JSON-LD context this instance does not hold: {refused.url}",
            problems=[f"@context: unknown remote context {refused.url} (nothing is fetched)"],
        ) from None


def _refused_url(error: BaseException | None) -> str | None:
    """The refused URL somewhere in PyLD's chain of wrapped causes."""
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, _Refused):
            return error.url
        details = getattr(error, "details", None)
        cause = details.get("cause") if isinstance(details, dict) else None
        error = cause if isinstance(cause, BaseException) else error.__cause__ or error.__context__
        seen += 1
    return None


def _require_object(doc: Any) -> None:
    if not isinstance(doc, dict | list):
        raise InvalidInput(
            "a JSON-LD document is a JSON object or array", problems=["document: not JSON-LD"]
        )


def expand(doc: Any) -> list[dict[str, Any]]:
    """``doc`` in expanded form; ``InvalidInput`` for unknown contexts or bad JSON-LD."""
    _require_object(doc)
    result: list[dict[str, Any]] = _run(jsonld.expand, doc, _options())
    return result


def flatten(doc: Any) -> list[dict[str, Any]]:
    """``doc`` flattened and expanded: every node once, nested ones by reference."""
    _require_object(doc)
    result = _run(jsonld.flatten, doc, None, _options())
    return result if isinstance(result, list) else result.get("@graph", [])


def compact(doc: Any, context: Any) -> dict[str, Any]:
    """``doc`` compacted with ``context`` (which may name only bundled contexts)."""
    _require_object(doc)
    result: dict[str, Any] = _run(jsonld.compact, doc, context, _options())
    return result
