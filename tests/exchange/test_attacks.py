"""Must-show 3: every attack on an order or the ledger is refused with its own code.

Each attack is its own test. Where the exchange refuses a request, the test also checks
that nothing changed: the balances, the book and the ledger's length are as before. The
ledger attacks edit the exchange's SQLite file behind its back and show that the offline
verifier names the first bad entry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from exchange_support import (
    Market,
    balances,
    funded,
    market_fixture,  # noqa: F401  (a fixture: pytest finds it by name)
    refused,
    running_market,
)
from identity_support import forward_to
from keystead.exchange.canonical import canonical_bytes
from keystead.exchange.client import ExchangeAPIError, ExchangeClient
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.ledger_check import ChainReport, verify_chain
from keystead.exchange.requests import LOGIN, ORDER, REGISTER
from keystead.exchange.signatures import VersionKey, public_key_from_pem, verify_signed

PAIR = "BTC-USD"
ORDER_FIELDS = {"pair": PAIR, "side": "buy", "price": "100", "quantity": "1"}
ALICE_AND_BOB = {"alice": {"USD": "1000"}, "bob": {"USD": "1000"}}


def snapshot(market: Market) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    users = {name: (balances(c), c.my_orders()) for name, c in sorted(market.users.items())}
    return users, market.client().book(PAIR), len(market.ledger()), market.client().trades()


def keystead_token(market: Market, name: str) -> str:
    return str(market.keystead.token_of(name)["authorization"]).removeprefix("Bearer ")


def hand_signed(market: Market, name: str, request: dict[str, Any]) -> dict[str, Any]:
    """An envelope built by hand: the canonical bytes signed by the user's Keystead key."""
    keystead = market.keystead_client(keystead_token(market, name))
    signed = keystead.keys.sign(f"user:{name}", message=canonical_bytes(request))
    return {
        "request": request,
        "signature": base64.b64encode(signed.signature).decode(),
        "key_id": signed.key_id,
        "key_version": signed.version,
    }


def order_request(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": ORDER, "exchange": "keystead-exchange", "account": name,
        "nonce": f"hand-{time.monotonic_ns()}", "expires_at": int(time.time()) + 60,
        **ORDER_FIELDS, **fields,
    }  # fmt: skip


def revoke(market: Market, key_id: str, action: str, body: dict[str, str] | None = None) -> None:
    answer = market.keystead.as_root("POST", f"/v1/keys/{key_id}/{action}", body or {})
    assert answer.status_code == 200, answer.text


# --- 1. the price changed after signing ------------------------------------------------------


def test_an_order_whose_price_changed_after_signing_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = alice.sign_request(ORDER, ORDER_FIELDS)
    envelope["request"]["price"] = "1"
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 400, "InvalidSignature")
    assert snapshot(market) == before
    # The untouched request still goes through: the refusal spent no nonce.
    envelope["request"]["price"] = "100"
    assert alice.send("/v1/orders", envelope)["confirmation"]["status"] == "open"


def test_an_order_whose_quantity_or_side_changed_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    for field, value in [("quantity", "2"), ("side", "sell"), ("account", "bob")]:
        envelope = alice.sign_request(ORDER, ORDER_FIELDS)
        envelope["request"][field] = value
        before = snapshot(market)
        code = "KeyNotAccounts" if field == "account" else "InvalidSignature"
        status = 403 if field == "account" else 400
        refused(partial(alice.send, "/v1/orders", envelope), status, code)
        assert snapshot(market) == before


# --- 2. replays -------------------------------------------------------------------------------


def test_a_replayed_order_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = alice.sign_request(ORDER, ORDER_FIELDS)
    alice.send("/v1/orders", envelope)
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 409, "NonceReused")
    assert snapshot(market) == before
    assert balances(alice)["USD"] == ("900", "100")


