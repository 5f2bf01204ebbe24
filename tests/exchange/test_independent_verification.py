"""Must-show 2: an order and a confirmation verify WITHOUT any Keystead code.

Only the published public keys (PEM), the ``rfc8785`` package, ``hashlib``, ``coincurve``
and ``cryptography`` are used to check what a user signed and what the exchange answered.
The Keystead harness only produces the files; nothing of ``keystead.*`` verifies them,
except where a test cross-checks that the exchange's own verifier agrees.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import coincurve
import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from exchange_support import (
    Market,
    market_fixture,  # noqa: F401  (a fixture: pytest finds it by name)
)
from keystead.exchange.client import ExchangeClient
from keystead.exchange.requests import ORDER

PAIR = "BTC-USD"


def user_pem(market: Market, name: str) -> str:
    """The user's public key as Keystead publishes it (to anyone)."""
    answer = market.keystead.as_root("GET", f"/v1/users/{name}/public-key")
    assert answer.status_code == 200, answer.text
    assert answer.json()["spec"] == "EC_SECP256K1"
    return str(answer.json()["public_key"])


def secp256k1_key(pem: str) -> ec.EllipticCurvePublicKey:
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256k1"
    return public


def ed25519_key(pem: str) -> ed25519.Ed25519PublicKey:
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    return public


def coincurve_ok(pem: str, signature: bytes, message: bytes) -> bool:
    point = secp256k1_key(pem).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert len(point) == 65
    assert point[0] == 4
    return bool(coincurve.PublicKey(point).verify(signature, message))


def cryptography_ecdsa_ok(pem: str, signature: bytes, message: bytes) -> bool:
    try:
        secp256k1_key(pem).verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def ed25519_ok(pem: str, signature: bytes, message: bytes) -> bool:
    try:
        ed25519_key(pem).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def placed(market: Market, client: ExchangeClient, tmp_path: Path, **fields: str) -> Path:
    """Sign an order, send it as raw JSON, and keep the exchange's answer as a file."""
    body = {"pair": PAIR, "side": "buy", "price": "100", "quantity": "1", **fields}
    envelope = client.sign_request(ORDER, body)
    answer = market.exchange.post("/v1/orders", json=envelope)
    assert answer.status_code == 201, answer.text
    order_file = tmp_path / f"order-{envelope['request']['nonce']}.json"
    order_file.write_text(json.dumps(envelope))
    confirmation_file = tmp_path / f"confirmation-{envelope['request']['nonce']}.json"
    confirmation_file.write_bytes(answer.content)
    return confirmation_file


def exchange_pem(client: ExchangeClient, version: int) -> str:
    published = client.exchange_key(version)
    assert (published["spec"], published["version"]) == ("ED25519", version)
    return str(published["public_key"])


