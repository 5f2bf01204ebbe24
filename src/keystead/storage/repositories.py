"""Repositories over an AsyncSession. They never commit: the unit of work does (C26)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from keystead.errors import AlreadyInitialized, SealMismatch
from keystead.storage.engine import AsyncSession
from keystead.storage.tables import SealConfigRow, TokenRow

_SEAL_CONFIG_ID = 1


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SealConfig:
    """How the server is sealed, and its keyring as ciphertext.

    ``secret_shares`` and ``secret_threshold`` count the shares the operators hold: unseal
    shares for the Shamir seal, recovery shares for the pkcs11 seal. The pkcs11 seal also
    keeps the recovery shares' check value and the label and id of its key in the token.
    """

    seal_type: str
    secret_shares: int
    secret_threshold: int
    keyring_wrapped: bytes
    recovery_check: bytes | None = None
    hsm_key_label: str | None = None
    hsm_key_id: bytes | None = None


def _seal_config(row: SealConfigRow) -> SealConfig:
    return SealConfig(
        row.seal_type, row.secret_shares, row.secret_threshold, row.keyring_wrapped,
        row.recovery_check, row.hsm_key_label, row.hsm_key_id,
    )  # fmt: skip


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
        return None if row is None else _seal_config(row)

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
                recovery_check=config.recovery_check,
                hsm_key_label=config.hsm_key_label,
                hsm_key_id=config.hsm_key_id,
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

    async def replace_seal_config(
        self, expected: SealConfig, config: SealConfig, now: datetime
    ) -> None:
        """Store a new seal (a seal migration), if the stored one is still ``expected``.

        Raises:
            SealMismatch: The seal or the keyring changed since ``expected`` was read (another
                node rotated the keyring, or migrated first): nothing is written.
        """
        row = await self._session.get(
            SealConfigRow, _SEAL_CONFIG_ID, with_for_update=True, populate_existing=True
        )
        if row is None or _seal_config(row) != expected:
            msg = "the seal configuration changed during the migration; give the shares again"
            raise SealMismatch(msg)
        row.seal_type = config.seal_type
        row.secret_shares = config.secret_shares
        row.secret_threshold = config.secret_threshold
        row.keyring_wrapped = config.keyring_wrapped
        row.recovery_check = config.recovery_check
        row.hsm_key_label = config.hsm_key_label
        row.hsm_key_id = config.hsm_key_id
        row.updated_at = now


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredToken:
    """A token's metadata as stored (never its value)."""

    id: str
    kind: str
    display_name: str
    roles: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool = False
    username: str | None = None
    description: str = ""
    max_expires_at: datetime | None = None
    created_by: str | None = None
    created_at: datetime | None = None


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _token(row: TokenRow) -> StoredToken:
    return StoredToken(
        id=row.id, kind=row.kind, display_name=row.display_name, roles=tuple(row.roles),
        expires_at=_maybe_utc(row.expires_at), revoked=row.revoked_at is not None,
        username=row.username, description=row.description or "",
        max_expires_at=_maybe_utc(row.max_expires_at), created_by=row.created_by,
        created_at=_maybe_utc(row.created_at),
    )  # fmt: skip


class TokenRepository:
    """Bearer tokens by hash."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: StoredToken, token_hash: bytes, now: datetime) -> None:
        """Insert a token."""
        self._session.add(
            TokenRow(
                id=token.id, token_hash=token_hash, kind=token.kind,
                display_name=token.display_name, roles=list(token.roles), created_at=now,
                expires_at=token.expires_at, revoked_at=None, username=token.username,
                description=token.description, max_expires_at=token.max_expires_at,
                created_by=token.created_by,
            )
        )  # fmt: skip
        await self._session.flush()

    async def find_by_hash(self, token_hash: bytes) -> StoredToken | None:
        """Return the token with that hash, or None."""
        row = await self._session.scalar(select(TokenRow).where(TokenRow.token_hash == token_hash))
        return None if row is None else _token(row)

    async def get(self, token_id: str) -> StoredToken | None:
        """Return a token by id, or None."""
        row = await self._session.get(TokenRow, token_id, populate_existing=True)
        return None if row is None else _token(row)

    async def find(self, username: str | None, *, live_after: datetime) -> list[StoredToken]:
        """Return the unrevoked, unexpired tokens of a user (of everyone for None)."""
        statement = select(TokenRow).where(TokenRow.revoked_at.is_(None))
        if username is not None:
            statement = statement.where(TokenRow.username == username)
        rows = await self._session.scalars(statement.order_by(TokenRow.created_at))
        tokens = [_token(row) for row in rows]
        return [t for t in tokens if t.expires_at is None or t.expires_at > live_after]

    async def revoke(self, token_id: str, now: datetime) -> bool:
        """Revoke one token; False if there was no live token with that id."""
        result = await self._session.execute(
            update(TokenRow)
            .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE

    async def revoke_kind(self, kind: str, now: datetime) -> int:
        """Revoke every live token of a kind (the root tokens); return how many."""
        result = await self._session.execute(
            update(TokenRow)
            .where(TokenRow.kind == kind, TokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE

    async def revoke_for_user(self, username: str, now: datetime) -> None:
        """Revoke every token of a user (disabled, deleted, or a new password)."""
        await self._session.execute(
            update(TokenRow)
            .where(TokenRow.username == username, TokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )

    async def set_expiry(self, token_id: str, expires_at: datetime) -> None:
        """Move a token's expiry (a renewal, within its maximum)."""
        await self._session.execute(
            update(TokenRow)
            .where(TokenRow.id == token_id)
            .values(expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
