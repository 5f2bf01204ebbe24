"""Endpoints declared once; the router and the OpenAPI document are built from the table."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from keystead.api.audit_events import UNAUDITED, Seen, audit_event, changes_state
from keystead.api.deps import (
    ROUTE_KEY,
    RequestContext,
    bearer_token,
    client_certificate_user,
    request_id_of,
    services_of,
)
from keystead.api.errors import problem_response
from keystead.api.schemas.base import Empty
from keystead.domain.access import Scope, permission_of, scope_of
from keystead.errors import (
    AuditWriteFailed,
    ConfigurationError,
    KeysteadError,
    MalformedRequest,
    PayloadTooLarge,
    RequestAborted,
    ValidationFailed,
)

Req = TypeVar("Req", bound=msgspec.Struct)
Resp = TypeVar("Resp")

_ENCODER = msgspec.json.Encoder()
_log = structlog.get_logger("keystead.api")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[Req, Resp]):
    """One route: how to call it, what it takes and gives, and what it needs."""

    method: str
    path: str
    handler: Callable[[RequestContext, Req], Awaitable[Resp]]
    request: type[Req]
    response: type[Resp]
    summary: str
    action: str
    auth: bool = True
    unsealed: bool = False
    status: int = 200
    status_of: Callable[[Resp], int] | None = None
    media_type: str = "application/json"

    @property
    def has_body(self) -> bool:
        """Whether the endpoint reads a JSON body."""
        return self.method in {"POST", "PUT", "PATCH"} and self.request is not Empty


AnyEndpoint = Endpoint[Any, Any]


def build_routes(endpoints: Sequence[AnyEndpoint], max_body: int) -> list[Route]:
    """Return the Starlette routes of the table.

    Raises:
        ConfigurationError: An authenticated endpoint whose action no authorization rule
            speaks of (a new endpoint must say who may call it).
    """
    undeclared = sorted(e.action for e in endpoints if e.auth and scope_of(e.action) is None)
    if undeclared:
        msg = f"endpoints without an authorization rule: {', '.join(undeclared)}"
        raise ConfigurationError(msg)
    return [
        Route(e.path, _endpoint_app(e, max_body), methods=[e.method], name=e.action)
        for e in endpoints
    ]


def _endpoint_app(endpoint: AnyEndpoint, max_body: int) -> Callable[[Request], Awaitable[Response]]:
    decoder = msgspec.json.Decoder(endpoint.request)
    # Actions that concern no key are checked here; key actions by the service, on the key.
    checked_here = endpoint.auth and scope_of(endpoint.action) is Scope.GLOBAL
    audited = endpoint.action not in UNAUDITED
    announced = audited and changes_state(endpoint.method, endpoint.action)

    async def run(request: Request, request_id: str, seen: Seen) -> Response:
        try:
            context = await _context(request, endpoint, request_id)
            seen.principal = context.principal
            if checked_here:
                await context.services.access.require(
                    context.caller(), permission_of(endpoint.action)
                )
            body = await _decode(request, decoder, max_body) if endpoint.has_body else Empty()
            if audited:
                await _before_running(context, endpoint, body, seen, announced=announced)
            seen.result = await endpoint.handler(context, body)
        except KeysteadError as error:
            seen.error = error
            if error.operator_detail:
                _log.warning(
                    "request failed", request_id=request_id, code=error.code,
                    detail=error.operator_detail,
                )  # fmt: skip
            return problem_response(error, request_id)
        return _render(endpoint, seen.result, request_id)

    async def handle(request: Request) -> Response:
        request.scope[ROUTE_KEY] = endpoint.path
        request_id = request_id_of(request)
        if not audited:
            return await run(request, request_id, Seen())
        audit = services_of(request).audit
        try:
            audit.require_writable()
        except AuditWriteFailed as refused:
            return problem_response(refused, request_id)
        seen = Seen(started=time.perf_counter())
        response = await run(request, request_id, seen)
        event = audit_event(
            request, method=endpoint.method, route=endpoint.path, action=endpoint.action,
            request_id=request_id, seen=seen, status=response.status_code, now=audit.now(),
        )  # fmt: skip
        try:
            await audit.record(event)
        except AuditWriteFailed as failed:
            _log.error("audit write failed", request_id=request_id, detail=failed.operator_detail)
            return problem_response(failed, request_id)
        return response

    return handle


async def _before_running(
    context: RequestContext, endpoint: AnyEndpoint, body: object, seen: Seen, *, announced: bool
) -> None:
    """Keep the HMAC of the body's encryption context; record a state change as begun.

    The begun record is durable before the request runs.

    Raises:
        AuditWriteFailed: The begun record could not be written: the request must not run.
    """
    audit = context.services.audit
    entries = getattr(body, "context", None)
    if isinstance(entries, dict) and entries:
        seen.context_hmac = await audit.context_digest(entries)
    if announced:
        await audit.record(
            audit_event(
                context.request, method=endpoint.method, route=endpoint.path,
                action=endpoint.action, request_id=context.request_id, seen=seen, status=0,
                now=audit.now(), begun=True,
            )
        )  # fmt: skip


async def _context(request: Request, endpoint: AnyEndpoint, request_id: str) -> RequestContext:
    services = services_of(request)
    if endpoint.unsealed:
        services.barrier.require_unsealed()
    principal = None
    if endpoint.auth:
        token = bearer_token(request)
        certified = client_certificate_user(request) if token is None else None
        if certified is not None:
            principal = await services.tokens.authenticate_certificate(certified)
        else:
            principal = await services.tokens.authenticate(token)
    return RequestContext(
        services=services, request_id=request_id, request=request, principal=principal
    )


async def _decode(request: Request, decoder: msgspec.json.Decoder[Any], max_body: int) -> Any:  # noqa: ANN401 - the endpoint's own request type
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise _too_large(max_body)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise _too_large(max_body)
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestAborted from None
    raw = b"".join(chunks) or b"{}"
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc)) from None
    except msgspec.DecodeError:
        raise MalformedRequest from None


def _too_large(max_body: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is limited to {max_body} bytes")


def no_content() -> Response:
    """The answer of a request that has nothing to say: 204, no body."""
    return Response(status_code=204, headers={"cache-control": "no-store"})


def _render(endpoint: AnyEndpoint, result: object, request_id: str) -> Response:
    if isinstance(result, Response):
        result.headers["x-request-id"] = request_id
        return result
    status = endpoint.status_of(result) if endpoint.status_of else endpoint.status
    return Response(
        _ENCODER.encode(result),
        status_code=status,
        media_type=endpoint.media_type,
        headers={"x-request-id": request_id, "cache-control": "no-store"},
    )
