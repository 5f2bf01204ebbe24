"""UnitOfWork: one transaction per service call (STYLE.md C26)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

from keystead.errors import StorageError
from keystead.storage.audit_repository import AuditRepository
from keystead.storage.backup_repository import BackupRepository, IdentityBackupRepository
from keystead.storage.engine import AsyncSession
from keystead.storage.identity_repository import (
    AccessRepository,
    GrantRepository,
    ThrottleRepository,
    UserRepository,
)
from keystead.storage.import_repository import ImportParamsRepository
from keystead.storage.key_repository import KeyRepository
from keystead.storage.repositories import SystemRepository, TokenRepository
from keystead.storage.server_key_repository import ServerKeyRepository


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    """The repositories of one transaction."""

    session: AsyncSession
    system: SystemRepository
    tokens: TokenRepository
    keys: KeyRepository
    users: UserRepository
    throttle: ThrottleRepository
    access: AccessRepository
    grants: GrantRepository
    audit: AuditRepository
    imports: ImportParamsRepository
    backups: BackupRepository
    identity_backups: IdentityBackupRepository
    server_keys: ServerKeyRepository


class Database:
    """Opens units of work; commits each once, or rolls it back on any error."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """Yield the repositories of a new transaction and commit it at the end.

        Raises:
            StorageError: The database could not be reached or refused the commit.
        """
        try:
            async with self._sessions() as session, session.begin():
                yield UnitOfWork(
                    session,
                    SystemRepository(session),
                    TokenRepository(session),
                    KeyRepository(session),
                    UserRepository(session),
                    ThrottleRepository(session),
                    AccessRepository(session),
                    GrantRepository(session),
                    AuditRepository(session),
                    ImportParamsRepository(session),
                    BackupRepository(session),
                    IdentityBackupRepository(session),
                    ServerKeyRepository(session),
                )
        except (OperationalError, InterfaceError) as exc:
            raise StorageError(operator_detail=str(exc.orig)) from exc