def test_a_replayed_cancel_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    placed = alice.order("buy", PAIR, "1", "100").confirmation
    envelope = alice.sign_request("keystead.exchange/cancel/v1", {"order_id": placed["order_id"]})
    alice.send("/v1/cancels", envelope)
    before = snapshot(market)
    with pytest.raises(ExchangeAPIError) as caught:
        alice.send("/v1/cancels", envelope)
    # The nonce is checked before the order's status: a replay is named as one.
    assert (caught.value.status, caught.value.code) == (409, "NonceReused")
    assert snapshot(market) == before
    # A replayed cancel whose nonce is reused for another open order is a replay.
    other = alice.order("buy", PAIR, "1", "90").confirmation
    reuse = alice.sign_request(
        "keystead.exchange/cancel/v1",
        {"order_id": other["order_id"], "nonce": envelope["request"]["nonce"]},
    )
    before = snapshot(market)
    refused(lambda: alice.send("/v1/cancels", reuse), 409, "NonceReused")
    assert snapshot(market) == before


def test_an_order_refused_for_funds_stays_refused_after_a_deposit(market: Market) -> None:
    alice = market.user("alice")
    market.deposit("alice", "USD", "10")
    envelope = alice.sign_request(ORDER, ORDER_FIELDS)
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 409, "InsufficientFunds")
    assert snapshot(market) == before
    market.deposit("alice", "USD", "1000")
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 409, "NonceReused")
    assert snapshot(market) == before
    assert balances(alice)["USD"] == ("1010", "0")


