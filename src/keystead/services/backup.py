"""Encrypted, signed backups of every key with backup_allowed, or of one key, streamed.

The archive (``keystead.crypto.backup_archive``) is written a page of keys at a time, so
memory does not grow with the number of keys. Material leaves the barrier only inside the
archive's encryption, under a key protected by the caller's passphrase or wrapped for the
caller's recipient public key; the server signs the archive with its own Ed25519 key.

A backup lets whoever holds the passphrase read the material of every key in it, so taking
one is an extraction of key material: ``backups.create`` and ``keys.backup`` are in no
built-in role, and keys created with ``backup_allowed`` off are never in a backup.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

import msgspec

from keystead.crypto import backup_archive
from keystead.crypto.backup_archive import ArchiveWriter, BackupHeader, KdfParameters
from keystead.crypto.passwords import check_password_rules
from keystead.crypto.secret import KeyMaterial
from keystead.domain.access import BACKUP_CREATE_ACTION, KEY_BACKUP_ACTION
from keystead.domain.models import Principal
from keystead.errors import (
    BackupNotAllowed,
    DecryptionFailed,
    KeyDestroyed,
    StorageIntegrityError,
    ValidationFailed,
    WeakPassword,
)
from keystead.seal.barrier import Barrier
from keystead.services import backup_records
from keystead.services.access import AccessService
from keystead.services.backup_records import KeyRecord, PolicyRecord, RoleRecord, UserRecord
from keystead.services.clock import Clock
from keystead.services.keys import KeyService, material_binding, public_key_binding
from keystead.services.login import totp_binding
from keystead.services.server_keys import BACKUP_SIGNING, ServerKeys
from keystead.storage.backup_repository import DESTROYED_STATES, StoredKeyRows
from keystead.storage.uow import Database
from keystead.types import KeyId

__all__ = ["BackupRequest", "BackupService", "BackupStream"]

_PAGE: Final = 200


@dataclass(frozen=True, slots=True)
class BackupRequest:
    """How to protect the archive (a passphrase or a recipient PEM), and of which keys."""

    passphrase: str | None = field(default=None, repr=False)
    recipient: str | None = None
    key: str | None = None
    """A key's id or name for a single-key backup; None for every key."""
    include_identities: bool = False
    """Also the operators' policies and roles, and every user (password hash, roles, TOTP
    secret; never a token): a full backup only."""


@dataclass(frozen=True, slots=True)
class BackupStream:
    """An archive being written: how many keys it will hold, who signs it, and its bytes."""

    keys: int
    signer: str
    chunks: AsyncIterator[bytes] = field(repr=False)