@pytest.fixture
def files(market: Market, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    alice = market.user("alice")
    market.deposit("alice", "USD", "1000")
    confirmation = placed(market, alice, tmp_path)
    (order_file,) = tmp_path.glob("order-*.json")
    envelope: dict[str, Any] = json.loads(order_file.read_text())
    return envelope, confirmation


def test_the_users_order_signature_verifies_with_coincurve_and_cryptography(
    market: Market, files: tuple[dict[str, Any], Path]
) -> None:
    envelope, _ = files
    message = rfc8785.dumps(envelope["request"])
    signature = base64.b64decode(envelope["signature"], validate=True)
    pem = user_pem(market, "alice")
    assert coincurve_ok(pem, signature, message)
    assert cryptography_ecdsa_ok(pem, signature, message)
    # JCS: keys sorted, no whitespace; so any re-serialisation of the same object agrees.
    assert message == rfc8785.dumps(json.loads(json.dumps(envelope["request"], indent=4)))
    assert b" " not in message
    # The stored copy the exchange keeps is the same bytes and signature.
    with sqlite3.connect(market.settings.data_dir / "exchange.db") as db:
        stored, stored_signature = db.execute(
            "SELECT signed_request, signature FROM orders"
        ).fetchone()
    assert (stored.encode(), bytes(stored_signature)) == (message, signature)


def test_a_changed_order_fails_both_libraries(
    market: Market, files: tuple[dict[str, Any], Path]
) -> None:
    envelope, _ = files
    pem = user_pem(market, "alice")
    signature = base64.b64decode(envelope["signature"])
    message = rfc8785.dumps({**envelope["request"], "price": "1000"})
    assert not coincurve_ok(pem, signature, message)
    assert not cryptography_ecdsa_ok(pem, signature, message)
    original = rfc8785.dumps(envelope["request"])
    for index in (0, len(original) // 2, len(original) - 1):
        flipped = original[:index] + bytes([original[index] ^ 1]) + original[index + 1 :]
        assert not coincurve_ok(pem, signature, flipped)
        assert not cryptography_ecdsa_ok(pem, signature, flipped)


def test_many_order_signatures_verify_with_coincurve(market: Market) -> None:
    """libsecp256k1 accepts low-S signatures only; every one Keystead makes must be low-S."""
    alice = market.user("alice")
    pem = user_pem(market, "alice")
    for index in range(12):
        body = {"pair": PAIR, "side": "buy", "price": f"{10 + index}", "quantity": "1"}
        envelope = alice.sign_request(ORDER, body)
        message = rfc8785.dumps(envelope["request"])
        signature = base64.b64decode(envelope["signature"])
        assert coincurve_ok(pem, signature, message), index
        assert cryptography_ecdsa_ok(pem, signature, message), index


def test_the_confirmation_verifies_with_cryptography_ed25519(
    market: Market, files: tuple[dict[str, Any], Path]
) -> None:
    envelope, confirmation_file = files
    document = json.loads(confirmation_file.read_bytes())
    assert set(document) == {"confirmation", "signature", "key_id", "key_version", "spec"}
    assert document["spec"] == "ED25519"
    pem = exchange_pem(market.client(), document["key_version"])
    signature = base64.b64decode(document["signature"], validate=True)
    message = rfc8785.dumps(document["confirmation"])
    assert ed25519_ok(pem, signature, message)
    # The confirmation names the user's signed request by the SHA-256 of its JCS bytes.
    confirmation = document["confirmation"]
    digest = hashlib.sha256(rfc8785.dumps(envelope["request"])).hexdigest()
    assert confirmation["request_digest"] == digest
    assert (confirmation["account"], confirmation["price"], confirmation["status"]) == (
        "alice", "100", "open",
    )  # fmt: skip


def test_a_one_byte_change_to_the_confirmation_fails(
    market: Market, files: tuple[dict[str, Any], Path]
) -> None:
    _, confirmation_file = files
    raw = confirmation_file.read_bytes()
    document = json.loads(raw)
    pem = exchange_pem(market.client(), document["key_version"])
    signature = base64.b64decode(document["signature"])
    # One byte in the file: a digit of the price ("100" -> "101").
    at = raw.index(b'"price":"100"') + len(b'"price":"10')
    edited_file = raw[:at] + b"1" + raw[at + 1 :]
    assert len(edited_file) == len(raw)
    assert sum(a != b for a, b in zip(raw, edited_file, strict=True)) == 1
    edited = json.loads(edited_file)
    assert edited["confirmation"]["price"] == "101"
    assert not ed25519_ok(pem, signature, rfc8785.dumps(edited["confirmation"]))
    # One byte of the canonical bytes themselves, wherever it is.
    message = rfc8785.dumps(document["confirmation"])
    for index in (0, len(message) // 3, len(message) - 1):
        flipped = message[:index] + bytes([message[index] ^ 0x20]) + message[index + 1 :]
        assert not ed25519_ok(pem, signature, flipped)
    # One byte of the signature.
    bad_signature = bytes([signature[0] ^ 1]) + signature[1:]
    assert not ed25519_ok(pem, bad_signature, message)
    # And the exchange's own verifier agrees with the independent one on both.
    from keystead.exchange.confirmations import read_confirmation, verify_confirmation
    from keystead.exchange.signatures import VersionKey, public_key_from_pem

    key = VersionKey(document["key_id"], document["key_version"], "ED25519",
                     public_key_from_pem(pem))  # fmt: skip
    verify_confirmation(read_confirmation(raw), key)
    with pytest.raises(ValueError, match="does not verify"):
        verify_confirmation(read_confirmation(edited_file), key)


def test_the_confirmations_canonical_bytes_are_rfc8785_of_the_file(
    market: Market, files: tuple[dict[str, Any], Path]
) -> None:
    _, confirmation_file = files
    from keystead.exchange.canonical import canonical_bytes
    from keystead.exchange.confirmations import read_confirmation

    loaded = json.loads(confirmation_file.read_text())
    ours = canonical_bytes(read_confirmation(confirmation_file.read_bytes()).confirmation)
    assert ours == rfc8785.dumps(loaded["confirmation"])
    # Independent of key order and whitespace in the file.
    shuffled = json.dumps(dict(reversed(loaded["confirmation"].items())), indent=2)
    assert rfc8785.dumps(json.loads(shuffled)) == ours
    assert market.client().info()["key"]["spec"] == "ED25519"


def test_the_ledger_verifies_with_hashlib_and_cryptography_only(
    market: Market, tmp_path: Path
) -> None:
    alice, bob = market.user("alice"), market.user("bob")
    market.deposit("alice", "BTC", "1")
    market.deposit("bob", "USD", "1000")
    sell = placed(market, alice, tmp_path, side="sell", price="100")
    buy = placed(market, bob, tmp_path, price="101")
    pins = [json.loads(path.read_bytes())["confirmation"] for path in (sell, buy)]
    pem = exchange_pem(market.client(), 1)
    previous = "0" * 64
    held: dict[tuple[str, str], tuple[float, float]] = {}
    for entry in market.ledger():
        body = rfc8785.dumps(entry["body"])
        assert entry["body"]["prev"] == previous
        assert hashlib.sha256(body).hexdigest() == entry["hash"]
        assert ed25519_ok(pem, base64.b64decode(entry["signature"]), body)
        previous = entry["hash"]
        for change in entry["body"]["changes"]:
            key = (change["account"], change["asset"])
            available, reserved = held.get(key, (0.0, 0.0))
            held[key] = (available + float(change["available"]),
                         reserved + float(change["reserved"]))  # fmt: skip
            assert min(held[key]) >= 0
    by_seq = {e["seq"]: e["hash"] for e in market.ledger()}
    for pin in pins:
        assert by_seq[pin["ledger_seq"]] == pin["ledger_hash"]
    assert held[("bob", "USD")] == (900.0, 0.0)
    assert held[("alice", "USD")] == (100.0, 0.0)
