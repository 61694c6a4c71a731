"""Issue 14 §4, tried as an attacker would: login CSRF, uploaded HTML run on our origin,
pages without security headers, a server banner, Swagger UI from a CDN."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from datatrust.web.app import create_app
from datatrust.web.security import PRESESSION_COOKIE, SecurityHeaders, safe_next
from support import CSRF_FIELD, post_form, receive_upload

PASSWORD = "correct horse battery"


def upload(services, persona, data: bytes, content_type: str) -> int:
    return receive_upload(services, persona, "chat", data, "chat.html", content_type).id


# --- login CSRF ---------------------------------------------------------------------------


def test_login_csrf_a_sign_in_form_posted_from_another_site_is_refused(client, people):
    """The attack: a foreign page posts our sign-in form with the attacker's own email and
    password, so the victim works in the attacker's account. Without the pre-session
    token (which another site can neither read nor compute) nothing is signed in."""
    forged = client.post("/sign-in", data={"email": people["owner"].email, "password": PASSWORD})
    assert forged.status_code == 403 and "dt_session" not in forged.cookies
    # A token from another visitor's page does not fit this visitor's cookie either.
    other = TestClient(client.app)
    stolen = CSRF_FIELD.search(other.get("/sign-in").text).group(1)
    replayed = client.post(
        "/sign-in",
        data={"csrf_token": stolen, "email": people["owner"].email, "password": PASSWORD},
    )
    assert replayed.status_code == 403 and "dt_session" not in replayed.cookies


def test_login_csrf_a_foreign_origin_is_refused_even_with_a_token(client, people):
    page = client.get("/sign-in")
    token = CSRF_FIELD.search(page.text).group(1)
    data = {"csrf_token": token, "email": people["owner"].email, "password": PASSWORD}
    refused = client.post("/sign-in", data=data, headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    json_refused = client.post(
        "/api/auth/sign-in",
        json={"email": people["owner"].email, "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert json_refused.status_code == 403 and "dt_session" not in json_refused.cookies


def test_sign_in_and_sign_up_forms_carry_a_pre_session_token_that_works(client, people):
    page = client.get("/sign-in")
    assert client.cookies.get(PRESESSION_COOKIE)
    assert CSRF_FIELD.search(page.text).group(1)  # not empty
    assert CSRF_FIELD.search(client.get("/sign-up").text).group(1)
    signed_in = post_form(
        client,
        "/sign-in",
        data={"email": people["owner"].email, "password": PASSWORD},
        follow_redirects=False,
        headers={"origin": str(client.base_url)},
    )
    assert signed_in.status_code == 303 and client.cookies.get("dt_session")


# --- uploaded HTML ------------------------------------------------------------------------


@pytest.mark.parametrize("declared", ["text/html", "image/svg+xml", "application/xhtml+xml"])
def test_uploaded_html_is_downloaded_never_run_on_our_origin(client, services, people, declared):
    """The attack: a contributor uploads a page with a script and lures someone (an
    operator) to its original's URL, where it ran with the site's cookies."""
    item_id = upload(
        services, people["owner"], b"<script>alert(document.cookie)</script>", declared
    )
    response = client.get(f"/api/items/{item_id}/original", headers=people["owner"].headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_a_photo_original_keeps_its_type_but_is_still_an_attachment(client, services, people):
    item_id = upload(services, people["owner"], b"\xff\xd8\xff\xe0 not really", "image/jpeg")
    response = client.get(f"/api/items/{item_id}/original", headers=people["owner"].headers)
    assert response.headers["content-type"] == "image/jpeg"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="item-{item_id}-original"'
    )


@pytest.mark.parametrize(
    "target",
    [
        "/api/items/1/original",
        "/files/abc",
        "/static/../api/items/1/original",
        "/%2e%2e/api/items/1",
        "//evil.example/",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "https://evil.example/",
        "/docs",
    ],
)
def test_sign_in_never_sends_a_person_to_a_stored_file_or_off_site(client, people, target):
    assert safe_next(target) is None
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        params={"next": target},
        data={
            "csrf_token": CSRF_FIELD.search(page.text).group(1),
            "email": people["owner"].email,
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/my/items"


def test_sign_in_returns_to_the_page_that_asked(client, people):
    assert safe_next("/my/items/12?lang=hi") == "/my/items/12?lang=hi"
    response = post_form(
        client,
        "/sign-in",
        "/sign-in?next=/my/items/12",
        data={"email": people["owner"].email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/my/items/12"


# --- headers on every response --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/sign-in", "/licences", "/my/items", "/no-such-page"])
def test_every_page_has_a_strict_content_security_policy_and_no_framing(client, path):
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in csp and "*" not in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers
    assert "strict-transport-security" not in response.headers  # plain http here


def test_pages_have_no_inline_script_or_style_the_policy_would_block(client, people):
    """The CSP allows no inline code, so a page with some would break in a browser."""
    for path in ("/", "/sign-in", "/sign-up", "/licences", "/tasks", "/my/items", "/my/account"):
        html = client.get(path, headers=people["owner"].headers).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_json_answers_are_sandboxed_too(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_hsts_is_sent_when_the_instance_is_served_over_https(services):
    services.settings.base_url = "https://data.example.org"
    with TestClient(create_app(services, start_worker=False)) as https:
        response = https.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def _peer(app, address: str):  # type: ignore[no-untyped-def]
    """An ASGI app that receives its requests from ``address``."""

    async def wrapped(scope, receive, send):  # type: ignore[no-untyped-def]
        await app({**scope, "client": (address, 40000)}, receive, send)

    return wrapped


def test_forwarded_headers_are_believed_only_from_a_trusted_proxy():
    seen: list[tuple[str, str]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append((scope["client"][0], scope["scheme"]))
        await PlainTextResponse("ok", headers={"server": "leaky/1.0"})(scope, receive, send)

    guarded = SecurityHeaders(app, trusted_proxies=["10.0.0.0/8"])
    forwarded = {"x-forwarded-for": "6.6.6.6, 203.0.113.9", "x-forwarded-proto": "https"}
    via_proxy = TestClient(_peer(guarded, "10.1.2.3")).get("/", headers=forwarded)
    assert seen[-1] == ("203.0.113.9", "https")  # the hop the proxy saw, not the spoofable one
    assert "strict-transport-security" in via_proxy.headers
    assert "server" not in via_proxy.headers
    direct = TestClient(_peer(guarded, "198.51.100.7")).get("/", headers=forwarded)
    assert seen[-1] == ("198.51.100.7", "http")  # a client cannot choose its own address
    assert "strict-transport-security" not in direct.headers


def test_serve_starts_uvicorn_without_a_server_banner(monkeypatch, tmp_path):
    import uvicorn
    from typer.testing import CliRunner

    from datatrust.cli import app as cli

    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(kwargs))
    # serve points the root logger at its stderr, which the runner closes afterwards: a
    # later test's log line in this process (Alembic's, say) would then fail to write.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "immediate")
    result = CliRunner().invoke(cli, ["serve", "--dev"])
    assert result.exit_code == 0, result.output
    assert started["server_header"] is False and started["proxy_headers"] is False


def test_serve_and_worker_freeze_the_startup_heap_before_their_first_request_or_job(
    monkeypatch, tmp_path
):
    """What starting made is out of the cyclic collector's reach once serving starts, so a
    full collection no longer walks it (each one paused every request for 0.3-1.3 s)."""
    import gc

    import uvicorn
    from typer.testing import CliRunner

    from datatrust import worker
    from datatrust.cli import app as cli

    frozen: dict[str, int] = {}

    def counted(name):
        return lambda *args, **kwargs: frozen.update({name: gc.get_freeze_count()})

    monkeypatch.setattr(uvicorn, "run", counted("serve"))
    monkeypatch.setattr(worker, "run_worker", counted("worker"))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "immediate")
    gc.unfreeze()
    try:
        for command in ("serve", "worker"):
            result = CliRunner().invoke(cli, [command, "--dev"])
            assert result.exit_code == 0, result.output
            gc.unfreeze()
    finally:
        gc.unfreeze()
    # Everything the test process holds (far more than the app alone) was frozen.
    assert frozen["serve"] > 100_000 and frozen["worker"] > 100_000, frozen


# --- the API explorer -----------------------------------------------------------------------


def test_docs_load_swagger_ui_from_this_instance_not_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert "cdn" not in page.text.lower()
    assert "'self'" in page.headers["content-security-policy"]
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
    bundle = client.get("/swagger-ui/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text[:2000] and len(bundle.content) > 500_000
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")


def test_a_bearer_token_writes_without_any_csrf_token(client, people):
    """Programs with a bearer token carry no ambient credential another site could use."""
    response = client.post(
        "/api/tokens",
        json={"name": "ci", "scopes": ["item:read"]},
        headers={**people["owner"].headers, "origin": "https://elsewhere.example"},
    )
    assert response.status_code == 201
