"""Body limits apply to every route before its body is read, whatever its path (issue 12
§5): a declared length over the route's limit is refused with nothing read, a chunked body
as soon as the bytes received pass it; only the upload routes take more, by route.

The app is called as ASGI with a body that arrives in 64 KB pieces made on demand, so a
test sees exactly how much of it the server pulled in, and how much memory that took."""

from __future__ import annotations

import tracemalloc

import pytest

from asgi_calls import MULTIPART, PIECE, call, multipart, pieces
from datatrust.services.contributions import upload_limits
from datatrust.services.trust import tracing
from datatrust.web.app import create_app

MB = 1024 * 1024
LIMIT = 1_000_000  # the settings' max_json_body_bytes in tests


@pytest.fixture
def app(services):
    return create_app(services, start_worker=False)


JSON = {"content-type": "application/json"}


def test_an_anonymous_chunked_200_mb_body_to_an_items_route_is_refused_at_the_limit(app):
    tracemalloc.start()
    try:
        status, body, pulled = call(app, "POST", "/api/items/1/consent", JSON, pieces(200 * MB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413, body
    assert body["error"]["code"] == "too_large"
    assert f"limit of {LIMIT} bytes" in body["error"]["message"]
    assert LIMIT < pulled <= LIMIT + PIECE  # read up to the limit, not a byte-piece more
    assert peak < 16 * MB  # the 200 MB were never held


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/items/1/consent"),
        ("POST", "/api/campaigns"),
        ("POST", "/api/auth/sign-in"),
        ("PUT", "/api/anything/at/all"),
        ("POST", "/tasks/1/accept"),
    ],
)
def test_a_declared_length_over_the_limit_is_refused_with_nothing_read(app, method, path):
    headers = {**JSON, "content-length": str(200 * MB)}
    status, body, pulled = call(app, method, path, headers, pieces(200 * MB))
    assert status == 413, body
    assert body["error"]["code"] == "too_large"
    assert body["error"]["details"] == {"limit_bytes": LIMIT}
    assert pulled == 0


def test_a_body_within_the_limit_still_reaches_its_route(app):
    status, body, pulled = call(app, "POST", "/api/items/1/consent", JSON, pieces(LIMIT))
    assert pulled == LIMIT  # all of it, parsed by the route (and found not to be JSON)
    assert status == 400 and body["error"]["code"] == "malformed_json"


def test_only_the_upload_routes_take_more_than_the_json_limit(app):
    """The limits belong to routes; a small JSON route under the same path takes 1 MB."""
    from authz_matrix import flat_routes

    limits = {
        (method, route.path): route.max_body_size
        for route in flat_routes(app)
        if hasattr(route, "dependant")  # the API's and the pages' routes
        for method in route.methods
    }
    assert len(limits) > 100 and None not in limits.values()
    larger = {route: limit for route, limit in limits.items() if limit != LIMIT}
    assert larger == {
        ("POST", "/api/items"): upload_limits.multipart_body_limit(),
        ("PATCH", "/files/{upload_id}"): upload_limits.max_size(),
        ("POST", "/tasks/{campaign_id}/upload"): upload_limits.multipart_body_limit(),
        # A file to trace (a clip or a photo), bounded by its own limit.
        ("POST", "/api/trace"): tracing.MAX_TRACE_BODY_BYTES,
        ("POST", "/trace"): tracing.MAX_TRACE_BODY_BYTES,  # the tracing page's upload
    }
    length, body = multipart({"kind": "photo"}, "a.jpg", 3 * MB)
    headers = {"content-type": MULTIPART, "content-length": str(length)}
    status, answer, pulled = call(app, "POST", "/api/items", headers, body)
    # Past the 1 MB limit the upload route would take it, but an anonymous caller is
    # refused (for who it is, not for the size) before any of the body is read.
    assert pulled == 0
    assert status in (401, 403) and answer["error"]["code"] != "too_large", answer
