"""AES-256-GCM recipe: round trip, known answers, and one opaque error for every failure."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.crypto import aead
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
AAD = b"keystead/test/row-1"
PLAINTEXT = b"attack at dawn"

# Test Cases 13, 14 and 16 of "The Galois/Counter Mode of Operation (GCM)",
# McGrew and Viega, revised 2005, Appendix B (AES-256, 96-bit IV); the same vectors
# appear in NIST's GCM submission. Columns: key, iv, plaintext, aad, ciphertext || tag.
GCM_VECTORS = [
    pytest.param(
        "00" * 32,
        "00" * 12,
        "",
        "",
        "530f8afbc74536b9a963b4f1c4cb738b",
        id="test-case-13",
    ),
    pytest.param(
        "00" * 32,
        "00" * 12,
        "00" * 16,
        "",
        "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
        id="test-case-14",
    ),
    pytest.param(
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        "76fc6ece0f4e1768cddf8853bb2d551b",
        id="test-case-16",
    ),
]


def _key(raw: bytes = KEY) -> KeyMaterial:
    return KeyMaterial(raw)


def _assert_opaque(excinfo: pytest.ExceptionInfo[DecryptionFailed]) -> None:
    error = excinfo.value
    assert type(error) is DecryptionFailed
    assert error.code == "InvalidCiphertext"
    assert str(error) == "decryption failed"
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


def test_round_trip() -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    assert aead.decrypt(_key(), sealed, AAD) == PLAINTEXT


def test_layout_is_nonce_then_ciphertext_and_tag() -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    assert len(sealed) == aead.NONCE_BYTES + len(PLAINTEXT) + aead.TAG_BYTES
    nonce, body = sealed[: aead.NONCE_BYTES], sealed[aead.NONCE_BYTES :]
    assert AESGCM(KEY).decrypt(nonce, body, AAD) == PLAINTEXT


def test_each_encryption_uses_a_fresh_nonce() -> None:
    first = aead.encrypt(_key(), PLAINTEXT, AAD)
    second = aead.encrypt(_key(), PLAINTEXT, AAD)
    assert first[: aead.NONCE_BYTES] != second[: aead.NONCE_BYTES]
    assert first != second


@settings(deadline=None)
@given(plaintext=st.binary(max_size=256), associated_data=st.binary(max_size=64))
def test_round_trip_any_input(plaintext: bytes, associated_data: bytes) -> None:
    sealed = aead.encrypt(_key(), plaintext, associated_data)
    assert aead.decrypt(_key(), sealed, associated_data) == plaintext


@pytest.mark.parametrize(("key", "nonce", "plaintext", "aad", "expected"), GCM_VECTORS)
def test_seal_from_parts_known_answers(
    key: str, nonce: str, plaintext: str, aad: str, expected: str
) -> None:
    sealed = aead._seal_from_parts(
        _key(bytes.fromhex(key)), bytes.fromhex(plaintext), bytes.fromhex(aad), bytes.fromhex(nonce)
    )
    assert sealed == bytes.fromhex(nonce) + bytes.fromhex(expected)
    assert aead.decrypt(_key(bytes.fromhex(key)), sealed, bytes.fromhex(aad)) == bytes.fromhex(
        plaintext
    )


def test_seal_from_parts_matches_cryptography_aesgcm() -> None:
    nonce = bytes.fromhex("000102030405060708090a0b")
    sealed = aead._seal_from_parts(_key(), PLAINTEXT, AAD, nonce)
    assert sealed == nonce + AESGCM(KEY).encrypt(nonce, PLAINTEXT, AAD)


def test_wrong_key_fails() -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    with pytest.raises(DecryptionFailed) as excinfo:
        aead.decrypt(_key(OTHER_KEY), sealed, AAD)
    _assert_opaque(excinfo)


@pytest.mark.parametrize("other", [b"", b"keystead/test/row-2", AAD + b"\x00", AAD[:-1]])
def test_other_associated_data_fails(other: bytes) -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    with pytest.raises(DecryptionFailed) as excinfo:
        aead.decrypt(_key(), sealed, other)
    _assert_opaque(excinfo)


@settings(deadline=None)
@given(data=st.data())
def test_any_truncation_fails(data: st.DataObject) -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    length = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1), label="length")
    with pytest.raises(DecryptionFailed) as excinfo:
        aead.decrypt(_key(), sealed[:length], AAD)
    _assert_opaque(excinfo)


@pytest.mark.parametrize("length", [0, 1, aead.NONCE_BYTES, aead.NONCE_BYTES + aead.TAG_BYTES - 1])
def test_too_short_to_hold_nonce_and_tag_fails(length: int) -> None:
    with pytest.raises(DecryptionFailed) as excinfo:
        aead.decrypt(_key(), bytes(length), AAD)
    _assert_opaque(excinfo)


def test_appended_byte_fails() -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    with pytest.raises(DecryptionFailed) as excinfo:
        aead.decrypt(_key(), sealed + b"\x00", AAD)
    _assert_opaque(excinfo)


@settings(deadline=None)
@given(data=st.data(), plaintext=st.binary(max_size=64))
def test_every_single_flipped_byte_fails(data: st.DataObject, plaintext: bytes) -> None:
    sealed = aead.encrypt(_key(), plaintext, AAD)
    position = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1), label="position")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    tampered = bytearray(sealed)
    tampered[position] ^= mask
    with pytest.raises(DecryptionFailed) as excinfo:
        aead.decrypt(_key(), bytes(tampered), AAD)
    _assert_opaque(excinfo)


def test_every_position_flipped_fails_exhaustively() -> None:
    sealed = aead.encrypt(_key(), PLAINTEXT, AAD)
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed) as excinfo:
            aead.decrypt(_key(), bytes(tampered), AAD)
        _assert_opaque(excinfo)


@pytest.mark.parametrize("length", [1, 16, 24, 31, 33, 64])
def test_key_of_wrong_length_is_refused(length: int) -> None:
    key = KeyMaterial(bytes(length))
    with pytest.raises(ValueError, match="32-byte key"):
        aead.encrypt(key, PLAINTEXT, AAD)
    with pytest.raises(ValueError, match="32-byte key"):
        aead._seal_from_parts(key, PLAINTEXT, AAD, bytes(aead.NONCE_BYTES))
    with pytest.raises(ValueError, match="32-byte key"):
        aead.decrypt(key, bytes(64), AAD)
