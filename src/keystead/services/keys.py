"""Create, describe and list keys. Lifecycle verbs and rotation land with issue 3."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from keystead.crypto import symmetric
from keystead.crypto.secret import KeyMaterial
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key, Principal
from keystead.domain.specs import SPEC_USAGES, KeySpec, KeyUsage
from keystead.errors import (
    DecryptionFailed,
    KeyNotFound,
    KeyVersionNotFound,
    PermissionDenied,
    StorageIntegrityError,
    ValidationFailed,
)
from keystead.seal.barrier import Barrier
from keystead.services.clock import Clock
from keystead.services.key_cache import CachedKey, KeyCache
from keystead.storage.repositories import StoredKey
from keystead.storage.uow import Database, UnitOfWork
from keystead.types import KeyId, KeyVersionNumber

MAX_NAME_LENGTH = 200
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def material_binding(key_id: KeyId, version: int) -> bytes:
    """Associated data binding a version's wrapped material to its row (section 1)."""
    return b"keystead/material/v1" + key_id.bytes + version.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class NewKey:
    """What a caller asks for when creating a key."""

    name: str
    spec: KeySpec
    usage: KeyUsage
    description: str = ""


def require_root(principal: Principal) -> None:
    """Allow only the root token until roles and policies arrive (issue 4).

    Raises:
        PermissionDenied: Any other principal.
    """
    if not principal.is_root:
        raise PermissionDenied


class KeyService:
    """Key metadata and material, through the barrier and the cache."""

    def __init__(
        self,
        database: Database,
        barrier: Barrier,
        cache: KeyCache,
        clock: Clock,
        reload_keyring: Callable[[], Awaitable[None]],
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._cache = cache
        self._clock = clock
        self._reload_keyring = reload_keyring

    async def create(self, principal: Principal, request: NewKey) -> Key:
        """Generate a key's first version and store it wrapped by the barrier.

        Raises:
            PermissionDenied: The caller may not create keys.
            ValidationFailed: A bad name or a usage the spec does not have.
            KeyAlreadyExists: The name is taken.
            Sealed: The server is sealed.
        """
        require_root(principal)
        _check_new_key(request)
        key_id = KeyId(uuid.uuid4())
        now = self._clock()
        key = Key(
            key_id, request.name, request.spec, request.usage, KeyState.ACTIVE,
            KeyVersionNumber(1), request.description, now, now,
        )  # fmt: skip
        material = symmetric.generate(symmetric.AeadAlgorithm(request.spec.value))
        try:
            with material.expose() as raw:
                wrapped = self._barrier.encrypt(raw, material_binding(key_id, 1))
        finally:
            material.wipe()
        async with self._database.unit_of_work() as uow:
            await uow.keys.add(_stored(key), wrapped)
        return key

    async def describe(self, principal: Principal, reference: str) -> Key:
        """Return a key by id or by name.

        Raises:
            PermissionDenied: The caller may not read keys.
            KeyNotFound: No key has that id or name.
            Sealed: The server is sealed.
        """
        require_root(principal)
        return (await self.resolve(reference)).key

    async def list(self, principal: Principal, limit: int, after: str | None) -> list[Key]:
        """Return up to ``limit`` keys ordered by name, starting after the name ``after``.

        Raises:
            PermissionDenied: The caller may not list keys.
            Sealed: The server is sealed.
        """
        require_root(principal)
        self._barrier.require_unsealed()
        async with self._database.unit_of_work() as uow:
            rows = await uow.keys.list(limit, after)
        return [_key(row) for row in rows]

    async def resolve(self, reference: str) -> CachedKey:
        """Return the cached entry of a key given by id or name, loading it if needed.

        Raises:
            KeyNotFound: No key has that id or name.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        key_id = _as_uuid(reference)
        entry = self._cache.get(key_id) if key_id else self._cache.get_by_name(reference)
        if entry is not None:
            return entry
        async with self._database.unit_of_work() as uow:
            row = await (uow.keys.get(str(key_id)) if key_id else uow.keys.get_by_name(reference))
        if row is None:
            raise KeyNotFound
        return self._cache.put(_key(row))

    async def material(self, entry: CachedKey, version: int) -> KeyMaterial:
        """Return the unwrapped material of one version, from the cache or the database.

        Raises:
            KeyVersionNotFound: No such version, or its material was destroyed.
            StorageIntegrityError: The stored material was altered or copied from another row.
            Sealed: The server is sealed.
        """
        cached = entry.materials.get(version)
        if cached is not None:
            return cached
        async with self._database.unit_of_work() as uow:
            wrapped = await _wrapped_material(uow, entry.key.id, version)
        binding = material_binding(entry.key.id, version)
        if not self._barrier.knows_term(wrapped):
            await self._reload_keyring()  # written by a node that has rotated the keyring
        try:
            raw = self._barrier.decrypt(wrapped, binding)
        except DecryptionFailed:
            detail = f"material of key {entry.key.id} version {version} fails its integrity check"
            raise StorageIntegrityError(operator_detail=detail) from None
        material = KeyMaterial(raw)
        entry.materials[version] = material
        return material


async def _wrapped_material(uow: UnitOfWork, key_id: KeyId, version: int) -> bytes:
    wrapped = await uow.keys.material(str(key_id), version)
    if wrapped is None:
        raise KeyVersionNotFound
    return wrapped


def _as_uuid(reference: str) -> KeyId | None:
    try:
        return KeyId(uuid.UUID(reference))
    except ValueError:
        return None


def _check_new_key(request: NewKey) -> None:
    name = request.name
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) or _as_uuid(name):
        msg = (
            f"name must be 1 to {MAX_NAME_LENGTH} letters, digits, '.', '_', ':' or '-', "
            "start with a letter or digit, and not be a UUID"
        )
        raise ValidationFailed(msg)
    if request.usage not in SPEC_USAGES[request.spec]:
        msg = f"spec {request.spec} cannot be used for {request.usage}"
        raise ValidationFailed(msg)


def _stored(key: Key) -> StoredKey:
    return StoredKey(
        str(key.id), key.name, key.spec.value, key.usage.value, key.state.value,
        key.primary_version, key.description, key.created_at, key.updated_at,
    )  # fmt: skip


def _key(row: StoredKey) -> Key:
    return Key(
        KeyId(uuid.UUID(row.id)), row.name, KeySpec(row.spec), KeyUsage(row.usage),
        KeyState(row.state), KeyVersionNumber(row.primary_version), row.description,
        row.created_at, row.updated_at,
    )  # fmt: skip
