"""BYOK import, as AWS KMS does it: import parameters, then material wrapped to them.

``import_params`` makes an RSA-3072 wrapping key pair for one spec and a random token; the
private key is stored only under the barrier, the token only as its SHA-256, and both last
24 hours. ``import_key`` takes the token and material wrapped with
``RSA_AES_KEY_WRAP_SHA_256`` to the public key, and stores it as a new key of origin
EXTERNAL, or as a new primary version of an existing EXTERNAL key, in the transaction that
marks the token used, so a token imports material once at most. Material may carry a
``valid_to``: the scheduler erases it then (``VersionLifecycle.expire``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from keystead.crypto import asymmetric, key_import, key_wrap
from keystead.crypto.hashing import token_digest
from keystead.crypto.key_wrap import WrappingFormat
from keystead.crypto.keygen import GeneratedKey
from keystead.crypto.random import random_token
from keystead.domain.access import KEY_IMPORT_ACTION, PERSONAL_KEY_PREFIX
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key, Principal
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import (
    ConflictError,
    DecryptionFailed,
    ImportTokenInvalid,
    KeyStateForbidsOperation,
    PermissionDenied,
    StorageIntegrityError,
    UnsupportedOperation,
    ValidationFailed,
)
from keystead.seal.barrier import Barrier
from keystead.services.access import AccessService
from keystead.services.clock import Clock
from keystead.services.keys import (
    EXTERNAL_ORIGIN,
    KeyService,
    NewKey,
)
from keystead.services.lifecycle import with_new_primary
from keystead.storage.import_repository import StoredImportParams
from keystead.storage.key_repository import NewVersion
from keystead.storage.uow import Database, UnitOfWork

__all__ = [
    "IMPORT_TOKEN_LIFETIME",
    "ImportParams",
    "ImportRequest",
    "ImportService",
    "WrappingFormat",
]

IMPORT_TOKEN_LIFETIME: Final = timedelta(hours=24)
IMPORT_TOKEN_PREFIX: Final = "kst_imp_"  # noqa: S105 - a public prefix, not a secret
_UNWRAP_FAILED: Final = (
    "wrapped_material does not unwrap with this token's wrapping key "
    "(RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP-SHA-256 of an AES-256 key, then AES-KWP)"
)


def import_key_binding(params_id: str) -> bytes:
    """Associated data binding a wrapping private key to its import_params row."""
    return b"keystead/import-key/v1" + uuid.UUID(params_id).bytes


@dataclass(frozen=True, slots=True)
class ImportParams:
    """What a client needs to wrap material: the token (shown once) and the public key."""

    token: str = field(repr=False)
    public_key_pem: str
    wrapping_algorithm: WrappingFormat
    spec: KeySpec
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportRequest:
    """A token, the material wrapped to its public key, and where the material goes.

    Exactly one of ``name`` (a new key, described by the metadata fields) and ``key`` (the
    id or name of an existing EXTERNAL key, which gets the material as its new primary
    version; the metadata fields stay at their defaults).
    """

    token: str = field(repr=False)
    wrapped_material: bytes = field(repr=False)
    name: str | None = None
    key: str | None = None
    valid_to: datetime | None = None
    usage: KeyUsage | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    exportable: bool = False
    backup_allowed: bool = True

    def names_metadata(self) -> bool:
        """Whether any field that describes a new key differs from its default."""
        return bool(
            self.usage is not None or self.description or self.tags or self.exportable
            or not self.backup_allowed
        )  # fmt: skip


class ImportService:
    """Issues import parameters; turns wrapped material into an EXTERNAL key or version."""

    def __init__(  # noqa: PLR0913, PLR0917 - the collaborators an import touches
        self,
        database: Database,
        barrier: Barrier,
        keys: KeyService,
        access: AccessService,
        clock: Clock,
        reload_keyring: Callable[[], Awaitable[None]],
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._keys = keys
        self._access = access
        self._clock = clock
        self._reload_keyring = reload_keyring

    async def import_params(self, principal: Principal, spec: KeySpec) -> ImportParams:
        """Make a wrapping key pair and a token for importing material of ``spec``.

        Raises:
            PermissionDenied: The caller may not import keys.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        await self._access.require(principal, KEY_IMPORT_ACTION)
        private_der, public_der = key_wrap.generate_import_key_pair()
        params_id = str(uuid.uuid4())
        now = self._clock()
        stored = StoredImportParams(
            id=params_id, spec=spec,
            private_key_wrapped=self._barrier.encrypt(private_der, import_key_binding(params_id)),
            created_by=principal.display_name, created_at=now,
            expires_at=now + IMPORT_TOKEN_LIFETIME,
        )  # fmt: skip
        del private_der
        token = IMPORT_TOKEN_PREFIX + random_token(32)
        async with self._database.unit_of_work() as uow:
            await uow.imports.add(stored, token_digest(token))
        return ImportParams(
            token, asymmetric.der_to_pem(public_der), WrappingFormat.RSA_AES_KEY_WRAP_SHA_256,
            spec, stored.expires_at,
        )  # fmt: skip

    async def import_key(self, principal: Principal, request: ImportRequest) -> Key:
        """Unwrap the material, check it fits the token's spec, and store it.

        With ``request.name``, as the first version of a new key of origin EXTERNAL; with
        ``request.key``, as the new primary version of that key (as a rotation would).

        Raises:
            PermissionDenied: The caller may not import keys (or into that key).
            ImportTokenInvalid: The token is unknown, expired or already used.
            DecryptionFailed: The material does not unwrap with the token's wrapping key.
            ValidationFailed: Neither or both of name and key, a valid_to not in the future,
                material that does not fit the spec, a token of another spec than the key's,
                or bad key metadata.
            KeyNotFound: No key has that id or name.
            UnsupportedOperation: The key is not of origin EXTERNAL.
            KeyStateForbidsOperation: The key is not ACTIVE.
            KeyAlreadyExists: The name is taken.
            ConflictError: The key changed meanwhile.
            StorageIntegrityError: The stored wrapping key was altered or moved.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        await self._access.require(principal, KEY_IMPORT_ACTION)
        _check_request(request, self._clock())
        if request.key is not None:
            return await self._import_version(principal, request.key, request)
        assert request.name is not None  # noqa: S101 - _check_request has made sure
        return await self._import_new_key(principal, request.name, request)

    async def _import_new_key(self, principal: Principal, name: str, request: ImportRequest) -> Key:
        if name.startswith(PERSONAL_KEY_PREFIX):
            msg = f"key names starting {PERSONAL_KEY_PREFIX!r} are reserved for users' own keys"
            raise PermissionDenied(msg)
        # A policy's key globs limit which names a caller may import to, as for other actions.
        await self._access.check_name(principal, KEY_IMPORT_ACTION, name)
        async with self._database.unit_of_work() as uow:
            params = await self._live_params(uow, request.token)
            imported = key_import_material(params.spec, await self._unwrap(params, request))
            new_key = NewKey(
                name=name, spec=params.spec, usage=request.usage,
                description=request.description, tags=request.tags,
                exportable=request.exportable, backup_allowed=request.backup_allowed,
            )  # fmt: skip
            key, first = self._keys.prepare_imported(new_key, principal.display_name, imported)
            await self._mark_used(uow, params, key)
            await uow.keys.add(key, replace(first, valid_to=request.valid_to))
        return key

    async def _import_version(
        self, principal: Principal, reference: str, request: ImportRequest
    ) -> Key:
        key = (await self._keys.authorized(principal, KEY_IMPORT_ACTION, reference)).key
        _check_target(key)
        try:
            async with self._database.unit_of_work() as uow:
                params = await self._live_params(uow, request.token)
                _check_spec(params.spec, key)
                imported = key_import_material(params.spec, await self._unwrap(params, request))
                now = self._clock()
                added = with_new_primary(key, now)
                version = self._wrapped_version(added, imported, now, request.valid_to)
                await uow.keys.update(
                    added, expected_state=key.state, expected_primary=key.primary_version
                )
                await uow.keys.add_version(key.id, version)
                await self._mark_used(uow, params, key)
        except ConflictError:
            self._keys.forget(key.id)  # the cached key was stale: a retry reads it afresh
            raise
        self._keys.forget(key.id)
        return added

    async def _live_params(self, uow: UnitOfWork, token: str) -> StoredImportParams:
        params = await uow.imports.get(token_digest(token))
        if params is None or params.used or self._clock() >= params.expires_at:
            raise ImportTokenInvalid
        return params

    async def _mark_used(self, uow: UnitOfWork, params: StoredImportParams, key: Key) -> None:
        # The update matches only an unused row: of two imports racing on one token, the
        # second finds nothing to mark, and its transaction rolls back.
        if not await uow.imports.mark_used(params.id, str(key.id), self._clock()):
            raise ImportTokenInvalid

    def _wrapped_version(
        self, key: Key, imported: GeneratedKey, now: datetime, valid_to: datetime | None
    ) -> NewVersion:
        """Wrap imported material as ``key``'s primary version; the material is then wiped."""
        stored = self._keys.stored_version(key, key.primary_version, imported, now)
        return replace(stored, valid_to=valid_to)

    async def _unwrap(self, params: StoredImportParams, request: ImportRequest) -> bytes:
        wrapped_key = params.private_key_wrapped
        if not self._barrier.knows_term(wrapped_key):
            await self._reload_keyring()  # written by a node that has rotated the keyring
        try:
            private_der = self._barrier.decrypt(wrapped_key, import_key_binding(params.id))
        except DecryptionFailed:
            detail = f"import parameters {params.id}: the wrapping key fails its integrity check"
            raise StorageIntegrityError(operator_detail=detail) from None
        try:
            return key_wrap.unwrap_import(private_der, request.wrapped_material)
        except DecryptionFailed:
            raise DecryptionFailed(_UNWRAP_FAILED) from None


