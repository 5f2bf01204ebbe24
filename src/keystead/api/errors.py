"""The one table from errors to HTTP statuses, and RFC 9457 problem responses (C12)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
from starlette.responses import Response

from keystead import errors
from keystead.api.schemas.base import Problem

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"

_STATUS: Final[Mapping[type[errors.KeysteadError], int]] = {
    errors.MethodNotAllowed: 405,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.ValidationError: 400,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.TooManyAttempts: 429,
    errors.SealedError: 503,
    errors.CryptoError: 400,
    errors.BackendError: 503,
}

_TITLES: Final[Mapping[int, str]] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

_ENCODER: Final = msgspec.json.Encoder()


def status_of(error: errors.KeysteadError) -> int:
    """Return the HTTP status of an error: the entry of its nearest class in the table."""
    for cls in type(error).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return 500


def problem_response(error: errors.KeysteadError, request_id: str) -> Response:
    """Render an error as ``application/problem+json`` with its code and the request id."""
    status = status_of(error)
    detail = error.public_detail if status != 500 else "internal error; see the server log"  # noqa: PLR2004
    problem = Problem(
        type=f"urn:keystead:error:{error.code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=error.code if status != 500 else "InternalError",  # noqa: PLR2004
        request_id=request_id,
    )
    headers = {"x-request-id": request_id}
    if status == 401:  # noqa: PLR2004
        headers["www-authenticate"] = 'Bearer realm="keystead"'
    if isinstance(error, errors.TooManyAttempts):
        headers["retry-after"] = str(error.retry_after)
    return Response(
        _ENCODER.encode(problem),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )
