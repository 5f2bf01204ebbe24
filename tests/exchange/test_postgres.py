"""The exchange on PostgreSQL: the same trading, persisted there, and back after a restart."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from exchange_support import running_market
from keystead.storage.engine import create_sync_engine


def test_trading_on_postgresql_persists_there(tmp_path: Path, postgres_url: str) -> None:
    with running_market(tmp_path, database_url=postgres_url) as market:
        alice, bob = market.user("alice"), market.user("bob")
        market.deposit("alice", "USD", "10000")
        market.deposit("bob", "BTC", "2")
        bob.order("sell", "BTC-USD", "1.5", "5000")
        bought = alice.order("buy", "BTC-USD", "1", "5000").confirmation
        assert (bought["status"], bought["filled"]) == ("filled", "1")
        balances = {b["asset"]: b["available"] for b in alice.me()["balances"]}
        assert balances == {"BTC": "1", "USD": "5000"}
    engine = create_sync_engine(postgres_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM ledger")).scalar()
            left = connection.execute(
                sa.text("SELECT remaining FROM orders WHERE status = 'open'")
            ).scalar()
    finally:
        engine.dispose()
    assert (count, left) == (5, "0.5")  # two deposits, two orders, one trade
    assert not (tmp_path / "exchange" / "exchange.db").exists()
