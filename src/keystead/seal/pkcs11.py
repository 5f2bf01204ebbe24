"""The pkcs11 seal's root key: a non-extractable AES-256 key inside the token, used by AES-GCM.

The key is made at init with ``CKA_TOKEN``, ``CKA_SENSITIVE`` and ``CKA_PRIVATE`` true and
``CKA_EXTRACTABLE`` false, labelled ``pkcs11_key_label`` and given a random 16-byte
``CKA_ID`` that the server stores, so two servers sharing a token and a label never take
each other's key. The keyring is encrypted in the token (``CKM_AES_GCM``, a 96-bit random
nonce, a 128-bit tag)::

    nonce (12 bytes) | ciphertext || tag (16 bytes)

with the barrier's associated data. Nothing of the key is ever in this process's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, Session
from pkcs11 import exceptions as p11
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin, Key

from keystead.crypto.random import random_bytes
from keystead.errors import InvalidRootKey
from keystead.seal.pkcs11_library import describe
from keystead.seal.pkcs11_token import PKCS11Token

__all__ = [
    "KEY_ID_BYTES",
    "REJECTED",
    "PKCS11RootKey",
    "PKCS11Seal",
    "destroy_root_key",
    "generate_root_key",
    "one_shot",
]

KEY_ID_BYTES: Final = 16
_NONCE_BYTES: Final = 12
_TAG_BITS: Final = 128
_AES_256_BITS: Final = 256
# A wrong key or an altered ciphertext: SoftHSM2 answers CKR_GENERAL_ERROR for a bad GCM tag,
# others CKR_ENCRYPTED_DATA_INVALID; none of them is cured by reconnecting.
REJECTED: Final = (
    p11.EncryptedDataInvalid, p11.EncryptedDataLenRange, p11.DataInvalid, p11.DataLenRange,
    p11.GeneralError, p11.FunctionFailed,
)  # fmt: skip


class PKCS11Seal:
    """The pkcs11 seal of one server: its token, and the label new root keys are given."""

    __slots__ = ("key_label", "token")

    def __init__(self, token: PKCS11Token, key_label: str) -> None:
        self.token = token
        self.key_label = key_label

    def __repr__(self) -> str:
        return f"PKCS11Seal(token={self.token!r}, key_label={self.key_label!r})"

    def connect(self) -> None:
        """Reach the token and log in (or check that it is still reachable).

        Raises:
            HSMError: The module, the token or the PIN is wrong, or the token fails.
        """
        self.token.connect()

    def new_root_key(self) -> PKCS11RootKey:
        """Generate a root key in the token (init, or a migration to this seal).

        Raises:
            HSMError: The token cannot be reached or cannot make the key.
        """
        return generate_root_key(self.token, self.key_label)

    def root_key(self, label: str, key_id: bytes) -> PKCS11RootKey:
        """The root key made before, as stored with the seal configuration."""
        return PKCS11RootKey(self.token, label, key_id)

    def close(self) -> None:
        """Close the token's sessions."""
        self.token.close()


class PKCS11RootKey:
    """The root key in the token, found by its label and id; it encrypts the keyring there."""

    __slots__ = ("key_id", "label", "token")

    def __init__(self, token: PKCS11Token, label: str, key_id: bytes) -> None:
        self.token = token
        self.label = label
        self.key_id = key_id

    def __repr__(self) -> str:
        return f"PKCS11RootKey(label={self.label!r}, token={self.token.label!r})"

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt in the token with AES-256-GCM.

        Raises:
            HSMError: The token cannot be used, or has no such key.
        """
        nonce = random_bytes(_NONCE_BYTES)

        def operation(session: Session) -> bytes:
            key = _find_key(session, self.label, self.key_id)
            if not isinstance(key, EncryptMixin):  # pragma: no cover - made with CKA_ENCRYPT
                raise p11.KeyTypeInconsistent
            params = GCMParams(nonce, associated_data, _TAG_BITS)
            return one_shot(key.encrypt(plaintext, mechanism=Mechanism.AES_GCM,
                                         mechanism_param=params))  # fmt: skip

        try:
            return nonce + self.token.run(operation, "encrypting the keyring")
        except p11.PKCS11Error as exc:
            raise describe(exc, "encrypting the keyring") from None

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        """Decrypt in the token.

        Raises:
            InvalidRootKey: The tag does not match: another key, or an altered keyring.
            HSMError: The token cannot be used, or has no such key.
        """
        if len(ciphertext) < _NONCE_BYTES + _TAG_BITS // 8:
            raise InvalidRootKey
        nonce, body = ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:]

        def operation(session: Session) -> bytes:
            key = _find_key(session, self.label, self.key_id)
            if not isinstance(key, DecryptMixin):  # pragma: no cover - made with CKA_DECRYPT
                raise p11.KeyTypeInconsistent
            params = GCMParams(nonce, associated_data, _TAG_BITS)
            try:
                return one_shot(key.decrypt(body, mechanism=Mechanism.AES_GCM,
                                             mechanism_param=params))  # fmt: skip
            except REJECTED:
                raise InvalidRootKey from None

        try:
            return self.token.run(operation, "decrypting the keyring")
        except p11.PKCS11Error as exc:
            raise describe(exc, "decrypting the keyring") from None

    def wipe(self) -> None:
        """Nothing to wipe: the key never leaves the token."""


def generate_root_key(token: PKCS11Token, label: str) -> PKCS11RootKey:
    """Generate the root key inside the token: AES-256, sensitive, never extractable.

    Raises:
        HSMError: The token cannot be reached, or cannot make such a key.
    """
    key_id = random_bytes(KEY_ID_BYTES)
    template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
        Attribute.DERIVE: False,
    }

    def operation(session: Session) -> None:
        session.generate_key(
            KeyType.AES, _AES_256_BITS, label=label, id=key_id, store=True, template=template
        )

    try:
        token.run(operation, "generating the root key")
    except p11.PKCS11Error as exc:
        raise describe(exc, "generating the root key") from None
    return PKCS11RootKey(token, label, key_id)


def destroy_root_key(root_key: PKCS11RootKey) -> None:
    """Destroy a root key that was made but never used (an init that lost a race).

    Raises:
        HSMError: The token cannot be used.
    """

    def operation(session: Session) -> None:
        _find_key(session, root_key.label, root_key.key_id).destroy()

    try:
        root_key.token.run(operation, "destroying an unused root key")
    except p11.PKCS11Error as exc:
        raise describe(exc, "destroying an unused root key") from None


def _find_key(session: Session, label: str, key_id: bytes) -> Key:
    return session.get_key(
        object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label, id=key_id
    )


def one_shot(result: bytes | Iterator[bytes]) -> bytes:
    """The bytes of a python-pkcs11 encrypt or decrypt, however it answered."""
    # Given bytes, python-pkcs11 answers bytes; an iterator only for streamed input.
    return result if isinstance(result, bytes) else b"".join(result)
