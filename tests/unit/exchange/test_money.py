"""Money rules: strict parsing, reservations, exact fill settlement and balance checks."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, Inexact

import pytest

from keystead.exchange.book import Fill
from keystead.exchange.model import BalanceChange, Pair, Side
from keystead.exchange.money import (
    EXACT,
    Balance,
    InsufficientFunds,
    InvalidAmount,
    apply_changes,
    fill_changes,
    merge_changes,
    parse_amount,
    release_changes,
    reservation,
    reserve_changes,
)

PAIR = Pair("BTC-USD", "BTC", "USD", price_places=2, quantity_places=8)
D = Decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", D(1)),
        ("0.5", D("0.5")),
        ("0.01", D("0.01")),
        ("100.25", D("100.25")),
        ("1.20", D("1.2")),
        ("9" * 18, D("9" * 18)),
        ("1" + "0" * 17 + ".99", D("1" + "0" * 17 + ".99")),
    ],
)
def test_parse_amount_accepts_plain_decimals(text: str, expected: Decimal) -> None:
    assert parse_amount(text, 2, "price", "BTC-USD") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("01", "price '01' is not a plain decimal number"),
        ("00.5", "price '00.5' is not a plain decimal number"),
        ("1.", "price '1.' is not a plain decimal number"),
        (".5", "price '.5' is not a plain decimal number"),
        ("1e3", "price '1e3' is not a plain decimal number"),
        ("1E3", "price '1E3' is not a plain decimal number"),
        (" 1", "price ' 1' is not a plain decimal number"),
        ("1 ", "price '1 ' is not a plain decimal number"),
        ("1\n", "price '1\n' is not a plain decimal number"),
        ("-1", "price '-1' is not a plain decimal number"),
        ("+1", "price '+1' is not a plain decimal number"),
        ("", "price '' is not a plain decimal number"),
        ("NaN", "price 'NaN' is not a plain decimal number"),
        ("Infinity", "price 'Infinity' is not a plain decimal number"),
        ("1,5", "price '1,5' is not a plain decimal number"),
        ("\u0661", "price '\u0661' is not a plain decimal number"),
        ("1" * 19, f"price '{'1' * 19}' is not a plain decimal number"),
        ("0", "price must be greater than zero"),
        ("0.00", "price must be greater than zero"),
        ("1.234", "price '1.234' has more than 2 decimal places for BTC-USD"),
        ("1.230", "price '1.230' has more than 2 decimal places for BTC-USD"),
    ],
)
def test_parse_amount_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(text, 2, "price", "BTC-USD")
    assert str(caught.value) == message


@pytest.mark.parametrize("value", [1, 1.5, D(1), b"1", None, ["1"]])
def test_parse_amount_refuses_non_strings(value: object) -> None:
    with pytest.raises(InvalidAmount, match="quantity must be a decimal string"):
        parse_amount(value, 8, "quantity", "BTC-USD")


def test_parse_amount_zero_places_and_long_echo() -> None:
    assert parse_amount("5", 0, "quantity", "X-Y") == 5
    with pytest.raises(InvalidAmount, match="more than 0 decimal places"):
        parse_amount("5.0", 0, "quantity", "X-Y")
    with pytest.raises(InvalidAmount) as caught:
        parse_amount("x" * 500, 2, "price", "BTC-USD")
    assert len(str(caught.value)) < 100


def test_invalid_amount_is_a_value_error() -> None:
    assert issubclass(InvalidAmount, ValueError)
    assert issubclass(InsufficientFunds, ValueError)


def test_reservation_for_both_sides() -> None:
    assert reservation(PAIR, Side.BUY, D("100.5"), D("2")) == ("USD", D("201.0"))
    assert reservation(PAIR, Side.SELL, D("100.5"), D("2")) == ("BTC", D(2))


def test_reserve_and_release_are_inverse() -> None:
    reserve = reserve_changes("alice", PAIR, Side.BUY, D(100), D("0.5"))
    assert reserve == [BalanceChange("alice", "USD", D(-50), D(50))]
    release = release_changes("alice", PAIR, Side.BUY, D(100), D("0.5"))
    assert release == [BalanceChange("alice", "USD", D(50), D(-50))]
    sell = reserve_changes("bob", PAIR, Side.SELL, D(100), D("0.5"))
    assert sell == [BalanceChange("bob", "BTC", D("-0.5"), D("0.5"))]


def test_exact_context_refuses_rounding() -> None:
    with pytest.raises(Inexact):
        EXACT.multiply(D("1." + "1" * 40), D("1." + "1" * 40))


def _fill(buyer_is_taker: bool, buyer: str = "alice", seller: str = "bob") -> Fill:
    if buyer_is_taker:
        return Fill("m", seller, "t", buyer, Side.BUY, D(100), D(2), D(101))
    return Fill("m", buyer, "t", seller, Side.SELL, D(100), D(2), D(100))


def _sums(changes: list[BalanceChange]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for change in changes:
        totals[change.asset] += change.available + change.reserved
    return dict(totals)


def test_fill_changes_worked_example() -> None:
    changes = fill_changes(PAIR, _fill(buyer_is_taker=True))
    assert changes == [
        BalanceChange("alice", "BTC", D(2), D(0)),
        BalanceChange("alice", "USD", D(2), D(-202)),
        BalanceChange("bob", "BTC", D(0), D(-2)),
        BalanceChange("bob", "USD", D(200), D(0)),
    ]
    assert _sums(changes) == {"BTC": 0, "USD": 0}


def test_fill_changes_without_price_improvement() -> None:
    changes = fill_changes(PAIR, _fill(buyer_is_taker=False))
    assert changes == [
        BalanceChange("alice", "BTC", D(2), D(0)),
        BalanceChange("alice", "USD", D(0), D(-200)),
        BalanceChange("bob", "BTC", D(0), D(-2)),
        BalanceChange("bob", "USD", D(200), D(0)),
    ]
    assert _sums(changes) == {"BTC": 0, "USD": 0}


def test_fill_changes_self_trade_merges_per_asset() -> None:
    changes = fill_changes(PAIR, _fill(buyer_is_taker=True, buyer="carol", seller="carol"))
    assert changes == [
        BalanceChange("carol", "BTC", D(2), D(-2)),
        BalanceChange("carol", "USD", D(202), D(-202)),
    ]


def test_fill_changes_refuses_price_above_limit() -> None:
    bad = Fill("m", "bob", "t", "alice", Side.BUY, D(102), D(2), D(101))
    with pytest.raises(ValueError, match="buy limit"):
        fill_changes(PAIR, bad)


def test_merge_changes_keeps_first_appearance_order() -> None:
    merged = merge_changes(
        [
            BalanceChange("a", "X", D(1), D(0)),
            BalanceChange("b", "X", D(1), D(0)),
            BalanceChange("a", "X", D(2), D(3)),
        ]
    )
    assert merged == [BalanceChange("a", "X", D(3), D(3)), BalanceChange("b", "X", D(1), D(0))]


def test_apply_changes_returns_new_balances() -> None:
    balances = {("alice", "USD"): Balance(D(300), D(0))}
    after = apply_changes(balances, reserve_changes("alice", PAIR, Side.BUY, D(101), D(2)))
    assert after == {("alice", "USD"): Balance(D(98), D(202))}
    assert balances == {("alice", "USD"): Balance(D(300), D(0))}


def test_apply_changes_treats_missing_as_zero() -> None:
    after = apply_changes({}, [BalanceChange("bob", "USD", D(5), D(0))])
    assert after == {("bob", "USD"): Balance(D(5), D(0))}


def test_apply_changes_refuses_negative_available_and_leaves_input() -> None:
    balances = {("alice", "USD"): Balance(D(10), D(0))}
    changes = [
        BalanceChange("bob", "USD", D(1), D(0)),
        *reserve_changes("alice", PAIR, Side.BUY, D(10), D(2)),
    ]
    with pytest.raises(InsufficientFunds) as caught:
        apply_changes(balances, changes)
    assert str(caught.value) == "insufficient USD: available 10, needed 20"
    assert balances == {("alice", "USD"): Balance(D(10), D(0))}


def test_apply_changes_refuses_negative_reserved() -> None:
    balances = {("alice", "BTC"): Balance(D(0), D(1))}
    with pytest.raises(InsufficientFunds, match="insufficient reserved BTC: reserved 1, needed 2"):
        apply_changes(balances, [BalanceChange("alice", "BTC", D(2), D(-2))])


def test_apply_changes_nets_changes_per_key() -> None:
    balances = {("alice", "USD"): Balance(D(0), D(0))}
    changes = [
        BalanceChange("alice", "USD", D(-5), D(0)),
        BalanceChange("alice", "USD", D(5), D(0)),
    ]
    assert apply_changes(balances, changes) == balances
