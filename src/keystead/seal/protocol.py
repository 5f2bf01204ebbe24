"""What the barrier needs from a root of trust: a key that encrypts and opens the keyring.

A Shamir seal's root key is a ``KeyMaterial`` rebuilt in memory from the unseal shares; the
pkcs11 seal's is a non-extractable AES key that never leaves the token, so the barrier asks
it to encrypt instead of holding its bytes (STYLE.md C24 asks for ``wrap_root_key`` and
``unwrap_root_key``; a key that cannot be extracted has no bytes to unwrap).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class RootKey(Protocol):
    """A root key held somewhere the barrier cannot read: it encrypts and decrypts for it."""

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext`` bound to ``associated_data``.

        Raises:
            HSMError: The token cannot be used.
        """
        ...

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        """Open what :meth:`encrypt` made with the same ``associated_data``.

        Raises:
            InvalidRootKey: Not made under this key, or altered.
            HSMError: The token cannot be used.
        """
        ...

    def wipe(self) -> None:
        """Forget whatever this object holds (the key itself stays where it lives)."""
        ...
