"""create_app(settings): the Starlette application, its routes, middleware and error handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from keystead.api import routes
from keystead.api.collector import tune_for_serving
from keystead.api.deps import request_id_of
from keystead.api.errors import problem_response
from keystead.api.metrics import Metrics
from keystead.api.middleware import RequestMiddleware
from keystead.api.openapi import build_openapi
from keystead.api.routes import (
    access,
    audit,
    auth,
    backup,
    batch,
    crypto,
    export,
    grants,
    key_import,
    keys,
    meta,
    signing,
    system,
    users,
)
from keystead.api.routing import AnyEndpoint, build_routes
from keystead.config import Settings, load_settings
from keystead.errors import (
    KeysteadError,
    MalformedRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
)
from keystead.logs import configure_logging
from keystead.services.container import Services, build_services
from keystead.services.devmode import unseal_dev

_log = structlog.get_logger("keystead.api")
_HTTP_ERRORS: dict[int, type[KeysteadError]] = {
    404: RouteNotFound, 405: MethodNotAllowed, 413: PayloadTooLarge,
}  # fmt: skip

__all__ = ["create_app", "endpoint_table", "routes", "tune_for_serving"]


def endpoint_table(metrics: Metrics) -> list[AnyEndpoint]:
    """Return every endpoint of the API, the OpenAPI document's included."""
    # Starlette tries routes in order: the per-request cryptographic operations go first.
    table: list[AnyEndpoint] = [
        *crypto.ENDPOINTS, *signing.ENDPOINTS, *batch.ENDPOINTS, *key_import.ENDPOINTS,
        *keys.ENDPOINTS, *export.ENDPOINTS, *grants.ENDPOINTS, *auth.ENDPOINTS, *users.ENDPOINTS,
        *access.ENDPOINTS, *audit.ENDPOINTS, *system.ENDPOINTS, *backup.ENDPOINTS,
    ]  # fmt: skip
    document: dict[str, Any] = {}

    def openapi_document() -> dict[str, Any]:
        if not document:
            document.update(build_openapi(table))
        return document

    table.extend(meta.meta_endpoints(openapi_document, metrics))
    return table


def create_app_from_environment() -> Starlette:
    """Build the app of a worker process from its ``KEYSTEAD_*`` environment (``--workers``)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_for_serving()
    return app


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """Build the application.

    Args:
        settings: The validated settings.
        services: Already-built services (tests); otherwise built at start-up, after
            migrating the database, and unsealed at once in dev mode.
    """
    metrics = Metrics()
    table = endpoint_table(metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = services is None
        built: Services = services or build_services(settings)
        app.state.services = built
        if owned and settings.dev:
            await unseal_dev(built)
        interval = settings.scheduler_interval_seconds
        scheduler = None
        if owned and interval > 0:
            scheduler = asyncio.create_task(built.scheduler.run_forever(interval))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
            if owned:
                await built.close()

    app = Starlette(
        routes=build_routes(table, settings.max_request_bytes),
        middleware=[Middleware(RequestMiddleware, metrics=metrics)],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.endpoints = table
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    error = _HTTP_ERRORS.get(status, MalformedRequest)()
    return problem_response(error, request_id_of(request))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = request_id_of(request)
    _log.error("unexpected error", request_id=request_id, error=type(exc).__name__, exc_info=exc)
    return problem_response(KeysteadError(), request_id)


def endpoints_of(app: Starlette) -> Sequence[AnyEndpoint]:
    """Return the endpoint table an app was built from (for tests and tools)."""
    table: Sequence[AnyEndpoint] = app.state.endpoints
    return table