def test_a_nonce_is_used_once_whatever_the_request(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    first = alice.sign_request(ORDER, {**ORDER_FIELDS, "nonce": "shared-nonce-1"})
    alice.send("/v1/orders", first)
    second = alice.sign_request(ORDER, {**ORDER_FIELDS, "price": "99", "nonce": "shared-nonce-1"})
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", second), 409, "NonceReused")
    assert snapshot(market) == before


def test_a_login_nonce_cannot_be_reused_by_an_order(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    login = alice.sign_request(LOGIN, {"nonce": "login-nonce-1"})
    assert "token" in alice.send("/v1/sessions", login)
    refused(lambda: alice.send("/v1/sessions", login), 409, "NonceReused")
    order = alice.sign_request(ORDER, {**ORDER_FIELDS, "nonce": "login-nonce-1"})
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", order), 409, "NonceReused")
    assert snapshot(market) == before


def test_registration_cannot_be_replayed_or_taken_over(market: Market) -> None:
    alice, bob = funded(market, ALICE_AND_BOB)
    market.keystead.add_user("carol", ["key-user"])
    carol_key = market.keystead.as_root("GET", "/v1/users/carol/public-key").json()["key_id"]
    # Bob asks to open carol's account, naming carol's key but signing with his own.
    takeover = bob.sign_request(REGISTER, {"account": "carol", "key_id": carol_key})
    refused(lambda: bob.send("/v1/accounts", takeover), 403, "KeyNotAccounts")
    # ...or naming his own key for carol's account.
    own = bob.sign_request(REGISTER, {"account": "carol", "key_id": bob.me()["key_id"]})
    refused(lambda: bob.send("/v1/accounts", own), 403, "KeyNotAccounts")
    again = alice.sign_request(REGISTER, {"key_id": alice.me()["key_id"]})
    refused(lambda: alice.send("/v1/accounts", again), 409, "AccountExists")
    refused(lambda: market.client().me(), 401, "Unauthenticated")


# --- 3. another user's key --------------------------------------------------------------------


def test_an_order_for_alice_signed_by_bob_naming_bobs_key(market: Market) -> None:
    _, bob = funded(market, ALICE_AND_BOB)
    envelope = bob.sign_request(ORDER, {**ORDER_FIELDS, "account": "alice"})
    assert envelope["request"]["account"] == "alice"
    before = snapshot(market)
    refused(lambda: bob.send("/v1/orders", envelope), 403, "KeyNotAccounts")
    assert snapshot(market) == before


def test_an_order_for_alice_signed_by_bob_naming_alices_key(market: Market) -> None:
    alice, bob = funded(market, ALICE_AND_BOB)
    envelope = bob.sign_request(ORDER, {**ORDER_FIELDS, "account": "alice"})
    envelope["key_id"] = alice.me()["key_id"]
    envelope["key_version"] = 1
    before = snapshot(market)
    refused(lambda: bob.send("/v1/orders", envelope), 400, "InvalidSignature")
    assert snapshot(market) == before


def test_an_order_naming_a_version_alices_key_does_not_have(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = alice.sign_request(ORDER, ORDER_FIELDS)
    envelope["key_version"] = 7
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 404, "AccountNotFound")
    assert snapshot(market) == before


def test_an_order_for_an_account_that_is_not_registered(market: Market) -> None:
    _, bob = funded(market, ALICE_AND_BOB)
    market.keystead.add_user("mallory", ["key-user"])
    envelope = bob.sign_request(ORDER, {**ORDER_FIELDS, "account": "mallory"})
    refused(lambda: bob.send("/v1/orders", envelope), 404, "AccountNotFound")


# --- 4. a revoked or suspended key ------------------------------------------------------------


def refused_after_key_change(
    market: Market, action: str, body: dict[str, str] | None = None
) -> tuple[ExchangeClient, str]:
    """Alice signs an order, then her key is changed (``action``): the order is refused.

    Nothing changes; her client and key id are returned for what the test does next.
    """
    alice, _ = funded(market, ALICE_AND_BOB)
    key_id = alice.me()["key_id"]
    envelope = alice.sign_request(ORDER, ORDER_FIELDS)
    revoke(market, key_id, action, body)
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 403, "KeyNotUsable")
    assert snapshot(market) == before
    return alice, key_id


def test_an_order_signed_before_the_key_was_revoked_is_refused(market: Market) -> None:
    refused_after_key_change(market, "revoke", {"reason": "KEY_COMPROMISE"})


def test_an_order_signed_before_the_key_was_retired_is_refused(market: Market) -> None:
    refused_after_key_change(market, "revoke", {"reason": "CESSATION_OF_OPERATION"})


def test_a_suspended_key_places_nothing_until_resumed(market: Market) -> None:
    alice, key_id = refused_after_key_change(market, "suspend")
    revoke(market, key_id, "resume")
    fresh = alice.order("buy", PAIR, "1", "100").confirmation
    assert fresh["status"] == "open"
    assert balances(alice)["USD"] == ("900", "100")


def test_within_the_status_ttl_the_cached_key_state_is_used(tmp_path: Path) -> None:
    """The trade-off of ``key_status_ttl_seconds``: a revocation takes up to the TTL to bite.

    The link caches each (user, key version)'s lifecycle states for the TTL (monotonic
    time since Keystead last answered); within it the exchange does not ask Keystead again,
    so an order signed before the revocation is still accepted. With a TTL of 0 (the rest
    of these tests) every order asks Keystead.
    """
    with running_market(tmp_path, key_status_ttl_seconds=300) as market:
        alice = market.user("alice")  # registering and logging in cache the key's state
        market.deposit("alice", "USD", "1000")
        envelope = alice.sign_request(ORDER, ORDER_FIELDS)
        revoke(market, alice.me()["key_id"], "revoke", {"reason": "KEY_COMPROMISE"})
        state = market.keystead.as_root("GET", "/v1/users/alice/public-key").json()
        assert state["key_state"] != "ACTIVE"
        accepted = alice.send("/v1/orders", envelope)
        assert accepted["confirmation"]["status"] == "open"


def test_an_order_keystead_will_not_seal_changes_nothing_and_keeps_its_nonce(
    market: Market,
) -> None:
    """The exchange key suspended in Keystead: the order cannot be sealed, so nothing happens."""
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = alice.sign_request(ORDER, ORDER_FIELDS)
    revoke(market, market.settings.key_name, "suspend")
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 503, "KeysteadUnavailable")
    assert snapshot(market) == before
    revoke(market, market.settings.key_name, "resume")
    assert alice.send("/v1/orders", envelope)["confirmation"]["status"] == "open"


