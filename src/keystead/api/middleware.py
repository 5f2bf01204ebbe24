"""Pure ASGI middleware: request ids, metrics, and a problem for anything that escapes."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keystead.api.deps import REQUEST_ID_KEY, ROUTE_KEY
from keystead.api.metrics import Metrics

_SAFE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Unique without a CSPRNG call per request: a random prefix per process, then a counter.
_PROCESS_PREFIX: Final = uuid.uuid4().hex[:22]
_SEQUENCE: Final = itertools.count(1)
_log = structlog.get_logger("keystead.http")


class RequestMiddleware:
    """Assigns each request an id, times it and counts it by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            route = str(scope.get(ROUTE_KEY, "unmatched"))
            self._metrics.observe(route, scope["method"], status, elapsed)
            _log.debug(
                "request", request_id=request_id, route=route, method=scope["method"],
                status=status, ms=round(elapsed * 1000, 3),
            )  # fmt: skip


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(text):
                return text
            break
    return f"{_PROCESS_PREFIX}{next(_SEQUENCE):010x}"
