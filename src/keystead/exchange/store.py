"""The exchange's database: one transaction per request, rows to and from plain values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keystead.exchange.canonical import decimal_text
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.model import Side
from keystead.exchange.money import Balance
from keystead.exchange.tables import accounts, balances, ledger, nonces, orders, sessions, trades
from keystead.storage.engine import create_database_engine, migrate


@dataclass(frozen=True, slots=True)
class Account:
    """A registered account: its Keystead user name and that user's key id."""

    name: str
    key_id: str
    registered_ms: int


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order as stored."""

    id: str
    sequence: int
    account: str
    pair: str
    side: Side
    price: Decimal
    quantity: Decimal
    remaining: Decimal
    status: str
    created_ms: int
    key_version: int


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A trade as stored."""

    id: str
    pair: str
    price: Decimal
    quantity: Decimal
    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    taker_side: Side
    time_ms: int
    ledger_seq: int


@dataclass
class GroupRows:
    """The rows one group of commands adds or changes, written with one statement per kind."""

    accounts: list[Account] = field(default_factory=list)
    nonces: list[tuple[str, str, int]] = field(default_factory=list)
    sessions: list[tuple[str, str, int]] = field(default_factory=list)
    orders: list[tuple[OrderRow, str, bytes]] = field(default_factory=list)
    order_updates: dict[str, tuple[Decimal, str]] = field(default_factory=dict)
    trades: list[TradeRow] = field(default_factory=list)


def _order(row: sa.Row[Any]) -> OrderRow:
    return OrderRow(
        id=row.id, sequence=row.sequence, account=row.account, pair=row.pair,
        side=Side(row.side), price=Decimal(row.price), quantity=Decimal(row.quantity),
        remaining=Decimal(row.remaining), status=row.status, created_ms=row.created_ms,
        key_version=row.key_version,
    )  # fmt: skip


def _trade(row: sa.Row[Any]) -> TradeRow:
    return TradeRow(
        id=row.id, pair=row.pair, price=Decimal(row.price), quantity=Decimal(row.quantity),
        buy_order=row.buy_order, sell_order=row.sell_order, buyer=row.buyer, seller=row.seller,
        taker_side=Side(row.taker_side), time_ms=row.time_ms, ledger_seq=row.ledger_seq,
    )  # fmt: skip


def _ledger_row(row: sa.Row[Any]) -> LedgerRow:
    return LedgerRow(
        seq=row.seq, body=row.body, hash=row.hash, signature=row.signature,
        key_version=row.key_version,
    )  # fmt: skip


_UPDATE_ORDER = (
    sa.update(orders)
    .where(orders.c.id == sa.bindparam("order_id"))
    .values(remaining=sa.bindparam("new_remaining"), status=sa.bindparam("new_status"))
)
_UPDATE_BALANCE = (
    sa.update(balances)
    .where(
        balances.c.account == sa.bindparam("account_key"),
        balances.c.asset == sa.bindparam("asset_key"),
    )
    .values(available=sa.bindparam("available"), reserved=sa.bindparam("reserved"))
)


def _order_values(order: OrderRow, signed_request: str, signature: bytes) -> dict[str, Any]:
    return {
        "id": order.id, "sequence": order.sequence, "account": order.account,
        "pair": order.pair, "side": order.side.value, "price": decimal_text(order.price),
        "quantity": decimal_text(order.quantity), "remaining": decimal_text(order.remaining),
        "status": order.status, "created_ms": order.created_ms,
        "key_version": order.key_version, "signed_request": signed_request,
        "signature": signature,
    }  # fmt: skip


def _trade_values(trade: TradeRow) -> dict[str, Any]:
    return {
        "id": trade.id, "pair": trade.pair, "price": decimal_text(trade.price),
        "quantity": decimal_text(trade.quantity), "buy_order": trade.buy_order,
        "sell_order": trade.sell_order, "buyer": trade.buyer, "seller": trade.seller,
        "taker_side": trade.taker_side.value, "time_ms": trade.time_ms,
        "ledger_seq": trade.ledger_seq,
    }  # fmt: skip


