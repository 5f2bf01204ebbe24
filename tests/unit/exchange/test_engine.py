"""The one writer: groups, answers, and what happens when a client goes or a group fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from keystead.exchange.engine import Batch, Engine, Finish, PlannedEntry
from keystead.exchange.errors import ExchangeError, KeysteadUnavailable
from keystead.exchange.keystead_link import ExchangeSignature
from keystead.exchange.model import BalanceChange
from keystead.exchange.money import Balance
from keystead.exchange.state import MarketState


class _Tx:
    def __init__(self, store: _Store) -> None:
        self.store = store

    async def write_group(self, rows: Any, _balances: Any, _stored: Any) -> None:
        self.store.groups.append(rows)

    async def add_ledger_rows(self, rows: Sequence[Any]) -> None:
        self.store.ledger.extend(rows)

    async def open_orders(self) -> list[Any]:
        return []

    async def all_balances(self) -> dict[Any, Any]:
        return {}

    async def live_nonces(self, _now_ms: int) -> dict[Any, Any]:
        return {}

    async def account_keys(self) -> dict[str, str]:
        return {"alice": "k"}

    async def last_ledger_row(self) -> Any:
        return self.store.ledger[-1] if self.store.ledger else None

    async def last_sequence(self) -> int:
        return 0


class _Store:
    def __init__(self) -> None:
        self.groups: list[Any] = []
        self.ledger: list[Any] = []
        self.loads = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Tx]:
        self.loads += 1
        yield _Tx(self)


class _Link:
    def __init__(self) -> None:
        self.fail = False
        self.calls: list[int] = []

    async def sign(self, messages: Sequence[bytes]) -> list[ExchangeSignature]:
        self.calls.append(len(messages))
        if self.fail:
            raise KeysteadUnavailable
        return [ExchangeSignature(b"signature", 1) for _ in messages]


class _Credit:
    """Credit alice one USD with a ledger entry; answer the entry's seq."""

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        before = state.balances.get(("alice", "USD"), Balance())
        state.balances["alice", "USD"] = Balance(before.available + 1, before.reserved)
        change = BalanceChange("alice", "USD", Decimal(1), Decimal(0))
        entry = batch.append(PlannedEntry("deposit", f"d{len(batch.entries)}", [change]))
        return lambda _: entry.seq


class _Refused:
    def apply(self, _state: MarketState, _batch: Batch) -> Finish:
        msg = "refused"
        raise ExchangeError(msg)


def _engine() -> tuple[Engine, _Store, _Link]:
    store, link = _Store(), _Link()
    return Engine(MarketState({}), store, link), store, link  # type: ignore[arg-type]


def test_waiting_commands_commit_as_one_group_with_one_sign_call() -> None:
    async def scenario() -> list[Any]:
        engine, store, link = _engine()
        tasks = [asyncio.create_task(engine.submit(_Credit())) for _ in range(5)]
        tasks.append(asyncio.create_task(engine.submit(_Refused())))
        await asyncio.sleep(0)
        await engine.start()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await engine.stop()
        assert (len(store.groups), link.calls) == (1, [5])
        return results

    results = asyncio.run(scenario())
    assert results[:5] == [1, 2, 3, 4, 5]
    assert isinstance(results[5], ExchangeError)


def test_a_client_that_leaves_does_not_stop_the_group_or_the_writer() -> None:
    async def scenario() -> tuple[int, int]:
        engine, _, _ = _engine()
        gone = asyncio.create_task(engine.submit(_Credit()))
        stays = asyncio.create_task(engine.submit(_Credit()))
        await asyncio.sleep(0)
        gone.cancel()
        await engine.start()
        second = await stays
        third = await engine.submit(_Credit())  # the writer is still there
        await engine.stop()
        return second, third

    assert asyncio.run(scenario()) == (2, 3)  # the gone client's credit committed as entry 1


def test_a_group_keystead_will_not_sign_fails_whole_and_reloads_the_state() -> None:
    async def scenario() -> tuple[list[Any], int, Any]:
        engine, store, link = _engine()
        await engine.start()
        link.fail = True
        loads_before = store.loads
        results = await asyncio.gather(
            *(engine.submit(_Credit()) for _ in range(3)), return_exceptions=True
        )
        reloaded = store.loads - loads_before
        link.fail = False
        after = await engine.submit(_Credit())
        await engine.stop()
        return results, reloaded, after

    results, reloaded, after = asyncio.run(scenario())
    assert all(isinstance(r, KeysteadUnavailable) for r in results)
    assert reloaded >= 1
    assert after == 1  # nothing of the failed group was kept: the next entry is the first


def test_stopping_fails_the_requests_still_waiting() -> None:
    async def scenario() -> BaseException | None:
        engine, _, _ = _engine()
        waiting = asyncio.create_task(engine.submit(_Credit()))
        await asyncio.sleep(0)
        await engine.stop()
        with pytest.raises(ExchangeError, match="stopped"):
            await waiting
        return None

    asyncio.run(scenario())
