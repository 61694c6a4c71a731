"""Bad input gets a 4xx in one error shape that names the problem; never a 500."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from datatrust.domain.accounts import ApiToken, WebSession
from datatrust.domain.clock import utcnow
from support import require_chromaprint, sign_up_api


def assert_error(response, status, code, *fragments, problems=None):
    """One shape: RFC 9457 problem details with coded ``problems``, and the older
    ``error`` member. ``problems``: the (field, code) pairs expected, in order."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "problems", "error"}
    assert body["status"] == status and body["detail"] == body["error"]["message"]
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["problems"] and all(
        set(p) == {"field", "code", "params", "message"} for p in body["problems"]
    )
    if problems is not None:
        assert [(p["field"], p["code"]) for p in body["problems"]] == problems
    for fragment in fragments:
        assert fragment in json.dumps(body)


def sign_up(client, services, email="ana@example.org", password="a long enough password"):
    return sign_up_api(client, services, email, password)


def test_malformed_json_is_named(client):
    response = client.post(
        "/api/auth/sign-in", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_error(
        response,
        400,
        "malformed_json",
        "not valid JSON",
        problems=[(None, "request.malformed_json")],
    )


def test_wrong_types_and_unknown_fields_are_each_named(client):
    response = client.post(
        "/api/auth/sign-up", json={"email": 12, "password": "x" * 12, "shoe_size": 44}
    )
    assert_error(response, 422, "invalid_input", "email", "shoe_size: unknown field")
    codes = {p["field"]: p["code"] for p in response.json()["problems"]}
    assert codes["shoe_size"] == "request.unknown_field" and codes["email"] == "request.invalid"


def test_every_sign_up_problem_is_listed_at_once(client):
    response = client.post("/api/auth/sign-up", json={"email": "nope", "password": "short"})
    assert_error(
        response,
        422,
        "invalid_input",
        "email: not a valid",
        "password: use at least",
        problems=[("email", "email.invalid"), ("password", "password.too_short")],
    )
    assert response.json()["problems"][1]["params"] == {"minimum": 10}


def test_an_oversize_body_is_refused_before_it_is_read(client):
    response = client.post(
        "/api/auth/sign-in",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413, "too_large", "limit of 1000000 bytes")
    assert response.json()["problems"][0]["params"] == {"limit_bytes": 1_000_000}


def test_a_chunked_body_without_a_declared_size_is_refused_past_the_limit(client):
    def chunks():
        yield b"{" + b" " * 2_000_000
        yield b"}"

    response = client.post(
        "/api/auth/sign-in", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "too_large", "limit of 1000000 bytes")


def test_bad_tokens_are_refused_with_a_reason(client):
    assert_error(
        client.get("/api/me", headers={"Authorization": "Bearer nope"}),
        401,
        "not_authenticated",
        "malformed",
    )
    assert_error(
        client.get("/api/me", headers={"Authorization": "Bearer dt_unknown"}),
        401,
        "not_authenticated",
        "not known",
    )
    assert_error(
        client.get("/api/me", headers={"Authorization": "Basic abc"}),
        401,
        "not_authenticated",
        "Bearer",
    )


def test_an_expired_or_revoked_token_is_refused(client, services, people):
    owner = people["owner"]
    with services.uow() as uow:
        token = uow.one(ApiToken, user_id=owner.actor.user_id)
        token.expires_at = utcnow() - timedelta(seconds=1)
        uow.commit()
    assert_error(
        client.get("/api/me", headers=owner.headers),
        401,
        "not_authenticated",
        "expired",
        problems=[(None, "token.expired")],
    )
    other = people["other"]
    with services.uow() as uow:
        token = uow.one(ApiToken, user_id=other.actor.user_id)
        token.revoked_at = utcnow()
        uow.commit()
    assert_error(
        client.get("/api/me", headers=other.headers),
        401,
        "not_authenticated",
        "revoked",
        problems=[(None, "token.revoked")],
    )


def test_sign_in_sets_a_session_and_writes_need_the_csrf_token(client, services):
    session = sign_up(client, services).json()
    assert client.get("/api/me").json()["email"] == "ana@example.org"
    new_token = {"name": "laptop", "scopes": ["item:read"]}
    assert_error(client.post("/api/tokens", json=new_token), 403, "permission_denied", "CSRF")
    created = client.post(
        "/api/tokens", json=new_token, headers={"x-csrf-token": session["csrf_token"]}
    )
    assert created.status_code == 201 and created.json()["token"].startswith("dt_")


def test_an_expired_session_is_refused(client, services):
    sign_up(client, services)
    with services.uow() as uow:
        for session in uow.all(WebSession):
            session.expires_at = utcnow() - timedelta(minutes=1)
        uow.commit()
    assert_error(client.get("/api/me"), 401, "not_authenticated", "expired")


def test_sign_in_is_throttled_per_account_with_retry_after(client, services):
    sign_up(client, services, email="bo@example.org")
    client.cookies.clear()
    for _ in range(services.settings.sign_in_free_failures):
        wrong = client.post("/api/auth/sign-in", json={"email": "bo@example.org", "password": "x"})
        assert wrong.status_code == 401
    right = client.post(
        "/api/auth/sign-in", json={"email": "bo@example.org", "password": "a long enough password"}
    )
    assert_error(right, 429, "rate_limited", "wait", problems=[(None, "account.sign_in_throttled")])
    assert int(right.headers["retry-after"]) >= 1


def test_a_token_cannot_carry_permissions_its_owner_lacks(client, people):
    response = client.post(
        "/api/tokens",
        json={"name": "sneaky", "scopes": ["audit:verify", "teleport:now"]},
        headers=people["owner"].headers,
    )
    assert_error(response, 422, "invalid_input", "audit:verify", "teleport:now")


def test_a_scoped_token_can_do_only_what_its_scopes_allow(client, people):
    owner = people["owner"]
    limited = client.post(
        "/api/tokens", json={"name": "read-only", "scopes": ["item:read"]}, headers=owner.headers
    ).json()["token"]
    headers = {"Authorization": f"Bearer {limited}"}
    assert client.get("/api/items", headers=headers).status_code == 200
    assert_error(client.get("/api/tokens", headers=headers), 403, "permission_denied", "token:read")


def test_unknown_routes_use_the_error_shape(client):
    assert_error(client.get("/api/nowhere"), 404, "not_found", "no such route")


def test_health_checks_database_storage_and_queue(client):
    require_chromaprint()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok", "queue": "ok", "media_tools": "ok"},
    }


