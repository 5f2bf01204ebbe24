"""What every handler needs, from one place: services, caller, request id (C30)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from keystead.domain.models import Principal
from keystead.errors import Unauthenticated, ValidationFailed
from keystead.services.container import Services

REQUEST_ID_KEY = "keystead.request_id"
ROUTE_KEY = "keystead.route"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The context of one request, handed to every handler."""

    services: Services
    request_id: str
    request: Request
    principal: Principal | None

    @property
    def path_params(self) -> Mapping[str, str]:
        """The parameters of the route's path template."""
        params: Mapping[str, str] = self.request.path_params
        return params

    @property
    def query_params(self) -> Mapping[str, str]:
        """The query string, parsed only when a handler asks for it."""
        return self.request.query_params

    def version_query(self) -> int | None:
        """The optional ``version`` query parameter.

        Raises:
            ValidationFailed: It is not a positive integer.
        """
        text = self.query_params.get("version")
        if text is None:
            return None
        if not (text.isdigit() and int(text) >= 1):
            msg = "version must be a positive integer"
            raise ValidationFailed(msg)
        return int(text)

    @property
    def source(self) -> str:
        """The client's address."""
        client = self.request.client
        return client.host if client else ""

    def caller(self) -> Principal:
        """Return the authenticated caller.

        Raises:
            Unauthenticated: The route did not authenticate (a programming error).
        """
        if self.principal is None:  # pragma: no cover - routes with auth=True always set it
            raise Unauthenticated
        return self.principal


def services_of(request: Request) -> Services:
    """Return the services the app was built with."""
    services: Services = request.app.state.services
    return services


def request_id_of(request: Request) -> str:
    """Return the request id the middleware assigned."""
    return str(request.scope.get(REQUEST_ID_KEY, "-"))


def bearer_token(request: Request) -> str | None:
    """Return the bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_certificate_user(request: Request) -> str | None:
    """Return the CN of the verified client certificate (mutual TLS), if any.

    The server's TLS layer puts the subject into the ASGI TLS extension only after the
    certificate chain was verified against ``client_ca``.
    """
    tls = request.scope.get("extensions", {}).get("tls", {})
    name = tls.get("client_cert_name") if isinstance(tls, dict) else None
    if not isinstance(name, str):
        return None
    for part in name.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "CN" and value:
            return value.strip()
    return None
