"""A plain (thread pool) API route makes one trip through the thread pool per request, and
its answer is still checked and shaped by its response model (``web.deps.UnitOfWorkRoute``).

FastAPI, left to itself, sends a plain route's answer through the thread pool a second
time to validate it; at 64 clients that hand-off cost the event loop 4-8 % of its time."""

from __future__ import annotations

import functools
from typing import Any

import anyio.to_thread
import pytest
from fastapi import FastAPI, Response
from fastapi.exceptions import ResponseValidationError
from fastapi.testclient import TestClient
from pydantic import BaseModel

from datatrust.web.app import create_app
from datatrust.web.deps import api_router


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function sent to the thread pool, in order."""
    sent: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        inner = func.func if isinstance(func, functools.partial) else func
        sent.append(getattr(inner, "__name__", repr(inner)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return sent


@pytest.mark.parametrize("path", ["/api/items", "/api/campaigns", "/api/me/statement"])
def test_a_plain_api_route_answers_in_one_trip_through_the_thread_pool(client, people, trips, path):
    headers = {"Authorization": f"Bearer {people['owner'].token}"}
    assert client.get(path, headers=headers).status_code == 200  # the caller is now known
    trips.clear()
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200
    # Checking the caller's credential again, where it happens, is a trip of its own.
    assert [t for t in trips if t != "_authenticate"] == ["run"]


class Out(BaseModel):
    id: int


def checked_app() -> FastAPI:
    router = api_router(prefix="/api")

    @router.get("/extra")
    def extra() -> Out:
        return {"id": 1, "secret": "not in the model"}  # type: ignore[return-value]

    @router.get("/wrong")
    def wrong() -> Out:
        return {"id": "not a number"}  # type: ignore[return-value]

    @router.get("/many")
    def many() -> list[Out]:
        return [{"id": "2"}, Out(id=3)]  # type: ignore[list-item]

    @router.post("/made", status_code=201)
    def made(response: Response) -> Out:
        response.headers["location"] = "/api/made/7"
        return Out(id=7)

    @router.get("/raw")
    def raw() -> Response:
        return Response(b"as it is", media_type="text/plain")

    app = FastAPI()
    app.include_router(router)
    return app


def test_a_plain_routes_answer_is_still_checked_and_shaped_by_its_response_model(trips):
    with TestClient(checked_app()) as client:
        assert client.get("/api/extra").json() == {"id": 1}  # what the model does not name: dropped
        assert client.get("/api/many").json() == [{"id": 2}, {"id": 3}]  # converted as declared
        made = client.post("/api/made")
        assert (made.status_code, made.headers["location"], made.json()) == (
            201,
            "/api/made/7",
            {"id": 7},
        )
        assert client.get("/api/raw").content == b"as it is"
        with pytest.raises(ResponseValidationError) as refused:
            client.get("/api/wrong")
    assert refused.value.errors()[0]["loc"] == ("response", "id")
    assert set(trips) == {"run"}  # each request one trip, the refused one too
    assert len(trips) == 5


def test_an_answer_that_does_not_fit_its_model_is_a_server_error_in_the_api_shape(services):
    """The app's own handler answers the refusal (500, problem details), as before."""
    app = create_app(services, start_worker=False)
    router = api_router()

    @router.get("/api/test-wrong-answer")
    def wrong_answer() -> Out:
        return {"id": "not a number"}  # type: ignore[return-value]

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/test-wrong-answer")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
