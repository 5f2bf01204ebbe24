"""The barrier: owns the sealed state and the keyring that encrypts every secret at rest.

Keyring plaintext (encrypted under the root key with AES-256-GCM, associated data
``b"keystead/keyring/v1"``; a wrong root key fails the tag, which is how a wrong or
foreign set of unseal shares is told apart). A Shamir root key encrypts in memory
(``nonce | ciphertext || tag``, as ``keystead.crypto.aead``); an HSM root key encrypts in
its token (``keystead.seal.pkcs11``)::

    "KSKR" | format 0x01 | active term (u32 BE) | count (u16 BE)
           | count x (term u32 BE | key 32 bytes)

Barrier value (what storage holds in every ``*_wrapped`` column)::

    term (u32 BE) | nonce (12) | ciphertext || tag (16)

with associated data ``b"keystead/barrier/v1" | term | row binding``, so a value copied
onto another row, or re-labelled with another term, fails to decrypt.
"""

from __future__ import annotations

import struct
from typing import Final

from keystead.crypto import aead
from keystead.crypto.random import generate_key
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed, InvalidRootKey, Sealed
from keystead.seal.protocol import RootKey
from keystead.types import Term

_KEYRING_AAD: Final = b"keystead/keyring/v1"
_VALUE_AAD: Final = b"keystead/barrier/v1"
_KEYRING_MAGIC: Final = b"KSKR\x01"
_TERM = struct.Struct(">I")
_HEADER = struct.Struct(">IH")
_KEY_BYTES: Final = 32

AnyRootKey = KeyMaterial | RootKey
"""A root key in memory (Shamir) or one that encrypts for us where it lives (an HSM)."""


def _seal_keyring(root_key: AnyRootKey, plaintext: bytes) -> bytes:
    if isinstance(root_key, KeyMaterial):
        return aead.encrypt(root_key, plaintext, _KEYRING_AAD)
    return root_key.encrypt(plaintext, _KEYRING_AAD)


def _open_keyring(root_key: AnyRootKey, wrapped: bytes) -> bytes:
    if not isinstance(root_key, KeyMaterial):
        return root_key.decrypt(wrapped, _KEYRING_AAD)
    try:
        return aead.decrypt(root_key, wrapped, _KEYRING_AAD)
    except DecryptionFailed:
        raise InvalidRootKey from None


class Keyring:
    """The terms of barrier keys; the newest term encrypts, every term decrypts."""

    __slots__ = ("_active", "_terms")

    def __init__(self, terms: dict[Term, KeyMaterial], active: Term) -> None:
        self._terms = terms
        self._active = active

    @classmethod
    def new(cls) -> Keyring:
        """Return a keyring with a single fresh term, number 1."""
        return cls({Term(1): generate_key(_KEY_BYTES)}, Term(1))

    @property
    def active_term(self) -> Term:
        """The term that encrypts new values."""
        return self._active

    def key(self, term: Term) -> KeyMaterial:
        """Return the key of ``term``.

        Raises:
            DecryptionFailed: No such term.
        """
        try:
            return self._terms[term]
        except KeyError:
            raise DecryptionFailed from None

    def rotated(self) -> Keyring:
        """Return a keyring with one more term, which becomes the active one."""
        term = Term(max(self._terms) + 1)
        return Keyring({**self._terms, term: generate_key(_KEY_BYTES)}, term)

    def wrap(self, root_key: AnyRootKey) -> bytes:
        """Serialise and encrypt the keyring under the root key.

        Raises:
            HSMError: An HSM root key's token cannot be used.
        """
        parts = [_KEYRING_MAGIC, _HEADER.pack(self._active, len(self._terms))]
        for term in sorted(self._terms):
            with self._terms[term].expose() as raw:
                parts.append(_TERM.pack(term) + raw)
        return _seal_keyring(root_key, b"".join(parts))

    @classmethod
    def unwrap(cls, root_key: AnyRootKey, wrapped: bytes) -> Keyring:
        """Decrypt and parse a keyring made by :meth:`wrap`.

        Raises:
            InvalidRootKey: ``root_key`` is not the key the keyring was wrapped under.
            HSMError: An HSM root key's token cannot be used.
        """
        plain = _open_keyring(root_key, wrapped)
        active, count = _HEADER.unpack_from(plain, len(_KEYRING_MAGIC))
        offset = len(_KEYRING_MAGIC) + _HEADER.size
        terms: dict[Term, KeyMaterial] = {}
        for _ in range(count):
            (term,) = _TERM.unpack_from(plain, offset)
            start = offset + _TERM.size
            terms[Term(term)] = KeyMaterial(plain[start : start + _KEY_BYTES])
            offset = start + _KEY_BYTES
        return cls(terms, Term(active))

    def has(self, term: Term) -> bool:
        """Whether this keyring holds ``term``."""
        return term in self._terms

    def wipe(self) -> None:
        """Overwrite every term's key."""
        for key in self._terms.values():
            key.wipe()

    def wipe_except(self, successor: Keyring) -> None:
        """Overwrite the keys that ``successor`` does not share with this keyring."""
        kept = {id(key) for key in successor._terms.values()}
        for key in self._terms.values():
            if id(key) not in kept:
                key.wipe()


