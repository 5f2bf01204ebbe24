"""Base Structs: requests refuse unknown fields; responses omit nothing."""

from __future__ import annotations

import msgspec


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: an unknown field is a 400, not silently dropped."""


class Response(msgspec.Struct, kw_only=True):
    """Base of response bodies."""


class Empty(Request):
    """A request with no body (or ``{}``)."""


class Problem(Response):
    """RFC 9457 problem details, with Keystead's stable ``code`` and the ``request_id``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str


class NoContent(Response):
    """No body: the answer is the 204 status."""
