"""One function per endpoint: it describes the request and how to read the answer.

``Client`` and ``AsyncClient`` only send these descriptions, so the wire shapes of
ARCHITECTURE.md section 6 are written once for both.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar
from urllib.parse import quote

import httpx

from keystead_sdk._errors import ServerError, error_from_response, header, is_problem
from keystead_sdk._models import (
    Decrypted,
    Encrypted,
    Health,
    InitResult,
    Key,
    KeyPage,
    SealStatus,
)

T = TypeVar("T")

JSONBody = Mapping[str, object]

_HEALTH_STATUSES: Final = frozenset({200, 501, 503})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A request to send, and how to turn its successful answer into a ``T``.

    Attributes:
        method: The HTTP method.
        path: The path, with its segments already quoted.
        parse: Reads a successful response.
        json: The JSON body, if any.
        params: The query parameters.
        ok_statuses: Statuses that are answers rather than errors, besides 2xx.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: JSONBody | None = None
    params: Mapping[str, str | int] = field(default_factory=dict)
    ok_statuses: frozenset[int] = frozenset()

    def finish(self, response: httpx.Response) -> T:
        """Parse a read response, or raise the ``KeysteadAPIError`` it describes.

        Raises:
            KeysteadAPIError: The server answered with an error, or with a body that does not
                have the expected shape (``ServerError``, code ``InvalidResponse``).
        """
        ok = response.is_success or response.status_code in self.ok_statuses
        if not ok or is_problem(response):
            raise error_from_response(response)
        try:
            return self.parse(response)
        except (ValueError, TypeError):  # pydantic.ValidationError is a ValueError
            # The body is not quoted: it may hold plaintext.
            raise ServerError(
                response.status_code,
                "InvalidResponse",
                f"the answer to {self.method} {self.path} does not have the expected shape",
                header(response, "x-request-id"),
            ) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _segment(value: str) -> str:
    """Quote one path segment, so that ``/``, ``?``, ``%`` and dot segments stay inside it."""
    if not value:
        msg = "a key id or name must not be empty"
        raise ValueError(msg)
    quoted = quote(value, safe="")
    # "." and ".." would be removed by URL normalisation (RFC 3986 section 5.2.4).
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


def _seal_status(response: httpx.Response) -> SealStatus:
    return SealStatus.model_validate(response.json())


def _key(response: httpx.Response) -> Key:
    return Key.model_validate(response.json())


def _health(response: httpx.Response) -> Health:
    body = response.json()
    if not isinstance(body, dict):
        msg = "health body is not an object"
        raise TypeError(msg)
    return Health.model_validate({**body, "status_code": response.status_code})


def _init_result(response: httpx.Response) -> InitResult:
    return InitResult.model_validate(response.json())


def _term(response: httpx.Response) -> int:
    body = response.json()
    term = body.get("term") if isinstance(body, dict) else None
    if not isinstance(term, int) or isinstance(term, bool):
        msg = "term is not an integer"
        raise TypeError(msg)
    return term


def _key_page(response: httpx.Response) -> KeyPage:
    return KeyPage.model_validate(response.json())


def _encrypted(response: httpx.Response) -> Encrypted:
    return Encrypted.model_validate(response.json())


def _decrypted(response: httpx.Response) -> Decrypted:
    return Decrypted.model_validate(response.json())


def init(shares: int, threshold: int) -> Call[InitResult]:
    """``POST /v1/sys/init``."""
    body = {"shares": shares, "threshold": threshold}
    return Call("POST", "/v1/sys/init", _init_result, json=body)


def unseal(share: bytes) -> Call[SealStatus]:
    """``POST /v1/sys/unseal`` with one share."""
    return Call("POST", "/v1/sys/unseal", _seal_status, json={"share": _b64(share)})


def reset_unseal() -> Call[SealStatus]:
    """``POST /v1/sys/unseal`` forgetting the shares given so far."""
    return Call("POST", "/v1/sys/unseal", _seal_status, json={"reset": True})


def seal() -> Call[SealStatus]:
    """``POST /v1/sys/seal``."""
    return Call("POST", "/v1/sys/seal", _seal_status)


def seal_status() -> Call[SealStatus]:
    """``GET /v1/sys/seal-status``."""
    return Call("GET", "/v1/sys/seal-status", _seal_status)


def health() -> Call[Health]:
    """``GET /v1/sys/health``: 503 (sealed) and 501 (not initialised) are answers too."""
    return Call("GET", "/v1/sys/health", _health, ok_statuses=_HEALTH_STATUSES)


def rotate_keyring() -> Call[int]:
    """``POST /v1/sys/rotate-keyring``."""
    return Call("POST", "/v1/sys/rotate-keyring", _term)


def create_key(name: str, spec: str, usage: str, description: str) -> Call[Key]:
    """``POST /v1/keys``."""
    body = {"name": name, "spec": spec, "usage": usage, "description": description}
    return Call("POST", "/v1/keys", _key, json=body)


def get_key(key: str) -> Call[Key]:
    """``GET /v1/keys/{key}``, by id or name."""
    return Call("GET", f"/v1/keys/{_segment(key)}", _key)


def list_keys(limit: int, cursor: str | None) -> Call[KeyPage]:
    """``GET /v1/keys?limit=&cursor=``."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    return Call("GET", "/v1/keys", _key_page, params=params)


def encrypt(key: str, plaintext: bytes, context: Mapping[str, str] | None) -> Call[Encrypted]:
    """``POST /v1/keys/{key}/encrypt``."""
    body = {"plaintext": _b64(plaintext), "context": dict(context or {})}
    return Call("POST", f"/v1/keys/{_segment(key)}/encrypt", _encrypted, json=body)


def decrypt(ciphertext: bytes, context: Mapping[str, str] | None) -> Call[Decrypted]:
    """``POST /v1/decrypt``."""
    body = {"ciphertext": _b64(ciphertext), "context": dict(context or {})}
    return Call("POST", "/v1/decrypt", _decrypted, json=body)
