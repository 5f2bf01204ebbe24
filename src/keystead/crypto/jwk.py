"""Public keys as JSON Web Keys: RFC 7517, RFC 7518 section 6 (RSA, EC), RFC 8037 (OKP).

secp256k1 keys carry ``"crv": "secp256k1"`` (RFC 8812 section 3.1). ML-DSA and ML-KEM have
no registered JWK form yet, so they have none here.
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from keystead.crypto.asymmetric import (
    ML_DSA_ALGORITHMS,
    ML_KEM_ALGORITHMS,
    AsymmetricAlgorithm,
    load_public,
)
from keystead.errors import UnsupportedAlgorithm

# JWK "crv" names of the curves, by the curve names of cryptography (RFC 7518 section
# 6.2.1.1, RFC 8812 section 3.1).
_CURVES: Final = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
    "secp256k1": "secp256k1",
}


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> str:
    """Encode an unsigned integer big-endian, minimal or padded to ``length`` bytes."""
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def _members(key: PublicKeyTypes) -> dict[str, str]:
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        # Coordinates are as long as the field, leading zeros included (RFC 7518 6.2.1.2).
        size = (key.curve.key_size + 7) // 8
        point = key.public_numbers()
        return {
            "kty": "EC",
            "crv": _CURVES[key.curve.name],
            "x": _uint(point.x, size),
            "y": _uint(point.y, size),
        }
    # What is left, given the spec check of public_jwk: Ed25519 or X25519.
    curve = "X25519" if isinstance(key, x25519.X25519PublicKey) else "Ed25519"
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": curve, "x": b64url(raw)}


def public_jwk(
    algorithm: AsymmetricAlgorithm, public_key_der: bytes, kid: str | None = None
) -> dict[str, str]:
    """Return the public key as a JWK (no private members, ever).

    Args:
        algorithm: The key's spec.
        public_key_der: Its SubjectPublicKeyInfo DER.
        kid: A key id to include as ``"kid"``; left out when None.

    Returns:
        The JWK members, all strings.

    Raises:
        UnsupportedAlgorithm: ML-DSA and ML-KEM keys, which have no registered JWK form.
        InvalidPublicKey: ``public_key_der`` is not a public key of that spec.
    """
    if algorithm in ML_DSA_ALGORITHMS or algorithm in ML_KEM_ALGORITHMS:
        msg = f"{algorithm} keys have no registered JWK form; use PEM or DER"
        raise UnsupportedAlgorithm(msg)
    members = _members(load_public(algorithm, public_key_der))
    if kid is not None:
        members["kid"] = kid
    return members