def test_a_missing_media_tool_is_named_in_health_and_the_log_without_taking_it_down(
    services, monkeypatch, caplog
):
    """Without libchromaprint the instance still serves and processes (audio prints by the
    spectral engine), so /health stays 200 but says ``limited`` and names the tool; the
    web process warns at start."""
    from fastapi.testclient import TestClient

    from datatrust.pipeline import fingerprint
    from datatrust.web.app import create_app

    monkeypatch.setattr(fingerprint, "HAVE_CHROMAPRINT", False)
    with caplog.at_level(logging.WARNING), TestClient(create_app(services)) as client:
        response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "limited"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["media_tools"].startswith("missing libchromaprint: ")
    assert "spectral-v1" in body["checks"]["media_tools"]
    assert "libchromaprint1" in body["checks"]["media_tools"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("media tool missing: libchromaprint;") for w in warnings), warnings


def test_health_names_a_broken_dependency(client, services):
    def broken():
        raise ConnectionError("storage folder is gone")

    services.store.check = broken
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert "storage folder is gone" in response.json()["checks"]["storage"]


def test_every_request_has_an_id_that_appears_in_the_json_logs(client, caplog):
    from datatrust.logs import JsonFormatter

    with caplog.at_level(logging.INFO, logger="datatrust.http"):
        response = client.get("/health", headers={"x-request-id": "req-12345678"})
    assert response.headers["x-request-id"] == "req-12345678"
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    assert any(line["request_id"] == "req-12345678" and line["path"] == "/health" for line in lines)
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 32


def test_the_openapi_description_is_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/items/{item_id}" in client.get("/openapi.json").json()["paths"]


def test_the_server_parses_http_with_httptools():
    """``serve`` (and the tests' servers) run uvicorn on httptools, a dependency of the
    service: h11, uvicorn's pure-Python fallback, cost three times its CPU per request."""
    import uvicorn
    from fastapi import FastAPI
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from datatrust.cli.instance import server_options

    config = uvicorn.Config(FastAPI(), **server_options())
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
