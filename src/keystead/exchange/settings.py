"""The exchange's settings: flags and ``KEYSTEAD_EXCHANGE_*`` environment variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keystead.exchange.model import Pair

_PAIR = re.compile(r"^([A-Z]{2,10})-([A-Z]{2,10}):([0-8]):([0-8])$")


class ExchangeSettingsError(ValueError):
    """A setting is wrong; the message names it."""


class ExchangeSettings(BaseSettings):
    """Everything ``keystead exchange serve`` can be told."""

    model_config = SettingsConfigDict(
        env_prefix="KEYSTEAD_EXCHANGE_", extra="forbid", frozen=True, validate_default=True
    )

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")] = "keystead-exchange"
    data_dir: Path = Path("exchange-data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8300
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    keystead_addr: str = "https://127.0.0.1:8200"
    keystead_ca_cert: Path | None = None
    keystead_token_file: Path = Path("exchange-token")
    key_name: str = "exchange-ledger"
    key_spec: Literal["ED25519", "EC_P256", "EC_SECP256K1"] = "ED25519"
    pairs: tuple[str, ...] = ("BTC-USD:2:8", "ETH-USD:2:8")
    # 0: ask Keystead on every signed request, so a revocation stops orders at once; a few
    # seconds saves that round trip per order, and a revocation then takes up to that long.
    key_status_ttl_seconds: Annotated[float, Field(ge=0, le=300)] = 0.0
    max_order_lifetime_seconds: Annotated[int, Field(ge=10, le=30 * 86400)] = 86400
    session_ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 3600
    operator_token_file: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("pairs")
    @classmethod
    def _pairs_parse(cls, pairs: tuple[str, ...]) -> tuple[str, ...]:
        for text in pairs:
            if not _PAIR.match(text):
                msg = f"pair {text!r} is not BASE-QUOTE:PRICE_PLACES:QUANTITY_PLACES"
                raise ValueError(msg)
        return pairs

    @property
    def markets(self) -> dict[str, Pair]:
        """The pairs traded, by symbol."""
        markets = {}
        for text in self.pairs:
            found = _PAIR.match(text)
            assert found is not None  # noqa: S101 - checked by the validator
            base, quote, price_places, quantity_places = found.groups()
            symbol = f"{base}-{quote}"
            markets[symbol] = Pair(symbol, base, quote, int(price_places), int(quantity_places))
        return markets

    @property
    def database(self) -> str:
        """The database URL: SQLite in the data directory unless one is given."""
        return self.database_url or f"sqlite:///{self.data_dir / 'exchange.db'}"

    @property
    def operator_token_path(self) -> Path:
        """Where the operator's token (deposits, ledger export) is kept."""
        return self.operator_token_file or self.data_dir / "operator-token"


def load_exchange_settings(**flags: object) -> ExchangeSettings:
    """Build the settings from flags (``None`` = not given) and the environment.

    Raises:
        ExchangeSettingsError: A setting is wrong; the message names it.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return ExchangeSettings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        msg = f"{where}: {first['msg']}"
        raise ExchangeSettingsError(msg) from None


def asset_places(markets: dict[str, Pair]) -> dict[str, int]:
    """Decimal places of each asset: a base asset's lot, a quote asset's price times lot."""
    places: dict[str, int] = {}
    for pair in markets.values():
        places[pair.base] = max(places.get(pair.base, 0), pair.quantity_places)
        quote = pair.price_places + pair.quantity_places
        places[pair.quote] = max(places.get(pair.quote, 0), quote)
    return places
