"""Properties of the book with settlement: conservation, exact reservations, no crossed book."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.exchange.book import BookOrder, Fill, OrderBook
from keystead.exchange.model import Pair, Side
from keystead.exchange.money import (
    Balance,
    apply_changes,
    fill_changes,
    release_changes,
    reserve_changes,
)

PAIR = Pair("BTC-USD", "BTC", "USD", price_places=2, quantity_places=3)
ACCOUNTS = ("alice", "bob", "carol")
START = {"BTC": Decimal(1_000), "USD": Decimal(10_000_000)}


@dataclass(frozen=True)
class _Place:
    account: str
    side: Side
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class _Cancel:
    index: int


PLACE = st.builds(
    _Place,
    st.sampled_from(ACCOUNTS),
    st.sampled_from(list(Side)),
    st.integers(9_997, 10_003).map(lambda cents: Decimal(cents).scaleb(-2)),
    st.integers(1, 5_000).map(lambda lots: Decimal(lots).scaleb(-3)),
)
CANCEL = st.builds(_Cancel, st.integers(0, 1_000))
OPERATIONS = st.lists(st.one_of(PLACE, PLACE, CANCEL), min_size=1, max_size=60)


class _Market:
    def __init__(self) -> None:
        self.book = OrderBook(PAIR)
        self.balances = {
            (account, asset): Balance(amount, Decimal(0))
            for account in ACCOUNTS
            for asset, amount in START.items()
        }
        self.orders: list[BookOrder] = []
        self.filled: dict[str, Decimal] = defaultdict(Decimal)

    def place(self, account: str, side: Side, price: Decimal, quantity: Decimal) -> None:
        taker = BookOrder(
            f"o{len(self.orders)}", account, side, price, quantity, quantity, len(self.orders)
        )
        self.orders.append(taker)
        changes = reserve_changes(account, PAIR, side, price, quantity)
        fills = self.book.preview(taker)
        for fill in fills:
            changes.extend(fill_changes(PAIR, fill))
        self.balances = apply_changes(self.balances, changes)
        assert self.book.match(taker) == fills
        self._record(fills)

    def _record(self, fills: list[Fill]) -> None:
        for fill in fills:
            self.filled[fill.maker_order_id] += fill.quantity
            self.filled[fill.taker_order_id] += fill.quantity

    def cancel(self, index: int) -> None:
        if not self.orders:
            return
        order = self.book.cancel(self.orders[index % len(self.orders)].order_id)
        if order is not None:
            changes = release_changes(order.account, PAIR, order.side, order.price, order.remaining)
            self.balances = apply_changes(self.balances, changes)

    def check(self) -> None:
        self._check_balances()
        self._check_reservations()
        self._check_book()
        for order in self.orders:
            assert self.filled[order.order_id] <= order.quantity
            assert self.filled[order.order_id] == order.quantity - order.remaining

    def _check_balances(self) -> None:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for (_, asset), balance in self.balances.items():
            assert balance.available >= 0
            assert balance.reserved >= 0
            totals[asset] += balance.available + balance.reserved
        assert totals == {asset: amount * len(ACCOUNTS) for asset, amount in START.items()}

    def _check_reservations(self) -> None:
        expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for order in self.orders:
            if self.book.get(order.order_id) is None:
                continue
            if order.side is Side.BUY:
                expected[order.account, "USD"] += order.price * order.remaining
            else:
                expected[order.account, "BTC"] += order.remaining
        for key, balance in self.balances.items():
            assert balance.reserved == expected[key]

    def _check_book(self) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask
        resting = sum(self.book.get(order.order_id) is not None for order in self.orders)
        assert len(self.book) == resting


@settings(max_examples=200, deadline=None)
@given(operations=OPERATIONS)
def test_random_trading_conserves_and_reserves_exactly(
    operations: list[_Place | _Cancel],
) -> None:
    market = _Market()
    for operation in operations:
        if isinstance(operation, _Place):
            market.place(operation.account, operation.side, operation.price, operation.quantity)
        else:
            market.cancel(operation.index)
        market.check()
