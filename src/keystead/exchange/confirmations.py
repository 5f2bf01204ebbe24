"""Confirmations: what the exchange did with a signed request, signed with the exchange key.

A confirmation is a JSON object signed over its RFC 8785 bytes, so anyone holding the
exchange's public key can check it with any JCS implementation and any signature library::

    {"confirmation": {"type": "keystead.exchange/confirmation/v1", "exchange": "...",
                      "request": "order", "request_digest": "<sha256 of the signed request>",
                      "order_id": "...", "account": "alice", "pair": "BTC-USD",
                      "side": "buy", "price": "42000", "quantity": "0.5", "filled": "0.5",
                      "remaining": "0", "status": "filled",
                      "trades": [{"trade_id": "...", "price": "42000", "quantity": "0.5"}],
                      "ledger_seq": 17, "ledger_hash": "<hex>", "time_ms": 1796180000000},
     "signature": "<base64>", "key_id": "<exchange key id>", "key_version": 1,
     "spec": "ED25519"}

``ledger_seq`` and ``ledger_hash`` pin the exchange's ledger up to that entry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from keystead.exchange.canonical import canonical_bytes
from keystead.exchange.signatures import VersionKey, verify_signed

CONFIRMATION: Final = "keystead.exchange/confirmation/v1"


class ConfirmationInvalid(ValueError):
    """The file is not a confirmation, or its signature does not verify."""


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    confirmation: dict[str, Any]
    signature: str
    key_id: str
    key_version: int
    spec: str


@dataclass(frozen=True, slots=True)
class SignedConfirmation:
    """A confirmation and the exchange's signature over it."""

    confirmation: Mapping[str, Any]
    signature: bytes
    key_id: str
    key_version: int
    spec: str

    def to_json(self) -> dict[str, Any]:
        """The envelope, as sent to the user and written to files."""
        return {
            "confirmation": dict(self.confirmation),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "key_id": self.key_id,
            "key_version": self.key_version,
            "spec": self.spec,
        }


def read_confirmation(data: bytes) -> SignedConfirmation:
    """Parse a confirmation envelope (from a file or an answer).

    Raises:
        ConfirmationInvalid: It is not one.
    """
    try:
        envelope = msgspec.json.decode(data, type=_Envelope)
        signature = base64.b64decode(envelope.signature, validate=True)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
        msg = f"not a confirmation: {error}"
        raise ConfirmationInvalid(msg) from None
    if envelope.confirmation.get("type") != CONFIRMATION:
        msg = f"not a confirmation: its type is not {CONFIRMATION}"
        raise ConfirmationInvalid(msg)
    return SignedConfirmation(
        envelope.confirmation, signature, envelope.key_id, envelope.key_version, envelope.spec
    )


def verify_confirmation(signed: SignedConfirmation, key: VersionKey) -> None:
    """Check the exchange's signature on a confirmation.

    Raises:
        ConfirmationInvalid: The signature does not verify with ``key``, or ``key`` is of
            another version or spec than the confirmation names.
    """
    if key.spec != signed.spec:
        msg = f"the confirmation is signed with a {signed.spec} key, not {key.spec}"
        raise ConfirmationInvalid(msg)
    if not verify_signed(key, canonical_bytes(signed.confirmation), signed.signature):
        msg = "the confirmation's signature does not verify with the exchange's public key"
        raise ConfirmationInvalid(msg)


def describe(signed: SignedConfirmation) -> str:
    """The confirmation's fields, one per line, for people."""
    return json.dumps(signed.confirmation, indent=2, sort_keys=True)
