"""The CSPRNG seam: every random byte of Keystead comes from here (STYLE.md C22)."""

from __future__ import annotations

import secrets

from keystead.crypto.secret import KeyMaterial


def random_bytes(length: int) -> bytes:
    """Return ``length`` bytes from the operating system's CSPRNG.

    Args:
        length: How many bytes, at least 1.

    Returns:
        Fresh random bytes.
    """
    if length < 1:
        msg = "length must be at least 1"
        raise ValueError(msg)
    return secrets.token_bytes(length)


def generate_key(length: int = 32) -> KeyMaterial:
    """Return a new symmetric key from the OS CSPRNG.

    Args:
        length: Key length in bytes (32 for AES-256).

    Returns:
        The key, held in a KeyMaterial.
    """
    return KeyMaterial(random_bytes(length))


def random_token(length: int = 32) -> str:
    """Return a URL-safe text token carrying ``length`` random bytes."""
    return secrets.token_urlsafe(length)
