"""BYOK import parameters by token digest; the wrapping key only as ciphertext; never commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from keystead.domain.specs import KeySpec
from keystead.storage.engine import AsyncSession
from keystead.storage.repositories import as_utc
from keystead.storage.tables import ImportParamsRow


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredImportParams:
    """One set of import parameters as stored: never the token, the key only wrapped."""

    id: str
    spec: KeySpec
    private_key_wrapped: bytes = field(repr=False)
    created_by: str
    created_at: datetime
    expires_at: datetime
    used: bool = False


class ImportParamsRepository:
    """Import parameters by the SHA-256 of their token."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, params: StoredImportParams, token_hash: bytes) -> None:
        """Insert a set of import parameters."""
        self._session.add(
            ImportParamsRow(
                id=params.id, token_hash=token_hash, spec=params.spec.value,
                private_key_wrapped=params.private_key_wrapped, created_by=params.created_by,
                created_at=params.created_at, expires_at=params.expires_at, used_at=None,
            )
        )  # fmt: skip
        await self._session.flush()

    async def get(self, token_hash: bytes) -> StoredImportParams | None:
        """Return the parameters of a token digest, or None."""
        row = await self._session.scalar(
            select(ImportParamsRow)
            .where(ImportParamsRow.token_hash == token_hash)
            .execution_options(populate_existing=True)
        )
        if row is None:
            return None
        return StoredImportParams(
            id=row.id, spec=KeySpec(row.spec), private_key_wrapped=row.private_key_wrapped,
            created_by=row.created_by, created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at), used=row.used_at is not None,
        )  # fmt: skip

    async def mark_used(self, params_id: str, key_id: str, now: datetime) -> bool:
        """Record that the parameters made ``key_id``; False if they were already used."""
        result = await self._session.execute(
            update(ImportParamsRow)
            .where(ImportParamsRow.id == params_id, ImportParamsRow.used_at.is_(None))
            .values(used_at=now, key_id=key_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE

    async def delete_spent(self, now: datetime) -> int:
        """Delete the parameters that were used or have expired, wrapping keys and all.

        Returns:
            How many were deleted.
        """
        result = await self._session.execute(
            delete(ImportParamsRow)
            .where(or_(ImportParamsRow.used_at.is_not(None), ImportParamsRow.expires_at <= now))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of a DELETE