class Transaction:
    """The statements of one request, on one connection, committed together."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def account(self, name: str) -> Account | None:
        """The account of that name, if registered."""
        row = (await self._connection.execute(
            sa.select(accounts).where(accounts.c.name == name)
        )).first()  # fmt: skip
        return None if row is None else Account(row.name, row.key_id, row.registered_ms)

    async def write_group(
        self,
        rows: GroupRows,
        new_balances: Mapping[tuple[str, str], Balance],
        stored: AbstractSet[tuple[str, str]],
    ) -> None:
        """Write a group's rows and the balances it changed (``stored``: rows that exist)."""
        run = self._connection.execute
        if rows.accounts:
            await run(sa.insert(accounts), [
                {"name": a.name, "key_id": a.key_id, "registered_ms": a.registered_ms}
                for a in rows.accounts
            ])  # fmt: skip
        if rows.nonces:
            await run(sa.insert(nonces), [
                {"account": a, "nonce": n, "expires_ms": e} for a, n, e in rows.nonces
            ])  # fmt: skip
        if rows.sessions:
            await run(sa.insert(sessions), [
                {"token_hash": h, "account": a, "expires_ms": e} for h, a, e in rows.sessions
            ])  # fmt: skip
        if rows.orders:
            await run(sa.insert(orders), [_order_values(*item) for item in rows.orders])
        if rows.order_updates:
            await run(_UPDATE_ORDER, [
                {"order_id": oid, "new_remaining": decimal_text(left), "new_status": status}
                for oid, (left, status) in rows.order_updates.items()
            ])  # fmt: skip
        if rows.trades:
            await run(sa.insert(trades), [_trade_values(trade) for trade in rows.trades])
        await self._put_balances(new_balances, stored)

    async def _put_balances(
        self, values: Mapping[tuple[str, str], Balance], stored: AbstractSet[tuple[str, str]]
    ) -> None:
        def row(key: tuple[str, str], balance: Balance) -> dict[str, str]:
            return {"account_key": key[0], "asset_key": key[1],
                    "available": decimal_text(balance.available),
                    "reserved": decimal_text(balance.reserved)}  # fmt: skip

        updates = [row(key, value) for key, value in values.items() if key in stored]
        inserts = [row(key, value) for key, value in values.items() if key not in stored]
        if updates:
            await self._connection.execute(_UPDATE_BALANCE, updates)
        if inserts:
            await self._connection.execute(sa.insert(balances), [
                {"account": r["account_key"], "asset": r["asset_key"],
                 "available": r["available"], "reserved": r["reserved"]}
                for r in inserts
            ])  # fmt: skip

    async def account_keys(self) -> dict[str, str]:
        """Every account's key id, by account."""
        rows = await self._connection.execute(sa.select(accounts.c.name, accounts.c.key_id))
        return {row.name: row.key_id for row in rows}

    async def all_balances(self) -> dict[tuple[str, str], Balance]:
        """Every balance, by (account, asset)."""
        rows = await self._connection.execute(sa.select(balances))
        return {
            (row.account, row.asset): Balance(Decimal(row.available), Decimal(row.reserved))
            for row in rows
        }

    async def balances_of(self, account: str) -> dict[str, Balance]:
        """One account's balances, by asset."""
        rows = await self._connection.execute(
            sa.select(balances).where(balances.c.account == account).order_by(balances.c.asset)
        )
        return {row.asset: Balance(Decimal(row.available), Decimal(row.reserved)) for row in rows}

    async def live_nonces(self, now_ms: int) -> dict[tuple[str, str], int]:
        """Nonces whose requests have not expired, with their expiry."""
        rows = await self._connection.execute(sa.select(nonces).where(nonces.c.expires_ms > now_ms))
        return {(row.account, row.nonce): row.expires_ms for row in rows}

    async def forget_nonces(self, before_ms: int) -> None:
        """Delete the nonces of requests that expired before ``before_ms``."""
        await self._connection.execute(sa.delete(nonces).where(nonces.c.expires_ms <= before_ms))

    async def order(self, order_id: str) -> OrderRow | None:
        """One order by id."""
        row = (await self._connection.execute(
            sa.select(orders).where(orders.c.id == order_id)
        )).first()  # fmt: skip
        return None if row is None else _order(row)

    async def open_orders(self) -> list[OrderRow]:
        """Every open order, oldest first (to rebuild the books at start)."""
        rows = await self._connection.execute(
            sa.select(orders).where(orders.c.status == "open").order_by(orders.c.sequence)
        )
        return [_order(row) for row in rows]

    async def orders_of(self, account: str, limit: int) -> list[OrderRow]:
        """An account's newest orders first."""
        rows = await self._connection.execute(sa.select(orders).where(
            orders.c.account == account
        ).order_by(orders.c.sequence.desc()).limit(limit))  # fmt: skip
        return [_order(row) for row in rows]

    async def last_sequence(self) -> int:
        """The highest order sequence number so far (0 when there is none)."""
        value = (await self._connection.execute(sa.select(sa.func.max(orders.c.sequence)))).scalar()
        return int(value or 0)

    async def trades(self, pair: str | None, account: str | None, limit: int) -> list[TradeRow]:
        """The newest trades first, of a pair and/or an account."""
        query = sa.select(trades)
        if pair is not None:
            query = query.where(trades.c.pair == pair)
        if account is not None:
            query = query.where(sa.or_(trades.c.buyer == account, trades.c.seller == account))
        query = query.order_by(trades.c.ledger_seq.desc()).limit(limit)
        rows = await self._connection.execute(query)
        return [_trade(row) for row in rows]

    async def last_ledger_row(self) -> LedgerRow | None:
        """The newest ledger entry."""
        row = (await self._connection.execute(
            sa.select(ledger).order_by(ledger.c.seq.desc()).limit(1)
        )).first()  # fmt: skip
        return None if row is None else _ledger_row(row)

    async def add_ledger_rows(self, rows: Iterable[LedgerRow]) -> None:
        """Append signed ledger entries."""
        values = [
            {"seq": row.seq, "body": row.body, "hash": row.hash, "signature": row.signature,
             "key_version": row.key_version}
            for row in rows
        ]  # fmt: skip
        if values:
            await self._connection.execute(sa.insert(ledger), values)

    async def ledger_rows(self, after: int, limit: int) -> list[LedgerRow]:
        """Ledger entries with seq above ``after``, oldest first."""
        rows = await self._connection.execute(
            sa.select(ledger).where(ledger.c.seq > after).order_by(ledger.c.seq).limit(limit)
        )
        return [_ledger_row(row) for row in rows]

    async def end_session(self, token_hash: str, now_ms: int) -> None:
        """Delete a session (logout), and with it every session that has expired."""
        await self._connection.execute(sa.delete(sessions).where(
            sa.or_(sessions.c.token_hash == token_hash, sessions.c.expires_ms <= now_ms)
        ))  # fmt: skip

    async def session_account(self, token_hash: str, now_ms: int) -> str | None:
        """The account of a live session."""
        row = (await self._connection.execute(sa.select(sessions.c.account).where(
            sessions.c.token_hash == token_hash, sessions.c.expires_ms > now_ms
        ))).first()  # fmt: skip
        return None if row is None else str(row.account)


class ExchangeStore:
    """The exchange's database engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, database_url: str) -> ExchangeStore:
        """Migrate the schema to head and connect."""
        await asyncio.to_thread(migrate, database_url, "keystead.exchange")
        return cls(create_database_engine(database_url))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._engine.begin() as connection:
            yield Transaction(connection)

    async def close(self) -> None:
        """Close every connection."""
        await self._engine.dispose()
