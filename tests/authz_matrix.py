"""The authorisation matrix: every route, called as every persona, against objects that
belong to someone else. Used by test_authorisation_matrix.py; new routes are picked up by
walking the app's routes, so nobody has to remember to add them here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from datatrust.domain.permissions import ROLE_PERMISSIONS, Permission, Role
from datatrust.web.deps import Requires

DENIED = {401, 403, 404}
# Framework routes with no data behind them: the API description and its viewers.
# "/static" is the pages' stylesheet and "/swagger-ui" the explorer's files from the
# installed Swagger UI (mounts: public files, no data, no methods to check);
# "/favicon.ico" a redirect to the stylesheet's folder's icon.
FRAMEWORK_PUBLIC = frozenset(
    {
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/static",
        "/swagger-ui",
        "/favicon.ico",
    }
)


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route, with routers that FastAPI includes lazily opened up. Each entry has
    ``path`` and ``methods``; API routes also ``dependant`` and ``body_field``."""
    flat = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        flat.extend(contexts() if contexts else [route])
    return flat


def declared_permission(route: Any) -> Permission | None:
    """The permission named by the route's ``Requires`` dependency, wherever it sits."""
    stack = [route.dependant] if getattr(route, "dependant", None) else []
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Requires):
            return dependant.call.permission
        stack.extend(dependant.dependencies)
    return None


def sample_json(route: Any) -> Any:
    """A well-formed body for the route, so that a refusal comes from authorisation and
    not from validation."""
    body = getattr(route, "body_field", None)
    if body is None:
        return None
    schema = body.field_info.annotation
    if not hasattr(schema, "model_fields"):
        return None
    sample: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        if not field.is_required():
            continue
        text = str(field.annotation)
        if "list" in text:
            sample[name] = []
        elif "dict" in text:
            sample[name] = {}
        else:
            sample[name] = 1 if text == "<class 'int'>" else "GB"
    return sample


@dataclass
class Call:
    persona: str
    method: str
    path: str
    status: int
    body: str


@dataclass
class Matrix:
    app: FastAPI
    client: Any
    headers: dict[str, dict[str, str]]  # persona -> auth headers ({} for anonymous)
    roles: dict[str, Role]
    path_values: dict[str, str]  # path parameter -> an id owned by the victim
    secrets: list[str]  # strings only the victim (owner) may ever see
    snapshot: Callable[[], Any]  # the victim's state, to detect changes
    # (METHOD path, persona) pairs the rules allow to act on others' objects.
    allowed_on_others: frozenset[tuple[str, str]] = frozenset()

    def run(self) -> tuple[list[str], list[Call]]:
        violations: list[str] = []
        calls: list[Call] = []
        for route in flat_routes(self.app):
            if route.path in FRAMEWORK_PUBLIC:
                continue
            permission = declared_permission(route)
            if permission is None:
                violations.append(f"{sorted(route.methods)} {route.path}: declares no permission")
                continue
            for method in sorted(route.methods - {"HEAD"}):
                path, missing = self._fill(route.path)
                if missing:
                    violations.append(f"{method} {route.path}: no sample value for {missing}")
                    continue
                for persona in self.headers:
                    if persona == "owner":
                        continue
                    call, problem = self._call(route, method, path, persona, permission)
                    calls.append(call)
                    if problem:
                        violations.append(problem)
        return violations, calls

    def _fill(self, template: str) -> tuple[str, str | None]:
        missing = None

        def value(match: re.Match[str]) -> str:
            nonlocal missing
            name = match.group(1)
            if name not in self.path_values:
                missing = name
                return "0"
            return self.path_values[name]

        return re.sub(r"{(\w+)}", value, template), missing

    def _call(
        self, route: Any, method: str, path: str, persona: str, permission: Permission
    ) -> tuple[Call, str | None]:
        before = self.snapshot()
        response = self.client.request(
            method, path, headers=self.headers[persona], json=sample_json(route)
        )
        after = self.snapshot()
        call = Call(persona, method, path, response.status_code, response.text)
        where = f"{method} {route.path} as {persona} -> {response.status_code}"
        for secret in self.secrets:
            if secret in response.text:
                return call, f"{where}: response shows the victim's {secret!r}"
        if (method, route.path) in {(m, p) for (m, p), who in self._allowed(persona)}:
            return call, None
        if before != after:
            return call, f"{where}: changed the victim's state"
        role_allows = permission in ROLE_PERMISSIONS[self.roles[persona]]
        if not role_allows and response.status_code not in DENIED:
            return call, f"{where}: role has no {permission.value} but was not refused"
        if "{" in route.path and response.status_code < 400:
            return call, f"{where}: acted on an object that is not the caller's"
        return call, None

    def _allowed(self, persona: str) -> list[tuple[tuple[str, str], str]]:
        return [
            ((entry.split(" ", 1)[0], entry.split(" ", 1)[1]), who)
            for entry, who in self.allowed_on_others
            if who == persona
        ]
