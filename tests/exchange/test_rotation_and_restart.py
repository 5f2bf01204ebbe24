"""Key rotation (a user's and the exchange's), revocation, and an exchange restart.

Rotating a user's key in Keystead changes which version signs new orders; old confirmations
and ledger entries keep verifying with the version that signed them. Restarting the exchange
on the same data directory restores the book, balances, open orders and ledger exactly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from exchange_support import (
    Market,
    balances,
    funded,
    market_fixture,  # noqa: F401  (a fixture: pytest finds it by name)
    refused,
)
from identity_support import forwarding_transport
from keystead.exchange.app import create_exchange_app
from keystead.exchange.client import ExchangeClient
from keystead.exchange.confirmations import ConfirmationInvalid, verify_confirmation
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.ledger_check import verify_chain
from keystead.exchange.requests import ORDER
from keystead.exchange.signatures import VersionKey, public_key_from_pem, verify_signed
from keystead_sdk import AsyncClient, KeysteadSDKError

PAIR = "BTC-USD"


def exchange_key(client: ExchangeClient, version: int) -> VersionKey:
    published = client.exchange_key(version)
    assert published["version"] == version
    der = public_key_from_pem(published["public_key"])
    return VersionKey(published["key_id"], version, published["spec"], der)


def verifier(client: ExchangeClient) -> Callable[[int, bytes, bytes], bool]:
    keys: dict[int, VersionKey] = {}

    def verify(version: int, message: bytes, signature: bytes) -> bool:
        if version not in keys:
            keys[version] = exchange_key(client, version)
        return verify_signed(keys[version], message, signature)

    return verify


def ledger_rows(market: Market) -> list[LedgerRow]:
    with sqlite3.connect(market.settings.data_dir / "exchange.db") as db:
        found = db.execute(
            "SELECT seq, body, hash, signature, key_version FROM ledger ORDER BY seq"
        )
        return [LedgerRow(s, bytes(b), h, bytes(g), v) for s, b, h, g, v in found.fetchall()]


def rotate(market: Market, key: str) -> None:
    answer = market.keystead.as_root("POST", f"/v1/keys/{key}/rotate", {})
    assert answer.status_code == 200, answer.text


def key_version_of(client: ExchangeClient, order_id: str) -> int:
    (found,) = [o for o in client.my_orders() if o["order_id"] == order_id]
    return int(found["key_version"])


# --- rotation ---------------------------------------------------------------------------------


def test_a_rotated_user_key_signs_new_orders_with_version_2(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "1000"}})
    first = alice.order("buy", PAIR, "1", "100")
    assert key_version_of(alice, first.confirmation["order_id"]) == 1
    presigned = alice.sign_request(ORDER, {"pair": PAIR, "side": "buy", "price": "90",
                                           "quantity": "1"})  # fmt: skip
    assert presigned["key_version"] == 1
    rotate(market, alice.me()["key_id"])
    second = alice.order("buy", PAIR, "1", "99")
    assert key_version_of(alice, second.confirmation["order_id"]) == 2
    # The old confirmation still verifies with the exchange's key.
    verify_confirmation(first, exchange_key(alice, first.key_version))
    verify_confirmation(second, exchange_key(alice, second.key_version))
    # By design an order signed with the (now deactivated) version 1 before the rotation is
    # still honoured: rotation is not revocation.
    accepted = alice.send("/v1/orders", presigned)
    assert key_version_of(alice, accepted["confirmation"]["order_id"]) == 1
    # A version-1 envelope carrying a new request cannot be made: Keystead signs with v2.
    again = alice.sign_request(ORDER, {"pair": PAIR, "side": "buy", "price": "80",
                                       "quantity": "1"})  # fmt: skip
    again["key_version"] = 1
    refused(lambda: alice.send("/v1/orders", again), 400, "InvalidSignature")
    assert verify_chain(ledger_rows(market), verifier(alice)).ok


def test_a_rotated_exchange_key_signs_new_confirmations_with_version_2(market: Market) -> None:
    alice, bob = funded(market, {"alice": {"BTC": "2"}, "bob": {"USD": "1000"}})
    old = alice.order("sell", PAIR, "1", "100")
    assert old.key_version == 1
    rotate(market, market.settings.key_name)
    new = bob.order("buy", PAIR, "1", "100")
    assert new.key_version == 2
    assert new.key_id == old.key_id
    assert market.client().exchange_key()["version"] == 2
    v1, v2 = exchange_key(alice, 1), exchange_key(alice, 2)
    assert v1.public_key_der != v2.public_key_der
    verify_confirmation(old, v1)
    verify_confirmation(new, v2)
    with pytest.raises(ConfirmationInvalid):
        verify_confirmation(old, v2)
    with pytest.raises(ConfirmationInvalid):
        verify_confirmation(new, v1)
    rows = ledger_rows(market)
    assert {row.key_version for row in rows} == {1, 2}
    report = verify_chain(rows, verifier(alice), {
        old.confirmation["ledger_seq"]: old.confirmation["ledger_hash"],
        new.confirmation["ledger_seq"]: new.confirmation["ledger_hash"],
    })  # fmt: skip
    assert (report.ok, report.entries, report.reason) == (True, len(rows), None)
    # The operator's export carries the same per-version signatures.
    assert [e["key_version"] for e in market.ledger()] == [row.key_version for row in rows]


def test_a_revoked_user_key_places_no_more_orders(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "1000"}})
    alice.order("buy", PAIR, "1", "100")
    presigned = alice.sign_request(ORDER, {"pair": PAIR, "side": "buy", "price": "90",
                                           "quantity": "1"})  # fmt: skip
    key_id = alice.me()["key_id"]
    answer = market.keystead.as_root("POST", f"/v1/keys/{key_id}/revoke",
                                     {"reason": "KEY_COMPROMISE"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    ledger = len(market.ledger())
    # A fresh signature is impossible: Keystead refuses to sign with a revoked key.
    with pytest.raises(KeysteadSDKError):
        alice.order("buy", PAIR, "1", "95")
    # A signature made before the revocation is refused by the exchange.
    refused(lambda: alice.send("/v1/orders", presigned), 403, "KeyNotUsable")
    assert len(market.ledger()) == ledger
    assert balances(alice)["USD"] == ("900", "100")


def test_a_revoked_old_version_stops_its_presigned_orders(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "1000"}})
    key_id = alice.me()["key_id"]
    presigned = alice.sign_request(ORDER, {"pair": PAIR, "side": "buy", "price": "90",
                                           "quantity": "1"})  # fmt: skip
    rotate(market, key_id)
    answer = market.keystead.as_root("POST", f"/v1/keys/{key_id}/versions/1/revoke", {})
    assert answer.status_code == 200, answer.text
    ledger = len(market.ledger())
    refused(lambda: alice.send("/v1/orders", presigned), 403, "KeyNotUsable")
    assert len(market.ledger()) == ledger
    fresh = alice.order("buy", PAIR, "1", "95")
    assert key_version_of(alice, fresh.confirmation["order_id"]) == 2


def test_an_unknown_exchange_key_version_is_not_found(market: Market) -> None:
    """Asking for a version the exchange key does not have is the caller's mistake (404).

    Found: the exchange answers 503 KeysteadUnavailable ("try again"), because
    KeysteadLink.own_key maps every SDK error, Keystead's 404 KeyVersionNotFound included, to
    KeysteadUnavailable; a verifier would retry forever for a version that cannot exist.
    """
    assert market.client().exchange_key(1)["version"] == 1
    refused(lambda: market.client().exchange_key(99), 404, "NotFound")


# --- restart ----------------------------------------------------------------------------------


@contextmanager
def restarted(market: Market) -> Iterator[Market]:
    """Stop the market's exchange app and start a new one on the same data directory.

    Keystead keeps running; the new app gets its own SDK client with the exchange's token.
    Within the block, ``market.exchange`` is the new app's client.
    """
    market.exchange.__exit__(None, None, None)
    token = market.settings.keystead_token_file.read_text().strip()
    sdk = AsyncClient("https://t", token=token, transport=forwarding_transport(market.keystead))
    first = market.exchange
    with TestClient(create_exchange_app(market.settings, sdk), base_url="https://x") as second:
        market.exchange = second
        try:
            yield market
        finally:
            market.exchange = first


def reconnected(market: Market, old: ExchangeClient) -> ExchangeClient:
    """The same user talking to the new app, keeping the session it had."""
    assert old.username is not None
    token = str(market.keystead.token_of(old.username)["authorization"]).removeprefix("Bearer ")
    client: ExchangeClient = market.client(old.username, token)
    client.session_token = old.session_token
    return client


def state(market: Market, users: dict[str, ExchangeClient]) -> dict[str, Any]:
    return {
        "book": [market.client().book(p) for p in market.settings.markets],
        "balances": {name: balances(c) for name, c in users.items()},
        "orders": {name: c.my_orders() for name, c in users.items()},
        "trades": market.client().trades(),
        "ledger": market.ledger(),
        "key": market.client().exchange_key(),
    }


def test_a_restarted_exchange_restores_everything(market: Market) -> None:
    alice, bob, carol = market.user("alice"), market.user("bob"), market.user("carol")
    market.deposit("alice", "BTC", "5")
    market.deposit("bob", "USD", "5000")
    market.deposit("carol", "BTC", "5")
    first = alice.order("sell", PAIR, "2", "100").confirmation  # rests, then partly filled
    later = carol.order("sell", PAIR, "1", "100").confirmation  # same price, later in time
    alice.order("sell", PAIR, "1", "105")
    bob.order("buy", PAIR, "0.5", "100")  # partial fill of alice's first
    bob.order("buy", PAIR, "1", "95")  # a resting bid
    users = {"alice": alice, "bob": bob, "carol": carol}
    before = state(market, users)
    assert before["book"][0]["asks"] == [["100", "2.5"], ["105", "1"]]
    with restarted(market):
        users = {name: reconnected(market, c) for name, c in users.items()}
        after = state(market, users)
        assert after == before
        assert market.operator_token == market.settings.operator_token_path.read_text().strip()
        # A crossing order matches the restored resting orders, oldest at a price first.
        taken = users["bob"].order("buy", PAIR, "2", "100").confirmation
        fills = [(t["price"], t["quantity"]) for t in taken["trades"]]
        assert fills == [("100", "1.5"), ("100", "0.5")]
        newest = market.client().trades(PAIR, limit=2)
        assert [t["sell_order"] for t in reversed(newest)] == [
            first["order_id"], later["order_id"],
        ]  # fmt: skip
        orders = {o["order_id"]: o for o in users["alice"].my_orders()}
        assert orders[first["order_id"]]["status"] == "filled"
        assert [o["remaining"] for o in users["carol"].my_orders()] == ["0.5"]
        # A new order after the restart takes a fresh sequence (no clash with restored ones).
        users["carol"].order("sell", PAIR, "0.5", "100")
        assert market.client().book(PAIR)["asks"] == [["100", "1"], ["105", "1"]]
        # The ledger continues the chain written before the restart.
        ledger = market.ledger()
        assert ledger[: len(before["ledger"])] == before["ledger"]
        assert taken["ledger_seq"] > before["ledger"][-1]["seq"]
        report = verify_chain(ledger_rows(market), verifier(market.client()))
        assert (report.ok, report.entries) == (True, len(ledger))
        totals: dict[str, float] = {}
        for client in users.values():
            for asset, (available, reserved) in balances(client).items():
                totals[asset] = totals.get(asset, 0) + float(available) + float(reserved)
        assert totals == {"BTC": 10.0, "USD": 5000.0}


def test_a_replay_after_a_restart_is_still_refused(market: Market) -> None:
    (alice,) = funded(market, {"alice": {"USD": "1000"}})
    envelope = alice.sign_request(ORDER, {"pair": PAIR, "side": "buy", "price": "100",
                                          "quantity": "1"})  # fmt: skip
    placed = alice.send("/v1/orders", envelope)
    with restarted(market):
        again = reconnected(market, alice)
        refused(lambda: again.send("/v1/orders", envelope), 409, "NonceReused")
        assert balances(again)["USD"] == ("900", "100")
        assert json.loads(json.dumps(placed))["confirmation"]["status"] == "open"
        cancelled = again.cancel(placed["confirmation"]["order_id"]).confirmation
        assert cancelled["status"] == "cancelled"
        assert balances(again)["USD"] == ("1000", "0")
