"""Decimal money rules: strict amount parsing, exact arithmetic and balance changes.

Every product and difference goes through :data:`EXACT`, whose traps turn any rounding,
overflow or invalid operation into an exception, so no amount is ever rounded silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import TYPE_CHECKING, Final

from keystead.exchange.canonical import decimal_text
from keystead.exchange.model import BalanceChange, Pair, Side

if TYPE_CHECKING:
    from keystead.exchange.book import Fill

EXACT: Final = Context(prec=60, traps=[Inexact, Overflow, InvalidOperation])
ZERO: Final = Decimal(0)

_PLAIN_AMOUNT: Final = re.compile(r"(0|[1-9][0-9]{0,17})(\.[0-9]+)?")
# Long user input is cut before it is echoed back in an error message.
_MAX_ECHO: Final = 32


class InvalidAmount(ValueError):
    """An amount was refused; the message is safe to show to the user who sent it."""


class InsufficientFunds(ValueError):
    """A set of balance changes would leave an available or reserved balance negative."""


@dataclass(frozen=True, slots=True)
class Balance:
    """One account's funds in one asset: free to use, and held by resting orders."""

    available: Decimal = ZERO
    reserved: Decimal = ZERO


def _echo(text: str) -> str:
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "..."


def parse_amount(text: object, places: int, what: str, pair: str) -> Decimal:
    """Parse a positive plain decimal amount with at most ``places`` decimal places.

    Accepted: digits with no sign, exponent, whitespace or leading zeros, at most 18
    integer digits, and an optional fraction. Trailing zeros count as places: with
    ``places=2``, ``"1.230"`` is refused even though it equals ``1.23`` (one simple rule,
    so the text a user signed is never reinterpreted).

    Args:
        text: The amount as sent; anything but a ``str`` is refused.
        places: The decimal places allowed (the pair's price or quantity places, or an
            asset's places for deposits).
        what: The field name used in the message, e.g. ``"price"``.
        pair: The pair symbol (or asset) used in the message.

    Returns:
        The amount, exactly as written.

    Raises:
        InvalidAmount: The text is not a plain decimal, is zero, or has too many places.
    """
    if not isinstance(text, str):
        msg = f"{what} must be a decimal string"
        raise InvalidAmount(msg)
    match = _PLAIN_AMOUNT.fullmatch(text)
    if match is None:
        msg = f"{what} '{_echo(text)}' is not a plain decimal number"
        raise InvalidAmount(msg)
    fraction = match.group(2)
    if fraction is not None and len(fraction) - 1 > places:
        msg = f"{what} '{_echo(text)}' has more than {places} decimal places for {pair}"
        raise InvalidAmount(msg)
    amount = Decimal(text)
    if amount <= ZERO:
        msg = f"{what} must be greater than zero"
        raise InvalidAmount(msg)
    return amount


def reservation(pair: Pair, side: Side, price: Decimal, quantity: Decimal) -> tuple[str, Decimal]:
    """What an order holds while it rests: ``price*quantity`` quote to buy, else base.

    Raises:
        decimal.Inexact: The product cannot be held exactly in 60 digits.
    """
    if side is Side.BUY:
        return pair.quote, EXACT.multiply(price, quantity)
    return pair.base, quantity


def reserve_changes(
    account: str, pair: Pair, side: Side, price: Decimal, quantity: Decimal
) -> list[BalanceChange]:
    """Move an entering order's reservation from available to reserved.

    Raises:
        decimal.Inexact: The reservation cannot be held exactly.
    """
    asset, amount = reservation(pair, side, price, quantity)
    return [BalanceChange(account, asset, amount.copy_negate(), amount)]


def release_changes(
    account: str, pair: Pair, side: Side, price: Decimal, remaining: Decimal
) -> list[BalanceChange]:
    """Return a cancelled order's reservation for its ``remaining`` quantity to available.

    Raises:
        decimal.Inexact: The reservation cannot be held exactly.
    """
    asset, amount = reservation(pair, side, price, remaining)
    return [BalanceChange(account, asset, amount, amount.copy_negate())]


def fill_changes(pair: Pair, fill: Fill) -> list[BalanceChange]:
    """Settle one fill at the maker's price; the changes sum to zero per asset.

    The buyer reserved ``buy_limit*quantity`` of quote for this quantity: all of it leaves
    reserved, ``price*quantity`` goes to the seller and the price improvement
    ``(buy_limit-price)*quantity`` returns to the buyer's available quote. The seller's
    reserved base goes to the buyer. Changes are merged so each (account, asset) appears
    once, buyer before seller and base before quote; a self-trade merges into one account.

    Raises:
        ValueError: The fill's price is above its buy limit, or its quantity is not positive.
        decimal.Inexact: An amount cannot be held exactly.
    """
    if fill.price > fill.buy_limit or fill.quantity <= ZERO:
        msg = "a fill must have a positive quantity and a price within the buy limit"
        raise ValueError(msg)
    paid = EXACT.multiply(fill.price, fill.quantity)
    held = EXACT.multiply(fill.buy_limit, fill.quantity)
    improvement = EXACT.subtract(held, paid)
    quantity = fill.quantity
    parts = [
        BalanceChange(fill.buyer, pair.base, quantity, ZERO),
        BalanceChange(fill.buyer, pair.quote, improvement, held.copy_negate()),
        BalanceChange(fill.seller, pair.base, ZERO, quantity.copy_negate()),
        BalanceChange(fill.seller, pair.quote, paid, ZERO),
    ]
    return merge_changes(parts)


def merge_changes(changes: Iterable[BalanceChange]) -> list[BalanceChange]:
    """Sum changes per (account, asset), keeping the order of first appearance.

    Raises:
        decimal.Inexact: A sum cannot be held exactly.
    """
    merged: dict[tuple[str, str], BalanceChange] = {}
    for change in changes:
        key = (change.account, change.asset)
        previous = merged.get(key)
        merged[key] = (
            change
            if previous is None
            else BalanceChange(
                change.account,
                change.asset,
                EXACT.add(previous.available, change.available),
                EXACT.add(previous.reserved, change.reserved),
            )
        )
    return list(merged.values())


def apply_changes(
    balances: Mapping[tuple[str, str], Balance], changes: Iterable[BalanceChange]
) -> dict[tuple[str, str], Balance]:
    """Return new balances with ``changes`` applied; ``balances`` is left untouched.

    Changes are netted per (account, asset) before the check, so only the end state
    must be non-negative. Missing balances count as zero.

    Raises:
        InsufficientFunds: An available or reserved balance would go negative.
        decimal.Inexact: A sum cannot be held exactly.
    """
    result = dict(balances)
    for change in merge_changes(changes):
        key = (change.account, change.asset)
        current = result.get(key, Balance())
        available = EXACT.add(current.available, change.available)
        reserved = EXACT.add(current.reserved, change.reserved)
        if available < ZERO:
            msg = (
                f"insufficient {change.asset}: available {decimal_text(current.available)}, "
                f"needed {decimal_text(change.available.copy_negate())}"
            )
            raise InsufficientFunds(msg)
        if reserved < ZERO:
            msg = (
                f"insufficient reserved {change.asset}: reserved "
                f"{decimal_text(current.reserved)}, needed "
                f"{decimal_text(change.reserved.copy_negate())}"
            )
            raise InsufficientFunds(msg)
        result[key] = Balance(available, reserved)
    return result
