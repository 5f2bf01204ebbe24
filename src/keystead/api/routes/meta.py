"""The OpenAPI document and the Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from keystead.api.deps import RequestContext
from keystead.api.metrics import CONTENT_TYPE, Metrics
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.base import Empty


def meta_endpoints(document: Callable[[], dict[str, Any]], metrics: Metrics) -> list[AnyEndpoint]:
    """Return the endpoints that describe and measure the API itself."""

    async def openapi(ctx: RequestContext, _: Empty) -> dict[str, Any]:
        ctx.caller()
        return document()

    async def prometheus(ctx: RequestContext, _: Empty) -> Response:
        ctx.caller()
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return [
        Endpoint("GET", "/v1/openapi.json", openapi, Empty, dict,
                 "This OpenAPI 3.1 document", "sys.openapi"),
        Endpoint("GET", "/metrics", prometheus, Empty, str,
                 "Prometheus metrics", "sys.metrics", media_type="text/plain"),
    ]  # fmt: skip
