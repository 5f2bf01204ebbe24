"""Shared set-up for the exchange tests: Keystead in-process, the exchange beside it.

The exchange reaches Keystead through the SDK, over a transport that hands each request to
the in-process Keystead app; users sign through their own SDK clients the same way.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from identity_support import PASSWORD, Server, forward_to, forwarding_transport, running
from keystead.config import load_settings
from keystead.exchange.app import create_exchange_app
from keystead.exchange.client import ExchangeAPIError, ExchangeClient
from keystead.exchange.settings import ExchangeSettings, load_exchange_settings
from keystead_sdk import AsyncClient, Client

EXCHANGE_POLICY = {
    "name": "exchange",
    "description": "the exchange's own ledger key; reading users' public keys is for anyone",
    "statements": [{
        "effect": "allow",
        "actions": ["keys.create", "keys.describe", "keys.public_key", "keys.sign"],
        "keys": ["exchange-*"],
    }],
}  # fmt: skip


def exchange_token(server: Server) -> str:
    """A service account for the exchange, with only what it needs, and a token of it."""
    assert server.as_root("POST", "/v1/policies", EXCHANGE_POLICY).status_code == 201
    role = {"name": "exchange", "policies": ["exchange"]}
    assert server.as_root("POST", "/v1/roles", role).status_code == 201
    server.add_user("exchange", ["exchange", "key-user"], password=None, kind="service")
    body = {"username": "exchange", "ttl_seconds": 86400, "description": "the exchange"}
    made = server.as_root("POST", "/v1/auth/tokens", body)
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


@dataclass
class Market:
    """Keystead, the exchange, and a way to make users."""

    keystead: Server
    exchange: TestClient
    settings: ExchangeSettings
    operator_token: str
    users: dict[str, ExchangeClient] = field(default_factory=dict)

    def keystead_client(self, token: str) -> Client:
        return Client("https://t", token=token, transport=forwarding_transport(self.keystead))

    def client(self, username: str | None = None, token: str | None = None) -> ExchangeClient:
        keystead = None if token is None else self.keystead_client(token)
        return ExchangeClient("https://x", keystead=keystead, username=username,
                              transport=forward_to(self.exchange))  # fmt: skip

    def user(self, name: str, *, register: bool = True, login: bool = True) -> ExchangeClient:
        """A Keystead user with an exchange account and a session."""
        self.keystead.add_user(name, ["key-user"])
        token = self.keystead.token_of(name)["authorization"].removeprefix("Bearer ")
        client = self.client(name, token)
        if register:
            client.register()
        if login:
            client.login()
        self.users[name] = client
        return client

    def deposit(self, account: str, asset: str, amount: str) -> dict:
        return self.client().deposit(self.operator_token, account, asset, amount)

    def ledger(self) -> list[dict]:
        entries: list[dict] = []
        for _ in itertools.count():
            page = self.client().ledger(self.operator_token, entries[-1]["seq"] if entries else 0)
            if not page:
                return entries
            entries.extend(page)
        raise AssertionError  # pragma: no cover


@contextmanager
def running_market(
    tmp_path: Path, clock: Callable[[], float] = time.time, **exchange_settings: object
) -> Iterator[Market]:
    """An initialised Keystead with registration open, and an exchange using it.

    ``clock`` is the exchange's time (Unix seconds); Keystead runs on its own fake clock.
    """
    settings = load_settings(data_dir=tmp_path / "keystead", insecure_http=True,
                             allow_registration=True)  # fmt: skip
    with running(settings) as keystead:
        token = exchange_token(keystead)
        token_file = tmp_path / "exchange-token"
        token_file.write_text(token)
        chosen = load_exchange_settings(
            data_dir=tmp_path / "exchange", keystead_token_file=token_file,
            **{"key_status_ttl_seconds": 0.0, **exchange_settings},
        )  # fmt: skip
        sdk = AsyncClient("https://t", token=token, transport=forwarding_transport(keystead))
        app = create_exchange_app(chosen, sdk, clock)
        with TestClient(app, base_url="https://x") as exchange:
            operator = chosen.operator_token_path.read_text().strip()
            yield Market(keystead, exchange, chosen, operator)


@pytest.fixture(name="market")
def market_fixture(tmp_path: Path) -> Iterator[Market]:
    """A running market for one test (import it; pytest finds it by name)."""
    with running_market(tmp_path) as started:
        yield started


def funded(market: Market, deposits: Mapping[str, Mapping[str, str]]) -> tuple[ExchangeClient, ...]:
    """Make each user (in order), then make each deposit: ``{"alice": {"BTC": "1"}, ...}``."""
    users = tuple(market.user(name) for name in deposits)
    for name, amounts in deposits.items():
        for asset, amount in amounts.items():
            market.deposit(name, asset, amount)
    return users


def balances(client: ExchangeClient) -> dict[str, tuple[str, str]]:
    """Asset -> (available, reserved) as the exchange reports them."""
    return {b["asset"]: (b["available"], b["reserved"]) for b in client.me()["balances"]}


def refused(call: Callable[[], object], status: int, code: str) -> ExchangeAPIError:
    """Run ``call``; it must fail with this status and code."""
    with pytest.raises(ExchangeAPIError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    return caught.value


__all__ = [
    "PASSWORD",
    "Market",
    "balances",
    "funded",
    "market_fixture",
    "refused",
    "running_market",
]
