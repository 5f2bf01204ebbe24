"""A price-time priority limit order book for one pair, held in memory.

The service persists orders itself and rebuilds the book at start with
:meth:`OrderBook.rest`; the book only decides who trades with whom, at what price.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from keystead.exchange.model import Pair, Side
from keystead.exchange.money import EXACT, ZERO


@dataclass(slots=True)
class BookOrder:
    """A limit order; ``sequence`` is the service's global arrival order (lower is earlier)."""

    order_id: str
    account: str
    side: Side
    price: Decimal
    quantity: Decimal
    remaining: Decimal
    sequence: int


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade between a resting maker and an incoming taker, at the maker's price.

    ``buy_limit`` is the buy order's limit price (the taker's if the taker buys, else the
    maker's): the buyer reserved ``buy_limit*quantity`` of quote for this quantity.
    """

    maker_order_id: str
    maker_account: str
    taker_order_id: str
    taker_account: str
    taker_side: Side
    price: Decimal
    quantity: Decimal
    buy_limit: Decimal

    @property
    def buyer(self) -> str:
        """The buying account."""
        return self.taker_account if self.taker_side is Side.BUY else self.maker_account

    @property
    def seller(self) -> str:
        """The selling account."""
        return self.maker_account if self.taker_side is Side.BUY else self.taker_account

    @property
    def buy_order_id(self) -> str:
        """The buy order's id."""
        return self.taker_order_id if self.taker_side is Side.BUY else self.maker_order_id

    @property
    def sell_order_id(self) -> str:
        """The sell order's id."""
        return self.maker_order_id if self.taker_side is Side.BUY else self.taker_order_id


class _Ladder:
    """One side of the book: price levels sorted so the best level is last in ``_keys``.

    Keeping the best level at the end makes removing an exhausted best level a
    ``list.pop()``; asks store negated prices so the lowest ask sorts last.
    """

    __slots__ = ("_keys", "_levels", "_negate")

    def __init__(self, *, negate: bool) -> None:
        self._negate = negate
        self._keys: list[Decimal] = []
        # Each level is a dict so a cancel is O(1); insertion order is sequence order.
        self._levels: dict[Decimal, dict[str, BookOrder]] = {}

    def _key(self, price: Decimal) -> Decimal:
        return price.copy_negate() if self._negate else price

    def add(self, order: BookOrder) -> None:
        level = self._levels.get(order.price)
        if level is None:
            self._levels[order.price] = {order.order_id: order}
            bisect.insort(self._keys, self._key(order.price))
            return
        last = next(reversed(level.values()))
        level[order.order_id] = order
        if last.sequence > order.sequence:
            # Only a restore out of arrival order gets here; re-sort to keep time priority.
            ordered = sorted(level.values(), key=lambda resting: resting.sequence)
            level.clear()
            level.update((resting.order_id, resting) for resting in ordered)

    def remove(self, order: BookOrder) -> None:
        level = self._levels[order.price]
        del level[order.order_id]
        if level:
            return
        del self._levels[order.price]
        key = self._key(order.price)
        if self._keys[-1] == key:
            self._keys.pop()
        else:
            del self._keys[bisect.bisect_left(self._keys, key)]

    def best_first(self) -> Iterator[tuple[Decimal, dict[str, BookOrder]]]:
        for key in reversed(self._keys):
            price = key.copy_negate() if self._negate else key
            yield price, self._levels[price]

    def best(self) -> Decimal | None:
        if not self._keys:
            return None
        key = self._keys[-1]
        return key.copy_negate() if self._negate else key


def _crosses(taker: BookOrder, price: Decimal) -> bool:
    if taker.side is Side.BUY:
        return price <= taker.price
    return price >= taker.price


def _check_order(order: BookOrder) -> None:
    if order.price <= ZERO or not ZERO < order.remaining <= order.quantity:
        msg = f"order {order.order_id} needs a positive price and 0 < remaining <= quantity"
        raise ValueError(msg)


