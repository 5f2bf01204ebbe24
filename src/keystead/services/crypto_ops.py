"""Encrypt, decrypt, re-encrypt and data keys: material is used here and never returned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from keystead.crypto import asymmetric, rsa_oaep, symmetric
from keystead.crypto.random import random_bytes
from keystead.domain.models import Principal
from keystead.domain.operations import KeyOperation, check_permitted
from keystead.domain.specs import SYMMETRIC_AEAD, KeyUsage
from keystead.errors import (
    DecryptionFailed,
    KeyNotFound,
    KeysteadError,
    KeyVersionNotFound,
    UnsupportedOperation,
    ValidationFailed,
)
from keystead.services.access import AccessService
from keystead.services.hsm_keys import is_hsm
from keystead.services.key_cache import CachedKey
from keystead.services.keys import KeyService
from keystead.services.operations import check_usage, process_version
from keystead.services.usage import UsageMeter
from keystead.types import KeyId

MAX_PLAINTEXT_BYTES: Final = 64 * 1024
MAX_RANDOM_BYTES: Final = 1024


@dataclass(frozen=True, slots=True)
class Encrypted:
    """A ciphertext and the key version that made it."""

    ciphertext: bytes
    key_id: KeyId
    version: int


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A plaintext and the key version that opened it."""

    plaintext: bytes = field(repr=False)
    key_id: KeyId
    version: int


@dataclass(frozen=True, slots=True)
class DataKey:
    """A fresh data key wrapped under a Keystead key, and in the clear if asked for."""

    ciphertext: bytes
    plaintext: bytes | None = field(repr=False)
    key_id: KeyId
    version: int


