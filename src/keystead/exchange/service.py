"""Putting the exchange together from its settings: store, Keystead link, services."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keystead.exchange.accounts import AccountService
from keystead.exchange.engine import Engine
from keystead.exchange.keystead_link import KeysteadLink
from keystead.exchange.settings import ExchangeSettings, asset_places
from keystead.exchange.signatures import VersionKey
from keystead.exchange.state import MarketState
from keystead.exchange.store import ExchangeStore
from keystead.exchange.trading import TradingService
from keystead.exchange.verification import RequestVerifier
from keystead_sdk import AsyncClient

OPERATOR_PREFIX = "kxo_"


def operator_token(path: Path) -> str:
    """The operator's token, made (mode 0600) on first start."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = OPERATOR_PREFIX + secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token


def keystead_client(settings: ExchangeSettings) -> AsyncClient:
    """The SDK client, with the exchange's own service-account token.

    Raises:
        OSError: The token file cannot be read.
    """
    token = settings.keystead_token_file.read_text(encoding="utf-8").strip()
    ca = settings.keystead_ca_cert
    return AsyncClient(settings.keystead_addr, token=token, ca_cert=ca)


@dataclass
class Exchange:
    """The running exchange's parts."""

    settings: ExchangeSettings
    store: ExchangeStore
    link: KeysteadLink
    engine: Engine
    accounts: AccountService
    trading: TradingService
    own_key: VersionKey | None = None

    def current_key(self) -> VersionKey:
        """The exchange key's version the exchange last learned (at start or after signing)."""
        assert self.own_key is not None  # noqa: S101 - set by start()
        return self.own_key

    async def start(self) -> None:
        """Make sure the exchange key exists, and rebuild the books from the database."""
        await self.link.ensure_own_key(self.settings.key_spec)
        self.own_key = await self.link.own_key()
        await self.engine.start()

    async def close(self) -> None:
        """Stop the writer, close the database and the connection to Keystead."""
        await self.engine.stop()
        await self.store.close()
        await self.link.close()


async def build_exchange(
    settings: ExchangeSettings,
    client: AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> Exchange:
    """Open the database (migrating it) and wire the services; call ``start()`` next."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = await ExchangeStore.open(settings.database)
    link = KeysteadLink(
        client or keystead_client(settings), settings.key_name, settings.key_status_ttl_seconds
    )
    markets = settings.markets
    engine = Engine(MarketState(markets), store, link, clock)
    verifier = RequestVerifier(settings.name, link, settings.max_order_lifetime_seconds, clock)
    accounts = AccountService(
        store=store, engine=engine, verifier=verifier, link=link,
        asset_places=asset_places(markets),
        operator_token=operator_token(settings.operator_token_path),
        session_ttl_seconds=settings.session_ttl_seconds, clock=clock,
    )  # fmt: skip
    exchange = Exchange(settings, store, link, engine, accounts, None)  # type: ignore[arg-type]
    exchange.trading = TradingService(
        exchange=settings.name, markets=markets, store=store, engine=engine,
        verifier=verifier, signer=exchange.current_key,
    )  # fmt: skip
    return exchange
