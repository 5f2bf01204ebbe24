"""Recovery keys: Shamir shares that authorise, as Vault's do with an auto-unseal seal.

With the pkcs11 seal the root key lives in the token, so the shares made at init are of a
separate 32-byte recovery key that decrypts nothing. A quorum of them proves the operators
agree (a new root token, unsealing after a manual seal, a seal migration). The server keeps
only a check value::

    HMAC-SHA256(recovery key, b"keystead/recovery-check/v1"), 64 hex digits (ASCII)

which tells a right quorum from a wrong one without revealing the key: it is a MAC under a
uniformly random 256-bit key, so it cannot be inverted or guessed.
"""

from __future__ import annotations

from typing import Final

from keystead.crypto import hashing
from keystead.crypto.secret import KeyMaterial
from keystead.errors import InvalidRootKey

_CHECK_LABEL: Final = b"keystead/recovery-check/v1"


def check_value(recovery_key: KeyMaterial) -> bytes:
    """Return the value that :func:`verify` compares a rebuilt recovery key against."""
    return hashing.keyed_digest(recovery_key, _CHECK_LABEL).encode("ascii")


def verify(recovery_key: KeyMaterial, check: bytes) -> None:
    """Return quietly if ``recovery_key`` is the key ``check`` was made from.

    Raises:
        InvalidRootKey: It is not (wrong, corrupted or foreign recovery shares).
    """
    if not hashing.equal(check_value(recovery_key), check):
        raise InvalidRootKey
