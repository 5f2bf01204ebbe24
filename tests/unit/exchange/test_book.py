"""The order book: price-time priority, partial fills, resting, cancels and depth."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from keystead.exchange.book import BookOrder, Fill, OrderBook
from keystead.exchange.model import Pair, Side

PAIR = Pair("BTC-USD", "BTC", "USD", price_places=2, quantity_places=8)
D = Decimal


class _Orders:
    def __init__(self) -> None:
        self.sequence = 0

    def __call__(
        self, order_id: str, side: Side, price: str, quantity: str, account: str = "a"
    ) -> BookOrder:
        self.sequence += 1
        return BookOrder(order_id, account, side, D(price), D(quantity), D(quantity), self.sequence)


@pytest.fixture
def order() -> _Orders:
    return _Orders()


@pytest.fixture
def book() -> OrderBook:
    return OrderBook(PAIR)


def test_empty_book(book: OrderBook) -> None:
    assert len(book) == 0
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.depth() == ([], [])


def test_no_cross_no_fill(book: OrderBook, order: _Orders) -> None:
    assert book.match(order("s1", Side.SELL, "101", "1")) == []
    assert book.match(order("b1", Side.BUY, "100", "1")) == []
    assert len(book) == 2
    assert book.best_bid() == 100
    assert book.best_ask() == 101


def test_price_priority_for_buy_taker(book: OrderBook, order: _Orders) -> None:
    book.match(order("s-high", Side.SELL, "102", "1", "m1"))
    book.match(order("s-low", Side.SELL, "100", "1", "m2"))
    book.match(order("s-mid", Side.SELL, "101", "1", "m3"))
    fills = book.match(order("b", Side.BUY, "101.5", "3", "t"))
    assert [(f.maker_order_id, f.price, f.quantity) for f in fills] == [
        ("s-low", D(100), D(1)),
        ("s-mid", D(101), D(1)),
    ]
    assert all(f.buy_limit == D("101.5") for f in fills)
    resting = book.get("b")
    assert resting is not None
    assert resting.remaining == 1
    assert book.best_bid() == D("101.5")
    assert book.best_ask() == 102


def test_price_priority_for_sell_taker(book: OrderBook, order: _Orders) -> None:
    book.match(order("b-low", Side.BUY, "99", "1"))
    book.match(order("b-high", Side.BUY, "101", "1"))
    fills = book.match(order("s", Side.SELL, "98", "2"))
    assert [(f.maker_order_id, f.price, f.buy_limit) for f in fills] == [
        ("b-high", D(101), D(101)),
        ("b-low", D(99), D(99)),
    ]
    assert len(book) == 0


def test_time_priority_within_a_price(book: OrderBook, order: _Orders) -> None:
    book.match(order("first", Side.BUY, "100", "1"))
    book.match(order("second", Side.BUY, "100", "1"))
    book.match(order("third", Side.BUY, "100", "1"))
    fills = book.match(order("s", Side.SELL, "100", "2"))
    assert [f.maker_order_id for f in fills] == ["first", "second"]
    assert book.get("third") is not None


def test_rest_out_of_order_keeps_time_priority(book: OrderBook) -> None:
    book.rest(BookOrder("late", "a", Side.SELL, D(100), D(1), D(1), 9))
    book.rest(BookOrder("early", "a", Side.SELL, D(100), D(1), D(1), 3))
    book.rest(BookOrder("mid", "a", Side.SELL, D("100.00"), D(1), D(1), 5))
    fills = book.match(BookOrder("t", "b", Side.BUY, D(100), D(3), D(3), 10))
    assert [f.maker_order_id for f in fills] == ["early", "mid", "late"]


def test_partial_fill_of_maker(book: OrderBook, order: _Orders) -> None:
    book.match(order("s", Side.SELL, "100", "5", "maker"))
    fills = book.match(order("b", Side.BUY, "100", "2", "taker"))
    assert fills == [Fill("s", "maker", "b", "taker", Side.BUY, D(100), D(2), D(100))]
    maker = book.get("s")
    assert maker is not None
    assert maker.remaining == 3
    assert maker.quantity == 5
    assert book.get("b") is None
    assert book.depth() == ([], [(D(100), D(3))])


def test_partial_fill_of_taker_rests(book: OrderBook, order: _Orders) -> None:
    book.match(order("s", Side.SELL, "100", "1.5"))
    taker = order("b", Side.BUY, "100.5", "4")
    fills = book.match(taker)
    assert [f.quantity for f in fills] == [D("1.5")]
    assert taker.remaining == D("2.5")
    assert book.get("b") is taker
    assert book.get("s") is None
    assert book.depth() == ([(D("100.5"), D("2.5"))], [])


def test_fill_roles() -> None:
    buy_taker = Fill("m", "mk", "t", "tk", Side.BUY, D(1), D(1), D(1))
    assert (buy_taker.buyer, buy_taker.seller) == ("tk", "mk")
    assert (buy_taker.buy_order_id, buy_taker.sell_order_id) == ("t", "m")
    sell_taker = Fill("m", "mk", "t", "tk", Side.SELL, D(1), D(1), D(1))
    assert (sell_taker.buyer, sell_taker.seller) == ("mk", "tk")
    assert (sell_taker.buy_order_id, sell_taker.sell_order_id) == ("m", "t")


def test_self_trade_is_allowed(book: OrderBook, order: _Orders) -> None:
    book.match(order("s", Side.SELL, "100", "1", "same"))
    fills = book.match(order("b", Side.BUY, "100", "1", "same"))
    assert [(f.buyer, f.seller) for f in fills] == [("same", "same")]


def test_cancel(book: OrderBook, order: _Orders) -> None:
    book.match(order("b1", Side.BUY, "100", "1"))
    book.match(order("b2", Side.BUY, "100", "2"))
    book.match(order("b3", Side.BUY, "99", "1"))
    cancelled = book.cancel("b1")
    assert cancelled is not None
    assert cancelled.order_id == "b1"
    assert book.cancel("b1") is None
    assert book.cancel("missing") is None
    assert book.depth() == ([(D(100), D(2)), (D(99), D(1))], [])
    assert book.cancel("b3") is not None
    assert book.cancel("b2") is not None
    assert book.best_bid() is None
    assert len(book) == 0


def test_cancel_middle_level(book: OrderBook, order: _Orders) -> None:
    for index, price in enumerate(["103", "101", "102"]):
        book.match(order(f"s{index}", Side.SELL, price, "1"))
    book.cancel("s2")
    assert book.depth() == ([], [(D(101), D(1)), (D(103), D(1))])


def test_depth_aggregates_and_limits_levels(book: OrderBook, order: _Orders) -> None:
    book.match(order("b1", Side.BUY, "99", "1"))
    book.match(order("b2", Side.BUY, "99", "2.5"))
    book.match(order("b3", Side.BUY, "98", "1"))
    book.match(order("b4", Side.BUY, "97", "1"))
    book.match(order("s1", Side.SELL, "100", "1"))
    book.match(order("s2", Side.SELL, "101", "1"))
    book.match(order("s3", Side.SELL, "101", "1"))
    assert book.depth(2) == (
        [(D(99), D("3.5")), (D(98), D(1))],
        [(D(100), D(1)), (D(101), D(2))],
    )
    assert book.depth(0) == ([], [])
    with pytest.raises(ValueError, match="negative"):
        book.depth(-1)


def _snapshot(book: OrderBook) -> tuple[object, ...]:
    ids = [f"s{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
    return (book.depth(100), len(book), [copy.copy(book.get(i)) for i in ids])


def test_preview_equals_match_and_leaves_book_unchanged(book: OrderBook, order: _Orders) -> None:
    book.match(order("s0", Side.SELL, "100", "1"))
    book.match(order("s1", Side.SELL, "100", "2"))
    book.match(order("s2", Side.SELL, "101", "1"))
    book.match(order("s3", Side.SELL, "103", "1"))
    taker = order("b0", Side.BUY, "102", "3.5")
    before = _snapshot(book)
    previewed = book.preview(taker)
    assert _snapshot(book) == before
    assert taker.remaining == D("3.5")
    matched = book.match(taker)
    assert matched == previewed
    assert [f.quantity for f in matched] == [D(1), D(2), D("0.5")]
    assert _snapshot(book) != before
    assert book.best_bid() is None
    partly = book.get("s2")
    assert partly is not None
    assert partly.remaining == D("0.5")


def test_duplicate_rest_refused(book: OrderBook, order: _Orders) -> None:
    book.rest(order("x", Side.BUY, "100", "1"))
    with pytest.raises(ValueError, match="already in the book"):
        book.rest(order("x", Side.SELL, "200", "1"))
    with pytest.raises(ValueError, match="already in the book"):
        book.match(order("x", Side.SELL, "100", "1"))
    assert book.depth() == ([(D(100), D(1))], [])


def test_rest_does_not_match(book: OrderBook, order: _Orders) -> None:
    book.rest(order("b", Side.BUY, "100", "1"))
    book.rest(order("s", Side.SELL, "99", "1"))
    assert len(book) == 2


@pytest.mark.parametrize(
    ("price", "quantity", "remaining"),
    [(D(0), D(1), D(1)), (D(1), D(1), D(0)), (D(1), D(1), D(2)), (D(-1), D(1), D(1))],
)
def test_invalid_orders_refused_without_change(
    book: OrderBook, order: _Orders, price: Decimal, quantity: Decimal, remaining: Decimal
) -> None:
    book.rest(order("s", Side.SELL, "1", "1"))
    bad = BookOrder("bad", "a", Side.BUY, price, quantity, remaining, 99)
    with pytest.raises(ValueError, match="positive price"):
        book.match(bad)
    with pytest.raises(ValueError, match="positive price"):
        book.rest(bad)
    assert book.depth() == ([], [(D(1), D(1))])
    assert bad.remaining == remaining
