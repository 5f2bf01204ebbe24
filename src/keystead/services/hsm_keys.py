"""HSM-protected keys from the services' side: which keys may be, and token calls off the loop.

The token does the work (``keystead.seal.pkcs11_keys``); this module checks a request for an
HSM key against the seal and the token, finds a version's token object id in the database,
and runs every blocking PKCS#11 call in a worker thread, as the seal does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

import structlog

from keystead.domain.models import Key
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import (
    KeyDestroyed,
    KeysteadError,
    KeyVersionNotFound,
    StorageIntegrityError,
    ValidationFailed,
)
from keystead.seal.pkcs11_keys import HSMKeyStore, object_id
from keystead.services.key_cache import CachedKey
from keystead.storage.uow import Database
from keystead.types import KeyId

HSM: Final = "HSM"
"""The protection of a key whose material is generated and used inside the pkcs11 token."""
SOFTWARE: Final = "SOFTWARE"
PROTECTIONS: Final = frozenset({HSM, SOFTWARE})
_NO_HSM: Final = (
    'protection "HSM" needs the pkcs11 seal: HSM-protected keys live in its token; set '
    "seal = pkcs11 (KEYSTEAD_SEAL) with pkcs11_module, pkcs11_token_label and pkcs11_pin"
)
_log = structlog.get_logger("keystead.services")


def is_hsm(key: Key) -> bool:
    """Whether a key's material lives in the token."""
    return key.protection == HSM


class HSMKeys:
    """The HSM-protected keys of a server whose seal is pkcs11 (``store`` None otherwise)."""

    def __init__(self, database: Database, store: HSMKeyStore | None) -> None:
        self._database = database
        self._store = store

    def __repr__(self) -> str:
        return f"HSMKeys(store={self._store!r})"

    def require_store(self) -> HSMKeyStore:
        """The token's key store.

        Raises:
            ValidationFailed: This server's seal is not pkcs11.
        """
        if self._store is None:
            raise ValidationFailed(_NO_HSM)
        return self._store

    async def check_new(self, spec: KeySpec, usage: KeyUsage, *, exportable: bool) -> None:
        """Refuse an HSM key this server or its token cannot make.

        Raises:
            ValidationFailed: The seal is not pkcs11, or the key is asked to be exportable.
            UnsupportedAlgorithm: The token cannot do the spec; the message names those it can.
            HSMError: The token cannot be reached.
        """
        store = self.require_store()
        if exportable:
            msg = "an HSM-protected key cannot be exportable: its material never leaves the token"
            raise ValidationFailed(msg)
        # A spec no token does here (MAC, ML-DSA, secp256k1...) is refused as one this token
        # lacks: the message names what it can do.
        await asyncio.to_thread(store.check_spec, spec, usage)

    async def generate(self, key: Key, version: int) -> tuple[bytes, bytes | None]:
        """Generate a version of ``key`` in the token; return its object id and public key.

        Raises:
            UnsupportedAlgorithm: The token cannot make it.
            HSMError: The token fails.
        """
        store = self.require_store()
        return await asyncio.to_thread(store.generate, key.spec, key.usage, key.id, version)

    async def discard(self, ident: bytes) -> None:
        """Destroy objects made for a version that was never stored (best effort, logged)."""
        try:
            await asyncio.to_thread(self.require_store().destroy, ident)
        except KeysteadError as exc:
            _log.warning("could not destroy an unused HSM key object", error=exc.code)

    async def object_id(self, entry: CachedKey, version: int) -> bytes:
        """Return a version's token object id, from the cache or the database.

        Raises:
            KeyVersionNotFound: No such version.
            KeyDestroyed: The version was destroyed.
            StorageIntegrityError: The stored id is not one of this key version's objects.
        """
        cached = entry.hsm_objects.get(version)
        if cached is not None:
            return cached
        async with self._database.unit_of_work() as uow:
            found = await uow.keys.hsm_object_ids(entry.key.id)
            known = version in found or any(
                v.version == version for v in await uow.keys.versions(entry.key.id)
            )
        if version not in found:
            raise KeyDestroyed if known else KeyVersionNotFound
        for number, ident in found.items():
            # Storage is untrusted: an id naming another key's object (or the seal's root
            # key) is refused, never used.
            if not ident.startswith(object_id(entry.key.id, number)):
                detail = f"key {entry.key.id} version {number}: hsm_object_id names another key"
                raise StorageIntegrityError(operator_detail=detail)
        entry.hsm_objects.update(found)
        return found[version]

    async def encrypt(
        self, entry: CachedKey, version: int, plaintext: bytes, context: Mapping[str, str]
    ) -> bytes:
        """Encrypt into the section 4 envelope in the token.

        Raises:
            HSMError: The token fails.
        """
        ident = await self.object_id(entry, version)
        key = entry.key
        store = self.require_store()
        return await asyncio.to_thread(
            store.encrypt, key.spec, ident, (key.id, version), plaintext, context
        )

    async def decrypt(
        self, entry: CachedKey, version: int, ciphertext: bytes, context: Mapping[str, str]
    ) -> bytes:
        """Decrypt an envelope in the token.

        Raises:
            DecryptionFailed: Any tampering, or another key's envelope.
            HSMError: The token fails.
        """
        ident = await self.object_id(entry, version)
        store = self.require_store()
        return await asyncio.to_thread(store.decrypt, entry.key.spec, ident, ciphertext, context)

    async def rsa_decrypt(self, entry: CachedKey, version: int, ciphertext: bytes) -> bytes:
        """RSA-OAEP decryption in the token.

        Raises:
            DecryptionFailed: Not a ciphertext of this key.
            HSMError: The token fails.
        """
        ident = await self.object_id(entry, version)
        return await asyncio.to_thread(self.require_store().rsa_decrypt, ident, ciphertext)

    async def sign(
        self, entry: CachedKey, version: int, algorithm: str, *, message: bytes | None,
        digest: bytes | None,
    ) -> bytes:  # fmt: skip
        """Sign in the token.

        Raises:
            UnsupportedAlgorithm: The key does not sign with ``algorithm`` (or digests).
            ValidationFailed: Not exactly one of message and digest, or a bad digest length.
            HSMError: The token fails.
        """
        ident = await self.object_id(entry, version)
        store = self.require_store()
        return await asyncio.to_thread(
            lambda: store.sign(entry.key.spec, ident, algorithm, message=message, digest=digest)
        )

    async def verify(  # noqa: PLR0913 - the sign arguments plus the signature
        self, entry: CachedKey, version: int, algorithm: str, signature: bytes, *,
        message: bytes | None, digest: bytes | None,
    ) -> bool:  # fmt: skip
        """Verify in the token: an HSM key's operations all run there.

        Raises:
            UnsupportedAlgorithm: The key does not sign with ``algorithm`` (or digests).
            ValidationFailed: Not exactly one of message and digest, or a bad digest length.
            HSMError: The token fails.
        """
        ident = await self.object_id(entry, version)
        store = self.require_store()
        return await asyncio.to_thread(
            lambda: store.verify(
                entry.key.spec, ident, algorithm, signature, message=message, digest=digest
            )
        )

    async def destroy(self, key_id: KeyId, version: int | None = None) -> None:
        """Destroy the token objects of one version, or of every version, of a key.

        Raises:
            HSMError: The token fails (the destruction is tried again on the next pass).
        """
        async with self._database.unit_of_work() as uow:
            found = await uow.keys.hsm_object_ids(key_id)
        idents = [i for v, i in found.items() if version is None or v == version]
        store = self.require_store()
        for ident in idents:
            await asyncio.to_thread(store.destroy, ident)
