"""Reading the header of a Keystead ciphertext on the client side (ARCHITECTURE.md section 4).

Only the fixed header is read: the key id tells which key a ciphertext belongs to, without
asking the server. Nothing here decrypts or checks integrity; the server does both.

Byte by byte::

    offset  size  field
    0       2     magic "KS"
    2       1     format 0x01
    3       16    key id (UUID bytes)
    19      4     key version (u32 big-endian)
    23      1     algorithm id
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

MAGIC: Final = b"KS\x01"
_KEY_ID: Final = slice(3, 19)
HEADER_BYTES: Final = 24


def is_keystead_ciphertext(data: bytes) -> bool:
    """Return whether ``data`` starts like a Keystead ciphertext (magic, format, full header)."""
    return len(data) >= HEADER_BYTES and data.startswith(MAGIC)


def ciphertext_key_id(ciphertext: bytes) -> str:
    """Return the id of the key that made a Keystead ciphertext: bytes 3 to 19 of its header.

    Args:
        ciphertext: A ciphertext returned by ``keys.encrypt`` (raw bytes, not base64).

    Returns:
        The key id as the server writes it: a lowercase UUID with hyphens.

    Raises:
        ValueError: ``ciphertext`` does not start with a Keystead header.
    """
    if not is_keystead_ciphertext(ciphertext):
        msg = "not a Keystead ciphertext: it must start with 'KS', format 0x01 and a 24-byte header"
        raise ValueError(msg)
    return str(UUID(bytes=ciphertext[_KEY_ID]))
