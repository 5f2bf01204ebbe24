"""ML-KEM key encapsulation (FIPS 203): a shared secret and its encapsulation.

The shared secret is 32 bytes; the encapsulation (ciphertext) is 1088 bytes for
ML-KEM-768 and 1568 bytes for ML-KEM-1024.
"""

from __future__ import annotations

from typing import cast

from cryptography.hazmat.primitives.asymmetric import mlkem

from keystead.crypto.asymmetric import (
    ML_KEM_ALGORITHMS,
    AsymmetricAlgorithm,
    load_private,
    load_public,
)
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed, UnsupportedAlgorithm

_PrivateKey = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
_PublicKey = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey


def _check(algorithm: AsymmetricAlgorithm) -> None:
    if algorithm not in ML_KEM_ALGORITHMS:
        msg = f"{algorithm} keys cannot encapsulate; ML_KEM_768 and ML_KEM_1024 keys can"
        raise UnsupportedAlgorithm(msg)


def encapsulate(algorithm: AsymmetricAlgorithm, public_key_der: bytes) -> tuple[KeyMaterial, bytes]:
    """Make a fresh shared secret and its encapsulation under an ML-KEM public key.

    Args:
        algorithm: The key's spec.
        public_key_der: SubjectPublicKeyInfo DER of the ML-KEM public key.

    Returns:
        ``(shared secret, encapsulation)``; only the holder of the private key can
        recover the secret from the encapsulation.

    Raises:
        UnsupportedAlgorithm: ``algorithm`` is not an ML-KEM spec.
        InvalidPublicKey: ``public_key_der`` is not an ML-KEM public key of that spec.
    """
    _check(algorithm)
    # load_public has checked that this is an ML-KEM key of the spec.
    key = cast("_PublicKey", load_public(algorithm, public_key_der))
    shared_secret, encapsulation = key.encapsulate()
    return KeyMaterial(shared_secret), encapsulation


def decapsulate(
    algorithm: AsymmetricAlgorithm, material: KeyMaterial, encapsulation: bytes
) -> KeyMaterial:
    """Recover the shared secret from an encapsulation made against this version's key.

    An encapsulation of the right length that was made for another key does not fail:
    ML-KEM's implicit rejection (FIPS 203 algorithm 18) returns an unrelated secret, so
    the protocol on top must confirm the secret (for example with an AEAD tag).

    Args:
        algorithm: The key's spec.
        material: The version's private key (PKCS#8 DER, seed form).
        encapsulation: The ciphertext made by the encapsulating side.

    Returns:
        The 32-byte shared secret.

    Raises:
        UnsupportedAlgorithm: ``algorithm`` is not an ML-KEM spec.
        DecryptionFailed: The encapsulation has the wrong length.
    """
    _check(algorithm)
    # load_private has checked that this is an ML-KEM key of the spec.
    key = cast("_PrivateKey", load_private(algorithm, material))
    try:
        return KeyMaterial(key.decapsulate(encapsulation))
    except ValueError:  # cryptography checks the length, the only thing it can check
        raise DecryptionFailed from None
