"""Keys, their tags and versions. Material only as barrier ciphertext; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key, KeyVersionInfo, RevocationReason
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import ConflictError, KeyAlreadyExists
from keystead.storage.engine import AsyncSession
from keystead.storage.repositories import as_utc
from keystead.storage.tables import KeyRow, KeyTagRow, KeyVersionRow
from keystead.types import KeyId, KeyVersionNumber


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to store: its private material and public key (if any), both wrapped.

    ``valid_to`` is the expiry of imported material (BYOK); None for material that never
    expires. An HSM-protected version has no material here, only ``hsm_object_id``: the
    ``CKA_ID`` of its objects in the token.
    """

    version: int
    state: KeyState
    material_wrapped: bytes | None
    public_key_wrapped: bytes | None
    created_at: datetime
    valid_to: datetime | None = None
    hsm_object_id: bytes | None = None


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """What to list: by state, spec, or one tag ``name=value``; a page after a name."""

    state: KeyState | None = None
    spec: KeySpec | None = None
    tag: tuple[str, str] | None = None
    after_name: str | None = None
    limit: int = 100


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _key_columns(key: Key) -> dict[str, object]:
    period = key.rotation_period
    return {
        "id": str(key.id), "name": key.name, "spec": key.spec.value, "usage": key.usage.value,
        "state": key.state.value, "primary_version": key.primary_version,
        "description": key.description, "created_at": key.created_at,
        "updated_at": key.updated_at, "min_decryption_version": key.min_decryption_version,
        "rotation_period_seconds": None if period is None else int(period.total_seconds()),
        "next_rotation_at": key.next_rotation_at, "activation_date": key.activation_date,
        "deactivation_date": key.deactivation_date, "exportable": key.exportable,
        "backup_allowed": key.backup_allowed, "protection": key.protection,
        "origin": key.origin, "owner": key.owner, "destruction_date": key.destruction_date,
        "state_before_destruction": _value(key.state_before_destruction),
        "revocation_reason": _value(key.revocation_reason),
        "compromise_date": key.compromise_date,
    }  # fmt: skip


def _value(member: KeyState | RevocationReason | None) -> str | None:
    return None if member is None else member.value


def _key(row: KeyRow, tags: Mapping[str, str]) -> Key:
    seconds = row.rotation_period_seconds
    return Key(
        id=KeyId(uuid.UUID(row.id)), name=row.name, spec=KeySpec(row.spec),
        usage=KeyUsage(row.usage), state=KeyState(row.state),
        primary_version=KeyVersionNumber(row.primary_version), description=row.description,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at), tags=dict(tags),
        min_decryption_version=row.min_decryption_version,
        rotation_period=None if seconds is None else timedelta(seconds=seconds),
        next_rotation_at=_maybe_utc(row.next_rotation_at),
        activation_date=_maybe_utc(row.activation_date),
        deactivation_date=_maybe_utc(row.deactivation_date), exportable=row.exportable,
        backup_allowed=row.backup_allowed, protection=row.protection, origin=row.origin,
        owner=row.owner, destruction_date=_maybe_utc(row.destruction_date),
        state_before_destruction=_state(row.state_before_destruction),
        revocation_reason=None if row.revocation_reason is None
        else RevocationReason(row.revocation_reason),
        compromise_date=_maybe_utc(row.compromise_date),
    )  # fmt: skip


def _state(value: str | None) -> KeyState | None:
    return None if value is None else KeyState(value)


def _version(row: KeyVersionRow) -> KeyVersionInfo:
    return KeyVersionInfo(
        key_id=KeyId(uuid.UUID(row.key_id)), version=KeyVersionNumber(row.version),
        state=KeyState(row.state), created_at=as_utc(row.created_at), use_count=row.use_count,
        last_used_at=_maybe_utc(row.last_used_at),
        destruction_date=_maybe_utc(row.destruction_date),
        state_before_destruction=_state(row.state_before_destruction),
        destroyed_at=_maybe_utc(row.destroyed_at), valid_to=_maybe_utc(row.valid_to),
    )  # fmt: skip


