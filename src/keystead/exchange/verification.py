"""Checking a signed request before it may change anything.

In order: the request's shape, its type and exchange, its lifetime, that the key is the
account's, that Keystead still reports the key and version usable, and the signature over the
request's RFC 8785 bytes. The nonce is checked later, under the exchange's lock, in the same
transaction that records it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from keystead.exchange.canonical import canonical_bytes, digest_hex
from keystead.exchange.errors import (
    InvalidOrder,
    InvalidSignature,
    KeyNotAccounts,
    OrderExpired,
)
from keystead.exchange.keystead_link import KeysteadLink, UserKey
from keystead.exchange.requests import (
    CancelRequest,
    Envelope,
    LoginRequest,
    OrderRequest,
    RegisterRequest,
    read_request,
)
from keystead.exchange.signatures import verify_signed

R = TypeVar("R", RegisterRequest, LoginRequest, OrderRequest, CancelRequest)


@dataclass(frozen=True, slots=True)
class Checked:
    """A request whose signature verified, with what the rest of the exchange needs."""

    key: UserKey
    signed_bytes: bytes
    signature: bytes

    @property
    def digest(self) -> str:
        """SHA-256 of the signed bytes (confirmations name the request by it)."""
        return digest_hex(self.signed_bytes)


class RequestVerifier:
    """Verifies envelopes for one exchange."""

    def __init__(
        self,
        exchange: str,
        link: KeysteadLink,
        max_lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._exchange = exchange
        self._link = link
        self._max_lifetime = max_lifetime_seconds
        self._clock = clock

    def read(self, envelope: Envelope, kind: type[R]) -> R:
        """The envelope's request, checked for type, exchange and lifetime (not yet trusted).

        Raises:
            BadRequest: The request is malformed or of another type.
            InvalidOrder: It names another exchange, or lives too long.
            OrderExpired: Its ``expires_at`` has passed.
        """
        request = read_request(envelope, kind)
        if request.exchange != self._exchange:
            msg = f"the request is for exchange {request.exchange!r}, not {self._exchange!r}"
            raise InvalidOrder(msg)
        now = self._clock()
        if request.expires_at <= now:
            raise OrderExpired
        if request.expires_at - now > self._max_lifetime:
            msg = f"expires_at is more than {self._max_lifetime} seconds away"
            raise InvalidOrder(msg)
        return request

    async def check(self, envelope: Envelope, account: str, account_key_id: str) -> Checked:
        """Check that the account's own, usable key signed the envelope's request.

        Raises:
            KeyNotAccounts: The envelope names another key than the account's.
            KeyNotUsable: Keystead reports the key or version revoked, suspended, destroyed.
            AccountNotFound: Keystead has no such version of the account's key.
            InvalidSignature: The signature does not verify.
            KeysteadUnavailable: Keystead did not answer.
        """
        if envelope.key_id != account_key_id:
            raise KeyNotAccounts
        key = await self._link.user_key(account, envelope.key_version)
        if key.key.key_id != account_key_id:
            raise KeyNotAccounts
        key.require_usable()
        signed_bytes = canonical_bytes(envelope.request)
        if not verify_signed(key.key, signed_bytes, envelope.signature):
            raise InvalidSignature
        return Checked(key, signed_bytes, envelope.signature)
