"""Restore a backup archive into this Keystead: all of it or nothing, in one transaction.

The archive is read twice from a local file: first to check every byte (signature, each
record's integrity, each record's content), then to write, so that a bad archive is refused
before anything is written, and the write transaction is as short as it can be.

What happens to each key in the archive:

- not here, and its name free: restored as it was backed up (id kept, so ciphertexts that
  name it decrypt);
- here and DESTROYED since: its versions' material comes back, the key and those versions
  DEACTIVATED (COMPROMISED if they were), so it decrypts and verifies old data and protects
  nothing new;
- here and not destroyed (the same key): ``skip`` or ``rename`` leave it be; ``overwrite``
  takes the backup's description, tags, grants, rotation settings and dates, and brings back
  the material of versions destroyed since (DEACTIVATED). Lifecycle states move only through
  the lifecycle API: a restore never reactivates, un-revokes or un-destroys-pending a key;
- its name held by a different key: ``skip`` leaves it out, ``rename`` restores it as
  ``<name>-restored`` (then ``-restored-2``, ...), ``overwrite`` refuses the whole restore
  (409 RestoreConflict): overwrite replaces only the same key.

Versions that were destroyed before the backup have no material in it: nothing brings them
back, and neither does anything bring back a key that was never in a backup.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any, Final

import msgspec

from keystead.crypto import backup_archive
from keystead.crypto.asymmetric import AsymmetricAlgorithm
from keystead.crypto.backup_archive import ArchiveReader, BackupHeader, RecipientProtection
from keystead.crypto.secret import KeyMaterial
from keystead.domain.access import BACKUP_RESTORE_ACTION, KEY_RESTORE_ACTION
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Principal
from keystead.errors import (
    BackupInvalid,
    BackupUnlockFailed,
    KeyAlreadyExists,
    KeyNotFound,
    RestoreConflict,
    ValidationFailed,
)
from keystead.seal.barrier import Barrier
from keystead.services import backup_records
from keystead.services.access import AccessService
from keystead.services.backup_records import (
    IdentityRecord,
    KeyRecord,
    PolicyRecord,
    UserRecord,
    VersionRecord,
)
from keystead.services.clock import Clock
from keystead.services.keys import KeyService, material_binding, public_key_binding
from keystead.services.login import totp_binding
from keystead.storage.backup_repository import DESTROYED_STATES, Columns, StoredKeyRows
from keystead.storage.uow import Database, UnitOfWork
from keystead.types import KeyId

__all__ = ["OnConflict", "RestoreReport", "RestoreRequest", "RestoreService"]

_YIELD_EVERY: Final = 64
LISTED_NAMES: Final = 1000
"""A report names at most this many keys of each kind; ``counts`` has them all."""
_CHUNK: Final = 250  # keys written a few statements at a time, not a few per key
_RENAMED_SUFFIX: Final = "-restored"
_MAX_NAME: Final = 200
# Overwrite takes these from the backup; lifecycle state and what a key is stay as here.
_OVERWRITTEN: Final = (
    "description", "rotation_period_seconds", "next_rotation_at", "activation_date",
    "deactivation_date",
)  # fmt: skip


class OnConflict(StrEnum):
    """What to do with a backed-up key whose id or name is already taken here."""

    SKIP = "skip"
    OVERWRITE = "overwrite"
    RENAME = "rename"


@dataclass(frozen=True, slots=True)
class RestoreRequest:
    """How to open the archive, what to do on a conflict, and (optionally) the one key."""

    passphrase: str | None = field(default=None, repr=False)
    recipient_key: str | None = None
    """The id or name of a key here whose private half the archive is wrapped for."""
    on_conflict: OnConflict = OnConflict.SKIP
    only: str | None = None
    """The id or name, as in the backup, of the one key to restore; None for all."""


@dataclass(slots=True)
class RestoreReport:
    """What a restore did: how many keys of each kind, and (the first thousand) names."""

    signer: str
    created_at: datetime
    keys_in_backup: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "restored",
                "revived",
                "overwritten",
                "renamed",
                "skipped",
                "identities_restored",
                "identities_overwritten",
                "identities_skipped",
            ),
            0,
        )
    )
    restored: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)

    def note(self, what: str, name: str, new_name: str = "") -> None:
        """Count one key; name it too while the list is short (memory stays flat)."""
        self.counts[what] += 1
        if self.counts[what] > LISTED_NAMES:
            return
        if what == "renamed":
            self.renamed[name] = new_name
        else:
            getattr(self, what).append(name)


class RestoreService:
    """Reads archives made by ``BackupService`` (here or on another Keystead) back in."""

    def __init__(
        self,
        database: Database,
        barrier: Barrier,
        keys: KeyService,
        access: AccessService,
        clock: Clock,
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._keys = keys
        self._access = access
        self._clock = clock

    async def restore(
        self, principal: Principal, archive: IO[bytes], request: RestoreRequest
    ) -> RestoreReport:
        """Check the whole archive, then write it in one transaction.

        Raises:
            PermissionDenied: The caller may not restore (this key), or use the recipient key.
            BackupInvalid: The archive is malformed, truncated, altered or badly signed.
            BackupUnlockFailed: The passphrase or recipient key does not open it.
            KeyNotFound: The single key is not in the archive, or no such recipient key.
            RestoreConflict: ``overwrite`` would replace a different key of the same name.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        if request.only is None:
            await self._access.require(principal, BACKUP_RESTORE_ACTION)
        elif not _is_uuid(request.only):  # by this name now; by the backed-up name once known
            await self._access.check_name(principal, KEY_RESTORE_ACTION, request.only)
        reader = ArchiveReader(archive)
        archive_key = await self._unlock(principal, reader.header, request)
        try:
            report = RestoreReport(reader.signer_fingerprint, reader.header.created_at)
            wanted, report.keys_in_backup = await self._check(reader, archive_key, request.only)
            if request.only is not None:
                if wanted is None:
                    msg = f"the backup holds no key {request.only!r}"
                    raise KeyNotFound(msg)
                await self._access.check_name(principal, KEY_RESTORE_ACTION, wanted)
            archive.seek(0)
            touched = await self._write(ArchiveReader(archive), archive_key, request, report)
        finally:
            archive_key.wipe()
        for key_id in touched:
            self._keys.forget(key_id)
        if report.counts["identities_restored"] or report.counts["identities_overwritten"]:
            self._access.invalidate()  # new roles and policies apply at once on this node
        return report

    async def _unlock(
        self, principal: Principal, header: BackupHeader, request: RestoreRequest
    ) -> KeyMaterial:
        if (request.passphrase is None) == (request.recipient_key is None):
            msg = "a backup is opened with its passphrase or with a recipient key: give one"
            raise ValidationFailed(msg)
        if request.passphrase is not None:
            return await asyncio.to_thread(
                backup_archive.unlock_with_passphrase, header, request.passphrase
            )
        protection = header.protection
        if not isinstance(protection, RecipientProtection):
            msg = "this backup is protected by a passphrase, not wrapped for a recipient key"
            raise BackupUnlockFailed(msg)
        entry = await self._keys.authorized(principal, "keys.decrypt", request.recipient_key or "")
        algorithm = AsymmetricAlgorithm(entry.key.spec.value)
        for version, state in sorted(entry.version_states.items(), reverse=True):
            if state not in {KeyState.ACTIVE, KeyState.DEACTIVATED}:
                continue
            public = await self._keys.public_key(entry, version)
            if backup_archive.fingerprint(public) == protection.recipient:
                material = await self._keys.material(entry, version)
                return backup_archive.unlock_with_private_key(header, algorithm, material)
        msg = "no active or deactivated version of the recipient key is the one this backup is for"
        raise BackupUnlockFailed(msg)

    async def _check(
        self, reader: ArchiveReader, archive_key: KeyMaterial, only: str | None
    ) -> tuple[str | None, int]:
        """Read every record; return the backed-up name of ``only`` and the key count."""
        wanted, keys = None, 0
        for payload in reader.records(archive_key):
            record = backup_records.decode(payload, reader.record_count)
            if isinstance(record, KeyRecord):
                keys += 1
                if only is not None and only in {record.id, record.name}:
                    wanted = record.name
            if reader.record_count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long archive must not hold up other requests
        return wanted, keys

    async def _write(
        self,
        reader: ArchiveReader,
        archive_key: KeyMaterial,
        request: RestoreRequest,
        report: RestoreReport,
    ) -> list[KeyId]:
        touched: list[KeyId] = []
        async with self._database.unit_of_work() as uow:
            chunk: list[KeyRecord] = []
            for payload in reader.records(archive_key):
                record = backup_records.decode(payload, reader.record_count)
                if not isinstance(record, KeyRecord):
                    if request.only is None:  # a single-key restore takes no identities
                        await self._apply_identity(uow, record, request.on_conflict, report)
                    continue
                if request.only is None or request.only in {record.id, record.name}:
                    chunk.append(record)
                if len(chunk) == _CHUNK:
                    touched += await self._apply(uow, chunk, request.on_conflict, report)
                    chunk = []
            touched += await self._apply(uow, chunk, request.on_conflict, report)
        return touched

    async def _apply(
        self,
        uow: UnitOfWork,
        records: list[KeyRecord],
        on_conflict: OnConflict,
        report: RestoreReport,
    ) -> list[KeyId]:
        """Restore a chunk of keys; return those that were here and have changed."""
        if not records:
            return []
        states = await uow.backups.states_of([r.id for r in records])
        holders = await uow.backups.ids_named([r.name for r in records])
        touched: list[KeyId] = []
        new: list[StoredKeyRows] = []
        for record in records:
            state = states.get(record.id)
            if state in DESTROYED_STATES:
                await self._revive(
                    uow, record, compromised=state == KeyState.DESTROYED_COMPROMISED.value
                )
                report.note("revived", record.name)
                touched.append(KeyId(uuid.UUID(record.id)))
            elif state is not None:
                if on_conflict is not OnConflict.OVERWRITE:
                    report.note("skipped", record.name)
                    continue
                await self._overwrite(uow, record)
                report.note("overwritten", record.name)
                touched.append(KeyId(uuid.UUID(record.id)))
            else:
                name = await self._name_for(uow, record, on_conflict, holders, report)
                if name is not None:
                    holders[name] = record.id
                    new.append(self._rows(record, name))
        try:
            await uow.backups.insert(new)
        except KeyAlreadyExists:
            msg = "the backup holds two keys with one id or one name"
            raise BackupInvalid(msg) from None
        return touched

    async def _name_for(
        self,
        uow: UnitOfWork,
        record: KeyRecord,
        on_conflict: OnConflict,
        holders: dict[str, str],
        report: RestoreReport,
    ) -> str | None:
        """The name a new key is restored under, or None to leave it out."""
        if record.name not in holders:
            report.note("restored", record.name)
            return record.name
        if on_conflict is OnConflict.SKIP:
            report.note("skipped", record.name)
            return None
        if on_conflict is OnConflict.OVERWRITE:
            msg = (
                f"the backup's key {record.name!r} has another id than the key of that name "
                "here; overwrite replaces only the same key: restore with on_conflict=rename "
                "or skip"
            )
            raise RestoreConflict(msg)
        name = await _free_name(uow, record.name, holders)
        report.note("renamed", record.name, name)
        return name

    async def _apply_identity(
        self,
        uow: UnitOfWork,
        record: IdentityRecord,
        on_conflict: OnConflict,
        report: RestoreReport,
    ) -> None:
        """Restore a policy, role or user; one here of that name is kept, or overwritten."""
        columns: Columns = msgspec.to_builtins(record, builtin_types=(datetime, bytes))
        kind = columns.pop("kind")
        repository = uow.identity_backups
        if isinstance(record, UserRecord):
            here = await repository.user_id(record.username, record.id)
            if here is not None and here != record.id:
                report.counts["identities_skipped"] += 1  # another user: never merged
                return
            exists = here is not None
            secret = columns.pop("totp_secret", None)
            columns["totp_secret_wrapped"] = (
                None if secret is None else self._barrier.encrypt(secret, totp_binding(record.id))
            )
            columns["kind"] = columns.pop("user_kind")
        elif isinstance(record, PolicyRecord):
            exists = await repository.policy_exists(record.name)
        else:
            exists = await repository.role_exists(record.name)
        if exists and on_conflict is not OnConflict.OVERWRITE:
            report.counts["identities_skipped"] += 1
            return
        await repository.put(kind, columns, exists=exists)
        report.counts["identities_overwritten" if exists else "identities_restored"] += 1

    async def _revive(self, uow: UnitOfWork, record: KeyRecord, *, compromised: bool) -> None:
        here = await uow.backups.version_columns(record.id)
        for version in record.versions:
            if version.material is None:
                continue
            back = _revived(version.state, compromised=compromised)
            present = here.get(version.version)
            use_count = max(version.use_count, present["use_count"] if present else 0)
            columns = self._version_columns(record, version, state=back, use_count=use_count)
            await uow.backups.put_version(columns, exists=present is not None)
        await uow.backups.update_key(
            record.id,
            {
                "state": (KeyState.COMPROMISED if compromised else KeyState.DEACTIVATED).value,
                "destruction_date": None, "state_before_destruction": None,
                "updated_at": self._clock(),
            },
        )  # fmt: skip

    async def _overwrite(self, uow: UnitOfWork, record: KeyRecord) -> None:
        here = await uow.backups.version_columns(record.id)
        for version in record.versions:
            present = here.get(version.version)
            destroyed_here = present is not None and present["state"] in DESTROYED_STATES
            if version.material is None or (present is not None and not destroyed_here):
                continue  # nothing to bring back, or the version is here as it should be
            use_count = max(version.use_count, present["use_count"] if present else 0)
            back = _revived(version.state, compromised=False) if destroyed_here else version.state
            columns = self._version_columns(record, version, state=back, use_count=use_count)
            await uow.backups.put_version(columns, exists=present is not None)
        taken = msgspec.to_builtins(record, builtin_types=(datetime, bytes))
        await uow.backups.update_key(
            record.id,
            {**{name: taken.get(name) for name in _OVERWRITTEN}, "updated_at": self._clock()},
        )
        await uow.backups.replace_tags(record.id, record.tags)
        await uow.backups.replace_grants(record.id, _builtins_list(record.grants))

    def _rows(self, record: KeyRecord, name: str) -> StoredKeyRows:
        key: Columns = msgspec.to_builtins(record, builtin_types=(datetime, bytes))
        for child in ("tags", "versions", "grants", "kind"):
            key.pop(child, None)
        key["name"] = name
        versions = [
            self._version_columns(record, v, state=v.state, use_count=v.use_count)
            for v in record.versions
        ]
        return StoredKeyRows(key, dict(record.tags), versions, _builtins_list(record.grants))

    def _version_columns(
        self, record: KeyRecord, version: VersionRecord, *, state: KeyState, use_count: int
    ) -> Columns:
        key_id = KeyId(uuid.UUID(record.id))
        number = version.version
        columns: Columns = msgspec.to_builtins(version, builtin_types=(datetime, bytes))
        material = columns.pop("material", None)
        public = columns.pop("public_key", None)
        columns.update(
            key_id=record.id, state=state.value, use_count=use_count,
            material_wrapped=None if material is None
            else self._barrier.encrypt(material, material_binding(key_id, number)),
            public_key_wrapped=None if public is None
            else self._barrier.encrypt(public, public_key_binding(key_id, number)),
        )  # fmt: skip
        if state is not version.state:  # brought back: no longer pending or destroyed
            columns.update(destruction_date=None, state_before_destruction=None, destroyed_at=None)
        return columns


def _revived(state: KeyState, *, compromised: bool) -> KeyState:
    """The state a version destroyed here comes back in: it decrypts, protects nothing new."""
    if compromised or state in {KeyState.COMPROMISED, KeyState.DESTROYED_COMPROMISED}:
        return KeyState.COMPROMISED
    return KeyState.DEACTIVATED


def _is_uuid(reference: str) -> bool:
    try:
        uuid.UUID(reference)
    except ValueError:
        return False
    return True


def _builtins_list(items: list[Any]) -> list[Columns]:
    return [msgspec.to_builtins(item, builtin_types=(datetime, bytes)) for item in items]


async def _free_name(uow: UnitOfWork, name: str, holders: dict[str, str]) -> str:
    base = name[: _MAX_NAME - len(_RENAMED_SUFFIX) - 8] + _RENAMED_SUFFIX
    taken = await uow.backups.names_starting(base) | {n for n in holders if n.startswith(base)}
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"
