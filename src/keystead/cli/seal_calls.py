"""The pkcs11 seal's answers as the operator commands print them: recovery shares, status.

Both come through the SDK (``client.sys.init_recovery`` and ``client.sys.seal_status``);
this module only shapes them for ``keystead operator init`` and ``status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from keystead_sdk import Client, SealStatus

EXTRA_STATUS_FIELDS: Final = ("recovery_seal", "migration", "seal_error")


@dataclass(frozen=True, slots=True)
class RecoveryInit:
    """What init answers with the pkcs11 seal: recovery shares and the root token, once."""

    recovery_shares: list[bytes] = field(repr=False)
    root_token: str = field(repr=False)
    threshold: int


@dataclass(frozen=True, slots=True)
class DetailedStatus:
    """The seal status, and the pkcs11 fields it holds when they say something."""

    status: SealStatus
    extra: dict[str, object]


def init_with_recovery(client: Client, shares: int, threshold: int) -> RecoveryInit:
    """``POST /v1/sys/init`` with ``recovery_shares`` and ``recovery_threshold``.

    Raises:
        KeysteadAPIError: The server refused (e.g. its seal is shamir).
        TransportError: The server cannot be reached.
        TypeError: The answer holds no recovery shares (not a pkcs11 server's answer).
    """
    result = client.sys.init_recovery(shares, threshold)
    if not result.recovery_shares or result.recovery_threshold is None:
        msg = "not a pkcs11 init answer"
        raise TypeError(msg)
    return RecoveryInit(
        list(result.recovery_shares), result.root_token.get_secret_value(),
        result.recovery_threshold,
    )  # fmt: skip


def detailed_status(client: Client) -> DetailedStatus:
    """``GET /v1/sys/seal-status``, with the pkcs11 fields kept aside when they are set.

    The server leaves ``recovery_seal``, ``migration`` and ``seal_error`` out when false or
    empty, and so does ``extra``.

    Raises:
        KeysteadAPIError: The server answered with an error.
        TransportError: The server cannot be reached.
    """
    status = client.sys.seal_status()
    extra = {name: getattr(status, name) for name in EXTRA_STATUS_FIELDS if getattr(status, name)}
    return DetailedStatus(status, extra)
