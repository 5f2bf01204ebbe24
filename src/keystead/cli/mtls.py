"""Mutual TLS: hand the verified client certificate's subject to the app, per request.

uvicorn puts no peer certificate into the ASGI scope, so this protocol does, in the shape of
the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_name"]``, RFC 4514). The
certificate was verified against ``client_ca`` during the handshake, before any of this runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def subject_name(peer_certificate: dict[str, Any] | None) -> str | None:
    """Return the RFC 4514 subject of a certificate as ``ssl`` decodes it, or None."""
    if not peer_certificate:
        return None
    relative_names = peer_certificate.get("subject", ())
    parts = [f"{_SHORT.get(k, k)}={v}" for rdn in reversed(relative_names) for k, v in rdn]
    return ",".join(parts) or None


_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
          "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}  # fmt: skip


class ClientCertificateProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the client certificate's subject in each scope."""

    client_cert_name: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Remember the peer's verified certificate subject for the connection's requests."""
        super().connection_made(transport)
        self.client_cert_name = subject_name(transport.get_extra_info("peercert"))

    def on_message_begin(self) -> None:
        """Start a request's scope with the TLS extension."""
        super().on_message_begin()
        if self.client_cert_name is not None:
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
            extensions["tls"] = {"client_cert_name": self.client_cert_name}
