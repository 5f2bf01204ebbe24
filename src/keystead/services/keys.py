"""Create, describe, list and update keys; reach their material through the barrier and cache."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from keystead.crypto import keygen, symmetric
from keystead.crypto.secret import KeyMaterial
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key, KeyVersionInfo, Principal
from keystead.domain.specs import SPEC_USAGES, KeySpec, KeyUsage, default_usage
from keystead.errors import (
    DecryptionFailed,
    KeyDestroyed,
    KeyNotFound,
    KeyVersionNotFound,
    StorageIntegrityError,
    UnsupportedOperation,
    ValidationFailed,
)
from keystead.seal.barrier import Barrier
from keystead.services.access import AccessService
from keystead.services.clock import Clock
from keystead.services.hsm_keys import HSM, SOFTWARE, HSMKeys, is_hsm
from keystead.services.key_cache import CachedKey, KeyCache
from keystead.storage.key_repository import KeyFilter, NewVersion
from keystead.storage.uow import Database
from keystead.types import KeyId, KeyVersionNumber

EXTERNAL_ORIGIN: Final = "EXTERNAL"
"""The origin of a key whose material a caller brought (BYOK import)."""
MAX_NAME_LENGTH: Final = 200
MAX_TAGS: Final = 50
MIN_ROTATION_PERIOD: Final = timedelta(hours=1)
MAX_ROTATION_PERIOD: Final = timedelta(days=36500)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def material_binding(key_id: KeyId, version: int) -> bytes:
    """Associated data binding a version's wrapped material to its row (section 1)."""
    return b"keystead/material/v1" + key_id.bytes + version.to_bytes(4, "big")


