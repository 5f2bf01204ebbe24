"""The exchange's plain types: sides, pairs and balance changes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    """Which way an order trades the pair's base asset."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Pair:
    """A market: ``BTC-USD`` trades ``base`` BTC priced in ``quote`` USD.

    ``price_places`` and ``quantity_places`` are the decimal places an order may use
    (the tick and lot sizes are 10**-places).
    """

    symbol: str
    base: str
    quote: str
    price_places: int
    quantity_places: int


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One account's change in one asset: deltas to its available and reserved funds."""

    account: str
    asset: str
    available: Decimal
    reserved: Decimal