class OrderBook:
    """Price-time priority book for one pair.

    Makers are matched best price first, then lowest ``sequence`` first within a price.
    Self-trades are allowed: an account's order can fill against its own resting order
    (the settlement nets out per account; the service may refuse them if it wishes).
    """

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self._orders: dict[str, BookOrder] = {}
        self._bids = _Ladder(negate=False)
        self._asks = _Ladder(negate=True)

    def __len__(self) -> int:
        return len(self._orders)

    def _ladder(self, side: Side) -> _Ladder:
        return self._bids if side is Side.BUY else self._asks

    def _walk(self, taker: BookOrder) -> list[tuple[Fill, BookOrder, Decimal]]:
        """Plan the fills for ``taker`` without changing anything.

        Returns each fill with its maker and the maker's remaining after it, so that
        applying the plan does no arithmetic and so cannot fail half way.
        """
        _check_order(taker)
        if taker.order_id in self._orders:
            msg = f"order {taker.order_id} is already in the book"
            raise ValueError(msg)
        opposite = self._asks if taker.side is Side.BUY else self._bids
        plan: list[tuple[Fill, BookOrder, Decimal]] = []
        left = taker.remaining
        for price, level in opposite.best_first():
            if left <= ZERO or not _crosses(taker, price):
                break
            for maker in level.values():
                quantity = min(left, maker.remaining)
                plan.append(
                    (
                        self._fill(taker, maker, quantity),
                        maker,
                        EXACT.subtract(maker.remaining, quantity),
                    )
                )
                left = EXACT.subtract(left, quantity)
                if left <= ZERO:
                    break
        return plan

    @staticmethod
    def _fill(taker: BookOrder, maker: BookOrder, quantity: Decimal) -> Fill:
        return Fill(
            maker_order_id=maker.order_id,
            maker_account=maker.account,
            taker_order_id=taker.order_id,
            taker_account=taker.account,
            taker_side=taker.side,
            price=maker.price,
            quantity=quantity,
            buy_limit=taker.price if taker.side is Side.BUY else maker.price,
        )

    def preview(self, taker: BookOrder) -> list[Fill]:
        """The fills :meth:`match` would make, leaving the book and ``taker`` unchanged.

        Raises:
            ValueError: The taker's id is already in the book, or its price or remaining
                is not positive, or its remaining exceeds its quantity.
        """
        return [fill for fill, _, _ in self._walk(taker)]

    def match(self, taker: BookOrder) -> list[Fill]:
        """Fill ``taker`` against the opposite side while prices cross; rest what is left.

        Partial fills reduce ``remaining`` on the maker and the taker; filled makers leave
        the book. The fills are exactly those :meth:`preview` gives for the same state.
        On error nothing is changed.

        Raises:
            ValueError: As for :meth:`preview`.
        """
        plan = self._walk(taker)
        opposite = self._asks if taker.side is Side.BUY else self._bids
        left = taker.remaining
        for fill, maker, maker_left in plan:
            left = EXACT.subtract(left, fill.quantity)
            maker.remaining = maker_left
            if maker_left <= ZERO:
                opposite.remove(maker)
                del self._orders[maker.order_id]
        taker.remaining = left
        if left > ZERO:
            self._insert(taker)
        return [fill for fill, _, _ in plan]

    def _insert(self, order: BookOrder) -> None:
        self._ladder(order.side).add(order)
        self._orders[order.order_id] = order

    def rest(self, order: BookOrder) -> None:
        """Add ``order`` without matching (restoring the book at start).

        Raises:
            ValueError: The id is already in the book, or the price or remaining is invalid.
        """
        _check_order(order)
        if order.order_id in self._orders:
            msg = f"order {order.order_id} is already in the book"
            raise ValueError(msg)
        self._insert(order)

    def cancel(self, order_id: str) -> BookOrder | None:
        """Remove a resting order and return it, or ``None`` if it is not in the book."""
        order = self._orders.pop(order_id, None)
        if order is not None:
            self._ladder(order.side).remove(order)
        return order

    def get(self, order_id: str) -> BookOrder | None:
        """The resting order with this id, or ``None``."""
        return self._orders.get(order_id)

    def depth(
        self, levels: int = 20
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Bids and asks, best first, as (price, total remaining) for up to ``levels`` each.

        Raises:
            ValueError: ``levels`` is negative.
        """
        if levels < 0:
            msg = "levels must not be negative"
            raise ValueError(msg)
        return _aggregate(self._bids, levels), _aggregate(self._asks, levels)

    def best_bid(self) -> Decimal | None:
        """The highest bid price, or ``None`` if there are no bids."""
        return self._bids.best()

    def best_ask(self) -> Decimal | None:
        """The lowest ask price, or ``None`` if there are no asks."""
        return self._asks.best()


def _aggregate(ladder: _Ladder, levels: int) -> list[tuple[Decimal, Decimal]]:
    rows: list[tuple[Decimal, Decimal]] = []
    for price, level in ladder.best_first():
        if len(rows) >= levels:
            break
        total = ZERO
        for order in level.values():
            total = EXACT.add(total, order.remaining)
        rows.append((price, total))
    return rows