def public_key_binding(key_id: KeyId, version: int) -> bytes:
    """Associated data binding a version's public key to its row.

    Public keys are not secret, but storage is untrusted: a public key swapped in the
    database would let someone else's signatures verify, or RSA-OAEP encrypt to their key.
    So they are stored under the barrier too, and a swapped one fails its integrity check.
    """
    return b"keystead/public-key/v1" + key_id.bytes + version.to_bytes(4, "big")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewKey:
    """What a caller asks for when creating a key."""

    name: str
    spec: KeySpec
    usage: KeyUsage | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    rotation_period: timedelta | None = None
    activation_date: datetime | None = None
    deactivation_date: datetime | None = None
    exportable: bool = False
    backup_allowed: bool = True
    protection: str = SOFTWARE
    """SOFTWARE, or HSM: generated and used inside the pkcs11 seal's token."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyUpdate:
    """Changes to a key's metadata; None leaves a field as it is.

    ``rotation_period`` of zero turns automatic rotation off.
    """

    description: str | None = None
    tags: Mapping[str, str] | None = None
    rotation_period: timedelta | None = None
    deactivation_date: datetime | None = None
    min_decryption_version: int | None = None


class KeyService:
    """Key metadata and material, through the barrier and the cache."""

    def __init__(  # noqa: PLR0913, PLR0917 - the collaborators a key's life touches
        self,
        database: Database,
        barrier: Barrier,
        cache: KeyCache,
        clock: Clock,
        reload_keyring: Callable[[], Awaitable[None]],
        access: AccessService,
        hsm: HSMKeys,
    ) -> None:
        self.hsm = hsm
        """The HSM-protected keys' token calls (refusing them unless the seal is pkcs11)."""
        self._access = access
        self._database = database
        self._barrier = barrier
        self._cache = cache
        self._clock = clock
        self._reload_keyring = reload_keyring

    async def create(self, principal: Principal, request: NewKey) -> Key:
        """Generate a key's first version from the OS CSPRNG and store it wrapped.

        A key whose activation date is in the future starts PRE_ACTIVE. An HSM-protected
        key is generated inside the token instead; it never goes into backups.

        Raises:
            PermissionDenied: The caller may not create keys.
            ValidationFailed: A bad name, tag, date or period, or a usage the spec lacks;
                an unknown protection, or HSM on a server whose seal is not pkcs11.
            UnsupportedAlgorithm: HSM protection of a spec the token cannot do.
            KeyAlreadyExists: The name is taken.
            HSMError: The token fails.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        await self._access.check_new_key(principal, request.name)
        if request.protection == SOFTWARE:
            key, first = self.prepare(request, owner=principal.display_name)
        else:
            key, first = await self._prepare_hsm(request, principal.display_name)
        try:
            async with self._database.unit_of_work() as uow:
                await uow.keys.add(key, first)
        except Exception:
            if first.hsm_object_id is not None:
                await self.hsm.discard(first.hsm_object_id)
            raise
        return key

    async def _prepare_hsm(self, request: NewKey, owner: str) -> tuple[Key, NewVersion]:
        if request.protection != HSM:
            msg = f"protection must be SOFTWARE or HSM, not {request.protection!r}"
            raise ValidationFailed(msg)
        key = replace(_new_key(request, self._clock(), owner=owner), protection=HSM,
                      backup_allowed=False)  # fmt: skip
        await self.hsm.check_new(key.spec, key.usage, exportable=request.exportable)
        return key, await self.make_version(key, KeyVersionNumber(1), key.created_at)

    async def make_version(self, key: Key, version: KeyVersionNumber, now: datetime) -> NewVersion:
        """Make a new version: in the token for an HSM-protected key, else as :meth:`new_version`.

        Raises:
            UnsupportedAlgorithm: The token cannot make such a key.
            HSMError: The token fails.
        """
        if not is_hsm(key):
            return self.new_version(key, version, now)
        ident, public = await self.hsm.generate(key, version)
        if public is not None:
            public = self._barrier.encrypt(public, public_key_binding(key.id, version))
        return NewVersion(version, KeyState.ACTIVE, None, public, now, hsm_object_id=ident)

    def prepare(self, request: NewKey, owner: str) -> tuple[Key, NewVersion]:
        """Make a key and its first version for ``owner``, for the caller to store.

        Raises:
            ValidationFailed: A bad name, tag, date or period, or a usage the spec lacks.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        now = self._clock()
        key = _new_key(request, now, owner=owner)
        return key, self.new_version(key, KeyVersionNumber(1), now)

    def prepare_imported(
        self, request: NewKey, owner: str, imported: keygen.GeneratedKey
    ) -> tuple[Key, NewVersion]:
        """Make a key of origin EXTERNAL whose first version holds ``imported`` (BYOK).

        The material is wiped once wrapped.

        Raises:
            ValidationFailed: A bad name, tag or date, or a usage the spec lacks.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        now = self._clock()
        key = replace(_new_key(request, now, owner=owner), origin=EXTERNAL_ORIGIN)
        return key, self.stored_version(key, KeyVersionNumber(1), imported, now)

    def new_version(self, key: Key, version: KeyVersionNumber, now: datetime) -> NewVersion:
        """Generate the material of a new version and wrap it under the barrier."""
        return self.stored_version(key, version, keygen.generate(key.spec.value), now)

    def stored_version(
        self, key: Key, version: KeyVersionNumber, generated: keygen.GeneratedKey, now: datetime
    ) -> NewVersion:
        """Wrap a version's material (and public key) under the barrier; the material is wiped."""
        try:
            with generated.material.expose() as raw:
                wrapped = self._barrier.encrypt(raw, material_binding(key.id, version))
        finally:
            generated.material.wipe()
        public = generated.public_key
        if public is not None:
            public = self._barrier.encrypt(public, public_key_binding(key.id, version))
        # A version starts ACTIVE and the key's state caps it; only the version verbs
        # give a version a state of its own (section 3).
        return NewVersion(version, KeyState.ACTIVE, wrapped, public, now)

    async def describe(self, principal: Principal, reference: str) -> Key:
        """Return a key by id or by name.

        Raises:
            PermissionDenied: The caller may not read keys.
            KeyNotFound: No key has that id or name.
            Sealed: The server is sealed.
        """
        return (await self.authorized(principal, "keys.describe", reference)).key

    async def find(self, principal: Principal, query: KeyFilter) -> list[Key]:
        """Return one page of keys ordered by name.

        Raises:
            PermissionDenied: The caller may not list keys.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        await self._access.require(principal, "keys.list")
        async with self._database.unit_of_work() as uow:
            return await uow.keys.find(query)

    async def versions(self, principal: Principal, reference: str) -> list[KeyVersionInfo]:
        """Return every version of a key with its state and use counts.

        Raises:
            PermissionDenied: The caller may not read keys.
            KeyNotFound: No key has that id or name.
            Sealed: The server is sealed.
        """
        key = (await self.authorized(principal, "keys.versions", reference)).key
        async with self._database.unit_of_work() as uow:
            return await uow.keys.versions(key.id)

    async def update(self, principal: Principal, reference: str, change: KeyUpdate) -> Key:
        """Change a key's description, tags, period, deactivation date or minimum version.

        Raises:
            PermissionDenied: The caller may not change keys.
            KeyNotFound: No key has that id or name.
            ValidationFailed: A value out of range.
            ConflictError: The key changed meanwhile.
            Sealed: The server is sealed.
        """
        key = (await self.authorized(principal, "keys.update", reference)).key
        updated = _apply(key, change, self._clock())
        async with self._database.unit_of_work() as uow:
            await uow.keys.update(updated, expected_state=key.state)
            if change.tags is not None:
                await uow.keys.replace_tags(key.id, updated.tags)
        self._cache.forget(key.id)
        return updated

    async def authorized(self, principal: Principal, action: str, reference: str) -> CachedKey:
        """Return the key given by id or name if the caller may take ``action`` on it.

        Raises:
            PermissionDenied: The caller may not (whether or not such a key exists).
            KeyNotFound: No such key, and the caller could have used one of that name.
            Sealed: The server is sealed.
        """
        try:
            entry = await self.resolve(reference)
        except KeyNotFound:
            await self._access.check_name(principal, action, reference)
            raise
        await self._access.check_entry(principal, action, entry)
        return entry

    async def resolve(self, reference: str) -> CachedKey:
        """Return the cached entry of a key given by id or name, loading it if needed.

        Raises:
            KeyNotFound: No key has that id or name.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        # Names are never UUIDs, so the by-name cache answers first without parsing one.
        entry = self._cache.get_by_name(reference)
        if entry is not None:
            return entry
        key_id = _as_uuid(reference)
        entry = self._cache.get(key_id) if key_id else None
        if entry is not None:
            return entry
        async with self._database.unit_of_work() as uow:
            key = await (uow.keys.get(key_id) if key_id else uow.keys.get_by_name(reference))
            if key is None:
                raise KeyNotFound
            states = await uow.keys.version_states(key.id)
            grants = tuple(await uow.grants.of_key(str(key.id)))
        return self._cache.put(key, states, grants)

    def forget(self, key_id: KeyId) -> None:
        """Drop a key from the cache, wiping its unwrapped material (on any change)."""
        self._cache.forget(key_id)

    async def material(self, entry: CachedKey, version: int) -> KeyMaterial:
        """Return the unwrapped material of one version, from the cache or the database.

        Raises:
            KeyVersionNotFound: No such version.
            KeyDestroyed: The version's material was destroyed.
            StorageIntegrityError: The stored material was altered or copied from another row.
            UnsupportedOperation: The key is HSM-protected (it has no material here).
            Sealed: The server is sealed.
        """
        cached = entry.materials.get(version)
        if cached is not None:
            return cached
        if is_hsm(entry.key):
            msg = "this key is HSM-protected: its material stays in the token, for its own uses"
            raise UnsupportedOperation(msg)
        key_id = entry.key.id
        async with self._database.unit_of_work() as uow:
            wrapped = await uow.keys.material(key_id, version)
            if wrapped is None:
                known = any(v.version == version for v in await uow.keys.versions(key_id))
                raise KeyDestroyed if known else KeyVersionNotFound
        raw = await self.open_stored(wrapped, material_binding(key_id, version), "material")
        material = KeyMaterial(raw)
        entry.materials[version] = material
        return material

    async def prepared(self, entry: CachedKey, version: int) -> symmetric.PreparedKey:
        """Return a symmetric version's cipher, ready to use, from the cache if it is there.

        Raises:
            KeyVersionNotFound: No such version.
            KeyDestroyed: The version's material was destroyed.
            StorageIntegrityError: The stored material was altered or moved.
        """
        cached = entry.prepared.get(version)
        if cached is not None:
            return cached
        key = entry.key
        algorithm = symmetric.algorithm_for_spec(key.spec.value)
        ready = symmetric.PreparedKey(
            algorithm, await self.material(entry, version), key.id, version
        )
        entry.prepared[version] = ready
        return ready

    async def public_key(self, entry: CachedKey, version: int) -> bytes:
        """Return a version's public key (SubjectPublicKeyInfo DER), cached.

        Raises:
            KeyVersionNotFound: No such version, or the key has no public key.
            StorageIntegrityError: The stored public key was altered or copied from another row.
        """
        cached = entry.public_keys.get(version)
        if cached is not None:
            return cached
        key_id = entry.key.id
        async with self._database.unit_of_work() as uow:
            stored = await uow.keys.public_key(key_id, version)
        if stored is None:
            raise KeyVersionNotFound
        binding = public_key_binding(key_id, version)
        public = await self.open_stored(stored, binding, "public key")
        entry.public_keys[version] = public
        return public

    async def open_stored(self, wrapped: bytes, binding: bytes, what: str) -> bytes:
        """Decrypt a stored secret bound to ``binding``, reloading the keyring if need be.

        Raises:
            StorageIntegrityError: It was altered, or copied from another row.
        """
        if not self._barrier.knows_term(wrapped):
            await self._reload_keyring()  # written by a node that has rotated the keyring
        try:
            return self._barrier.decrypt(wrapped, binding)
        except DecryptionFailed:
            detail = f"a stored {what} fails its integrity check ({binding.hex()})"
            raise StorageIntegrityError(operator_detail=detail) from None


