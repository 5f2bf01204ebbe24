"""Issue 8, must-show 4: 8 clients place crossing orders at once for 10 s; nothing is lost.

Each client is its own user with its own Keystead key, signing through Keystead and sending
to the exchange process at the same time as the others. Afterwards the ledger must verify and
replay to exactly the balances the exchange reports; every asset's total must equal what was
deposited; every confirmation's order and trade must be stored once; each account's reserved
funds must equal what its open orders hold.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from exchange_process import Deployment, deployment

from keystead.exchange.client import ExchangeClient
from keystead.exchange.confirmations import SignedConfirmation
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.ledger_check import ChainReport, verify_chain
from keystead.exchange.signatures import VersionKey, public_key_from_pem, verify_signed

pytestmark = pytest.mark.timeout(240)

CLIENTS = 8
SECONDS = 10.0
DEPOSIT = {"USD": Decimal(1_000_000), "BTC": Decimal(1000)}


def _trade(client: ExchangeClient, seed: int, until: float, out: list[SignedConfirmation]) -> None:
    chooser = random.Random(seed)
    side = "buy" if seed % 2 == 0 else "sell"
    while time.monotonic() < until:
        price = f"{chooser.randint(9900, 10100) / 100:.2f}"
        quantity = f"{chooser.randint(1, 50) / 1000:.3f}"
        out.append(client.order(side, "BTC-USD", quantity, price))


def _rows(deployed: Deployment) -> list[LedgerRow]:
    with sqlite3.connect(deployed.exchange.data_dir / "exchange.db") as db:
        rows = db.execute("SELECT seq, body, hash, signature, key_version FROM ledger ORDER BY seq")
        return [LedgerRow(*row) for row in rows]


def _stored(deployed: Deployment, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(deployed.exchange.data_dir / "exchange.db") as db:
        return list(db.execute(query))


def _place_at_once(traders: list[ExchangeClient]) -> list[dict[str, Any]]:
    confirmations: list[list[SignedConfirmation]] = [[] for _ in traders]
    errors: list[BaseException] = []
    until = time.monotonic() + SECONDS

    def run(n: int) -> None:
        try:
            _trade(traders[n], n, until, confirmations[n])
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(traders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return [c.confirmation for mine in confirmations for c in mine]


def _check_ledger(
    deployed: Deployment, traders: list[ExchangeClient], placed: list[dict[str, Any]]
) -> ChainReport:
    """The ledger verifies, pins every confirmation, and replays to the reported balances."""
    key = traders[0].exchange_key(1)
    public = VersionKey(key["key_id"], 1, key["spec"], public_key_from_pem(key["public_key"]))
    anchors = {c["ledger_seq"]: c["ledger_hash"] for c in placed}
    report = verify_chain(_rows(deployed), lambda _v, m, s: verify_signed(public, m, s),
                          anchors=anchors)  # fmt: skip
    assert report.ok, report.reason
    for trader in traders:
        reported = {b["asset"]: (Decimal(b["available"]), Decimal(b["reserved"]))
                    for b in trader.me()["balances"]}  # fmt: skip
        replayed = {asset: value for (account, asset), value in report.balances.items()
                    if account == trader.username}  # fmt: skip
        assert reported == replayed, trader.username
    for asset, each in DEPOSIT.items():  # trades only move funds
        total = sum(sum(v) for (_, a), v in report.balances.items() if a == asset)
        assert total == each * CLIENTS, asset
    return report


def _check_stored(deployed: Deployment, placed: list[dict[str, Any]], report: ChainReport) -> None:
    """Every confirmed order and trade is stored once; reserved funds are what open orders hold."""
    orders = Counter(row[0] for row in _stored(deployed, "SELECT id FROM orders"))
    assert set(orders) == {c["order_id"] for c in placed}
    assert max(orders.values()) == 1
    trade_ids = [t["trade_id"] for c in placed for t in c["trades"]]
    stored_trades = {row[0] for row in _stored(deployed, "SELECT id FROM trades")}
    assert len(trade_ids) == len(set(trade_ids)) == len(stored_trades) > 0
    assert set(trade_ids) == stored_trades
    held: dict[tuple[str, str], Decimal] = {}
    query = "SELECT account, side, price, quantity, remaining, status FROM orders"
    for account, side, price, quantity, remaining, status in _stored(deployed, query):
        left = Decimal(str(remaining))
        assert Decimal(0) <= left <= Decimal(str(quantity))
        assert (status == "filled") == (left == 0)
        if status == "open":
            asset, each = ("USD", Decimal(str(price))) if side == "buy" else ("BTC", Decimal(1))
            held[str(account), asset] = held.get((str(account), asset), Decimal(0)) + left * each
    for (account, asset), (_, reserved) in report.balances.items():
        assert reserved == held.get((account, asset), Decimal(0)), (account, asset)


def test_eight_clients_at_once_lose_and_double_nothing(tmp_path: Path) -> None:
    with deployment(tmp_path) as deployed:
        traders = [deployed.user(f"trader{n}") for n in range(CLIENTS)]
        for trader in traders:
            for asset, amount in DEPOSIT.items():
                deployed.deposit(trader.username or "", asset, str(amount))
        placed = _place_at_once(traders)
        print(f"{len(placed)} orders from {CLIENTS} clients in {SECONDS:.0f} s")  # noqa: T201
        assert len(placed) >= CLIENTS
        report = _check_ledger(deployed, traders, placed)
        _check_stored(deployed, placed, report)
