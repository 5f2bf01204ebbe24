"""HMAC (RFC 2104, FIPS 198-1) keys: generation, tag computation and constant-time verify."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from keystead.crypto.random import generate_key
from keystead.crypto.secret import KeyMaterial
from keystead.errors import SignatureInvalid


class MacAlgorithm(StrEnum):
    """Closed set of MAC algorithms; each member's value is its spec name."""

    HMAC_SHA256 = "HMAC_SHA256"
    HMAC_SHA384 = "HMAC_SHA384"
    HMAC_SHA512 = "HMAC_SHA512"


# (hashlib name, output bytes). Generated keys are as long as the output: that gives the full
# security of the hash (NIST SP 800-107 Rev. 1 section 5.3.4), and AWS KMS does the same.
_PARAMETERS: Final[Mapping[MacAlgorithm, tuple[str, int]]] = {
    MacAlgorithm.HMAC_SHA256: ("sha256", 32),
    MacAlgorithm.HMAC_SHA384: ("sha384", 48),
    MacAlgorithm.HMAC_SHA512: ("sha512", 64),
}


def key_bytes(algorithm: MacAlgorithm) -> int:
    """Return how long generated (and imported) keys are: the hash's output length."""
    return _PARAMETERS[algorithm][1]


def generate(algorithm: MacAlgorithm) -> KeyMaterial:
    """Return a fresh HMAC key from the OS CSPRNG: 32, 48 or 64 bytes."""
    return generate_key(key_bytes(algorithm))


def tag_bytes(algorithm: MacAlgorithm) -> int:
    """Return the length of the tags :func:`compute` makes."""
    return _PARAMETERS[algorithm][1]


def compute(algorithm: MacAlgorithm, material: KeyMaterial, message: bytes) -> bytes:
    """Return the HMAC tag of ``message``.

    HMAC is defined for keys of any length (RFC 2104 section 2), so imported keys of other
    lengths work too; deciding which lengths to accept at import is the caller's policy.

    Args:
        algorithm: The key's spec.
        material: The version's key.
        message: What to authenticate.

    Returns:
        The full-length tag (32, 48 or 64 bytes).
    """
    with material.expose() as key:
        return hmac.digest(key, message, _PARAMETERS[algorithm][0])


def verify(algorithm: MacAlgorithm, material: KeyMaterial, message: bytes, tag: bytes) -> None:
    """Check ``tag`` against the HMAC of ``message``, in constant time.

    Args:
        algorithm: The key's spec.
        material: The version's key.
        message: The authenticated message.
        tag: The tag to check; truncated tags are not accepted.

    Raises:
        SignatureInvalid: The tag does not match (STYLE.md C14: verify raises).
    """
    if not hmac.compare_digest(compute(algorithm, material, message), tag):
        raise SignatureInvalid
