"""Matching through the exchange's API: resting, crossing, partial fills, priority, cancels.

Every order is signed through Keystead by its user and sent to the in-process exchange; the
balances, the book, the trades and the ledger are read back through the API.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from exchange_support import (
    Market,
    balances,
    funded,
    market_fixture,  # noqa: F401  (a fixture: pytest finds it by name)
    refused,
)
from keystead.exchange.client import ExchangeAPIError, ExchangeClient
from keystead.exchange.requests import ORDER

PAIR = "BTC-USD"


def balance(client: ExchangeClient, asset: str) -> tuple[str, str]:
    return balances(client).get(asset, ("0", "0"))


def order_of(client: ExchangeClient, order_id: str) -> dict[str, Any]:
    found = [o for o in client.my_orders() if o["order_id"] == order_id]
    assert len(found) == 1, found
    return found[0]


def no_negative(market: Market) -> None:
    for client in market.users.values():
        for available, reserved in balances(client).values():
            assert Decimal(available) >= 0
            assert Decimal(reserved) >= 0


def test_a_sell_below_no_bid_rests_on_the_book(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"BTC": "2"}})
    placed = alice.order("sell", PAIR, "1.5", "100")
    document = placed.confirmation
    assert (document["status"], document["filled"], document["remaining"]) == ("open", "0", "1.5")
    assert document["trades"] == []
    assert balance(alice, "BTC") == ("0.5", "1.5")
    assert market.client().book(PAIR) == {"pair": PAIR, "bids": [], "asks": [["100", "1.5"]]}
    assert order_of(alice, document["order_id"])["status"] == "open"
    assert market.client().trades(PAIR) == []


def test_a_crossing_buy_is_filled_fully(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "1"}, "bob": {"USD": "1000"}})
    sell = alice.order("sell", PAIR, "1", "100").confirmation
    buy = bob.order("buy", PAIR, "1", "100").confirmation
    assert (buy["status"], buy["filled"], buy["remaining"]) == ("filled", "1", "0")
    assert [(t["price"], t["quantity"]) for t in buy["trades"]] == [("100", "1")]
    assert balance(alice, "BTC") == ("0", "0")
    assert balance(alice, "USD") == ("100", "0")
    assert balance(bob, "BTC") == ("1", "0")
    assert balance(bob, "USD") == ("900", "0")
    assert order_of(alice, sell["order_id"])["status"] == "filled"
    assert order_of(bob, buy["order_id"])["status"] == "filled"
    assert market.client().book(PAIR) == {"pair": PAIR, "bids": [], "asks": []}
    (trade,) = market.client().trades(PAIR)
    assert (trade["buyer"], trade["seller"], trade["taker_side"]) == ("bob", "alice", "buy")
    assert (trade["buy_order"], trade["sell_order"]) == (buy["order_id"], sell["order_id"])
    assert [t["trade_id"] for t in bob.my_trades()] == [trade["trade_id"]]
    assert trade["ledger_seq"] == buy["ledger_seq"]
    no_negative(market)


def test_partial_fills_on_both_sides(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "3"}, "bob": {"USD": "1000"}})
    # The taker is partly filled and rests with the rest.
    sell = alice.order("sell", PAIR, "1", "100").confirmation
    buy = bob.order("buy", PAIR, "3", "100").confirmation
    assert (buy["status"], buy["filled"], buy["remaining"]) == ("open", "1", "2")
    assert market.client().book(PAIR) == {"pair": PAIR, "bids": [["100", "2"]], "asks": []}
    assert order_of(alice, sell["order_id"])["status"] == "filled"
    assert balance(bob, "USD") == ("700", "200")
    # Now the maker (bob's rest) is partly filled by a smaller sell.
    second = alice.order("sell", PAIR, "0.5", "100").confirmation
    assert (second["status"], second["filled"]) == ("filled", "0.5")
    resting = order_of(bob, buy["order_id"])
    assert (resting["status"], resting["remaining"]) == ("open", "1.5")
    assert market.client().book(PAIR) == {"pair": PAIR, "bids": [["100", "1.5"]], "asks": []}
    assert balance(bob, "BTC") == ("1.5", "0")
    assert balance(bob, "USD") == ("700", "150")
    assert balance(alice, "BTC") == ("1.5", "0")
    assert balance(alice, "USD") == ("150", "0")
    no_negative(market)


def test_price_time_priority_across_three_users(market: Market) -> None:
    alice, bob, carol, dave = (market.user(n) for n in ("alice", "bob", "carol", "dave"))
    for name in ("alice", "bob", "carol"):
        market.deposit(name, "BTC", "1")
    market.deposit("dave", "USD", "10000")
    a = alice.order("sell", PAIR, "1", "101").confirmation  # worse price, first in time
    b = bob.order("sell", PAIR, "1", "100").confirmation  # best price, earlier
    c = carol.order("sell", PAIR, "1", "100").confirmation  # best price, later
    assert market.client().book(PAIR)["asks"] == [["100", "2"], ["101", "1"]]
    taken = dave.order("buy", PAIR, "1.5", "101").confirmation
    assert [(t["price"], t["quantity"]) for t in taken["trades"]] == [("100", "1"), ("100", "0.5")]
    trades = market.client().trades(PAIR)
    sellers = {t["sell_order"]: t["seller"] for t in trades}
    assert sellers == {b["order_id"]: "bob", c["order_id"]: "carol"}
    assert order_of(bob, b["order_id"])["status"] == "filled"
    assert order_of(carol, c["order_id"])["remaining"] == "0.5"
    assert order_of(alice, a["order_id"])["remaining"] == "1"
    assert market.client().book(PAIR)["asks"] == [["100", "0.5"], ["101", "1"]]
    # Both fills were at the makers' price 100: 150 spent, not 151.5.
    assert balance(dave, "USD") == ("9850", "0")
    no_negative(market)


def test_the_takers_price_improvement_is_refunded(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "1"}, "bob": {"USD": "101"}})
    alice.order("sell", PAIR, "1", "100")
    buy = bob.order("buy", PAIR, "1", "101").confirmation
    assert buy["trades"][0]["price"] == "100"
    assert balance(bob, "USD") == ("1", "0")
    assert balance(bob, "BTC") == ("1", "0")
    assert balance(alice, "USD") == ("100", "0")


def test_a_signed_cancel_releases_the_funds(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "500"}})
    placed = alice.order("buy", PAIR, "2", "100").confirmation
    assert balance(alice, "USD") == ("300", "200")
    before = len(market.ledger())
    cancelled = alice.cancel(placed["order_id"]).confirmation
    assert (cancelled["status"], cancelled["remaining"], cancelled["request"]) == (
        "cancelled", "0", "cancel",
    )  # fmt: skip
    assert balance(alice, "USD") == ("500", "0")
    assert order_of(alice, placed["order_id"])["status"] == "cancelled"
    assert market.client().book(PAIR) == {"pair": PAIR, "bids": [], "asks": []}
    ledger = market.ledger()
    assert len(ledger) == before + 1
    assert ledger[-1]["body"]["kind"] == "cancel"
    # A second cancel of the same order is refused: it is no longer open.
    refused(lambda: alice.cancel(placed["order_id"]), 409, "OrderNotOpen")


def test_a_partly_filled_order_cancel_releases_only_the_rest(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "1"}, "bob": {"USD": "1000"}})
    buy = bob.order("buy", PAIR, "3", "100").confirmation
    alice.order("sell", PAIR, "1", "100")
    cancelled = bob.cancel(buy["order_id"]).confirmation
    assert cancelled["filled"] == "1"
    assert balance(bob, "USD") == ("900", "0")
    assert balance(bob, "BTC") == ("1", "0")


def test_cancel_of_someone_elses_order_is_not_found(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"USD": "500"}, "bob": {}})
    placed = alice.order("buy", PAIR, "1", "100").confirmation
    before = len(market.ledger())
    refused(lambda: bob.cancel(placed["order_id"]), 404, "OrderNotFound")
    refused(lambda: bob.cancel("0" * 32), 404, "OrderNotFound")
    assert order_of(alice, placed["order_id"])["status"] == "open"
    assert balance(alice, "USD") == ("400", "100")
    assert len(market.ledger()) == before


def test_cancel_of_a_filled_order_is_not_open(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "1"}, "bob": {"USD": "1000"}})
    sell = alice.order("sell", PAIR, "1", "100").confirmation
    bob.order("buy", PAIR, "1", "100")
    before = len(market.ledger())
    refused(lambda: alice.cancel(sell["order_id"]), 409, "OrderNotOpen")
    assert len(market.ledger()) == before
    assert balance(alice, "USD") == ("100", "0")


def test_insufficient_funds_reserves_nothing(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "99", "BTC": "0.5"}})
    before = market.ledger()
    refused(lambda: alice.order("buy", PAIR, "1", "100"), 409, "InsufficientFunds")
    refused(lambda: alice.order("sell", PAIR, "0.50000001", "100"), 409, "InsufficientFunds")
    assert balance(alice, "USD") == ("99", "0")
    assert balance(alice, "BTC") == ("0.5", "0")
    assert market.ledger() == before
    assert market.client().book(PAIR) == {"pair": PAIR, "bids": [], "asks": []}
    assert alice.my_orders() == []
    # An account with nothing at all in the asset is refused the same way.
    bob = market.user("bob")
    refused(lambda: bob.order("buy", PAIR, "1", "1"), 409, "InsufficientFunds")
    assert market.ledger() == before


def test_an_unknown_pair_is_refused(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "100"}})
    before = len(market.ledger())
    refused(lambda: alice.order("buy", "DOGE-USD", "1", "1"), 400, "UnknownPair")
    refused(lambda: market.client().book("DOGE-USD"), 400, "UnknownPair")
    refused(lambda: market.client().trades("DOGE-USD"), 400, "UnknownPair")
    assert len(market.ledger()) == before


@pytest.mark.parametrize(
    ("quantity", "price"),
    [
        ("1e3", "100"),
        ("1", "1e3"),
        ("-1", "100"),
        ("1", "-1"),
        ("0", "100"),
        ("1", "0"),
        ("0.000000001", "100"),  # nine places; BTC-USD allows eight
        ("1", "100.001"),  # three places; prices have two
        ("1.0", "100.000"),  # trailing zeros count as places
        (" 1", "100"),
        ("01", "100"),
        ("1", "NaN"),
        ("1", "Infinity"),
        ("1", "1" * 19),
    ],
)
def test_bad_amounts_are_invalid_orders(market: Market, quantity: str, price: str) -> None:
    (alice,) = funded(market, {"alice": {"USD": "1000", "BTC": "1000"}})
    before = balances(alice), len(market.ledger())
    error = refused(lambda: alice.order("buy", PAIR, quantity, price), 400, "InvalidOrder")
    assert "Traceback" not in error.detail
    assert (balances(alice), len(market.ledger())) == before
    assert alice.my_orders() == []


def test_amounts_that_are_not_strings_are_refused(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "1000"}})
    for fields in ({"price": 100}, {"quantity": 1.5}, {"side": "hold"}, {"price": ""}):
        body = {"pair": PAIR, "side": "buy", "price": "100", "quantity": "1", **fields}
        envelope = alice.sign_request(ORDER, body)
        refused(partial(alice.send, "/v1/orders", envelope), 400, "ValidationFailed")
    assert balance(alice, "USD") == ("1000", "0")


def test_the_book_depth_aggregates_levels(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "10"}, "bob": {"USD": "10000"}})
    for quantity, price in [("1", "105"), ("2", "103"), ("0.5", "103"), ("1", "110")]:
        alice.order("sell", PAIR, quantity, price)
    for quantity, price in [("1", "99"), ("1", "98.5"), ("3", "99")]:
        bob.order("buy", PAIR, quantity, price)
    book = market.client().book(PAIR)
    assert book["asks"] == [["103", "2.5"], ["105", "1"], ["110", "1"]]
    assert book["bids"] == [["99", "4"], ["98.5", "1"]]
    top = market.client().book(PAIR, levels=1)
    assert (top["asks"], top["bids"]) == ([["103", "2.5"]], [["99", "4"]])
    assert market.client().book("ETH-USD") == {"pair": "ETH-USD", "bids": [], "asks": []}


def test_trades_lists_the_newest_first_and_filters_by_pair(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "3", "ETH": "3"}, "bob": {"USD": "10000"}})
    alice.order("sell", PAIR, "1", "100")
    bob.order("buy", PAIR, "1", "100")
    alice.order("sell", PAIR, "1", "102")
    bob.order("buy", PAIR, "1", "102")
    alice.order("sell", "ETH-USD", "1", "10")
    bob.order("buy", "ETH-USD", "1", "10")
    btc = market.client().trades(PAIR)
    seqs = [t["ledger_seq"] for t in btc]
    assert [t["price"] for t in btc] == ["102", "100"], "newest first"
    assert seqs == sorted(seqs, reverse=True)
    assert {t["pair"] for t in market.client().trades()} == {PAIR, "ETH-USD"}
    assert len(market.client().trades()) == 3
    assert len(market.client().trades(limit=1)) == 1
    assert [t["pair"] for t in market.client().trades("ETH-USD")] == ["ETH-USD"]


def test_balances_never_go_negative_and_totals_are_conserved(market: Market) -> None:
    names = ["alice", "bob", "carol"]
    users = {name: market.user(name) for name in names}
    for name in names:
        market.deposit(name, "BTC", "5")
        market.deposit(name, "USD", "1000")
    script = [
        ("alice", "sell", "1.25", "100"), ("bob", "buy", "2", "101"),
        ("carol", "sell", "3", "99.5"), ("alice", "buy", "4", "100.5"),
        ("bob", "sell", "0.3", "98"), ("carol", "buy", "20", "100"),
        ("alice", "buy", "1", "1"), ("bob", "sell", "5", "200"),
    ]  # fmt: skip
    codes: list[str] = []
    for name, side, quantity, price in script:
        try:
            users[name].order(side, PAIR, quantity, price)
        except ExchangeAPIError as error:
            codes.append(error.code)
        no_negative(market)
    assert set(codes) <= {"InsufficientFunds"}
    totals = {"BTC": Decimal(0), "USD": Decimal(0)}
    for client in users.values():
        for asset, (available, reserved) in balances(client).items():
            totals[asset] += Decimal(available) + Decimal(reserved)
    assert totals == {"BTC": Decimal(15), "USD": Decimal(3000)}


def test_a_sell_taker_gets_the_makers_higher_bid(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "1"}, "bob": {"USD": "101"}})
    bob.order("buy", PAIR, "1", "101")
    sell = alice.order("sell", PAIR, "1", "100").confirmation
    assert [(t["price"], t["quantity"]) for t in sell["trades"]] == [("101", "1")]
    assert balance(alice, "USD") == ("101", "0")
    assert balance(bob, "USD") == ("0", "0")
    assert balance(bob, "BTC") == ("1", "0")


def test_price_improvement_on_a_partial_fill_then_cancel(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "4"}, "bob": {"USD": "1010"}})
    alice.order("sell", PAIR, "4", "100")
    buy = bob.order("buy", PAIR, "10", "101").confirmation
    assert (buy["filled"], buy["remaining"]) == ("4", "6")
    # 404 paid for 4 at 100; the 4 of improvement is back; 101*6 stays reserved.
    assert balance(bob, "USD") == ("4", "606")
    assert market.client().book(PAIR)["bids"] == [["101", "6"]]
    bob.cancel(buy["order_id"])
    assert balance(bob, "USD") == ("610", "0")
    assert balance(bob, "BTC") == ("4", "0")
    assert balance(alice, "USD") == ("400", "0")


def test_a_self_trade_keeps_the_accounts_totals(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"BTC": "1", "USD": "200"}})
    alice.order("sell", PAIR, "1", "100")
    buy = alice.order("buy", PAIR, "1", "150").confirmation
    assert buy["status"] == "filled"
    (trade,) = market.client().trades(PAIR)
    assert (trade["buyer"], trade["seller"], trade["price"]) == ("alice", "alice", "100")
    assert balance(alice, "BTC") == ("1", "0")
    assert balance(alice, "USD") == ("200", "0")


@pytest.mark.parametrize(
    ("account", "asset", "amount", "status", "code"),
    [
        ("nobody", "USD", "1", 404, "AccountNotFound"),
        ("alice", "XYZ", "1", 400, "ValidationFailed"),
        ("alice", "USD", "-1", 400, "ValidationFailed"),
        ("alice", "USD", "0", 400, "ValidationFailed"),
        ("alice", "USD", "1e3", 400, "ValidationFailed"),
        ("alice", "USD", "0.00000000001", 400, "ValidationFailed"),
        ("alice", "BTC", "0.000000001", 400, "ValidationFailed"),
    ],
)
def test_a_bad_deposit_changes_nothing(
    market: Market, account: str, asset: str, amount: str, *, status: int, code: str
) -> None:
    alice = market.user("alice")
    before = balances(alice), len(market.ledger())
    refused(lambda: market.deposit(account, asset, amount), status, code)
    assert (balances(alice), len(market.ledger())) == before


def test_concurrent_orders_from_many_clients_keep_the_books_exact(market: Market) -> None:
    """Orders arriving together are grouped by the exchange's one writer; none is lost."""
    names = ["alice", "bob", "carol", "dave"]
    for name in names:
        market.user(name)
        market.deposit(name, "BTC", "20")
        market.deposit(name, "USD", "10000")
    tokens = {n: str(market.keystead.token_of(n)["authorization"])[7:] for n in names}
    work = [
        (names[i % 4], "buy" if i % 2 else "sell", f"{1 + i % 3}", f"{99 + i % 5}")
        for i in range(24)
    ]
    # Sign everything first, then send the envelopes from many threads at once.
    signers = {n: market.client(n, tokens[n]) for n in names}
    envelopes = [
        (n, signers[n].sign_request(ORDER, {"pair": PAIR, "side": s, "quantity": q, "price": p}))
        for n, s, q, p in work
    ]
    answers: list[dict[str, Any]] = []
    errors: list[ExchangeAPIError] = []

    def send(item: tuple[str, dict[str, Any]]) -> None:
        try:
            answers.append(market.client().send("/v1/orders", item[1]))
        except ExchangeAPIError as error:
            errors.append(error)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, envelopes))
    assert errors == []
    assert len(answers) == len(envelopes)
    assert len({a["confirmation"]["order_id"] for a in answers}) == len(envelopes)
    no_negative(market)
    totals = {"BTC": Decimal(0), "USD": Decimal(0)}
    for client in market.users.values():
        for asset, (available, reserved) in balances(client).items():
            totals[asset] += Decimal(available) + Decimal(reserved)
    assert totals == {"BTC": Decimal(80), "USD": Decimal(40000)}
    # The book holds exactly what the open orders still hold.
    open_left: dict[str, Decimal] = {}
    for client in market.users.values():
        for order in client.my_orders():
            if order["status"] == "open":
                key = f"{order['side']}@{order['price']}"
                open_left[key] = open_left.get(key, Decimal(0)) + Decimal(order["remaining"])
    book = market.client().book(PAIR, levels=100)
    shown = {f"buy@{p}": Decimal(q) for p, q in book["bids"]}
    shown |= {f"sell@{p}": Decimal(q) for p, q in book["asks"]}
    assert shown == open_left
    best_bid = max((Decimal(p) for p, _ in book["bids"]), default=Decimal(0))
    best_ask = min((Decimal(p) for p, _ in book["asks"]), default=Decimal(10**9))
    assert best_bid < best_ask, "a crossed book"
    seqs = [entry["seq"] for entry in market.ledger()]
    assert seqs == list(range(1, len(seqs) + 1))
