"""The signed requests users send, and the envelope they travel in.

Every request is a JSON object whose RFC 8785 bytes the user signs through Keystead; the
envelope carries it with the signature and the key version that made it::

    {"request": {"type": "keystead.exchange/order/v1", "exchange": "keystead-exchange",
                 "account": "alice", "pair": "BTC-USD", "side": "buy", "price": "42000.5",
                 "quantity": "0.25", "nonce": "3f9c...", "expires_at": 1796180000},
     "signature": "<base64>", "key_id": "<the account's Keystead key id>", "key_version": 1}

``expires_at`` is in Unix seconds. A nonce is used once per account, whatever the request.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from keystead.exchange.errors import BadRequest

PREFIX: Final = "keystead.exchange/"
REGISTER: Final = f"{PREFIX}register/v1"
LOGIN: Final = f"{PREFIX}login/v1"
ORDER: Final = f"{PREFIX}order/v1"
CANCEL: Final = f"{PREFIX}cancel/v1"

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Nonce = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
Amount = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=2**40)]
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
KeyIdText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class _Signed(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    exchange: Annotated[str, msgspec.Meta(max_length=64)]
    account: Name
    nonce: Nonce
    expires_at: Seconds


class RegisterRequest(_Signed, frozen=True):
    """Open an account for a Keystead user, proving it holds that user's key."""

    type: Literal["keystead.exchange/register/v1"]
    key_id: KeyIdText


class LoginRequest(_Signed, frozen=True):
    """Open a session (reading balances, orders and trades)."""

    type: Literal["keystead.exchange/login/v1"]


class OrderRequest(_Signed, frozen=True):
    """A limit order: buy or sell ``quantity`` of the pair's base at ``price`` or better."""

    type: Literal["keystead.exchange/order/v1"]
    pair: Annotated[str, msgspec.Meta(max_length=21)]
    side: Literal["buy", "sell"]
    price: Amount
    quantity: Amount


class CancelRequest(_Signed, frozen=True):
    """Cancel what remains of one of the account's open orders."""

    type: Literal["keystead.exchange/cancel/v1"]
    order_id: Id


SignedRequest = RegisterRequest | LoginRequest | OrderRequest | CancelRequest


class Envelope(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A signed request as it arrives."""

    request: dict[str, Any]
    signature: Annotated[bytes, msgspec.Meta(max_length=1024)]
    key_id: KeyIdText
    key_version: Annotated[int, msgspec.Meta(ge=1, le=2**31)]


_DECODER = msgspec.json.Decoder(Envelope)
T = TypeVar("T", bound=msgspec.Struct)


def decode_envelope(body: bytes) -> Envelope:
    """Parse an envelope.

    Raises:
        BadRequest: Not JSON, or not an envelope; the message says where.
    """
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError as error:
        msg = f"the signed request envelope is not valid: {error}"
        raise BadRequest(msg) from None
    except msgspec.DecodeError:
        msg = "the body is not valid JSON"
        raise BadRequest(msg) from None


def read_request(envelope: Envelope, kind: type[T]) -> T:
    """The envelope's request as ``kind``.

    Raises:
        BadRequest: A missing, extra or malformed field, or another type of request.
    """
    try:
        return msgspec.convert(envelope.request, kind, strict=True)
    except msgspec.ValidationError as error:
        msg = f"the signed request is not valid: {error}"
        raise BadRequest(msg) from None