def test_a_group_keystead_will_not_seal_leaves_the_book_as_it_was(market: Market) -> None:
    """After a failed group the exchange reloads its state: resting orders are not doubled."""
    alice, bob = funded(market, ALICE_AND_BOB)
    market.deposit("alice", "BTC", "3")
    alice.order("sell", PAIR, "2", "100")
    bob.order("buy", PAIR, "0.5", "100")  # a partial fill of alice's sell
    bob.order("buy", PAIR, "1", "90")
    envelope = bob.sign_request(ORDER, {**ORDER_FIELDS, "quantity": "3"})
    revoke(market, market.settings.key_name, "suspend")
    before = snapshot(market)
    refused(lambda: bob.send("/v1/orders", envelope), 503, "KeysteadUnavailable")
    refused(lambda: alice.order("sell", PAIR, "1", "90"), 503, "KeysteadUnavailable")
    assert snapshot(market) == before
    revoke(market, market.settings.key_name, "resume")
    taken = bob.send("/v1/orders", envelope)["confirmation"]
    assert [(t["price"], t["quantity"]) for t in taken["trades"]] == [("100", "1.5")]
    assert market.client().book(PAIR) == {
        "pair": PAIR, "bids": [["100", "1.5"], ["90", "1"]], "asks": [],
    }  # fmt: skip
    report = verify_chain(ledger_rows(market), verifier(market.client()))
    assert (report.ok, report.entries) == (True, len(market.ledger()))


def test_a_suspended_key_cannot_log_in(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = alice.sign_request(LOGIN, {})
    revoke(market, alice.me()["key_id"], "suspend")
    refused(lambda: alice.send("/v1/sessions", envelope), 403, "KeyNotUsable")


# --- 5. lifetime and exchange -----------------------------------------------------------------


def test_an_expired_order_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = hand_signed(market, "alice", order_request("alice", expires_at=int(time.time()) - 5))
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 400, "OrderExpired")
    assert snapshot(market) == before


def test_an_order_signed_by_a_client_with_a_slow_clock_is_expired(market: Market) -> None:
    funded(market, ALICE_AND_BOB)
    token = keystead_token(market, "alice")
    past = ExchangeClient(
        "https://x", keystead=market.keystead_client(token), username="alice",
        transport=forward_to(market.exchange), clock=lambda: time.time() - 3600,
    )  # fmt: skip
    envelope = past.sign_request(ORDER, ORDER_FIELDS)
    refused(lambda: past.send("/v1/orders", envelope), 400, "OrderExpired")


def test_an_order_that_lives_too_long_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    later = int(time.time()) + market.settings.max_order_lifetime_seconds + 120
    envelope = hand_signed(market, "alice", order_request("alice", expires_at=later))
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 400, "InvalidOrder")
    assert snapshot(market) == before


def test_an_order_for_another_exchange_is_refused(market: Market) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = hand_signed(market, "alice", order_request("alice", exchange="other-exchange"))
    before = snapshot(market)
    refused(lambda: alice.send("/v1/orders", envelope), 400, "InvalidOrder")
    assert snapshot(market) == before


# --- 6 and 7. the ledger edited behind the exchange's back ------------------------------------


def exchange_db(market: Market) -> sqlite3.Connection:
    assert market.settings.database.endswith("exchange.db")
    return sqlite3.connect(market.settings.data_dir / "exchange.db")


def ledger_rows(market: Market) -> list[LedgerRow]:
    with exchange_db(market) as db:
        found = db.execute(
            "SELECT seq, body, hash, signature, key_version FROM ledger ORDER BY seq"
        )
        return [LedgerRow(s, bytes(b), h, bytes(g), v) for s, b, h, g, v in found.fetchall()]