class CryptoService:
    """Encryption operations; key material never leaves this class."""

    def __init__(self, keys: KeyService, meter: UsageMeter, access: AccessService) -> None:
        self._access = access
        self._keys = keys
        self._meter = meter

    async def encrypt(
        self, principal: Principal, reference: str, plaintext: bytes, context: Mapping[str, str]
    ) -> Encrypted:
        """Encrypt under the primary version: the section 4 envelope, or RSA-OAEP.

        Raises:
            PermissionDenied: The caller may not use this key.
            KeyNotFound: No key has that id or name.
            KeyStateForbidsOperation: The key's state does not allow encryption.
            UnsupportedOperation: The key is not for encryption.
            ValidationFailed: The plaintext is too large.
            HSMError: An HSM-protected key's token fails.
            Sealed: The server is sealed.
        """
        entry = await self._keys.authorized(principal, "keys.encrypt", reference)
        key = entry.key
        check_usage(key, KeyUsage.ENCRYPT_DECRYPT, "encrypt")
        entry, version = await self._meter.protect(entry, KeyOperation.ENCRYPT)
        if key.spec not in SYMMETRIC_AEAD:
            algorithm = asymmetric.AsymmetricAlgorithm(key.spec.value)
            _check_size(plaintext, rsa_oaep.max_plaintext_bytes(algorithm))
            public = await self._keys.public_key(entry, version)
            return Encrypted(rsa_oaep.encrypt(public, plaintext), key.id, version)
        _check_size(plaintext, MAX_PLAINTEXT_BYTES)
        return await self._seal(entry, version, plaintext, context)

    async def encrypt_many(
        self,
        principal: Principal,
        reference: str,
        items: Sequence[tuple[bytes, Mapping[str, str]]],
    ) -> list[Encrypted | KeysteadError]:
        """Encrypt a batch under the key's primary version; each item gets its own result.

        The key is checked once; an item that fails (too large, a state change under way)
        fails alone.

        Raises:
            PermissionDenied: The caller may not use this key.
            KeyNotFound: No key has that id or name.
            UnsupportedOperation: The key is not a symmetric encryption key.
        """
        entry = await self._keys.authorized(principal, "keys.encrypt", reference)
        check_usage(entry.key, KeyUsage.ENCRYPT_DECRYPT, "encrypt")
        if entry.key.spec not in SYMMETRIC_AEAD:
            msg = "batches are for symmetric keys; encrypt RSA-OAEP items one by one"
            raise UnsupportedOperation(msg)
        results: list[Encrypted | KeysteadError] = []
        for plaintext, context in items:
            try:
                _check_size(plaintext, MAX_PLAINTEXT_BYTES)
                entry, version = await self._meter.protect(entry, KeyOperation.ENCRYPT)
                results.append(await self._seal(entry, version, plaintext, context))
            except KeysteadError as error:
                results.append(error)
        return results

    async def _seal(
        self, entry: CachedKey, version: int, plaintext: bytes, context: Mapping[str, str]
    ) -> Encrypted:
        if is_hsm(entry.key):
            sealed = await self._keys.hsm.encrypt(entry, version, plaintext, context)
            return Encrypted(sealed, entry.key.id, version)
        prepared = await self._keys.prepared(entry, version)
        return Encrypted(prepared.encrypt(plaintext, context), entry.key.id, version)

    async def decrypt(
        self, principal: Principal, ciphertext: bytes, context: Mapping[str, str]
    ) -> Decrypted:
        """Decrypt a section 4 envelope; the key and version come from its header.

        Raises:
            PermissionDenied: The caller may not use this key.
            DecryptionFailed: Not an envelope, an unknown key or version, or any tampering.
            KeyStateForbidsOperation: The key's state does not allow decryption.
            KeyVersionTooOld: The version is below the key's min_decryption_version.
            KeyDestroyed: The version's material was destroyed.
            HSMError: An HSM-protected key's token fails.
            Sealed: The server is sealed.
        """
        key_id, version = symmetric.read_header(ciphertext)
        try:
            entry = await self._keys.resolve(str(key_id))
        except KeyNotFound:
            raise DecryptionFailed from None
        await self._access.check_entry(principal, "keys.decrypt", entry)
        return await self._open(entry, version, ciphertext, context)

    async def _open(
        self, entry: CachedKey, version: int, ciphertext: bytes, context: Mapping[str, str]
    ) -> Decrypted:
        key = entry.key
        if key.spec not in SYMMETRIC_AEAD:
            raise DecryptionFailed
        try:
            chosen = process_version(entry, KeyOperation.DECRYPT, version)
            if is_hsm(key):
                opened = await self._keys.hsm.decrypt(entry, chosen, ciphertext, context)
                return Decrypted(opened, key.id, chosen)
            prepared = await self._keys.prepared(entry, chosen)
        except KeyVersionNotFound:
            raise DecryptionFailed from None
        return Decrypted(prepared.decrypt(ciphertext, context), key.id, chosen)

    async def decrypt_with(  # noqa: PLR0913, PLR0917 - the decrypt fields, and which action checks it
        self,
        principal: Principal,
        reference: str,
        ciphertext: bytes,
        context: Mapping[str, str],
        version: int | None = None,
        action: str = "keys.decrypt",
    ) -> Decrypted:
        """Decrypt with a named key: RSA-OAEP for RSA keys, else this key's own envelope.

        Raises:
            DecryptionFailed: The ciphertext is not this key's, or was tampered with.
            KeyStateForbidsOperation: The key's state does not allow decryption.
            KeyVersionTooOld: The version is below the key's min_decryption_version.
            UnsupportedOperation: The key is not for encryption.
        """
        entry = await self._keys.authorized(principal, action, reference)
        key = entry.key
        check_usage(key, KeyUsage.ENCRYPT_DECRYPT, "decrypt")
        check_permitted(key.state, KeyOperation.DECRYPT)
        if key.spec in SYMMETRIC_AEAD:
            key_id, blob_version = symmetric.read_header(ciphertext)
            if key_id != key.id:
                raise DecryptionFailed
            return await self._open(entry, blob_version, ciphertext, context)
        chosen = process_version(entry, KeyOperation.DECRYPT, version)
        if is_hsm(key):
            opened = await self._keys.hsm.rsa_decrypt(entry, chosen, ciphertext)
            return Decrypted(opened, key.id, chosen)
        material = await self._keys.material(entry, chosen)
        algorithm = asymmetric.AsymmetricAlgorithm(key.spec.value)
        return Decrypted(rsa_oaep.decrypt(algorithm, material, ciphertext), key.id, chosen)

    async def reencrypt(
        self,
        principal: Principal,
        reference: str,
        ciphertext: bytes,
        context: Mapping[str, str],
        destination: str | None = None,
    ) -> Encrypted:
        """Decrypt and encrypt again under the primary version of this or another key.

        The plaintext never leaves the server.

        Raises:
            DecryptionFailed: The ciphertext is not the key's given as ``reference``.
            KeyStateForbidsOperation: Either key's state forbids its half.
        """
        opened = await self.decrypt_with(
            principal, reference, ciphertext, context, action="keys.reencrypt"
        )
        target = destination or str(opened.key_id)
        return await self.encrypt(principal, target, opened.plaintext, context)

    async def data_key(
        self,
        principal: Principal,
        reference: str,
        size_bytes: int,
        context: Mapping[str, str],
        *,
        with_plaintext: bool,
    ) -> DataKey:
        """Make a fresh data key and return it wrapped (and in the clear if asked for).

        Raises:
            UnsupportedOperation: The key is not a symmetric encryption key.
            KeyStateForbidsOperation: The key's state does not allow encryption.
        """
        entry = await self._keys.authorized(
            principal, "keys.data_key" if with_plaintext else "keys.data_key_wrapped", reference
        )
        key = entry.key
        check_usage(key, KeyUsage.ENCRYPT_DECRYPT, "wrap data keys")
        if key.spec not in SYMMETRIC_AEAD:
            msg = f"data keys are wrapped by symmetric keys, not {key.spec}"
            raise UnsupportedOperation(msg)
        entry, version = await self._meter.protect(entry, KeyOperation.ENCRYPT)
        fresh = symmetric.generate_data_key(size_bytes)
        try:
            with fresh.expose() as raw:
                wrapped = await self._seal(entry, version, raw, context)
                plaintext = raw if with_plaintext else None
        finally:
            fresh.wipe()
        return DataKey(wrapped.ciphertext, plaintext, key.id, version)


def random(count: int) -> bytes:
    """Return ``count`` bytes from the OS CSPRNG (1 to 1024).

    Raises:
        ValidationFailed: Out of range.
    """
    if not 1 <= count <= MAX_RANDOM_BYTES:
        msg = f"bytes must be 1 to {MAX_RANDOM_BYTES}"
        raise ValidationFailed(msg)
    return random_bytes(count)


def _check_size(plaintext: bytes, limit: int) -> None:
    if len(plaintext) > limit:
        msg = f"plaintext is limited to {limit} bytes for this key; use a data key"
        raise ValidationFailed(msg)
