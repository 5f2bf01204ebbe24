"""Whole keys as rows, for backup and restore: columns in and out, material still wrapped.

A key is read and written with its tags, versions and grants as plain column mappings, so
that the backup service (which alone decrypts and re-encrypts the wrapped columns) carries
every column across. Writes are Core statements: a restore of many keys in one transaction
keeps no ORM objects in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase

from keystead.errors import KeyAlreadyExists
from keystead.storage.engine import AsyncSession
from keystead.storage.repositories import as_utc
from keystead.storage.tables import (
    GrantRow,
    KeyRow,
    KeyTagRow,
    KeyVersionRow,
    PolicyRow,
    RoleRow,
    UserRow,
)

Columns = dict[str, Any]

DESTROYED_STATES: Final = ("DESTROYED", "DESTROYED_COMPROMISED")


def columns_of(row: DeclarativeBase) -> Columns:
    """Every column of a row, datetimes as aware UTC."""
    values: Columns = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        values[column.key] = as_utc(value) if isinstance(value, datetime) else value
    return values


def known_columns(table: type[DeclarativeBase], values: Mapping[str, Any]) -> Columns:
    """The entries of ``values`` that are columns of ``table``.

    A newer backup's extra fields are dropped; an older one's missing fields take the
    column defaults.
    """
    names = table.__table__.columns.keys()
    return {name: value for name, value in values.items() if name in names}


@dataclass(frozen=True, slots=True)
class StoredKeyRows:
    """One key as stored: its row, tags, versions (material still wrapped) and grants."""

    key: Columns
    tags: dict[str, str]
    versions: list[Columns]
    grants: list[Columns]


class BackupRepository:
    """Reads keys page by page and writes restored keys, over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count_backed_up(self) -> int:
        """How many keys a full backup holds now."""
        statement = select(func.count()).select_from(KeyRow).where(*_backed_up())
        return int(await self._session.scalar(statement) or 0)

    async def page(self, after_id: str, limit: int) -> list[StoredKeyRows]:
        """Up to ``limit`` keys a full backup holds, in id order after ``after_id``."""
        rows = list(
            await self._session.scalars(
                select(KeyRow)
                .where(KeyRow.id > after_id, *_backed_up())
                .order_by(KeyRow.id)
                .limit(limit)
            )
        )
        return await self._with_children(rows)

    async def one(self, key_id: str) -> StoredKeyRows | None:
        """One key, whatever its state or backup flag."""
        row = await self._session.get(KeyRow, key_id)
        return None if row is None else (await self._with_children([row]))[0]

    async def _with_children(self, rows: Sequence[KeyRow]) -> list[StoredKeyRows]:
        ids = [row.id for row in rows]
        if not ids:
            return []
        tags: dict[str, dict[str, str]] = {key_id: {} for key_id in ids}
        for tag in await self._session.scalars(select(KeyTagRow).where(KeyTagRow.key_id.in_(ids))):
            tags[tag.key_id][tag.name] = tag.value
        versions: dict[str, list[Columns]] = {key_id: [] for key_id in ids}
        for version in await self._session.scalars(
            select(KeyVersionRow)
            .where(KeyVersionRow.key_id.in_(ids))
            .order_by(KeyVersionRow.key_id, KeyVersionRow.version)
        ):
            versions[version.key_id].append(columns_of(version))
        grants: dict[str, list[Columns]] = {key_id: [] for key_id in ids}
        for grant in await self._session.scalars(select(GrantRow).where(GrantRow.key_id.in_(ids))):
            grants[grant.key_id].append(columns_of(grant))
        for row in rows:  # the session need not keep what it has handed over
            self._session.expunge(row)
        return [
            StoredKeyRows(columns_of(row), tags[row.id], versions[row.id], grants[row.id])
            for row in rows
        ]

    async def states_of(self, key_ids: Sequence[str]) -> dict[str, str]:
        """The state of each key here among ``key_ids``, by id."""
        rows = await self._session.execute(
            select(KeyRow.id, KeyRow.state).where(KeyRow.id.in_(key_ids))
        )
        return dict(rows.all())

    async def ids_named(self, names: Sequence[str]) -> dict[str, str]:
        """The id of each key here among ``names``, by name."""
        rows = await self._session.execute(
            select(KeyRow.name, KeyRow.id).where(KeyRow.name.in_(names))
        )
        return dict(rows.all())

    async def names_starting(self, prefix: str) -> set[str]:
        """The names of keys that start with ``prefix``."""
        rows = await self._session.scalars(
            select(KeyRow.name).where(KeyRow.name.startswith(prefix))
        )
        return set(rows)

    async def version_columns(self, key_id: str) -> dict[int, Columns]:
        """Every version row of a key by number (material still wrapped)."""
        rows = list(
            await self._session.scalars(select(KeyVersionRow).where(KeyVersionRow.key_id == key_id))
        )
        found = {row.version: columns_of(row) for row in rows}
        for row in rows:
            self._session.expunge(row)
        return found

    async def insert(self, keys: Sequence[StoredKeyRows]) -> None:
        """Insert keys that are not here, with their tags, versions and grants.

        Raises:
            KeyAlreadyExists: One of them has the id or name of a key here, or of another.
        """
        if not keys:
            return
        tags = [
            {"key_id": k.key["id"], "name": name, "value": value}
            for k in keys for name, value in k.tags.items()
        ]  # fmt: skip
        versions = [known_columns(KeyVersionRow, v) for k in keys for v in k.versions]
        grants = [
            known_columns(GrantRow, {**g, "key_id": k.key["id"]}) for k in keys for g in k.grants
        ]
        try:
            await self._session.execute(
                insert(KeyRow), [known_columns(KeyRow, k.key) for k in keys]
            )
        except IntegrityError:
            msg = "a key with one of these ids or names is already here"
            raise KeyAlreadyExists(msg) from None
        for table, rows in ((KeyTagRow, tags), (KeyVersionRow, versions), (GrantRow, grants)):
            if rows:
                await self._session.execute(insert(table), rows)

    async def update_key(self, key_id: str, values: Mapping[str, Any]) -> None:
        """Set columns of a key row (never its id)."""
        changes = {k: v for k, v in known_columns(KeyRow, values).items() if k != "id"}
        await self._session.execute(update(KeyRow).where(KeyRow.id == key_id).values(changes))

    async def put_version(self, values: Mapping[str, Any], *, exists: bool) -> None:
        """Insert a version row, or replace the columns of the one with its number."""
        columns = known_columns(KeyVersionRow, values)
        if not exists:
            await self._session.execute(insert(KeyVersionRow), [columns])
            return
        await self._session.execute(
            update(KeyVersionRow)
            .where(
                KeyVersionRow.key_id == columns["key_id"],
                KeyVersionRow.version == columns["version"],
            )
            .values({k: v for k, v in columns.items() if k not in {"key_id", "version"}})
        )

    async def replace_tags(self, key_id: str, tags: Mapping[str, str]) -> None:
        """Make a key's tags exactly ``tags``."""
        await self._session.execute(delete(KeyTagRow).where(KeyTagRow.key_id == key_id))
        if tags:
            await self._session.execute(
                insert(KeyTagRow),
                [{"key_id": key_id, "name": name, "value": value} for name, value in tags.items()],
            )

    async def replace_grants(self, key_id: str, grants: Sequence[Mapping[str, Any]]) -> None:
        """Make a key's grants exactly ``grants`` (each keeps its id)."""
        await self._session.execute(delete(GrantRow).where(GrantRow.key_id == key_id))
        if grants:
            await self._session.execute(
                insert(GrantRow), [known_columns(GrantRow, {**g, "key_id": key_id}) for g in grants]
            )


