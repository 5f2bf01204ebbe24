"""AES-256-GCM with bound associated data: the recipe behind every secret at rest.

Layout of a sealed value::

    nonce (12 bytes) | ciphertext || tag (16 bytes)

Random 96-bit nonces: at most 2^32 encryptions per key (NIST SP 800-38D section 8.3).
The barrier rotates its keyring term long before that, and every failure to open is
the single opaque ``DecryptionFailed`` (STYLE.md C14).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keystead.crypto.random import random_bytes
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed

NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32


def encrypt(key: KeyMaterial, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` bound to ``associated_data``.

    Args:
        key: A 32-byte AES-256 key.
        plaintext: What to protect.
        associated_data: What the ciphertext is bound to (its row, its purpose).

    Returns:
        ``nonce | ciphertext || tag``.
    """
    return _seal_from_parts(key, plaintext, associated_data, random_bytes(NONCE_BYTES))


def _seal_from_parts(
    key: KeyMaterial, plaintext: bytes, associated_data: bytes, nonce: bytes
) -> bytes:
    _check_key(key)
    with key.expose() as raw:
        return nonce + AESGCM(raw).encrypt(nonce, plaintext, associated_data)


def decrypt(key: KeyMaterial, sealed: bytes, associated_data: bytes) -> bytes:
    """Decrypt a value made by :func:`encrypt` with the same associated data.

    Args:
        key: The key it was sealed under.
        sealed: ``nonce | ciphertext || tag``.
        associated_data: The same associated data given to :func:`encrypt`.

    Returns:
        The plaintext.

    Raises:
        DecryptionFailed: On any failure: wrong key, other associated data, any changed
            or missing byte.
    """
    _check_key(key)
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed from None
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    with key.expose() as raw:
        try:
            return AESGCM(raw).decrypt(nonce, body, associated_data)
        except InvalidTag:
            raise DecryptionFailed from None


def _check_key(key: KeyMaterial) -> None:
    if len(key) != KEY_BYTES:
        msg = f"AES-256-GCM needs a {KEY_BYTES}-byte key, got {len(key)}"
        raise ValueError(msg)
