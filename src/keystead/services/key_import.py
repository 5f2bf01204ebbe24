"""BYOK import, as AWS KMS does it: import parameters, then material wrapped to them.

``import_params`` makes an RSA-3072 wrapping key pair for one spec and a random token; the
private key is stored only under the barrier, the token only as its SHA-256, and both last
24 hours. ``import_key`` takes the token and material wrapped with
``RSA_AES_KEY_WRAP_SHA_256`` to the public key, and stores a new key of origin EXTERNAL in
the transaction that marks the token used, so a token makes one key at most.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from keystead.crypto import asymmetric, key_import, key_wrap
from keystead.crypto.hashing import token_digest
from keystead.crypto.key_wrap import WrappingFormat
from keystead.crypto.keygen import GeneratedKey
from keystead.crypto.random import random_token
from keystead.domain.access import KEY_IMPORT_ACTION
from keystead.domain.models import Key, Principal
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import (
    DecryptionFailed,
    ImportTokenInvalid,
    StorageIntegrityError,
    ValidationFailed,
)
from keystead.seal.barrier import Barrier
from keystead.services.access import AccessService
from keystead.services.clock import Clock
from keystead.services.keys import KeyService, NewKey
from keystead.storage.import_repository import StoredImportParams
from keystead.storage.uow import Database

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
    """A token, the material wrapped to its public key, and the new key's metadata."""

    token: str = field(repr=False)
    wrapped_material: bytes = field(repr=False)
    name: str
    usage: KeyUsage | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    exportable: bool = False
    backup_allowed: bool = True


class ImportService:
    """Issues import parameters and turns wrapped material into a new EXTERNAL key."""

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
        """Unwrap the material, check it fits the token's spec, and store it as a new key.

        Raises:
            PermissionDenied: The caller may not import keys.
            ImportTokenInvalid: The token is unknown, expired or already used.
            DecryptionFailed: The material does not unwrap with the token's wrapping key.
            ValidationFailed: The material does not fit the spec, or bad key metadata.
            KeyAlreadyExists: The name is taken.
            StorageIntegrityError: The stored wrapping key was altered or moved.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        await self._access.require(principal, KEY_IMPORT_ACTION)
        async with self._database.unit_of_work() as uow:
            params = await uow.imports.get(token_digest(request.token))
            if params is None or params.used or self._clock() >= params.expires_at:
                raise ImportTokenInvalid
            imported = key_import_material(params.spec, await self._unwrap(params, request))
            new_key = NewKey(
                name=request.name, spec=params.spec, usage=request.usage,
                description=request.description, tags=request.tags,
                exportable=request.exportable, backup_allowed=request.backup_allowed,
            )  # fmt: skip
            key, first = self._keys.prepare_imported(new_key, principal.display_name, imported)
            if not await uow.imports.mark_used(params.id, str(key.id), self._clock()):
                raise ImportTokenInvalid
            await uow.keys.add(key, first)
        return key

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


def key_import_material(spec: KeySpec, raw: bytes) -> GeneratedKey:
    """Check unwrapped material against ``spec`` (see :func:`key_import.import_material`).

    Raises:
        ValidationFailed: It does not fit; the message names the spec, never the material.
    """
    try:
        return key_import.import_material(spec.value, raw)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
