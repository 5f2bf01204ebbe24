"""Shamir secret sharing over GF(2^8): how the root key becomes unseal shares.

The layout follows HashiCorp Vault's ``shamir`` package. A share is ``len(secret) + 1`` bytes::

    y_0 | y_1 | ... | y_{n-1} | x

``y_i`` is the i-th secret byte's random polynomial evaluated at ``x``; ``x`` is the one trailing
byte, non-zero and distinct across the shares of one split. Field: AES polynomial 0x11B.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from keystead.crypto.random import random_bytes
from keystead.errors import InvalidUnsealShare

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MAX_PARTS", "combine", "split"]

MAX_PARTS: Final = 255
"""At most 255 shares: one per non-zero element of GF(2^8)."""

_REDUCTION: Final = 0x1B
"""x^8 + x^4 + x^3 + x + 1 (0x11B) with the x^8 term dropped: what a carry out of bit 7 adds."""


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it.

    Each secret byte is the intercept of its own random polynomial of degree ``threshold - 1``,
    whose other coefficients come from the CSPRNG. The x coordinates are a random sample of
    1..255 without repetition, as in Vault. With ``threshold`` 1 every share is ``secret`` plus
    its x byte: a degree-0 polynomial hides nothing.

    Args:
        secret: The bytes to share, at least one.
        parts: How many shares to make, 1 to 255.
        threshold: How many shares recover the secret, 1 to ``parts``.

    Returns:
        ``parts`` shares of ``len(secret) + 1`` bytes each (layout in the module docstring).

    Raises:
        ValueError: If an argument is out of range (a programming error: callers validate
            user input first).
    """
    _check_split_arguments(secret, parts, threshold)
    x_coordinates = _random_x_coordinates(parts)
    coefficients = random_bytes(len(secret) * (threshold - 1)) if threshold > 1 else b""
    return _split_from_parts(secret, threshold, x_coordinates, coefficients)


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret from shares by Lagrange interpolation at x = 0.

    Shamir sharing has no integrity: a wrong, corrupted or too small set of well-formed shares
    gives a different secret, not an error. The caller detects that when the recovered root
    key fails to decrypt.

    Args:
        shares: At least ``threshold`` shares of one split, in any order. A single share
            returns its y bytes (the threshold-1 case).

    Returns:
        The secret, ``len(share) - 1`` bytes.

    Raises:
        InvalidUnsealShare: If no share is given, a share is shorter than 2 bytes, the shares
            differ in length, or an x coordinate is 0 or repeated.
    """
    x_coordinates = _check_shares(shares)
    weights = _lagrange_weights_at_zero(x_coordinates)
    secret = bytearray(len(shares[0]) - 1)
    for share, weight in zip(shares, weights, strict=True):
        for index in range(len(secret)):
            secret[index] ^= _gf_mul(weight, share[index])
    return bytes(secret)


def _check_split_arguments(secret: bytes, parts: int, threshold: int) -> None:
    if not secret:
        msg = "cannot split an empty secret"
        raise ValueError(msg)
    if not 1 <= parts <= MAX_PARTS:
        msg = f"parts must be between 1 and {MAX_PARTS}, got {parts}"
        raise ValueError(msg)
    if not 1 <= threshold <= parts:
        msg = f"threshold must be between 1 and parts ({parts}), got {threshold}"
        raise ValueError(msg)


def _split_from_parts(
    secret: bytes, threshold: int, x_coordinates: Sequence[int], coefficients: bytes
) -> list[bytes]:
    """Split with pinned randomness (STYLE.md C22), so known-answer tests can fix it.

    ``coefficients`` holds ``threshold - 1`` bytes per secret byte, lowest degree first: the
    polynomial of secret byte ``i`` is ``secret[i] + c[0] x + c[1] x^2 + ...`` where
    ``c = coefficients[i * (threshold - 1) : (i + 1) * (threshold - 1)]``.
    """
    degree = threshold - 1
    shares = [bytearray(len(secret) + 1) for _ in x_coordinates]
    for index, intercept in enumerate(secret):
        polynomial = (intercept, *coefficients[index * degree : (index + 1) * degree])
        for share, x in zip(shares, x_coordinates, strict=True):
            share[index] = _evaluate(polynomial, x)
    for share, x in zip(shares, x_coordinates, strict=True):
        share[-1] = x
    return [bytes(share) for share in shares]


def _random_x_coordinates(parts: int) -> list[int]:
    """Draw ``parts`` distinct x in 1..255 by a partial Fisher-Yates shuffle."""
    pool = list(range(1, MAX_PARTS + 1))
    for position in range(parts):
        chosen = position + _random_below(len(pool) - position)
        pool[position], pool[chosen] = pool[chosen], pool[position]
    return pool[:parts]


def _random_below(bound: int) -> int:
    """Return a uniform integer in ``[0, bound)`` for ``1 <= bound <= 256``, by rejection."""
    limit = 256 - 256 % bound
    while True:
        value = random_bytes(1)[0]
        if value < limit:
            return value % bound


def _check_shares(shares: Sequence[bytes]) -> list[int]:
    """Validate the shares' shape and return their x coordinates."""
    if not shares:
        msg = "no unseal shares given"
        raise InvalidUnsealShare(msg)
    length = len(shares[0])
    if any(len(share) < 2 for share in shares):  # noqa: PLR2004 - one y byte and the x byte
        msg = "an unseal share is too short"
        raise InvalidUnsealShare(msg)
    if any(len(share) != length for share in shares):
        msg = "unseal shares have different lengths"
        raise InvalidUnsealShare(msg)
    x_coordinates = [share[-1] for share in shares]
    if 0 in x_coordinates:
        msg = "an unseal share has x coordinate 0"
        raise InvalidUnsealShare(msg)
    if len(set(x_coordinates)) != len(x_coordinates):
        msg = "two unseal shares have the same x coordinate"
        raise InvalidUnsealShare(msg)
    return x_coordinates


def _lagrange_weights_at_zero(x_coordinates: Sequence[int]) -> list[int]:
    """Return each L_i(0) = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR in GF(2^8)."""
    weights = []
    for i, x_i in enumerate(x_coordinates):
        numerator = denominator = 1
        for j, x_j in enumerate(x_coordinates):
            if j != i:
                numerator = _gf_mul(numerator, x_j)
                denominator = _gf_mul(denominator, x_j ^ x_i)
        weights.append(_gf_mul(numerator, _gf_inverse(denominator)))
    return weights


def _evaluate(polynomial: Sequence[int], x: int) -> int:
    """Evaluate a polynomial (lowest degree first) at ``x`` by Horner's rule."""
    result = 0
    for coefficient in reversed(polynomial):
        result = _gf_mul(result, x) ^ coefficient
    return result


def _gf_mul(a: int, b: int) -> int:
    """Multiply in GF(2^8) modulo 0x11B.

    A fixed 8-round shift-and-xor with masks instead of branches or table lookups on the
    operands. CPython integers give no timing guarantee, so this is best-effort hygiene.
    """
    product = 0
    for _ in range(8):
        product ^= a & -(b & 1)
        a = ((a << 1) ^ (_REDUCTION & -(a >> 7))) & 0xFF
        b >>= 1
    return product


def _gf_inverse(a: int) -> int:
    """Return a^254, the inverse of ``a`` in GF(2^8) (0 maps to 0), by square-and-multiply.

    254 = 2 + 4 + ... + 128, so seven squarings each multiplied in: no branch on ``a``.
    """
    result = 1
    square = a
    for _ in range(7):
        square = _gf_mul(square, square)
        result = _gf_mul(result, square)
    return result