def _as_uuid(reference: str) -> KeyId | None:
    try:
        return KeyId(uuid.UUID(reference))
    except ValueError:
        return None


def _new_key(request: NewKey, now: datetime, owner: str) -> Key:
    _check_name(request.name)
    _check_tags(request.tags)
    usage = request.usage or default_usage(request.spec)
    if usage not in SPEC_USAGES[request.spec]:
        allowed = ", ".join(sorted(SPEC_USAGES[request.spec]))
        msg = f"spec {request.spec} cannot be used for {usage}; it can for {allowed}"
        raise ValidationFailed(msg)
    period = _check_period(request.rotation_period)
    starts = request.activation_date if request.activation_date is not None else now
    pending = starts > now
    _check_dates(starts, request.deactivation_date)
    return Key(
        id=KeyId(uuid.uuid4()), name=request.name, spec=request.spec, usage=usage,
        state=KeyState.PRE_ACTIVE if pending else KeyState.ACTIVE,
        primary_version=KeyVersionNumber(1), description=request.description,
        created_at=now, updated_at=now, tags=dict(request.tags), rotation_period=period,
        next_rotation_at=None if period is None else max(starts, now) + period,
        activation_date=max(starts, now),
        deactivation_date=request.deactivation_date, exportable=request.exportable,
        backup_allowed=request.backup_allowed, owner=owner,
    )  # fmt: skip