def verifier(client: ExchangeClient) -> Callable[[int, bytes, bytes], bool]:
    keys: dict[int, VersionKey] = {}

    def verify(version: int, message: bytes, signature: bytes) -> bool:
        if version not in keys:
            published = client.exchange_key(version)
            der = public_key_from_pem(published["public_key"])
            keys[version] = VersionKey(published["key_id"], version, published["spec"], der)
        return verify_signed(keys[version], message, signature)

    return verify


def traded(market: Market) -> ChainReport:
    """Five entries or more (deposits, orders, a trade); the intact chain verifies."""
    alice, bob = market.user("alice"), market.user("bob")
    market.deposit("alice", "BTC", "1")  # 1
    market.deposit("bob", "USD", "1000")  # 2
    alice.order("sell", PAIR, "1", "100")  # 3
    bob.order("buy", PAIR, "1", "100")  # 4 (the order) and 5 (the trade)
    alice.order("buy", PAIR, "0.5", "90")  # 6
    report = verify_chain(ledger_rows(market), verifier(market.client()))
    assert (report.ok, report.entries, report.first_bad, report.reason) == (True, 6, None, None)
    assert json.loads(ledger_rows(market)[3].body)["kind"] == "order"
    return report


def test_an_edited_ledger_amount_is_found(market: Market) -> None:
    traded(market)
    row = ledger_rows(market)[3]
    body = json.loads(row.body)
    assert body["changes"][0]["reserved"] == "100"
    body["changes"][0]["available"], body["changes"][0]["reserved"] = "-10", "10"
    with exchange_db(market) as db:
        db.execute("UPDATE ledger SET body = ? WHERE seq = 4", (canonical_bytes(body),))
    report = verify_chain(ledger_rows(market), verifier(market.client()))
    assert (report.ok, report.first_bad, report.entries) == (False, 4, 3)
    assert report.reason is not None
    assert "entry 4" in report.reason
    assert "edited" in report.reason


def test_an_edited_ledger_entry_with_its_hash_rewritten_is_found(market: Market) -> None:
    traded(market)
    row = ledger_rows(market)[3]
    body = json.loads(row.body)
    body["changes"][0]["available"], body["changes"][0]["reserved"] = "-10", "10"
    edited = canonical_bytes(body)
    with exchange_db(market) as db:
        db.execute(
            "UPDATE ledger SET body = ?, hash = ? WHERE seq = 4",
            (edited, hashlib.sha256(edited).hexdigest()),
        )
    report = verify_chain(ledger_rows(market), verifier(market.client()))
    assert (report.ok, report.first_bad) == (False, 4)
    assert report.reason is not None
    assert "entry 4" in report.reason
    assert "signature" in report.reason


def test_a_deleted_ledger_entry_is_found(market: Market) -> None:
    traded(market)
    with exchange_db(market) as db:
        db.execute("DELETE FROM ledger WHERE seq = 4")
    report = verify_chain(ledger_rows(market), verifier(market.client()))
    assert (report.ok, report.first_bad, report.entries, report.last_seq) == (False, 4, 3, 3)
    assert report.reason is not None
    assert "missing" in report.reason


def test_a_cut_ledger_tail_is_found_through_a_confirmations_anchor(market: Market) -> None:
    traded(market)
    alice = market.users["alice"]
    last = alice.order("buy", PAIR, "0.5", "80").confirmation
    with exchange_db(market) as db:
        db.execute("DELETE FROM ledger WHERE seq = ?", (last["ledger_seq"],))
    anchors = {last["ledger_seq"]: last["ledger_hash"]}
    assert verify_chain(ledger_rows(market), verifier(market.client())).ok
    report = verify_chain(ledger_rows(market), verifier(market.client()), anchors)
    assert (report.ok, report.first_bad) == (False, last["ledger_seq"])


# --- malformed requests, routes and tokens ----------------------------------------------------


def _post(market: Market, path: str, content: bytes) -> tuple[int, dict[str, Any]]:
    answer = market.exchange.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    return answer.status_code, answer.json()


def _good_envelope(alice: ExchangeClient) -> dict[str, Any]:
    return alice.sign_request(ORDER, ORDER_FIELDS)


