"""The user's side of the exchange: sign requests through Keystead, send them to the exchange.

The user's private key never leaves Keystead: :class:`ExchangeClient` builds each request,
asks Keystead (through the SDK, with the user's own Keystead token) to sign its RFC 8785
bytes with the user's key, and posts the envelope to the exchange.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import httpx

from keystead.exchange.canonical import canonical_bytes
from keystead.exchange.confirmations import SignedConfirmation, read_confirmation
from keystead.exchange.requests import CANCEL, LOGIN, ORDER, REGISTER
from keystead_sdk import Client

PERSONAL_KEY_PREFIX = "user:"
DEFAULT_LIFETIME_SECONDS = 300


class ExchangeAPIError(Exception):
    """The exchange answered with an error.

    Attributes:
        status: The HTTP status.
        code: The stable error code, e.g. ``"NonceReused"``.
        detail: The exchange's explanation.
    """

    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(f"{code} ({status}): {detail}")


def new_nonce() -> str:
    """A fresh nonce: 128 random bits."""
    return secrets.token_hex(16)


class ExchangeClient:
    """One user talking to the exchange, signing through Keystead."""

    def __init__(  # noqa: PLR0913 - where the exchange is, and who the user is in Keystead
        self,
        address: str,
        *,
        keystead: Client | None = None,
        username: str | None = None,
        ca_cert: str | Path | None = None,
        session_token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_cert)) if ca_cert else True
        )
        self._http = httpx.Client(base_url=address, verify=verify, transport=transport,
                                  timeout=30.0)  # fmt: skip
        self._keystead = keystead
        self.username = username
        self.session_token = session_token
        self._clock = clock
        self._exchange_name: str | None = None

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The exchange's name, pairs and public key."""
        return self._call("GET", "/v1/info")

    def exchange_key(self, version: int | None = None) -> dict[str, Any]:
        """One version of the exchange's public key (PEM)."""
        params = {} if version is None else {"version": str(version)}
        return self._call("GET", "/v1/exchange-key", params=params)

    def book(self, pair: str, levels: int = 20) -> dict[str, Any]:
        """The depth of a pair's book."""
        return self._call("GET", f"/v1/book/{pair}", params={"levels": str(levels)})

    def trades(self, pair: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest trades."""
        params = {"limit": str(limit), **({"pair": pair} if pair else {})}
        return list(self._call("GET", "/v1/trades", params=params)["trades"])

    def me(self) -> dict[str, Any]:
        """This user's account and balances (needs a session)."""
        return self._call("GET", "/v1/accounts/me", session=True)

    def my_orders(self, limit: int = 100) -> list[dict[str, Any]]:
        """This user's newest orders (needs a session)."""
        params = {"limit": str(limit)}
        return list(
            self._call("GET", "/v1/accounts/me/orders", params=params, session=True)["orders"]
        )

    def my_trades(self, limit: int = 100) -> list[dict[str, Any]]:
        """This user's newest trades (needs a session)."""
        params = {"limit": str(limit)}
        return list(
            self._call("GET", "/v1/accounts/me/trades", params=params, session=True)["trades"]
        )

    # --- signed requests -----------------------------------------------------------------

    def register(self) -> dict[str, Any]:
        """Open this Keystead user's account at the exchange."""
        key_id = self._sdk().users.public_key(self._user()).key_id
        return self._signed("/v1/accounts", REGISTER, {"key_id": key_id})

    def login(self) -> dict[str, Any]:
        """Open a session; the token is kept for the reading calls."""
        session = self._signed("/v1/sessions", LOGIN, {})
        self.session_token = str(session["token"])
        return session

    def logout(self) -> None:
        """End the session at the exchange."""
        if self.session_token is None:
            return
        self._call("DELETE", "/v1/sessions/current", session=True)
        self.session_token = None

    def order(self, side: str, pair: str, quantity: str, price: str) -> SignedConfirmation:
        """Place a limit order; returns the exchange's signed confirmation."""
        body = {"side": side, "pair": pair, "quantity": quantity, "price": price}
        return read_confirmation(_encode(self._signed("/v1/orders", ORDER, body)))

    def cancel(self, order_id: str) -> SignedConfirmation:
        """Cancel what remains of an order; returns the signed confirmation."""
        answer = self._signed("/v1/cancels", CANCEL, {"order_id": order_id})
        return read_confirmation(_encode(answer))

    def sign_request(self, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Build and sign a request through Keystead; returns the envelope (not sent)."""
        request: dict[str, Any] = {
            "type": kind, "exchange": self._name(), "account": self._user(),
            "nonce": new_nonce(), "expires_at": int(self._clock()) + DEFAULT_LIFETIME_SECONDS,
        }  # fmt: skip
        request.update(fields)
        signed = self._sdk().keys.sign(PERSONAL_KEY_PREFIX + self._user(),
                                       message=canonical_bytes(request))  # fmt: skip
        return {
            "request": request,
            "signature": base64.b64encode(signed.signature).decode("ascii"),
            "key_id": signed.key_id,
            "key_version": signed.version,
        }

    # --- the operator ----------------------------------------------------------------------

    def deposit(self, operator_token: str, account: str, asset: str, amount: str) -> dict[str, Any]:
        """Credit an account (the exchange operator only)."""
        body = {"account": account, "asset": asset, "amount": amount}
        return self._call("POST", "/v1/deposits", json=body, bearer=operator_token)

    def ledger(
        self, operator_token: str, after: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Ledger entries after ``after``, oldest first (the exchange operator only)."""
        params = {"after": str(after), "limit": str(limit)}
        page = self._call("GET", "/v1/ledger", params=params, bearer=operator_token)
        return list(page["entries"])

    def send(self, path: str, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """Post an envelope as it is (tests use it to send altered or replayed ones)."""
        return self._call("POST", path, json=dict(envelope))

    # --- plumbing --------------------------------------------------------------------------

    def _signed(self, path: str, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self.send(path, self.sign_request(kind, fields))

    def _sdk(self) -> Client:
        if self._keystead is None:
            msg = "signing needs a Keystead client logged in as the user"
            raise ValueError(msg)
        return self._keystead

    def _user(self) -> str:
        if self.username is None:
            msg = "signing needs the user's Keystead name"
            raise ValueError(msg)
        return self.username

    def _name(self) -> str:
        if self._exchange_name is None:
            self._exchange_name = str(self.info()["exchange"])
        return self._exchange_name

    def _call(  # noqa: PLR0913 - keyword-only parts of one request
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,  # noqa: ANN401 - any JSON document
        session: bool = False,
        bearer: str | None = None,
    ) -> dict[str, Any]:
        headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
        if session:
            if self.session_token is None:
                raise ExchangeAPIError(401, "Unauthenticated", "log in to the exchange first")
            headers["Authorization"] = f"Bearer {self.session_token}"
        response = self._http.request(method, path, params=params, json=json, headers=headers)
        if response.is_error:
            raise _error(response)
        if response.status_code == 204:  # noqa: PLR2004 - No Content
            return {}
        body: dict[str, Any] = response.json()
        return body


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document).encode()


def _error(response: httpx.Response) -> ExchangeAPIError:
    try:
        body = response.json()
        return ExchangeAPIError(response.status_code, str(body["code"]), str(body["detail"]))
    except (ValueError, KeyError, TypeError):
        return ExchangeAPIError(response.status_code, "HTTPError", response.text[:200])