def _apply(key: Key, change: KeyUpdate, now: datetime) -> Key:
    updated = replace(key, updated_at=now)
    if change.description is not None:
        updated = replace(updated, description=change.description)
    if change.tags is not None:
        _check_tags(change.tags)
        updated = replace(updated, tags=dict(change.tags))
    if change.rotation_period is not None:
        period = _check_period(change.rotation_period or None)
        following = None if period is None else now + period
        updated = replace(updated, rotation_period=period, next_rotation_at=following)
    if change.deactivation_date is not None:
        _check_dates(now, change.deactivation_date)
        updated = replace(updated, deactivation_date=change.deactivation_date)
    if change.min_decryption_version is not None:
        minimum = change.min_decryption_version
        if not 1 <= minimum <= key.primary_version:
            msg = (
                f"min_decryption_version ({minimum}) must be 1 to the primary version "
                f"({key.primary_version})"
            )
            raise ValidationFailed(msg)
        updated = replace(updated, min_decryption_version=minimum)
    return updated


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) or _as_uuid(name):
        msg = (
            f"name must be 1 to {MAX_NAME_LENGTH} letters, digits, '.', '_', ':' or '-', "
            "start with a letter or digit, and not be a UUID"
        )
        raise ValidationFailed(msg)


def _check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        msg = f"a key has at most {MAX_TAGS} tags"
        raise ValidationFailed(msg)
    for name, value in tags.items():
        if not _TAG_NAME.fullmatch(name) or len(value) > 256:  # noqa: PLR2004 - column size
            msg = f"tag {name!r}: names are 1-128 of A-Z a-z 0-9 . _ : / -, values 256 at most"
            raise ValidationFailed(msg)


def _check_period(period: timedelta | None) -> timedelta | None:
    if period is not None and not MIN_ROTATION_PERIOD <= period <= MAX_ROTATION_PERIOD:
        msg = "rotation_period must be from 1 hour to 100 years"
        raise ValidationFailed(msg)
    return period


def _check_dates(starts: datetime, ends: datetime | None) -> None:
    if ends is not None and ends <= starts:
        msg = "deactivation_date must be after the activation date (and after now)"
        raise ValidationFailed(msg)