class Barrier:
    """Holds the root key and keyring while unsealed; refuses everything while sealed."""

    __slots__ = ("_keyring", "_root_key")

    def __init__(self) -> None:
        self._root_key: AnyRootKey | None = None
        self._keyring: Keyring | None = None

    def __repr__(self) -> str:
        return f"Barrier(sealed={self.sealed})"

    @property
    def sealed(self) -> bool:
        """Whether the barrier holds no keyring."""
        return self._keyring is None

    @property
    def active_term(self) -> Term:
        """The keyring term that encrypts new values.

        Raises:
            Sealed: The barrier is sealed.
        """
        return self._require_keyring().active_term

    def require_unsealed(self) -> None:
        """Return quietly when unsealed.

        Raises:
            Sealed: The barrier is sealed.
        """
        self._require_keyring()

    def unseal(self, root_key: AnyRootKey, keyring_wrapped: bytes) -> None:
        """Open the keyring with ``root_key`` and keep both in memory.

        Raises:
            InvalidRootKey: The root key does not open this keyring.
            HSMError: An HSM root key's token cannot be used.
        """
        keyring = Keyring.unwrap(root_key, keyring_wrapped)
        if self._root_key is root_key:
            self._root_key = None  # the caller hands back the key we hold: keep, don't wipe
        self.seal()
        self._root_key, self._keyring = root_key, keyring

    def seal(self) -> None:
        """Drop and overwrite the root key and every keyring term."""
        if self._keyring is not None:
            self._keyring.wipe()
        if self._root_key is not None:
            self._root_key.wipe()
        self._root_key = self._keyring = None

    def rotate(self, stored: bytes | None = None) -> bytes:
        """Add a keyring term, make it active, and return the keyring to persist.

        Args:
            stored: The keyring as persisted now. Another node may have rotated it since
                this one unsealed, so the new term is added to it, not to this copy.

        Raises:
            Sealed: The barrier is sealed.
            InvalidRootKey: ``stored`` is not a keyring of this root key.
            HSMError: An HSM root key's token cannot be used.
        """
        root_key = self._require_root_key()
        base = self._require_keyring() if stored is None else Keyring.unwrap(root_key, stored)
        keyring = base.rotated()
        wrapped = keyring.wrap(root_key)
        self._adopt(keyring)
        return wrapped

    def reload(self, stored: bytes) -> None:
        """Adopt the persisted keyring, which another node may have rotated.

        Raises:
            Sealed: The barrier is sealed.
            InvalidRootKey: ``stored`` is not a keyring of this root key.
            HSMError: An HSM root key's token cannot be used.
        """
        self._adopt(Keyring.unwrap(self._require_root_key(), stored))

    def knows_term(self, value: bytes) -> bool:
        """Whether the keyring holds the term a stored value names.

        Raises:
            Sealed: The barrier is sealed.
        """
        keyring = self._require_keyring()
        if len(value) < _TERM.size:
            return False
        return keyring.has(Term(_TERM.unpack_from(value)[0]))

    def _adopt(self, keyring: Keyring) -> None:
        previous = self._keyring
        self._keyring = keyring
        if previous is not None:
            previous.wipe_except(keyring)

    def _require_root_key(self) -> AnyRootKey:
        self._require_keyring()
        if self._root_key is None:  # pragma: no cover - set together with the keyring
            raise Sealed
        return self._root_key

    def encrypt(self, plaintext: bytes, binding: bytes) -> bytes:
        """Encrypt a value for storage, bound to its row by ``binding``.

        Raises:
            Sealed: The barrier is sealed.
        """
        keyring = self._require_keyring()
        term = _TERM.pack(keyring.active_term)
        key = keyring.key(keyring.active_term)
        return term + aead.encrypt(key, plaintext, _VALUE_AAD + term + binding)

    def decrypt(self, value: bytes, binding: bytes) -> bytes:
        """Decrypt a value made by :meth:`encrypt` with the same ``binding``.

        Raises:
            Sealed: The barrier is sealed.
            DecryptionFailed: Unknown term, other binding, or any changed byte.
        """
        keyring = self._require_keyring()
        if len(value) < _TERM.size:
            raise DecryptionFailed
        term = value[: _TERM.size]
        key = keyring.key(Term(_TERM.unpack(term)[0]))
        return aead.decrypt(key, value[_TERM.size :], _VALUE_AAD + term + binding)

    def _require_keyring(self) -> Keyring:
        if self._keyring is None:
            raise Sealed
        return self._keyring


def new_keyring_for(root_key: AnyRootKey) -> bytes:
    """Create the first keyring and return it wrapped under ``root_key``.

    Raises:
        HSMError: An HSM root key's token cannot be used.
    """
    keyring = Keyring.new()
    try:
        return keyring.wrap(root_key)
    finally:
        keyring.wipe()


def rewrap_keyring(wrapped: bytes, old_root_key: AnyRootKey, new_root_key: AnyRootKey) -> bytes:
    """Move a keyring from one root key to another: its terms, and so every value, stay.

    This is all a seal migration changes: nothing encrypted under the keyring is touched.

    Raises:
        InvalidRootKey: ``old_root_key`` does not open ``wrapped``.
        HSMError: An HSM root key's token cannot be used.
    """
    keyring = Keyring.unwrap(old_root_key, wrapped)
    try:
        return keyring.wrap(new_root_key)
    finally:
        keyring.wipe()