def _check_request(request: ImportRequest, now: datetime) -> None:
    """Refuse a request that names no target or two, or a valid_to that is not ahead.

    Raises:
        ValidationFailed: The message says which field and why.
    """
    if (request.name is None) == (request.key is None):
        msg = (
            "give exactly one of name (to import a new key) and key (the id or name of an "
            "existing EXTERNAL key, to import a new version of it)"
        )
        raise ValidationFailed(msg)
    if request.key is not None and request.names_metadata():
        msg = (
            "usage, description, tags, exportable and backup_allowed describe a new key: "
            "leave them out when importing a version into key"
        )
        raise ValidationFailed(msg)
    valid_to = request.valid_to
    if valid_to is not None and (valid_to.tzinfo is None or valid_to.utcoffset() is None):
        msg = "valid_to must carry a UTC offset, e.g. 2030-01-31T00:00:00Z"
        raise ValidationFailed(msg)
    if valid_to is not None and valid_to <= now:
        msg = f"valid_to must be in the future; {valid_to.isoformat()} has passed"
        raise ValidationFailed(msg)


def _check_spec(spec: KeySpec, key: Key) -> None:
    """Refuse a token made for another spec than the key's.

    Raises:
        ValidationFailed: Naming both specs.
    """
    if spec is not key.spec:
        msg = (
            f"the import token is for spec {spec}, but key {key.name!r} is of spec "
            f"{key.spec}: ask import parameters for spec {key.spec}"
        )
        raise ValidationFailed(msg)


def _check_target(key: Key) -> None:
    """Refuse importing a version into a key whose material Keystead makes, or not ACTIVE.

    Raises:
        UnsupportedOperation: The key is not of origin EXTERNAL.
        KeyStateForbidsOperation: The key is not ACTIVE.
    """
    if key.origin != EXTERNAL_ORIGIN:
        msg = (
            f"key {key.name!r} is of origin {key.origin}: Keystead makes its versions (rotate "
            f"it); only keys of origin {EXTERNAL_ORIGIN} take imported versions"
        )
        raise UnsupportedOperation(msg)
    if key.state is not KeyState.ACTIVE:
        msg = f"a key in state {key.state} cannot take an imported version: only an ACTIVE key"
        raise KeyStateForbidsOperation(msg)


def key_import_material(spec: KeySpec, raw: bytes) -> GeneratedKey:
    """Check unwrapped material against ``spec`` (see :func:`key_import.import_material`).

    Raises:
        ValidationFailed: It does not fit; the message names the spec, never the material.
    """
    try:
        return key_import.import_material(spec.value, raw)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
