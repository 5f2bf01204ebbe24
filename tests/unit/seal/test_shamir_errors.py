"""Shamir argument checks, malformed shares, known answers and the GF(2^8) arithmetic."""

from __future__ import annotations

import pytest

from keystead.errors import InvalidUnsealShare
from keystead.seal import shamir
from keystead.seal.shamir import combine, split


def _reference_mul(a: int, b: int) -> int:
    """Textbook GF(2^8) multiplication (FIPS 197 section 4.2), branches and all."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


@pytest.mark.parametrize(
    ("secret", "parts", "threshold", "message"),
    [
        (b"k", 3, 0, "threshold"),
        (b"k", 3, 4, "threshold"),
        (b"k", 256, 2, "parts"),
        (b"k", 0, 1, "parts"),
        (b"", 3, 2, "empty"),
    ],
)
def test_split_rejects_bad_arguments(
    secret: bytes, parts: int, threshold: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        split(secret, parts, threshold)


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([], "no unseal shares"),
        ([b"\x01\x02", b"\x01\x02\x03"], "different lengths"),
        ([b"\x01\x05", b"\x02\x05"], "same x coordinate"),
        ([b"\x01\x00"], "x coordinate 0"),
        ([b"\x01\x02", b"\x00"], "too short"),
        ([b""], "too short"),
    ],
)
def test_combine_rejects_malformed_shares(shares: list[bytes], message: str) -> None:
    with pytest.raises(InvalidUnsealShare, match=message) as caught:
        combine(shares)
    assert caught.value.public_detail == str(caught.value)
    assert caught.value.code == "InvalidUnsealShare"


def test_one_of_one_is_the_secret_then_its_x() -> None:
    secret = bytes.fromhex("00112233445566778899aabbccddeeff")
    (share,) = split(secret, 1, 1)
    assert len(share) == 17
    assert share[:16] == secret
    assert 1 <= share[16] <= 255
    assert combine([share]) == secret


def test_known_answer_two_of_three() -> None:
    # Secret bytes 0x2A, 0x00 with slopes 0x01, 0x57; shares at x = 1, 2, 0x83.
    shares = shamir._split_from_parts(b"\x2a\x00", 2, [1, 2, 0x83], b"\x01\x57")
    assert shares == [
        bytes([0x2A ^ 0x01, 0x57, 1]),
        bytes([0x2A ^ 0x02, 0xAE, 2]),
        bytes([0x2A ^ 0x83, 0xC1, 0x83]),
    ]
    assert combine(shares[1:]) == b"\x2a\x00"
    assert combine([shares[2], shares[0]]) == b"\x2a\x00"


def test_x_coordinates_come_from_the_csprng_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    # 255 % 255 == 0 is accepted; for bound 254, 254 and 255 are rejected (limit 254).
    draws = iter([b"\x00", b"\xfe", b"\xff", b"\x02"])
    monkeypatch.setattr(shamir, "random_bytes", lambda _length: next(draws))
    assert shamir._random_x_coordinates(2) == [1, 4]


@pytest.mark.parametrize(
    ("a", "b", "product"),
    [(0x57, 0x83, 0xC1), (0x57, 0x13, 0xFE), (0x57, 0x02, 0xAE), (0x80, 0x02, 0x1B)],
)
def test_gf_mul_known_aes_values(a: int, b: int, product: int) -> None:
    assert shamir._gf_mul(a, b) == product
    assert shamir._gf_mul(b, a) == product


def test_gf_mul_matches_the_textbook_for_every_pair() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir._gf_mul(a, b) == _reference_mul(a, b)


def test_gf_inverse_of_every_non_zero_element() -> None:
    for a in range(1, 256):
        assert shamir._gf_mul(a, shamir._gf_inverse(a)) == 1
    assert shamir._gf_inverse(0) == 0
    assert shamir._gf_inverse(0x53) == 0xCA  # FIPS 197 section 4.2.1