class KeyRepository:
    """Keys, tags and versions over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: Key, first: NewVersion) -> None:
        """Insert a key, its tags and its first version.

        Raises:
            KeyAlreadyExists: The name is taken.
        """
        self._session.add(KeyRow(**_key_columns(key)))
        try:
            await self._session.flush()
        except IntegrityError:
            msg = f"a key named {key.name!r} already exists"
            raise KeyAlreadyExists(msg) from None
        self._add_tags(key.id, key.tags)
        await self.add_version(key.id, first)

    def _add_tags(self, key_id: KeyId, tags: Mapping[str, str]) -> None:
        self._session.add_all(
            KeyTagRow(key_id=str(key_id), name=name, value=value) for name, value in tags.items()
        )

    async def update(
        self, key: Key, *, expected_state: KeyState, expected_primary: int | None = None
    ) -> None:
        """Write a key's metadata if its state (and primary version) are as expected (C26).

        Raises:
            ConflictError: Another request (or node) changed the key first.
        """
        columns = _key_columns(key)
        del columns["id"], columns["created_at"]
        statement = update(KeyRow).where(
            KeyRow.id == str(key.id), KeyRow.state == expected_state.value
        )
        if expected_primary is not None:
            statement = statement.where(KeyRow.primary_version == expected_primary)
        result = await self._session.execute(
            statement.values(**columns).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
            msg = "the key was changed by another request; read it again and retry"
            raise ConflictError(msg)

    async def replace_tags(self, key_id: KeyId, tags: Mapping[str, str]) -> None:
        """Replace every tag of a key."""
        await self._session.execute(delete(KeyTagRow).where(KeyTagRow.key_id == str(key_id)))
        self._add_tags(key_id, tags)
        await self._session.flush()

    async def get(self, key_id: KeyId) -> Key | None:
        """Return the key with that id, or None."""
        row = await self._session.get(KeyRow, str(key_id), populate_existing=True)
        return None if row is None else _key(row, await self._tags(row.id))

    async def get_by_name(self, name: str) -> Key | None:
        """Return the key with that name, or None."""
        row = await self._session.scalar(select(KeyRow).where(KeyRow.name == name))
        return None if row is None else _key(row, await self._tags(row.id))

    async def _tags(self, key_id: str) -> dict[str, str]:
        rows = await self._session.scalars(select(KeyTagRow).where(KeyTagRow.key_id == key_id))
        return {row.name: row.value for row in rows}

    async def find(self, query: KeyFilter) -> list[Key]:
        """Return one page of keys ordered by name."""
        statement = select(KeyRow).order_by(KeyRow.name).limit(query.limit)
        if query.after_name is not None:
            statement = statement.where(KeyRow.name > query.after_name)
        if query.state is not None:
            statement = statement.where(KeyRow.state == query.state.value)
        if query.spec is not None:
            statement = statement.where(KeyRow.spec == query.spec.value)
        if query.tag is not None:
            tagged = select(KeyTagRow.key_id).where(
                KeyTagRow.name == query.tag[0], KeyTagRow.value == query.tag[1]
            )
            statement = statement.where(KeyRow.id.in_(tagged))
        rows = list(await self._session.scalars(statement))
        return [_key(row, await self._tags(row.id)) for row in rows]

    async def add_version(self, key_id: KeyId, version: NewVersion) -> None:
        """Insert one version."""
        self._session.add(
            KeyVersionRow(
                key_id=str(key_id), version=version.version, state=version.state.value,
                material_wrapped=version.material_wrapped,
                public_key_wrapped=version.public_key_wrapped,
                created_at=version.created_at, use_count=0, valid_to=version.valid_to,
                hsm_object_id=version.hsm_object_id,
            )
        )  # fmt: skip
        await self._session.flush()

    async def versions(self, key_id: KeyId) -> list[KeyVersionInfo]:
        """Return every version of a key, oldest first."""
        rows = await self._session.scalars(
            select(KeyVersionRow)
            .where(KeyVersionRow.key_id == str(key_id))
            .order_by(KeyVersionRow.version)
        )
        return [_version(row) for row in rows]

    async def version_states(self, key_id: KeyId) -> dict[int, KeyState]:
        """Return the state of every version of a key."""
        rows = await self._session.execute(
            select(KeyVersionRow.version, KeyVersionRow.state).where(
                KeyVersionRow.key_id == str(key_id)
            )
        )
        return {version: KeyState(state) for version, state in rows}

    async def set_version_states(self, key_id: KeyId, versions: Sequence[KeyVersionInfo]) -> None:
        """Write the state and destruction fields of the given versions."""
        for info in versions:
            await self._session.execute(
                update(KeyVersionRow)
                .where(KeyVersionRow.key_id == str(key_id), KeyVersionRow.version == info.version)
                .values(
                    state=info.state.value, destruction_date=info.destruction_date,
                    state_before_destruction=_value(info.state_before_destruction),
                    destroyed_at=info.destroyed_at,
                )
            )  # fmt: skip

    async def material(self, key_id: KeyId, version: int) -> bytes | None:
        """Return the wrapped material of one version, or None (unknown or destroyed)."""
        row = await self._session.get(KeyVersionRow, (str(key_id), version))
        return None if row is None else row.material_wrapped

    async def public_key(self, key_id: KeyId, version: int) -> bytes | None:
        """Return the wrapped public key of one version, or None."""
        row = await self._session.get(KeyVersionRow, (str(key_id), version))
        return None if row is None else row.public_key_wrapped

    async def hsm_object_ids(self, key_id: KeyId) -> dict[int, bytes]:
        """Return the token object id of every HSM-protected version of a key."""
        rows = await self._session.execute(
            select(KeyVersionRow.version, KeyVersionRow.hsm_object_id).where(
                KeyVersionRow.key_id == str(key_id), KeyVersionRow.hsm_object_id.is_not(None)
            )
        )
        return {version: ident for version, ident in rows if ident is not None}

    async def holds_material(self, key_id: KeyId) -> bool:
        """Whether any version of a key still holds its (wrapped) material."""
        found = await self._session.scalar(
            select(KeyVersionRow.version)
            .where(KeyVersionRow.key_id == str(key_id), KeyVersionRow.material_wrapped.is_not(None))
            .limit(1)
        )
        return found is not None

    async def erase_material(self, key_id: KeyId, version: int | None = None) -> None:
        """Overwrite the wrapped material (or token object id) of one or every version with NULL."""
        statement = update(KeyVersionRow).where(KeyVersionRow.key_id == str(key_id))
        if version is not None:
            statement = statement.where(KeyVersionRow.version == version)
        await self._session.execute(statement.values(material_wrapped=None, hsm_object_id=None))

    async def count_protected(self, protection: str) -> int:
        """How many keys not yet destroyed have material protected so (e.g. ``"HSM"``)."""
        destroyed = (KeyState.DESTROYED.value, KeyState.DESTROYED_COMPROMISED.value)
        statement = (
            select(func.count())
            .select_from(KeyRow)
            .where(KeyRow.protection == protection, KeyRow.state.not_in(destroyed))
        )
        return int(await self._session.scalar(statement) or 0)

    async def record_use(self, key_id: KeyId, version: int, count: int, at: datetime) -> int:
        """Add ``count`` uses to a version, set its last-use time, and return the new total."""
        await self._session.execute(
            update(KeyVersionRow)
            .where(KeyVersionRow.key_id == str(key_id), KeyVersionRow.version == version)
            .values(use_count=KeyVersionRow.use_count + count, last_used_at=at)
        )
        total = await self._session.scalar(
            select(KeyVersionRow.use_count).where(
                KeyVersionRow.key_id == str(key_id), KeyVersionRow.version == version
            )
        )
        return int(total or 0)


@dataclass(frozen=True, slots=True)
class DueWork:
    """Keys whose dates have come: to activate, deactivate, rotate or destroy.

    ``expire_versions`` are versions whose imported material passed its ``valid_to`` and is
    still there to erase.
    """

    activate: list[KeyId]
    deactivate: list[KeyId]
    rotate: list[KeyId]
    destroy: list[KeyId]
    destroy_versions: list[tuple[KeyId, int]]
    expire_versions: list[tuple[KeyId, int]]


async def find_due(session: AsyncSession, now: datetime, limit: int = 500) -> DueWork:
    """Return up to ``limit`` keys of each kind of scheduled work due at ``now``."""

    async def ids(*conditions: object) -> list[KeyId]:
        statement = select(KeyRow.id).where(*conditions).order_by(KeyRow.id).limit(limit)  # type: ignore[arg-type]
        return [KeyId(uuid.UUID(value)) for value in await session.scalars(statement)]

    async def versions(*conditions: object) -> list[tuple[KeyId, int]]:
        statement = (
            select(KeyVersionRow.key_id, KeyVersionRow.version)
            .where(*conditions)  # type: ignore[arg-type]
            .order_by(KeyVersionRow.key_id, KeyVersionRow.version)
            .limit(limit)
        )
        rows = await session.execute(statement)
        return [(KeyId(uuid.UUID(key)), version) for key, version in rows]

    return DueWork(
        destroy_versions=await versions(
            KeyVersionRow.state == KeyState.DESTROY_PENDING.value,
            KeyVersionRow.destruction_date <= now,
        ),
        expire_versions=await versions(
            KeyVersionRow.valid_to <= now, KeyVersionRow.material_wrapped.is_not(None)
        ),
        activate=await ids(
            KeyRow.state == KeyState.PRE_ACTIVE.value, KeyRow.activation_date <= now
        ),
        deactivate=await ids(
            KeyRow.state.in_([KeyState.ACTIVE.value, KeyState.SUSPENDED.value]),
            KeyRow.deactivation_date <= now,
        ),
        rotate=await ids(KeyRow.state == KeyState.ACTIVE.value, KeyRow.next_rotation_at <= now),
        destroy=await ids(
            KeyRow.state == KeyState.DESTROY_PENDING.value, KeyRow.destruction_date <= now
        ),
    )
