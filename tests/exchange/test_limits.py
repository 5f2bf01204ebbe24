"""Limits that keep the exchange up: body size, and how many requests may wait for the writer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from exchange_support import running_market
from keystead.exchange import engine
from keystead.exchange.errors import ExchangeBusy
from keystead.exchange.state import MarketState


def test_a_body_over_64_kib_is_refused_unread(tmp_path: Path) -> None:
    with running_market(tmp_path) as market:
        market.user("alice")
        huge = b'{"request": {"pad": "' + b"x" * (64 * 1024) + b'"}}'
        answer = market.exchange.post("/v1/orders", content=huge,
                                      headers={"content-type": "application/json"})  # fmt: skip
        assert (answer.status_code, answer.json()["code"]) == (413, "PayloadTooLarge")
        just_under = market.exchange.post("/v1/orders", content=b"{}")
        assert (just_under.status_code, just_under.json()["code"]) == (400, "ValidationFailed")


class _Never:
    def apply(self, _state: MarketState, _batch: engine.Batch) -> engine.Finish:
        raise AssertionError  # pragma: no cover - the writer is not running


def test_a_full_queue_answers_busy_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_WAITING", 2)

    async def scenario() -> Any:
        writer = engine.Engine(MarketState({}), store=None, link=None)  # type: ignore[arg-type]
        waiting = [asyncio.create_task(writer.submit(_Never())) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(ExchangeBusy) as refused:
            await writer.submit(_Never())
        for task in waiting:
            task.cancel()
        return refused.value

    refused = asyncio.run(scenario())
    assert (refused.status, refused.code) == (503, "ExchangeBusy")