class IdentityBackupRepository:
    """Policies, roles and users as rows, for backup and restore (TOTP secret still wrapped)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def policies(self) -> list[Columns]:
        """Every operator-made policy."""
        return [columns_of(r) for r in await self._session.scalars(select(PolicyRow))]

    async def roles(self) -> list[Columns]:
        """Every operator-made role."""
        return [columns_of(r) for r in await self._session.scalars(select(RoleRow))]

    async def users_page(self, after: str, limit: int) -> list[Columns]:
        """Up to ``limit`` users in username order after ``after``."""
        rows = await self._session.scalars(
            select(UserRow).where(UserRow.username > after).order_by(UserRow.username).limit(limit)
        )
        return [columns_of(r) for r in rows]

    async def policy_exists(self, name: str) -> bool:
        """Whether a policy of that name is here."""
        return await self._session.get(PolicyRow, name) is not None

    async def role_exists(self, name: str) -> bool:
        """Whether a role of that name is here."""
        return await self._session.get(RoleRow, name) is not None

    async def user_id(self, username: str, user_id: str) -> str | None:
        """The id of the user here with that name or that id, or None."""
        return await self._session.scalar(
            select(UserRow.id).where((UserRow.username == username) | (UserRow.id == user_id))
        )

    async def put(self, kind: str, values: Mapping[str, Any], *, exists: bool) -> None:
        """Insert, or replace the columns of, a ``policy``, ``role`` or ``user`` row."""
        table, key = _IDENTITY_TABLES[kind]
        columns = known_columns(table, values)
        if not exists:
            await self._session.execute(insert(table), [columns])
            return
        column = table.__table__.columns[key]
        changes = {k: v for k, v in columns.items() if k not in {key, "id"}}
        await self._session.execute(update(table).where(column == columns[key]).values(changes))


_IDENTITY_TABLES: Final[Mapping[str, tuple[type[DeclarativeBase], str]]] = {
    "policy": (PolicyRow, "name"), "role": (RoleRow, "name"), "user": (UserRow, "username"),
}  # fmt: skip


def _backed_up() -> tuple[Any, ...]:
    # HSM-protected keys stay out: their material never leaves the token (issue 7).
    return (
        KeyRow.backup_allowed.is_(True),
        KeyRow.state.not_in(DESTROYED_STATES),
        KeyRow.protection != "HSM",
    )
