"""The exchange's database: one transaction per request, rows to and from plain values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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

    async def add_account(self, account: Account) -> None:
        """Register an account."""
        await self._connection.execute(sa.insert(accounts).values(
            name=account.name, key_id=account.key_id, registered_ms=account.registered_ms
        ))  # fmt: skip

    async def balances(self, names: Iterable[str]) -> dict[tuple[str, str], Balance]:
        """The balances of these accounts, by (account, asset)."""
        rows = await self._connection.execute(
            sa.select(balances).where(balances.c.account.in_(set(names)))
        )
        return {
            (row.account, row.asset): Balance(Decimal(row.available), Decimal(row.reserved))
            for row in rows
        }

    async def put_balances(
        self, before: Mapping[tuple[str, str], Balance], after: Mapping[tuple[str, str], Balance]
    ) -> None:
        """Write the balances that changed (``before`` says which rows exist already)."""
        for (account, asset), balance in after.items():
            if before.get((account, asset)) == balance:
                continue
            values = {"available": str(balance.available), "reserved": str(balance.reserved)}
            if (account, asset) in before:
                await self._connection.execute(sa.update(balances).where(
                    balances.c.account == account, balances.c.asset == asset
                ).values(**values))  # fmt: skip
            else:
                await self._connection.execute(
                    sa.insert(balances).values(account=account, asset=asset, **values)
                )

    async def nonce_used(self, account: str, nonce: str) -> bool:
        """Whether the account has used this nonce."""
        row = (await self._connection.execute(sa.select(nonces.c.nonce).where(
            nonces.c.account == account, nonces.c.nonce == nonce
        ))).first()  # fmt: skip
        return row is not None

    async def use_nonce(self, account: str, nonce: str, now_ms: int) -> None:
        """Record a nonce as used (callers hold the exchange's lock and checked it first)."""
        await self._connection.execute(
            sa.insert(nonces).values(account=account, nonce=nonce, used_ms=now_ms)
        )

    async def add_order(self, order: OrderRow, signed_request: str, signature: bytes) -> None:
        """Store a new order with the signed request it came in."""
        await self._connection.execute(sa.insert(orders).values(
            id=order.id, sequence=order.sequence, account=order.account, pair=order.pair,
            side=order.side.value, price=str(order.price), quantity=str(order.quantity),
            remaining=str(order.remaining), status=order.status, created_ms=order.created_ms,
            key_version=order.key_version, signed_request=signed_request, signature=signature,
        ))  # fmt: skip

    async def update_order(self, order_id: str, remaining: Decimal, status: str) -> None:
        """Set an order's remaining quantity and status."""
        await self._connection.execute(sa.update(orders).where(orders.c.id == order_id).values(
            remaining=str(remaining), status=status
        ))  # fmt: skip

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

    async def add_trade(self, trade: TradeRow) -> None:
        """Store a trade."""
        await self._connection.execute(sa.insert(trades).values(
            id=trade.id, pair=trade.pair, price=str(trade.price), quantity=str(trade.quantity),
            buy_order=trade.buy_order, sell_order=trade.sell_order, buyer=trade.buyer,
            seller=trade.seller, taker_side=trade.taker_side.value, time_ms=trade.time_ms,
            ledger_seq=trade.ledger_seq,
        ))  # fmt: skip

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

    async def add_session(self, token_hash: str, account: str, expires_ms: int) -> None:
        """Store a session by the hash of its token."""
        await self._connection.execute(sa.insert(sessions).values(
            token_hash=token_hash, account=account, expires_ms=expires_ms
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
