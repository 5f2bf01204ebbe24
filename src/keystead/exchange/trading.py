"""Orders and cancels: verified outside the writer, applied by it in arrival order.

An order is checked (shape, lifetime, key, signature) concurrently with others; then the
engine's writer applies it: the nonce must be fresh, the book is previewed, every balance
change is worked out and must keep balances non-negative, and only then do the book and the
balances change, in memory and, with the rest of its group, in the database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keystead.exchange.book import BookOrder, Fill
from keystead.exchange.canonical import decimal_text
from keystead.exchange.confirmations import CONFIRMATION, SignedConfirmation
from keystead.exchange.engine import Batch, Engine, Finish, PlannedEntry, Signed, Timings
from keystead.exchange.errors import (
    AccountNotFound,
    InsufficientFunds,
    InvalidOrder,
    NonceReused,
    OrderNotFound,
    OrderNotOpen,
    UnknownPair,
)
from keystead.exchange.ledger import LedgerEntry
from keystead.exchange.model import BalanceChange, Pair, Side
from keystead.exchange.money import (
    EXACT,
    Balance,
    InvalidAmount,
    apply_changes,
    fill_changes,
    parse_amount,
    release_changes,
    reserve_changes,
)
from keystead.exchange.money import InsufficientFunds as NotEnough
from keystead.exchange.requests import CancelRequest, Envelope, OrderRequest
from keystead.exchange.signatures import VersionKey
from keystead.exchange.state import BalanceKey, MarketState
from keystead.exchange.store import ExchangeStore, OrderRow, TradeRow
from keystead.exchange.verification import Checked, RequestVerifier


def new_id() -> str:
    """A random id for an order, a trade or a deposit."""
    return uuid.uuid4().hex


def settle(state: MarketState, changes: list[BalanceChange]) -> dict[BalanceKey, Balance]:
    """The balances ``changes`` touch, after them.

    Raises:
        InsufficientFunds: One would go negative.
    """
    keys = {(change.account, change.asset) for change in changes}
    touched = {key: state.balances[key] for key in keys if key in state.balances}
    try:
        return apply_changes(touched, changes)
    except NotEnough as error:
        raise InsufficientFunds(str(error)) from None


def confirmation_base(exchange: str, kind: str, checked: Checked, batch: Batch) -> dict[str, Any]:
    """The fields every confirmation has; it pins the entry the batch appended last."""
    return {
        "type": CONFIRMATION, "exchange": exchange, "request": kind,
        "request_digest": checked.digest, "ledger_seq": batch.entries[-1].seq,
        "ledger_hash": batch.last_hash, "time_ms": batch.now_ms,
    }  # fmt: skip


def spend_nonce(
    state: MarketState, batch: Batch, account: str, nonce: str, expires_ms: int
) -> None:
    """Record a nonce as used, in memory and in the group's transaction.

    Raises:
        NonceReused: It was used already.
    """
    if state.nonce_used(account, nonce):
        raise NonceReused
    state.nonces[account, nonce] = expires_ms
    batch.rows.nonces.append((account, nonce, expires_ms))


@dataclass
class PlaceOrder:
    """A verified order, for the writer to match."""

    exchange: str
    request: OrderRequest
    checked: Checked
    pair: Pair
    price: Decimal
    quantity: Decimal
    signer: Callable[[], VersionKey]

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        """Match the order and settle its fills.

        Raises:
            NonceReused: A replay.
            InsufficientFunds: The reservation is not covered; the nonce is spent anyway,
                so the signed order cannot come back once funds arrive.
        """
        request = self.request
        expires_ms = request.expires_at * 1000
        if state.nonce_used(request.account, request.nonce):
            raise NonceReused
        book = state.books[self.pair.symbol]
        side = Side(request.side)
        taker = BookOrder(new_id(), request.account, side, self.price, self.quantity,
                          self.quantity, state.sequence + 1)  # fmt: skip
        fills = book.preview(taker)
        planned = self._planned(taker, fills)
        try:
            after = settle(state, [c for entry in planned for c in entry.changes])
        except InsufficientFunds as refused:
            spend_nonce(state, batch, request.account, request.nonce, expires_ms)
            return _raise(refused)
        spend_nonce(state, batch, request.account, request.nonce, expires_ms)
        state.sequence = taker.sequence
        state.balances.update(after)
        makers = {f.maker_order_id: book.get(f.maker_order_id) for f in fills}
        left_before = {oid: order.remaining for oid, order in makers.items() if order}
        book.match(taker)
        entries = [batch.append(item) for item in planned]
        for order_id in left_before:
            if book.get(order_id) is None:
                state.open_orders.pop(order_id, None)
        if taker.remaining > 0:
            state.open_orders[taker.order_id] = self.pair.symbol
        document = self._document(taker, fills, entries, batch)
        index = batch.document(document)
        self._write(batch, taker, fills, entries, left_before)
        return lambda signed: _confirmed(document, signed, index, self.signer())

    def _planned(self, taker: BookOrder, fills: list[Fill]) -> list[PlannedEntry]:
        pair = self.pair
        reserve = reserve_changes(taker.account, pair, taker.side, taker.price, taker.quantity)
        planned = [PlannedEntry("order", taker.order_id, reserve, {
            "pair": pair.symbol, "side": taker.side.value, "price": decimal_text(taker.price),
            "quantity": decimal_text(taker.quantity),
        })]  # fmt: skip
        planned.extend(
            PlannedEntry("trade", new_id(), fill_changes(pair, fill), {
                "pair": pair.symbol, "price": decimal_text(fill.price),
                "quantity": decimal_text(fill.quantity), "buy_order": fill.buy_order_id,
                "sell_order": fill.sell_order_id,
            })
            for fill in fills
        )  # fmt: skip
        return planned

    def _document(
        self, taker: BookOrder, fills: list[Fill], entries: list[LedgerEntry], batch: Batch
    ) -> dict[str, Any]:
        filled = EXACT.subtract(taker.quantity, taker.remaining)
        return {
            **confirmation_base(self.exchange, "order", self.checked, batch),
            "order_id": taker.order_id, "account": taker.account, "pair": self.pair.symbol,
            "side": taker.side.value, "price": decimal_text(taker.price),
            "quantity": decimal_text(taker.quantity), "filled": decimal_text(filled),
            "remaining": decimal_text(taker.remaining),
            "status": "filled" if taker.remaining == 0 else "open",
            "trades": [
                {"trade_id": entry.ref, "price": decimal_text(fill.price),
                 "quantity": decimal_text(fill.quantity)}
                for fill, entry in zip(fills, entries[1:], strict=True)
            ],
        }  # fmt: skip

    def _write(
        self,
        batch: Batch,
        taker: BookOrder,
        fills: list[Fill],
        entries: list[LedgerEntry],
        left_before: dict[str, Decimal],
    ) -> None:
        status = "filled" if taker.remaining == 0 else "open"
        row = OrderRow(
            taker.order_id, taker.sequence, taker.account, self.pair.symbol, taker.side,
            taker.price, taker.quantity, taker.remaining, status, batch.now_ms,
            self.checked.key.key.version,
        )  # fmt: skip
        batch.rows.orders.append((row, self.checked.signed_bytes.decode(), self.checked.signature))
        remaining = dict(left_before)
        for fill, entry in zip(fills, entries[1:], strict=True):
            left = EXACT.subtract(remaining[fill.maker_order_id], fill.quantity)
            remaining[fill.maker_order_id] = left
            batch.rows.order_updates[fill.maker_order_id] = (
                left,
                "filled" if left == 0 else "open",
            )
            batch.rows.trades.append(TradeRow(
                entry.ref, self.pair.symbol, fill.price, fill.quantity, fill.buy_order_id,
                fill.sell_order_id, fill.buyer, fill.seller, fill.taker_side, batch.now_ms,
                entry.seq,
            ))  # fmt: skip


@dataclass
class CancelOrder:
    """A verified cancel, for the writer to apply."""

    exchange: str
    request: CancelRequest
    checked: Checked
    order: OrderRow
    signer: Callable[[], VersionKey]

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        """Take the order off its book and release what it still holds.

        Raises:
            NonceReused: A replay.
            OrderNotOpen: It was filled or cancelled meanwhile.
        """
        request, order = self.request, self.order
        if state.nonce_used(request.account, request.nonce):
            raise NonceReused
        book = state.book_of(order.id)
        resting = None if book is None else book.get(order.id)
        if book is None or resting is None:
            raise OrderNotOpen
        pair = state.markets[order.pair]
        released = release_changes(order.account, pair, order.side, order.price, resting.remaining)
        after = settle(state, released)
        spend_nonce(state, batch, request.account, request.nonce, request.expires_at * 1000)
        state.balances.update(after)
        book.cancel(order.id)
        state.open_orders.pop(order.id, None)
        batch.append(PlannedEntry("cancel", order.id, released, {"pair": pair.symbol}))
        document = {
            **confirmation_base(self.exchange, "cancel", self.checked, batch),
            "order_id": order.id, "account": order.account, "pair": order.pair,
            "side": order.side.value, "price": decimal_text(order.price),
            "quantity": decimal_text(order.quantity),
            "filled": decimal_text(EXACT.subtract(order.quantity, resting.remaining)),
            "remaining": "0", "status": "cancelled", "trades": [],
        }  # fmt: skip
        index = batch.document(document)
        batch.rows.order_updates[order.id] = (resting.remaining, "cancelled")
        return lambda signed: _confirmed(document, signed, index, self.signer())


def _raise(error: Exception) -> Finish:
    def finish(_: Signed) -> Any:  # noqa: ANN401 - never returns
        raise error

    return finish


def _confirmed(
    document: dict[str, Any], signed: Signed, index: int, key: VersionKey
) -> SignedConfirmation:
    made = signed.documents[index]
    return SignedConfirmation(document, made.signature, key.key_id, made.version, key.spec)


class TradingService:
    """Verifies orders and cancels, then hands them to the engine."""

    def __init__(  # noqa: PLR0913 - the parts an order passes through
        self,
        *,
        exchange: str,
        markets: dict[str, Pair],
        store: ExchangeStore,
        engine: Engine,
        verifier: RequestVerifier,
        signer: Callable[[], VersionKey],
    ) -> None:
        self._exchange = exchange
        self._markets = markets
        self._store = store
        self._engine = engine
        self._verifier = verifier
        self._signer = signer

    async def place(self, envelope: Envelope, timings: Timings | None = None) -> SignedConfirmation:
        """Verify a signed order, then match it and record everything it changed.

        ``timings``, if given, receives where the time went (the ``Server-Timing`` header).

        Raises:
            BadRequest, InvalidOrder, OrderExpired, UnknownPair: A malformed order.
            KeyNotAccounts, KeyNotUsable, InvalidSignature: Not signed by the account's key.
            AccountNotFound: No such account.
            NonceReused: A replay.
            InsufficientFunds: The available balance does not cover the reservation.
            KeysteadUnavailable: Keystead did not sign.
        """
        request = self._verifier.read(envelope, OrderRequest)
        pair = self._markets.get(request.pair)
        if pair is None:
            msg = f"no market trades {request.pair!r}; see GET /v1/info"
            raise UnknownPair(msg)
        price, quantity = _amounts(request, pair)
        checked = await self._checked(envelope, request.account, timings)
        command = PlaceOrder(self._exchange, request, checked, pair, price, quantity,
                             self._signer)  # fmt: skip
        confirmed: SignedConfirmation = await self._engine.submit(command, timings)
        return confirmed

    async def cancel(self, envelope: Envelope) -> SignedConfirmation:
        """Verify a signed cancel and release what remains of the order.

        Raises:
            OrderNotFound: The account has no such order.
            OrderNotOpen: The order is filled or cancelled already.
            (and the verification errors of :meth:`place`)
        """
        request = self._verifier.read(envelope, CancelRequest)
        checked = await self._checked(envelope, request.account, None)
        if self._engine.state.nonce_used(request.account, request.nonce):
            raise NonceReused  # before the order's status, so a replay is named as one
        async with self._store.transaction() as tx:
            order = await tx.order(request.order_id)
        if order is None or order.account != request.account:
            raise OrderNotFound
        if order.status != "open":
            raise OrderNotOpen
        command = CancelOrder(self._exchange, request, checked, order, self._signer)
        confirmed: SignedConfirmation = await self._engine.submit(command)
        return confirmed

    async def _checked(self, envelope: Envelope, account: str, timings: Timings | None) -> Checked:
        key_id = self._engine.state.accounts.get(account)
        if key_id is None:
            raise AccountNotFound
        started = time.perf_counter()
        checked = await self._verifier.check(envelope, account, key_id)
        if timings is not None:
            timings["verify"] = time.perf_counter() - started
        return checked


def _amounts(request: OrderRequest, pair: Pair) -> tuple[Decimal, Decimal]:
    try:
        price = parse_amount(request.price, pair.price_places, "price", pair.symbol)
        quantity = parse_amount(request.quantity, pair.quantity_places, "quantity", pair.symbol)
    except InvalidAmount as error:
        raise InvalidOrder(str(error)) from None
    return price, quantity
