"""Grants (as AWS KMS has them): operations on one key given to one named principal."""

from __future__ import annotations

import uuid

from keystead.domain.access import PERSONAL_KEY_PREFIX, grant_operations
from keystead.domain.identity import USERNAME, Grant
from keystead.domain.models import Principal
from keystead.errors import GrantNotFound, UnsupportedOperation, ValidationFailed
from keystead.services.clock import Clock
from keystead.services.keys import KeyService
from keystead.storage.uow import Database


class GrantService:
    """Create, list and revoke the grants of a key."""

    def __init__(self, database: Database, keys: KeyService, clock: Clock) -> None:
        self._database = database
        self._keys = keys
        self._clock = clock

    async def create(
        self, principal: Principal, reference: str, grantee: str, operations: list[str]
    ) -> Grant:
        """Give ``grantee`` these operations on the key; they work once it has key-user.

        Raises:
            PermissionDenied: The caller may not grant on this key.
            KeyNotFound: No such key.
            UnsupportedOperation: A user's own key, which is never granted.
            ValidationFailed: A bad principal name or an unknown operation.
        """
        entry = await self._keys.authorized(principal, "grants.create", reference)
        key = entry.key
        if key.name.startswith(PERSONAL_KEY_PREFIX):
            msg = "a user's own key is used by its owner alone and cannot be granted"
            raise UnsupportedOperation(msg)
        if not USERNAME.fullmatch(grantee):
            msg = "principal must be a username"
            raise ValidationFailed(msg)
        allowed = grant_operations()
        unknown = sorted(set(operations) - allowed)
        if unknown:
            msg = f"unknown operations {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
            raise ValidationFailed(msg)
        grant = Grant(
            id=str(uuid.uuid4()), key_id=str(key.id), grantee=grantee,
            operations=tuple(sorted(set(operations))), created_by=principal.display_name,
            created_at=self._clock(),
        )  # fmt: skip
        async with self._database.unit_of_work() as uow:
            await uow.grants.add(grant)
        self._keys.forget(key.id)
        return grant

    async def list(self, principal: Principal, reference: str) -> list[Grant]:
        """Return the live grants of a key.

        Raises:
            PermissionDenied: The caller may not read this key's grants.
            KeyNotFound: No such key.
        """
        entry = await self._keys.authorized(principal, "grants.list", reference)
        async with self._database.unit_of_work() as uow:
            return await uow.grants.of_key(str(entry.key.id))

    async def revoke(self, principal: Principal, reference: str, grant_id: str) -> None:
        """Revoke one grant; on this node at once, on others within the key cache's life.

        Raises:
            PermissionDenied: The caller may not.
            KeyNotFound: No such key.
            GrantNotFound: The key has no live grant with that id.
        """
        entry = await self._keys.authorized(principal, "grants.revoke", reference)
        async with self._database.unit_of_work() as uow:
            revoked = await uow.grants.revoke(str(entry.key.id), grant_id, self._clock())
        if not revoked:
            raise GrantNotFound
        self._keys.forget(entry.key.id)
