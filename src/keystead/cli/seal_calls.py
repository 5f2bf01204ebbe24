"""The pkcs11 seal's fields the SDK does not model yet: recovery shares, ``seal_error``.

The SDK's ``InitResult`` and ``SealStatus`` ignore fields they do not know, so a recovery
share would be dropped. Until the SDK grows them (issue 7; ``keystead_sdk`` is kept by its
own owners), these two requests go through the SDK client's sending path with their own
readers: same transport, TLS, token and error mapping as every other command.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final

import httpx

from keystead_sdk import Client, SealStatus
from keystead_sdk._calls import Call

EXTRA_STATUS_FIELDS: Final = ("recovery_seal", "migration", "seal_error")


@dataclass(frozen=True, slots=True)
class RecoveryInit:
    """What init answers with the pkcs11 seal: recovery shares and the root token, once."""

    recovery_shares: list[bytes] = field(repr=False)
    root_token: str = field(repr=False)
    threshold: int


@dataclass(frozen=True, slots=True)
class DetailedStatus:
    """The seal status the SDK reads, and the fields it does not read yet."""

    status: SealStatus
    extra: dict[str, object]


def init_with_recovery(client: Client, shares: int, threshold: int) -> RecoveryInit:
    """``POST /v1/sys/init`` with ``recovery_shares`` and ``recovery_threshold``.

    Raises:
        KeysteadAPIError: The server refused (e.g. its seal is shamir), or answered oddly.
        TransportError: The server cannot be reached.
    """
    body = {"recovery_shares": shares, "recovery_threshold": threshold}
    call = Call("POST", "/v1/sys/init", _recovery_init, json=body)
    return client._send(call)  # noqa: SLF001 - the SDK's one sending path (module docstring)


def detailed_status(client: Client) -> DetailedStatus:
    """``GET /v1/sys/seal-status``, keeping ``recovery_seal``, ``migration`` and ``seal_error``.

    Raises:
        KeysteadAPIError: The server answered with an error, or oddly.
        TransportError: The server cannot be reached.
    """
    call = Call("GET", "/v1/sys/seal-status", _detailed_status)
    return client._send(call)  # noqa: SLF001 - the SDK's one sending path (module docstring)


def _recovery_init(response: httpx.Response) -> RecoveryInit:
    body = response.json()
    shares, token = body.get("recovery_shares"), body.get("root_token")
    threshold = body.get("recovery_threshold")
    if not isinstance(shares, list) or not isinstance(token, str) or not isinstance(threshold, int):
        msg = "not a pkcs11 init answer"
        raise TypeError(msg)
    try:
        decoded = [base64.b64decode(share, validate=True) for share in shares]
    except (binascii.Error, TypeError):
        msg = "a recovery share is not standard base64"
        raise ValueError(msg) from None
    return RecoveryInit(decoded, token, threshold)


def _detailed_status(response: httpx.Response) -> DetailedStatus:
    body = response.json()
    if not isinstance(body, dict):
        msg = "not an object"
        raise TypeError(msg)
    extra = {name: body[name] for name in EXTRA_STATUS_FIELDS if name in body}
    return DetailedStatus(SealStatus.model_validate(body), extra)
