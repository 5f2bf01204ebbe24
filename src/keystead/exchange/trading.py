"""Placing and cancelling orders: verify, reserve, match, settle, ledger, confirm.

Everything that changes balances runs under the journal's lock: read the balances, work out
every change (the book is previewed, not touched), check no balance goes negative, sign the
ledger entries and the confirmation, commit, and only then move the book. A failure at any
step before the commit leaves the database and the book as they were.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keystead.exchange.book import BookOrder, Fill, OrderBook
from keystead.exchange.canonical import decimal_text
from keystead.exchange.confirmations import CONFIRMATION, SignedConfirmation
from keystead.exchange.errors import (
    AccountNotFound,
    InsufficientFunds,
    InvalidOrder,
    NonceReused,
    OrderNotFound,
    OrderNotOpen,
    UnknownPair,
)
from keystead.exchange.journal import Journal, PlannedEntry
from keystead.exchange.keystead_link import ExchangeSignature
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
from keystead.exchange.store import ExchangeStore, OrderRow, TradeRow, Transaction
from keystead.exchange.verification import Checked, RequestVerifier


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything one order will write, worked out before anything is."""

    taker: BookOrder
    fills: list[Fill]
    trade_ids: list[str]
    entries: list[PlannedEntry]
    accounts: set[str]


def _new_id() -> str:
    return uuid.uuid4().hex