class BackupService:
    """Writes backup archives."""

    def __init__(  # noqa: PLR0913, PLR0917 - the collaborators a backup touches
        self,
        database: Database,
        barrier: Barrier,
        keys: KeyService,
        access: AccessService,
        server_keys: ServerKeys,
        clock: Clock,
        kdf: KdfParameters | None = None,
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._keys = keys
        self._access = access
        self._server_keys = server_keys
        self._clock = clock
        self._kdf = kdf or KdfParameters()

    async def create(self, principal: Principal, request: BackupRequest) -> BackupStream:
        """Check the request and start the archive; its bytes come from ``chunks``.

        Raises:
            PermissionDenied: The caller may not back up (these keys).
            BackupNotAllowed: The single key was created with backup_allowed off.
            KeyDestroyed: The single key is destroyed: there is nothing to back up.
            KeyNotFound: No such single key.
            ValidationFailed: Neither or both of passphrase and recipient.
            WeakPassword: The passphrase is too short or too common.
            InvalidPublicKey: The recipient is not an RSA, X25519 or X-Wing public key.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        only: KeyId | None = None
        if request.key is None:
            await self._access.require(principal, BACKUP_CREATE_ACTION)
        elif request.include_identities:
            msg = "identities go only into a full backup (POST /v1/backups), not a key's"
            raise ValidationFailed(msg)
        else:
            entry = await self._keys.authorized(principal, KEY_BACKUP_ACTION, request.key)
            if not entry.key.backup_allowed:
                raise BackupNotAllowed
            if entry.key.state.value in DESTROYED_STATES:
                raise KeyDestroyed
            only = entry.key.id
        protection, archive_key = await self._protect(request)
        signing_key, public_key = await self._server_keys.pair(BACKUP_SIGNING)
        header = BackupHeader(
            created_at=self._clock(), signer=public_key, protection=protection,
            scope="all" if only is None else "key",
        )  # fmt: skip
        if only is None:
            async with self._database.unit_of_work() as uow:
                count = await uow.backups.count_backed_up()
        else:
            count = 1
        writer = ArchiveWriter(header, archive_key, signing_key)
        chunks = self._chunks(writer, archive_key, only, identities=request.include_identities)
        return BackupStream(count, backup_archive.fingerprint(public_key), chunks)

    async def _protect(
        self, request: BackupRequest
    ) -> tuple[
        backup_archive.PassphraseProtection | backup_archive.RecipientProtection, KeyMaterial
    ]:
        if (request.passphrase is None) == (request.recipient is None):
            msg = "a backup is protected by a passphrase or for a recipient public key: give one"
            raise ValidationFailed(msg)
        if request.recipient is not None:
            return backup_archive.protect_for_recipient(request.recipient)
        passphrase = request.passphrase or ""
        weakness = check_password_rules(passphrase)
        if weakness:
            msg = f"backup passphrase: {weakness}"
            raise WeakPassword(msg)
        # Argon2id at 64 MiB takes a fraction of a second: not on the event loop.
        return await asyncio.to_thread(
            backup_archive.protect_with_passphrase, passphrase, self._kdf
        )

    async def _chunks(
        self,
        writer: ArchiveWriter,
        archive_key: KeyMaterial,
        only: KeyId | None,
        *,
        identities: bool,
    ) -> AsyncIterator[bytes]:
        try:
            yield writer.opening()
            if identities:
                async for identity_frames in self._identity_frames(writer):
                    yield identity_frames
            after = ""
            while True:
                async with self._database.unit_of_work() as uow:
                    if only is None:
                        page = await uow.backups.page(after, _PAGE)
                    else:
                        one = await uow.backups.one(str(only))
                        page = [] if one is None else [one]
                if not page:
                    break
                frames = [writer.record(backup_records.encode(await self._record(s))) for s in page]
                yield b"".join(frames)
                after = page[-1].key["id"]
                if only is not None or len(page) < _PAGE:
                    break
            yield writer.closing()
        finally:
            archive_key.wipe()

    async def _identity_frames(self, writer: ArchiveWriter) -> AsyncIterator[bytes]:
        async with self._database.unit_of_work() as uow:
            policies = await uow.identity_backups.policies()
            roles = await uow.identity_backups.roles()
        found: list[backup_records.Record] = [
            *(msgspec.convert(p, PolicyRecord) for p in policies),
            *(msgspec.convert(r, RoleRecord) for r in roles),
        ]
        yield b"".join(writer.record(backup_records.encode(r)) for r in found)
        after = ""
        while True:
            async with self._database.unit_of_work() as uow:
                users = await uow.identity_backups.users_page(after, _PAGE)
            if not users:
                return
            yield b"".join(writer.record(backup_records.encode(self._user(u))) for u in users)
            after = users[-1]["username"]

    def _user(self, columns: dict[str, object]) -> UserRecord:
        wrapped = columns.pop("totp_secret_wrapped", None)
        if isinstance(wrapped, bytes):
            try:
                secret = self._barrier.decrypt(wrapped, totp_binding(str(columns["id"])))
            except DecryptionFailed:
                detail = f"user {columns['username']}: the TOTP secret fails its integrity check"
                raise StorageIntegrityError(operator_detail=detail) from None
            columns["totp_secret"] = secret
        columns["user_kind"] = columns.pop("kind")
        return msgspec.convert(columns, UserRecord)

    async def _record(self, stored: StoredKeyRows) -> KeyRecord:
        key_id = KeyId(uuid.UUID(stored.key["id"]))
        versions = []
        for columns in stored.versions:
            number = columns["version"]
            material = columns.pop("material_wrapped")
            public = columns.pop("public_key_wrapped")
            if material is not None:
                binding = material_binding(key_id, number)
                columns["material"] = await self._keys.open_stored(material, binding, "material")
            if public is not None:
                binding = public_key_binding(key_id, number)
                columns["public_key"] = await self._keys.open_stored(public, binding, "public key")
            versions.append(columns)
        return msgspec.convert(
            {**stored.key, "tags": stored.tags, "versions": versions, "grants": stored.grants},
            KeyRecord, from_attributes=False,
        )  # fmt: skip
