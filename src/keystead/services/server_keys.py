"""The server's own Ed25519 key pairs, one per purpose; today the one that signs backups.

Made at first use while unsealed, stored with both halves under the barrier (a public key
swapped in the database would let forged archives pass), held in memory until sealing.
"""

from __future__ import annotations

from typing import Final

from keystead.crypto import keygen
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed, StorageIntegrityError
from keystead.seal.barrier import Barrier
from keystead.services.clock import Clock
from keystead.storage.uow import Database

BACKUP_SIGNING: Final = "backup-signing"


def _binding(purpose: str, half: str) -> bytes:
    return f"keystead/server-key/v1/{purpose}/{half}".encode()


class ServerKeys:
    """Loads or makes the server's key pair for a purpose."""

    def __init__(self, database: Database, barrier: Barrier, clock: Clock) -> None:
        self._database = database
        self._barrier = barrier
        self._clock = clock
        self._loaded: dict[str, tuple[KeyMaterial, bytes]] = {}

    def __repr__(self) -> str:
        return f"ServerKeys(loaded={sorted(self._loaded)})"

    def forget(self) -> None:
        """Wipe every loaded private key (on seal)."""
        for private, _ in self._loaded.values():
            private.wipe()
        self._loaded.clear()

    async def pair(self, purpose: str) -> tuple[KeyMaterial, bytes]:
        """Return the private key and the public key (SubjectPublicKeyInfo DER) for ``purpose``.

        Raises:
            Sealed: The server is sealed.
            StorageIntegrityError: The stored pair fails its integrity check.
        """
        self._barrier.require_unsealed()
        loaded = self._loaded.get(purpose)
        if loaded is not None:
            return loaded
        async with self._database.unit_of_work() as uow:
            stored = await uow.server_keys.get(purpose)
        if stored is None:
            generated = keygen.generate("ED25519")
            with generated.material.expose() as raw:
                private = self._barrier.encrypt(raw, _binding(purpose, "private"))
            public = self._barrier.encrypt(generated.public_key or b"", _binding(purpose, "public"))
            generated.material.wipe()
            async with self._database.unit_of_work() as uow:
                await uow.server_keys.add(purpose, private, public, self._clock())
            async with self._database.unit_of_work() as uow:  # another node's may have won
                stored = await uow.server_keys.get(purpose)
        if stored is None:  # pragma: no cover - stored just above
            raise StorageIntegrityError(operator_detail=f"server key {purpose} was not stored")
        try:
            pair = (
                KeyMaterial(self._barrier.decrypt(stored[0], _binding(purpose, "private"))),
                self._barrier.decrypt(stored[1], _binding(purpose, "public")),
            )
        except DecryptionFailed:
            detail = f"the server key {purpose} fails its integrity check"
            raise StorageIntegrityError(operator_detail=detail) from None
        self._loaded[purpose] = pair
        return pair
