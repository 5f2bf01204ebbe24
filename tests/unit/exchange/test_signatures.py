"""Local verification of signatures over canonical bytes (keystead.exchange.signatures)."""

from __future__ import annotations

from collections.abc import Callable

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from keystead.crypto.signing import SigningAlgorithm
from keystead.errors import InvalidPublicKey
from keystead.exchange.canonical import canonical_bytes
from keystead.exchange.signatures import (
    VersionKey,
    default_algorithm,
    public_key_from_pem,
    spec_of_public_key,
    verify_signed,
)

MESSAGE = canonical_bytes({"pair": "BTC-USD", "price": "101.5", "quantity": "2", "side": "buy"})

Signer = Callable[[bytes], bytes]


def _spki(public_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _p256() -> tuple[VersionKey, Signer]:
    private = ec.generate_private_key(ec.SECP256R1())
    key = VersionKey("k-p256", 1, "EC_P256", _spki(private.public_key()))
    return key, lambda message: private.sign(message, ec.ECDSA(hashes.SHA256()))


def _ed25519() -> tuple[VersionKey, Signer]:
    private = ed25519.Ed25519PrivateKey.generate()
    return VersionKey("k-ed", 2, "ED25519", _spki(private.public_key())), private.sign


def _secp256k1() -> tuple[VersionKey, Signer]:
    private = coincurve.PrivateKey()
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256K1(), private.public_key.format(compressed=False)
    )
    # coincurve signs SHA-256 of the message and returns DER, as Keystead's recipe expects.
    return VersionKey("k-k1", 3, "EC_SECP256K1", _spki(public)), private.sign


SIGNERS = pytest.mark.parametrize(
    "make", [_p256, _ed25519, _secp256k1], ids=["EC_P256", "ED25519", "EC_SECP256K1"]
)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@SIGNERS
def test_a_valid_signature_verifies(make: Callable[[], tuple[VersionKey, Signer]]) -> None:
    key, sign = make()
    assert verify_signed(key, MESSAGE, sign(MESSAGE)) is True


@SIGNERS
def test_a_flipped_message_byte_fails(make: Callable[[], tuple[VersionKey, Signer]]) -> None:
    key, sign = make()
    signature = sign(MESSAGE)
    assert verify_signed(key, _flip(MESSAGE, 0), signature) is False
    assert verify_signed(key, _flip(MESSAGE, len(MESSAGE) - 1), signature) is False


@SIGNERS
def test_a_flipped_signature_byte_fails(make: Callable[[], tuple[VersionKey, Signer]]) -> None:
    key, sign = make()
    signature = sign(MESSAGE)
    assert verify_signed(key, MESSAGE, _flip(signature, len(signature) - 1)) is False
    assert verify_signed(key, MESSAGE, _flip(signature, len(signature) // 2)) is False


@SIGNERS
@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x30\x02\x01", b"not a signature" * 5])
def test_truncated_or_garbage_signatures_fail(
    make: Callable[[], tuple[VersionKey, Signer]], garbage: bytes
) -> None:
    key, sign = make()
    signature = sign(MESSAGE)
    assert verify_signed(key, MESSAGE, signature[: len(signature) // 2]) is False
    assert verify_signed(key, MESSAGE, garbage) is False


def test_a_signature_from_another_key_fails() -> None:
    key, _ = _ed25519()
    _, other_sign = _ed25519()
    assert verify_signed(key, MESSAGE, other_sign(MESSAGE)) is False


def test_a_spec_that_cannot_sign_raises_value_error() -> None:
    key = VersionKey("k-x", 1, "X25519", b"")
    with pytest.raises(ValueError, match="cannot sign"):
        verify_signed(key, MESSAGE, b"sig")
    with pytest.raises(ValueError, match="unknown key spec"):
        default_algorithm("AES_256_GCM")


def test_default_algorithms() -> None:
    assert default_algorithm("EC_P256") is SigningAlgorithm.ECDSA_SHA_256
    assert default_algorithm("ED25519") is SigningAlgorithm.ED25519
    assert default_algorithm("EC_SECP256K1") is SigningAlgorithm.ECDSA_SHA_256


def test_a_public_key_of_the_wrong_spec_raises() -> None:
    p256, _ = _p256()
    wrong = VersionKey("k", 1, "ED25519", p256.public_key_der)
    with pytest.raises(InvalidPublicKey):
        verify_signed(wrong, MESSAGE, b"\x00" * 64)


@SIGNERS
def test_pem_round_trip_and_spec_detection(make: Callable[[], tuple[VersionKey, Signer]]) -> None:
    key, _ = make()
    pem = serialization.load_der_public_key(key.public_key_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = public_key_from_pem("some preamble\n" + pem.decode("ascii"))
    assert der == key.public_key_der
    assert spec_of_public_key(der) == key.spec


def test_spec_detection_of_rsa() -> None:
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spec_of_public_key(der) == "RSA_2048"


def test_a_key_keystead_cannot_verify_with_is_refused() -> None:
    # X25519 keys only agree on secrets: there is nothing to verify with.
    der = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not a public key Keystead can verify with"):
        spec_of_public_key(der)
    with pytest.raises(ValueError, match="not a public key Keystead can verify with"):
        spec_of_public_key(b"garbage")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_malformed_pem_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)public key"):
        public_key_from_pem(text)
