"""The FastAPI application: middleware, error shape, routers, and the embedded worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp

from datatrust.bootstrap import Services
from datatrust.web import docs, pages
from datatrust.web.admission import AdmissionLimit, TurnAway
from datatrust.web.api import (
    accounts,
    audit,
    buyers,
    campaigns,
    health,
    items,
    licences,
    orgs,
    participants,
    standards,
    tus,
)
from datatrust.web.api import incidents as incidents_api
from datatrust.web.api import money as money_api
from datatrust.web.api import tracing as tracing_api
from datatrust.web.body_limits import App
from datatrust.web.compression import CompressPages
from datatrust.web.errors import ERROR_RESPONSES, install_error_handlers
from datatrust.web.request_context import RequestContext
from datatrust.web.security import SecurityHeaders


class ServiceApp(App):
    """The service's app: the admission limit (``web.admission``) in front of everything,
    the body limits included. ``create_app`` sets the two settings."""

    active_requests = 0
    queue_seconds = 30.0

    def build_middleware_stack(self) -> ASGIApp:
        return AdmissionLimit(
            super().build_middleware_stack(),
            limit=self.active_requests,
            wait_seconds=self.queue_seconds,
            answer_inside=True,
        )


def create_app(services: Services, *, start_worker: bool | None = None) -> FastAPI:
    settings = services.settings
    run_worker = (
        settings.embedded_worker and settings.queue_backend != "immediate"
        if start_worker is None
        else start_worker
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes and dependencies (database work, file writes) run in these threads.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        services.sweep_leftovers()  # what a killed server or worker left on this disk
        services.warn_missing_media_tools()
        consumer = services.embedded_consumer() if run_worker else None
        if consumer:
            consumer.start()
        try:
            yield
        finally:
            if consumer:
                consumer.stop()

    app = ServiceApp(
        title="Datatrust",
        version="0.1.0",
        description="License your own data on your own terms.",
        lifespan=lifespan,
        docs_url=None,  # served by web.docs from the installed Swagger UI, not a CDN
        redoc_url=None,
        # Every route's body limit, whatever its path (see ``web.body_limits``); the
        # upload routes raise it for themselves with ``max_body_size=`` on the route.
        max_body_size=settings.max_json_body_bytes,
    )
    app.state.services = services
    app.active_requests = settings.web_active_requests
    app.queue_seconds = settings.web_queue_seconds
    install_error_handlers(app)

    # Innermost: a request the admission limit turned away for waiting too long is
    # answered here, so the refusal is logged with its id and gets the security headers.
    app.add_middleware(TurnAway)
    app.add_middleware(RequestContext)
    app.add_middleware(
        SecurityHeaders, base_url=settings.base_url, trusted_proxies=settings.trusted_proxies
    )
    app.add_middleware(CompressPages)  # outermost: compresses what the others answered

    for module in (
        health,
        accounts,
        orgs,
        items,
        audit,
        licences,
        campaigns,
        tus,
        buyers,
        standards,
    ):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    for router in (
        licences.public_router,
        money_api.router,
        participants.router,
        incidents_api.router,
        tracing_api.router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
    pages.install(app)
    docs.install(app)
    return app