def _dump(document: object) -> bytes:
    return json.dumps(document).encode()


def _without(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != name}


def _request(e: dict[str, Any], **fields: Any) -> bytes:
    return _dump({**e, "request": {**e["request"], **fields}})


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], bytes]]] = [
    ("not JSON", lambda _: b"{not json"),
    ("empty", lambda _: b""),
    ("a list", lambda _: b"[]"),
    ("missing signature", lambda e: _dump(_without(e, "signature"))),
    ("missing request", lambda e: _dump(_without(e, "request"))),
    ("extra field", lambda e: _dump({**e, "admin": True})),
    ("signature not base64", lambda e: _dump({**e, "signature": "!!not base64!!"})),
    ("key_version 0", lambda e: _dump({**e, "key_version": 0})),
    ("key_version text", lambda e: _dump({**e, "key_version": "1"})),
    ("request not an object", lambda e: _dump({**e, "request": "buy"})),
    ("request extra field", lambda e: _request(e, x="1")),
    ("request missing nonce", lambda e: _dump({**e, "request": _without(e["request"], "nonce")})),
    ("request short nonce", lambda e: _request(e, nonce="ab")),
    ("request wrong type", lambda e: _request(e, type="keystead.exchange/login/v1")),
]


@pytest.mark.parametrize(("what", "make"), MALFORMED, ids=[what for what, _ in MALFORMED])
def test_a_malformed_envelope_is_a_validation_failure(
    market: Market, what: str, make: Callable[[dict[str, Any]], bytes]
) -> None:
    alice, _ = funded(market, ALICE_AND_BOB)
    envelope = _good_envelope(alice)
    before = snapshot(market)
    for path in ("/v1/orders", "/v1/cancels", "/v1/sessions", "/v1/accounts"):
        status, body = _post(market, path, make(envelope))
        assert (status, body["code"]) == (400, "ValidationFailed"), (what, path, body)
        assert "Traceback" not in body["detail"]
    assert snapshot(market) == before


def test_an_unknown_route_is_not_found(market: Market) -> None:
    for method, path in [("GET", "/v1/nothing"), ("POST", "/v1/orders/x"), ("GET", "/")]:
        answer = market.exchange.request(method, path)
        assert (answer.status_code, answer.json()["code"]) == (404, "NotFound"), path


def test_a_deposit_needs_the_operator_token(market: Market) -> None:
    market.user("alice")
    before = len(market.ledger())
    body = {"account": "alice", "asset": "USD", "amount": "1000000"}
    for headers in [{}, {"authorization": "Bearer wrong"}, {"authorization": "Basic x"},
                    {"authorization": f"Bearer {market.operator_token}x"}]:  # fmt: skip
        answer = market.exchange.post("/v1/deposits", json=body, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (401, "Unauthenticated")
        answer = market.exchange.get("/v1/ledger", headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (401, "Unauthenticated")
    refused(lambda: market.client().deposit("wrong", "alice", "USD", "1"), 401, "Unauthenticated")
    assert len(market.ledger()) == before
    assert balances(market.users["alice"]) in ({}, {"USD": ("0", "0")})


def test_a_user_session_is_not_the_operator_token(market: Market) -> None:
    alice = market.user("alice")
    assert alice.session_token is not None
    refused(lambda: market.client().deposit(alice.session_token or "", "alice", "USD", "1"),
            401, "Unauthenticated")  # fmt: skip


@pytest.mark.parametrize("path", ["/v1/accounts/me", "/v1/accounts/me/orders",
                                  "/v1/accounts/me/trades"])  # fmt: skip
def test_session_endpoints_need_a_session(market: Market, path: str) -> None:
    market.user("alice")
    for headers in [{}, {"authorization": "Bearer bad-token"}, {"authorization": "bearer "},
                    {"authorization": f"Bearer {market.operator_token}"}]:  # fmt: skip
        answer = market.exchange.get(path, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (401, "Unauthenticated"), headers