class TradingService:
    """The books of every pair, and the two signed requests that change them."""

    def __init__(  # noqa: PLR0913 - the parts an order passes through
        self,
        *,
        exchange: str,
        markets: dict[str, Pair],
        store: ExchangeStore,
        journal: Journal,
        verifier: RequestVerifier,
        own_key: Callable[[], VersionKey],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._exchange = exchange
        self._markets = markets
        self._store = store
        self._journal = journal
        self._verifier = verifier
        self._own_key = own_key
        self._clock = clock
        self.books = {symbol: OrderBook(pair) for symbol, pair in markets.items()}
        self._sequence = 0

    async def load(self) -> None:
        """Rebuild the books from the open orders (at start)."""
        async with self._store.transaction() as tx:
            for row in await tx.open_orders():
                self.books[row.pair].rest(BookOrder(
                    row.id, row.account, row.side, row.price, row.quantity, row.remaining,
                    row.sequence,
                ))  # fmt: skip
            self._sequence = await tx.last_sequence()
            await self._journal.load(tx)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def place(self, envelope: Envelope) -> SignedConfirmation:
        """Verify a signed order, then match it and record everything it changed.

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
        checked = await self._checked(envelope, request.account)
        async with self._journal.lock:
            await self._require_fresh(request.account, request.nonce)
            plan = self._plan(request, pair, price, quantity)
            async with self._store.transaction() as tx:
                before = await tx.balances(plan.accounts)
            changes = [change for entry in plan.entries for change in entry.changes]
            after = await self._apply(before, changes, request.account, request.nonce)
            now = self._now_ms()
            entries = self._journal.chain(plan.entries, now)
            document = self._order_confirmation(request, checked, plan, entries[-1], now)
            batch = await self._journal.sign(entries, [document])
            async with self._store.transaction() as tx:
                await tx.use_nonce(request.account, request.nonce, now)
                await tx.put_balances(before, after)
                await self._store_order(tx, plan, request, checked, now)
                await self._store_trades(tx, plan, pair, [row.seq for row in batch.rows[1:]], now)
                await self._journal.store(tx, batch.rows)
            self._journal.committed(batch.rows)
            self.books[pair.symbol].match(plan.taker)
        return self._signed(document, batch.documents[0])

    async def cancel(self, envelope: Envelope) -> SignedConfirmation:
        """Verify a signed cancel and release what remains of the order.

        Raises:
            OrderNotFound: The account has no such order.
            OrderNotOpen: The order is filled or cancelled already.
            (and the verification errors of :meth:`place`)
        """
        request = self._verifier.read(envelope, CancelRequest)
        checked = await self._checked(envelope, request.account)
        async with self._journal.lock:
            await self._require_fresh(request.account, request.nonce)
            async with self._store.transaction() as tx:
                order = await tx.order(request.order_id)
                if order is None or order.account != request.account:
                    raise OrderNotFound
                if order.status != "open":
                    raise OrderNotOpen
                before = await tx.balances([order.account])
            pair = self._markets[order.pair]
            released = release_changes(order.account, pair, order.side, order.price,
                                       order.remaining)  # fmt: skip
            after = await self._apply(before, released, request.account, request.nonce)
            now = self._now_ms()
            planned = PlannedEntry("cancel", order.id, released, {"pair": pair.symbol})
            entries = self._journal.chain([planned], now)
            document = self._cancel_confirmation(request, checked, order, entries[-1], now)
            batch = await self._journal.sign(entries, [document])
            async with self._store.transaction() as tx:
                await tx.use_nonce(request.account, request.nonce, now)
                await tx.put_balances(before, after)
                await tx.update_order(order.id, order.remaining, "cancelled")
                await self._journal.store(tx, batch.rows)
            self._journal.committed(batch.rows)
            self.books[pair.symbol].cancel(order.id)
        return self._signed(document, batch.documents[0])

    async def _checked(self, envelope: Envelope, account: str) -> Checked:
        async with self._store.transaction() as tx:
            found = await tx.account(account)
        if found is None:
            raise AccountNotFound
        return await self._verifier.check(envelope, account, found.key_id)

    async def _require_fresh(self, account: str, nonce: str) -> None:
        """Refuse a nonce the account has used (caller holds the lock until it records it)."""
        async with self._store.transaction() as tx:
            if await tx.nonce_used(account, nonce):
                raise NonceReused

    async def _apply(
        self,
        before: dict[tuple[str, str], Balance],
        changes: Sequence[BalanceChange],
        account: str,
        nonce: str,
    ) -> dict[tuple[str, str], Balance]:
        """The balances after ``changes``; an order refused for funds spends its nonce.

        Spending it means the signed order cannot be replayed later, once funds arrive; an
        order refused because Keystead did not sign keeps its nonce, so the user may retry.
        """
        try:
            return apply_changes(before, changes)
        except NotEnough as error:
            async with self._store.transaction() as tx:
                await tx.use_nonce(account, nonce, self._now_ms())
            raise InsufficientFunds(str(error)) from None

    def _plan(self, request: OrderRequest, pair: Pair, price: Decimal, quantity: Decimal) -> _Plan:
        self._sequence += 1
        side = Side(request.side)
        taker = BookOrder(_new_id(), request.account, side, price, quantity, quantity,
                          self._sequence)  # fmt: skip
        fills = self.books[pair.symbol].preview(taker)
        reserve = reserve_changes(request.account, pair, side, price, quantity)
        entries = [PlannedEntry("order", taker.order_id, reserve, {
            "pair": pair.symbol, "side": side.value, "price": decimal_text(price),
            "quantity": decimal_text(quantity),
        })]  # fmt: skip
        trade_ids = [_new_id() for _ in fills]
        for fill, trade_id in zip(fills, trade_ids, strict=True):
            entries.append(PlannedEntry("trade", trade_id, fill_changes(pair, fill), {
                "pair": pair.symbol, "price": decimal_text(fill.price),
                "quantity": decimal_text(fill.quantity), "buy_order": fill.buy_order_id,
                "sell_order": fill.sell_order_id,
            }))  # fmt: skip
        accounts = {request.account, *(fill.maker_account for fill in fills)}
        return _Plan(taker, fills, trade_ids, entries, accounts)

    async def _store_order(
        self, tx: Transaction, plan: _Plan, request: OrderRequest, checked: Checked, now: int
    ) -> None:
        taker = plan.taker
        filled = sum((fill.quantity for fill in plan.fills), Decimal(0))
        remaining = EXACT.subtract(taker.quantity, filled)
        status = "filled" if remaining == 0 else "open"
        row = OrderRow(
            taker.order_id, taker.sequence, taker.account, request.pair, taker.side, taker.price,
            taker.quantity, remaining, status, now, checked.key.key.version,
        )  # fmt: skip
        await tx.add_order(row, checked.signed_bytes.decode(), checked.signature)
        book = self.books[request.pair]
        for fill in plan.fills:
            maker = book.get(fill.maker_order_id)
            assert maker is not None  # noqa: S101 - previewed under the same lock
            left = EXACT.subtract(maker.remaining, _filled_of(plan.fills, maker.order_id))
            await tx.update_order(maker.order_id, left, "filled" if left == 0 else "open")

    async def _store_trades(
        self, tx: Transaction, plan: _Plan, pair: Pair, seqs: Sequence[int], now: int
    ) -> None:
        for fill, trade_id, seq in zip(plan.fills, plan.trade_ids, seqs, strict=True):
            await tx.add_trade(TradeRow(
                trade_id, pair.symbol, fill.price, fill.quantity, fill.buy_order_id,
                fill.sell_order_id, fill.buyer, fill.seller, fill.taker_side, now, seq,
            ))  # fmt: skip

    def _base_document(
        self, kind: str, checked: Checked, entry: LedgerEntry, now: int
    ) -> dict[str, Any]:
        return {
            "type": CONFIRMATION, "exchange": self._exchange, "request": kind,
            "request_digest": checked.digest, "ledger_seq": entry.seq,
            "ledger_hash": entry.hash(), "time_ms": now,
        }  # fmt: skip

    def _order_confirmation(
        self, request: OrderRequest, checked: Checked, plan: _Plan, last: LedgerEntry, now: int
    ) -> dict[str, Any]:
        filled = sum((fill.quantity for fill in plan.fills), Decimal(0))
        remaining = EXACT.subtract(plan.taker.quantity, filled)
        return {
            **self._base_document("order", checked, last, now),
            "order_id": plan.taker.order_id, "account": request.account, "pair": request.pair,
            "side": request.side, "price": decimal_text(plan.taker.price),
            "quantity": decimal_text(plan.taker.quantity), "filled": decimal_text(filled),
            "remaining": decimal_text(remaining),
            "status": "filled" if remaining == 0 else "open",
            "trades": [
                {"trade_id": trade_id, "price": decimal_text(fill.price),
                 "quantity": decimal_text(fill.quantity)}
                for fill, trade_id in zip(plan.fills, plan.trade_ids, strict=True)
            ],
        }  # fmt: skip

    def _cancel_confirmation(
        self, request: CancelRequest, checked: Checked, order: OrderRow, last: LedgerEntry, now: int
    ) -> dict[str, Any]:
        return {
            **self._base_document("cancel", checked, last, now),
            "order_id": order.id, "account": request.account, "pair": order.pair,
            "side": order.side.value, "price": decimal_text(order.price),
            "quantity": decimal_text(order.quantity),
            "filled": decimal_text(EXACT.subtract(order.quantity, order.remaining)),
            "remaining": "0", "status": "cancelled", "trades": [],
        }  # fmt: skip

    def _signed(self, document: dict[str, Any], made: ExchangeSignature) -> SignedConfirmation:
        key = self._own_key()
        return SignedConfirmation(document, made.signature, key.key_id, made.version, key.spec)


def _amounts(request: OrderRequest, pair: Pair) -> tuple[Decimal, Decimal]:
    try:
        price = _parse(request.price, pair.price_places, "price", pair)
        quantity = _parse(request.quantity, pair.quantity_places, "quantity", pair)
    except InvalidAmount as error:
        raise InvalidOrder(str(error)) from None
    return price, quantity


def _parse(text: str, places: int, what: str, pair: Pair) -> Decimal:
    return parse_amount(text, places, what, pair.symbol)


def _filled_of(fills: Sequence[Fill], order_id: str) -> Decimal:
    return sum((fill.quantity for fill in fills if fill.maker_order_id == order_id), Decimal(0))
