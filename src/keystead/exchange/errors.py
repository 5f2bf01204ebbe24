"""The exchange's errors: each has a stable code, an HTTP status and a message safe to show.

```
ExchangeError
├── BadRequest (400) ── InvalidOrder, OrderExpired, InvalidSignature, UnknownPair
├── PayloadTooLarge (413)
├── Unauthenticated (401)
├── Forbidden (403) ─── KeyNotAccounts, KeyNotUsable
├── NotFound (404) ──── AccountNotFound, OrderNotFound
├── Conflict (409) ──── NonceReused, InsufficientFunds, AccountExists, OrderNotOpen
├── ExchangeBusy (503)
└── KeysteadUnavailable (503)
```
"""

from __future__ import annotations

from typing import ClassVar


class ExchangeError(Exception):
    """Base of every error the exchange answers with."""

    code: ClassVar[str] = "ExchangeError"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "the exchange could not complete the request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(ExchangeError):
    """The request is malformed or breaks a rule."""

    code = "ValidationFailed"
    status = 400
    default_message = "the request is not valid"


class InvalidOrder(BadRequest):
    """An order or cancel whose fields break a rule (amounts, side, pair, lifetime)."""

    code = "InvalidOrder"


class OrderExpired(BadRequest):
    """The signed request's ``expires_at`` has passed."""

    code = "OrderExpired"
    default_message = "the signed request has expired"


class InvalidSignature(BadRequest):
    """The signature does not verify over the canonical bytes with the claimed key version."""

    code = "InvalidSignature"
    default_message = "the signature does not verify with the account's key"


class UnknownPair(BadRequest):
    """No market trades that pair."""

    code = "UnknownPair"


class PayloadTooLarge(ExchangeError):
    """The body is larger than the exchange reads."""

    code = "PayloadTooLarge"
    status = 413
    default_message = "the body is too large"


class Unauthenticated(ExchangeError):
    """No session or operator token, or one that is unknown or expired."""

    code = "Unauthenticated"
    status = 401
    default_message = "a valid session or operator token is required"


class Forbidden(ExchangeError):
    """The caller may not do this."""

    code = "PermissionDenied"
    status = 403
    default_message = "not allowed"


class KeyNotAccounts(Forbidden):
    """The request was signed by a key that is not the account's registered key."""

    code = "KeyNotAccounts"
    default_message = "the request is signed by a key that is not this account's"


class KeyNotUsable(Forbidden):
    """Keystead reports the signing key (or that version) revoked, suspended or destroyed."""

    code = "KeyNotUsable"


class NotFound(ExchangeError):
    """No such thing."""

    code = "NotFound"
    status = 404
    default_message = "not found"


class AccountNotFound(NotFound):
    """No account has that name."""

    code = "AccountNotFound"
    default_message = "no account has that name"


class OrderNotFound(NotFound):
    """No order of this account has that id."""

    code = "OrderNotFound"
    default_message = "no order of this account has that id"


class Conflict(ExchangeError):
    """The request conflicts with the exchange's state."""

    code = "Conflict"
    status = 409
    default_message = "conflict"


class NonceReused(Conflict):
    """The nonce was used before by this account: a replay."""

    code = "NonceReused"
    default_message = "this nonce was already used by the account (a replayed request)"


class InsufficientFunds(Conflict):
    """The account's available balance does not cover the reservation."""

    code = "InsufficientFunds"


class AccountExists(Conflict):
    """The account is registered already."""

    code = "AccountExists"
    default_message = "the account is registered already"


class OrderNotOpen(Conflict):
    """The order is filled or cancelled already."""

    code = "OrderNotOpen"
    default_message = "the order is no longer open"


class ExchangeBusy(ExchangeError):
    """More requests wait for the writer than it holds; the client should retry later."""

    code = "ExchangeBusy"
    status = 503
    default_message = "the exchange is busy; try again"


class KeysteadUnavailable(ExchangeError):
    """Keystead could not be reached or refused the exchange's own request."""

    code = "KeysteadUnavailable"
    status = 503
    default_message = "Keystead is unavailable; try again"
