"""RSA-OAEP encryption (RFC 8017 section 7.1) with SHA-256, MGF1-SHA-256 and no label.

The ciphertext is raw big-endian, as long as the modulus. One OAEP block carries at most
``k - 2 * 32 - 2`` bytes: 190 for RSA-2048, 318 for RSA-3072, 446 for RSA-4096.
"""

from __future__ import annotations

from typing import Final, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from keystead.crypto.asymmetric import RSA_ALGORITHMS, AsymmetricAlgorithm, load_private
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed, InvalidPublicKey, UnsupportedAlgorithm

_MODULUS_BITS: Final = {
    AsymmetricAlgorithm.RSA_2048: 2048,
    AsymmetricAlgorithm.RSA_3072: 3072,
    AsymmetricAlgorithm.RSA_4096: 4096,
}
_HASH_BYTES: Final = 32


def oaep_padding() -> padding.OAEP:
    """OAEP with SHA-256, MGF1-SHA-256 and no label: the padding of every RSA wrap here."""
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _limit(modulus_bits: int) -> int:
    # RFC 8017 section 7.1.1 step 1.b: mLen <= k - 2hLen - 2.
    return modulus_bits // 8 - 2 * _HASH_BYTES - 2


def max_plaintext_bytes(algorithm: AsymmetricAlgorithm) -> int:
    """Return the most plaintext bytes one encryption under a key of ``algorithm`` takes.

    Raises:
        UnsupportedAlgorithm: ``algorithm`` is not an RSA spec.
    """
    _check(algorithm)
    return _limit(_MODULUS_BITS[algorithm])


def _check(algorithm: AsymmetricAlgorithm) -> None:
    if algorithm not in RSA_ALGORITHMS:
        msg = f"{algorithm} keys cannot encrypt with RSA-OAEP; RSA_2048/3072/4096 keys can"
        raise UnsupportedAlgorithm(msg)


def _rsa_public_key(public_key_der: bytes) -> rsa.RSAPublicKey:
    try:
        key = load_der_public_key(public_key_der)
    except ValueError:
        raise InvalidPublicKey from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size not in _MODULUS_BITS.values():
        msg = "RSA-OAEP needs an RSA 2048, 3072 or 4096-bit public key"
        raise InvalidPublicKey(msg)
    return key


def encrypt(public_key_der: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` to an RSA public key, as a client could do locally.

    Args:
        public_key_der: SubjectPublicKeyInfo DER of an RSA 2048, 3072 or 4096-bit key.
        plaintext: At most :func:`max_plaintext_bytes` bytes.

    Returns:
        The ciphertext, as long as the modulus.

    Raises:
        InvalidPublicKey: Not such an RSA public key.
        ValueError: The plaintext is longer than one OAEP block takes (the detail says how long).
    """
    key = _rsa_public_key(public_key_der)
    limit = _limit(key.key_size)
    if len(plaintext) > limit:
        msg = (
            f"RSA-{key.key_size} with OAEP-SHA-256 encrypts at most {limit} bytes, "
            f"got {len(plaintext)}"
        )
        raise ValueError(msg)
    return key.encrypt(plaintext, oaep_padding())


def decrypt(algorithm: AsymmetricAlgorithm, material: KeyMaterial, ciphertext: bytes) -> bytes:
    """Decrypt an RSA-OAEP ciphertext made with the public key of this version.

    Args:
        algorithm: The key's spec (RSA_2048, RSA_3072 or RSA_4096).
        material: The version's private key (PKCS#8 DER).
        ciphertext: Raw, as long as the modulus.

    Returns:
        The plaintext.

    Raises:
        UnsupportedAlgorithm: ``algorithm`` is not an RSA spec.
        DecryptionFailed: Any failure, of length, padding or key (STYLE.md C14).
    """
    _check(algorithm)
    # load_private has checked that this is an RSA key of the spec's size.
    key = cast("rsa.RSAPrivateKey", load_private(algorithm, material))
    if len(ciphertext) != key.key_size // 8:
        raise DecryptionFailed
    try:
        return key.decrypt(ciphertext, oaep_padding())
    except ValueError:
        raise DecryptionFailed from None
