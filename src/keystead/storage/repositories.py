"""Repositories over an AsyncSession. They never commit: the unit of work does (C26)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keystead.errors import AlreadyInitialized, KeyAlreadyExists
from keystead.storage.engine import AsyncSession
from keystead.storage.tables import KeyRow, KeyVersionRow, SealConfigRow, TokenRow

_SEAL_CONFIG_ID = 1


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SealConfig:
    """How the server is sealed, and its keyring as ciphertext."""

    seal_type: str
    secret_shares: int
    secret_threshold: int
    keyring_wrapped: bytes


class SystemRepository:
    """The seal configuration row."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_seal_config(self, *, for_update: bool = False) -> SealConfig | None:
        """Return the seal configuration, or None before init.

        Args:
            for_update: Lock the row until the transaction ends (PostgreSQL), so two nodes
                rotating the keyring at once cannot both add the same term.
        """
        row = await self._session.get(
            SealConfigRow, _SEAL_CONFIG_ID, with_for_update=for_update, populate_existing=True
        )
        if row is None:
            return None
        return SealConfig(
            row.seal_type, row.secret_shares, row.secret_threshold, row.keyring_wrapped
        )

    async def create_seal_config(self, config: SealConfig, now: datetime) -> None:
        """Insert the seal configuration; only one init can ever win.

        Raises:
            AlreadyInitialized: Another init (on this or another node) came first.
        """
        self._session.add(
            SealConfigRow(
                id=_SEAL_CONFIG_ID,
                seal_type=config.seal_type,
                secret_shares=config.secret_shares,
                secret_threshold=config.secret_threshold,
                keyring_wrapped=config.keyring_wrapped,
                initialized_at=now,
                updated_at=now,
            )
        )
        try:
            await self._session.flush()
        except IntegrityError:
            raise AlreadyInitialized from None

    async def replace_keyring(self, keyring_wrapped: bytes, now: datetime) -> None:
        """Store a new wrapped keyring (after a keyring rotation)."""
        row = await self._session.get(SealConfigRow, _SEAL_CONFIG_ID, with_for_update=True)
        if row is None:  # pragma: no cover - callers check the server is initialised
            return
        row.keyring_wrapped = keyring_wrapped
        row.updated_at = now


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token's metadata as stored (never its value)."""

    id: str
    kind: str
    display_name: str
    roles: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool


class TokenRepository:
    """Bearer tokens by hash."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: StoredToken, token_hash: bytes, now: datetime) -> None:
        """Insert a token."""
        self._session.add(
            TokenRow(
                id=token.id,
                token_hash=token_hash,
                kind=token.kind,
                display_name=token.display_name,
                roles=list(token.roles),
                created_at=now,
                expires_at=token.expires_at,
                revoked_at=None,
            )
        )
        await self._session.flush()

    async def find_by_hash(self, token_hash: bytes) -> StoredToken | None:
        """Return the token with that hash, or None."""
        row = await self._session.scalar(select(TokenRow).where(TokenRow.token_hash == token_hash))
        if row is None:
            return None
        return StoredToken(
            id=row.id,
            kind=row.kind,
            display_name=row.display_name,
            roles=tuple(row.roles),
            expires_at=None if row.expires_at is None else as_utc(row.expires_at),
            revoked=row.revoked_at is not None,
        )


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key's metadata row."""

    id: str
    name: str
    spec: str
    usage: str
    state: str
    primary_version: int
    description: str
    created_at: datetime
    updated_at: datetime


def _stored_key(row: KeyRow) -> StoredKey:
    return StoredKey(
        id=row.id,
        name=row.name,
        spec=row.spec,
        usage=row.usage,
        state=row.state,
        primary_version=row.primary_version,
        description=row.description,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class KeyRepository:
    """Keys and their versions; material only as barrier ciphertext."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: StoredKey, material_wrapped: bytes) -> None:
        """Insert a key with its first version.

        Raises:
            KeyAlreadyExists: The name is taken.
        """
        self._session.add(KeyRow(**_key_columns(key)))
        try:
            await self._session.flush()
        except IntegrityError:
            msg = f"a key named {key.name!r} already exists"
            raise KeyAlreadyExists(msg) from None
        self._session.add(
            KeyVersionRow(
                key_id=key.id,
                version=key.primary_version,
                state=key.state,
                material_wrapped=material_wrapped,
                created_at=key.created_at,
            )
        )
        await self._session.flush()

    async def get(self, key_id: str) -> StoredKey | None:
        """Return the key with that id, or None."""
        row = await self._session.get(KeyRow, key_id)
        return None if row is None else _stored_key(row)

    async def get_by_name(self, name: str) -> StoredKey | None:
        """Return the key with that name, or None."""
        row = await self._session.scalar(select(KeyRow).where(KeyRow.name == name))
        return None if row is None else _stored_key(row)

    async def list(self, limit: int, after_name: str | None) -> list[StoredKey]:
        """Return up to ``limit`` keys ordered by name, after ``after_name``."""
        query = select(KeyRow).order_by(KeyRow.name).limit(limit)
        if after_name is not None:
            query = query.where(KeyRow.name > after_name)
        return [_stored_key(row) for row in await self._session.scalars(query)]

    async def material(self, key_id: str, version: int) -> bytes | None:
        """Return the wrapped material of one version, or None."""
        row = await self._session.get(KeyVersionRow, (key_id, version))
        return None if row is None else row.material_wrapped


def _key_columns(key: StoredKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "spec": key.spec,
        "usage": key.usage,
        "state": key.state,
        "primary_version": key.primary_version,
        "description": key.description,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
    }
