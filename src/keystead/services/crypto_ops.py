"""Cryptographic operations on keys: encrypt and decrypt so far (more with issue 3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keystead.crypto import symmetric
from keystead.domain.models import Principal
from keystead.domain.operations import KeyOperation, check_permitted
from keystead.domain.specs import KeyUsage
from keystead.errors import DecryptionFailed, KeyNotFound, KeyVersionNotFound, ValidationFailed
from keystead.services.keys import KeyService, require_root
from keystead.types import KeyId

MAX_PLAINTEXT_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Encrypted:
    """An envelope and where it came from."""

    ciphertext: bytes
    key_id: KeyId
    version: int


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A plaintext and the key version that opened it."""

    plaintext: bytes = field(repr=False)
    key_id: KeyId
    version: int


class CryptoService:
    """Uses key material; never returns it."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    async def encrypt(
        self,
        principal: Principal,
        reference: str,
        plaintext: bytes,
        context: Mapping[str, str],
    ) -> Encrypted:
        """Encrypt under the key's primary version into the section 4 envelope.

        Raises:
            PermissionDenied: The caller may not use this key.
            KeyNotFound: No key has that id or name.
            KeyStateForbidsOperation: The key's state does not allow encryption.
            ValidationFailed: Plaintext too large, or the key is not for encryption.
            Sealed: The server is sealed.
        """
        require_root(principal)
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            msg = f"plaintext is limited to {MAX_PLAINTEXT_BYTES} bytes; use a data key"
            raise ValidationFailed(msg)
        entry = await self._keys.resolve(reference)
        key = entry.key
        _check_usage(key.usage)
        check_permitted(key.state, KeyOperation.ENCRYPT)
        material = await self._keys.material(entry, key.primary_version)
        algorithm = symmetric.AeadAlgorithm(key.spec.value)
        header = (key.id, key.primary_version)
        ciphertext = symmetric.encrypt(algorithm, material, header, plaintext, context)
        return Encrypted(ciphertext, key.id, key.primary_version)

    async def decrypt(
        self, principal: Principal, ciphertext: bytes, context: Mapping[str, str]
    ) -> Decrypted:
        """Decrypt an envelope; the key and version come from its header.

        Raises:
            PermissionDenied: The caller may not use this key.
            DecryptionFailed: Not an envelope, unknown key, or any tampering.
            KeyStateForbidsOperation: The key's state does not allow decryption.
            Sealed: The server is sealed.
        """
        require_root(principal)
        key_id, version = symmetric.read_header(ciphertext)
        try:
            entry = await self._keys.resolve(str(key_id))
        except KeyNotFound:
            raise DecryptionFailed from None
        key = entry.key
        check_permitted(key.state, KeyOperation.DECRYPT)
        try:
            material = await self._keys.material(entry, version)
        except KeyVersionNotFound:
            raise DecryptionFailed from None
        algorithm = symmetric.AeadAlgorithm(key.spec.value)
        plaintext = symmetric.decrypt(algorithm, material, ciphertext, context)
        return Decrypted(plaintext, key.id, version)


def _check_usage(usage: KeyUsage) -> None:
    if usage is not KeyUsage.ENCRYPT_DECRYPT:
        msg = f"a key for {usage} cannot encrypt"
        raise ValidationFailed(msg)
