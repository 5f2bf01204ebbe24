"""Issue 8, must-show 1: the seed's seven steps with both real processes over TLS.

Keystead (a production server, initialised with 5 shares) and ``keystead exchange serve``
each run as their own process; two users register with Keystead, get their key pairs, sign
orders through Keystead, and trade; the confirmation and the ledger verify offline.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from exchange_process import PASSWORD, Deployment, deployment

from keystead.exchange.canonical import canonical_bytes
from keystead.exchange.client import ExchangeAPIError
from keystead.exchange.confirmations import read_confirmation, verify_confirmation
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.ledger_check import verify_chain
from keystead.exchange.signatures import VersionKey, public_key_from_pem, verify_signed

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployment]:
    """Both processes, fresh for each test: the counts below hold in any test order."""
    with deployment(tmp_path) as both:
        yield both


def _ledger_rows(deployed: Deployment) -> list[LedgerRow]:
    with sqlite3.connect(deployed.exchange.data_dir / "exchange.db") as db:
        rows = db.execute("SELECT seq, body, hash, signature, key_version FROM ledger ORDER BY seq")
        return [LedgerRow(*row) for row in rows]


def test_the_seven_steps_for_two_users(deployed: Deployment) -> None:
    # 1. Registration and login go through Keystead; the exchange sees no password.
    alice, bob = deployed.user("alice"), deployed.user("bob")
    assert alice.me()["account"] == "alice"
    # 2. Keystead generated each user's key pair; the exchange recorded the key id.
    published = deployed.keystead_client(deployed.root_token).users.public_key("alice")
    assert (published.spec, alice.me()["key_id"]) == ("EC_SECP256K1", published.key_id)
    assert bob.me()["key_id"] != alice.me()["key_id"]
    # 3. Funds; then a sell order signed through Keystead with bob's own key.
    deployed.deposit("alice", "USD", "50000")
    deployed.deposit("bob", "BTC", "1.5")
    resting = bob.order("sell", "BTC-USD", "1", "42000.50")
    assert (resting.confirmation["status"], resting.confirmation["filled"]) == ("open", "0")
    # 4-5. Alice's crossing buy is verified by the exchange and executed at bob's price.
    signed = alice.sign_request("keystead.exchange/order/v1", {
        "side": "buy", "pair": "BTC-USD", "quantity": "0.4", "price": "42100",
    })  # fmt: skip
    answer = alice.send("/v1/orders", signed)
    confirmation = read_confirmation(json.dumps(answer).encode())
    body = confirmation.confirmation
    assert (body["status"], body["filled"], body["remaining"]) == ("filled", "0.4", "0")
    assert [(t["price"], t["quantity"]) for t in body["trades"]] == [("42000.5", "0.4")]
    # The user's signature verifies outside Keystead, from the canonical bytes alone.
    user_key = serialization.load_pem_public_key(published.public_key.encode())
    assert isinstance(user_key, ec.EllipticCurvePublicKey)
    user_key.verify(base64.b64decode(signed["signature"]), canonical_bytes(signed["request"]),
                    ec.ECDSA(hashes.SHA256()))  # fmt: skip
    # 6. Balances moved exactly; the trade is public; the book shows what is left.
    assert {b["asset"]: (b["available"], b["reserved"]) for b in alice.me()["balances"]} == {
        "BTC": ("0.4", "0"), "USD": ("33199.8", "0"),
    }  # fmt: skip
    assert {b["asset"]: (b["available"], b["reserved"]) for b in bob.me()["balances"]} == {
        "BTC": ("0.5", "0.6"), "USD": ("16800.2", "0"),
    }  # fmt: skip
    assert alice.book("BTC-USD")["asks"] == [["42000.5", "0.6"]]
    assert [t["buyer"] for t in alice.trades("BTC-USD")] == ["alice"]
    # 7. The confirmation verifies with the exchange's public key alone (Ed25519 here).
    exchange_key = alice.exchange_key(confirmation.key_version)
    public = serialization.load_pem_public_key(exchange_key["public_key"].encode())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(confirmation.signature, canonical_bytes(body))
    der = public_key_from_pem(exchange_key["public_key"])
    verify_confirmation(confirmation, VersionKey(exchange_key["key_id"], 1, "ED25519", der))
    # The ledger verifies offline; the confirmation pins its entry.
    key = VersionKey(exchange_key["key_id"], 1, "ED25519", der)
    report = verify_chain(_ledger_rows(deployed), lambda _v, m, s: verify_signed(key, m, s),
                          anchors={body["ledger_seq"]: body["ledger_hash"]})  # fmt: skip
    assert report.ok, report.reason
    assert report.entries == 5  # two deposits, two orders, one trade
    assert report.balances["alice", "USD"] == (Decimal("33199.8"), Decimal(0))
    totals = {asset: Decimal(0) for asset in ("BTC", "USD")}
    for (_, asset), (available, reserved) in report.balances.items():
        totals[asset] += available + reserved
    assert totals == {"BTC": Decimal("1.5"), "USD": Decimal(50000)}


def test_the_user_key_rotates_and_a_revoked_one_places_nothing(deployed: Deployment) -> None:
    carol, dave = deployed.user("carol"), deployed.user("dave")
    deployed.deposit("carol", "USD", "1000")
    deployed.deposit("dave", "BTC", "1")
    first = carol.order("buy", "BTC-USD", "0.01", "30000")
    root = deployed.keystead_client(deployed.root_token)
    key_id = carol.me()["key_id"]
    root.keys.rotate(key_id)
    second = carol.order("buy", "BTC-USD", "0.01", "30000")
    versions = {o["order_id"]: o["key_version"] for o in carol.my_orders()}
    assert (versions[first.confirmation["order_id"]],
            versions[second.confirmation["order_id"]]) == (1, 2)  # fmt: skip
    for old in (first, second):  # old confirmations still verify
        key = carol.exchange_key(old.key_version)
        verify_confirmation(old, VersionKey(key["key_id"], key["version"], key["spec"],
                                            public_key_from_pem(key["public_key"])))  # fmt: skip
    presigned = carol.sign_request("keystead.exchange/order/v1", {
        "side": "buy", "pair": "BTC-USD", "quantity": "0.01", "price": "30000",
    })  # fmt: skip
    root.keys.revoke(key_id, "KEY_COMPROMISE")
    with pytest.raises(ExchangeAPIError) as refused:
        carol.send("/v1/orders", presigned)
    assert (refused.value.status, refused.value.code) == (403, "KeyNotUsable")
    assert len(carol.my_orders()) == 2
    assert dave.me()["account"] == "dave"
    assert PASSWORD not in (deployed.exchange.log.read_text() + str(_ledger_rows(deployed)))
