"""Users, login throttling, policies, roles and grants over one session; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from keystead.domain.identity import Grant, User, UserKind
from keystead.domain.throttle import ThrottleState
from keystead.errors import UserAlreadyExists
from keystead.storage.engine import AsyncSession
from keystead.storage.repositories import as_utc
from keystead.storage.tables import GrantRow, LoginThrottleRow, PolicyRow, RoleRow, UserRow


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A user with the secrets' stored forms: a hash, ciphertext, hashes."""

    user: User
    password_hash: str | None = field(repr=False)
    totp_secret_wrapped: bytes | None = field(repr=False)
    totp_last_step: int
    recovery_code_hashes: tuple[str, ...] = field(repr=False)


def _user(row: UserRow) -> StoredUser:
    return StoredUser(
        User(
            id=row.id, username=row.username, kind=UserKind(row.kind), roles=tuple(row.roles),
            disabled=row.disabled, key_id=row.key_id, totp_enabled=row.totp_confirmed,
            created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        ),
        row.password_hash, row.totp_secret_wrapped, row.totp_last_step,
        tuple(row.recovery_code_hashes or ()),
    )  # fmt: skip


class UserRepository:
    """Users by name."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User, password_hash: str | None) -> None:
        """Insert a user.

        Raises:
            UserAlreadyExists: The username is taken.
        """
        self._session.add(
            UserRow(
                id=user.id, username=user.username, kind=user.kind.value,
                password_hash=password_hash, roles=list(user.roles), disabled=user.disabled,
                key_id=user.key_id, totp_confirmed=False, totp_last_step=0,
                recovery_code_hashes=[], created_at=user.created_at,
                updated_at=user.updated_at,
            )
        )  # fmt: skip
        try:
            await self._session.flush()
        except IntegrityError:
            msg = f"a user named {user.username!r} already exists"
            raise UserAlreadyExists(msg) from None

    async def get(self, username: str, *, for_update: bool = False) -> StoredUser | None:
        """Return a user by name, or None."""
        statement = select(UserRow).where(UserRow.username == username)
        if for_update:
            statement = statement.with_for_update()
        row = await self._session.scalar(statement.execution_options(populate_existing=True))
        return None if row is None else _user(row)

    async def find(self, after: str | None, limit: int) -> list[User]:
        """Return one page of users ordered by name."""
        statement = select(UserRow).order_by(UserRow.username).limit(limit)
        if after is not None:
            statement = statement.where(UserRow.username > after)
        return [_user(row).user for row in await self._session.scalars(statement)]

    async def any_enabled_with_role(self, role: str) -> bool:
        """Whether an enabled user or service account carries ``role``."""
        rows = await self._session.scalars(select(UserRow).where(UserRow.disabled.is_(False)))
        return any(role in row.roles for row in rows)

    async def set_fields(self, username: str, now: datetime, **fields: object) -> None:
        """Update some columns of a user (the service decides which)."""
        await self._session.execute(
            update(UserRow)
            .where(UserRow.username == username)
            .values(updated_at=now, **fields)
            .execution_options(synchronize_session=False)
        )

    async def use_totp_step(self, username: str, step: int, now: datetime) -> bool:
        """Record that a TOTP time step was used; False if it (or a later one) was already."""
        result = await self._session.execute(
            update(UserRow)
            .where(UserRow.username == username, UserRow.totp_last_step < step)
            .values(totp_last_step=step, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE

    async def delete(self, username: str) -> None:
        """Delete a user."""
        await self._session.execute(delete(UserRow).where(UserRow.username == username))


class ThrottleRepository:
    """Failed-login counters."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, subjects: Sequence[str]) -> dict[str, ThrottleState]:
        """Return the counters of these subjects that exist."""
        rows = await self._session.scalars(
            select(LoginThrottleRow).where(LoginThrottleRow.subject.in_(subjects))
        )
        return {
            row.subject: ThrottleState(
                row.failures,
                None if row.next_attempt_at is None else as_utc(row.next_attempt_at),
                None if row.locked_until is None else as_utc(row.locked_until),
            )
            for row in rows
        }

    async def put(self, subject: str, throttle: ThrottleState, now: datetime) -> None:
        """Store the counter of a subject."""
        row = await self._session.get(LoginThrottleRow, subject)
        if row is None:
            row = LoginThrottleRow(subject=subject)
            self._session.add(row)
        row.failures = throttle.failures
        row.next_attempt_at = throttle.next_attempt_at
        row.locked_until = throttle.locked_until
        row.updated_at = now
        await self._session.flush()

    async def clear(self, subject: str) -> None:
        """Forget a subject's failures (after a successful login)."""
        await self._session.execute(
            delete(LoginThrottleRow).where(LoginThrottleRow.subject == subject)
        )


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A stored policy: statements as JSON objects."""

    name: str
    description: str
    statements: list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class StoredRole:
    """A stored role: the names of its policies."""

    name: str
    description: str
    policies: tuple[str, ...]


class AccessRepository:
    """Policies and roles of the operators' own."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def policies(self) -> list[StoredPolicy]:
        """Return every stored policy."""
        rows = await self._session.scalars(select(PolicyRow).order_by(PolicyRow.name))
        return [StoredPolicy(r.name, r.description, list(r.statements)) for r in rows]

    async def roles(self) -> list[StoredRole]:
        """Return every stored role."""
        rows = await self._session.scalars(select(RoleRow).order_by(RoleRow.name))
        return [StoredRole(r.name, r.description, tuple(r.policies)) for r in rows]

    async def put_policy(self, policy: StoredPolicy, now: datetime, *, create: bool) -> bool:
        """Insert (``create``) or replace a policy; False if it is missing or exists."""
        row = await self._session.get(PolicyRow, policy.name)
        if (row is None) == (not create):
            return False
        if row is None:
            row = PolicyRow(name=policy.name)
            self._session.add(row)
        row.description = policy.description
        row.statements = policy.statements
        row.updated_at = now
        await self._session.flush()
        return True

    async def put_role(self, role: StoredRole, now: datetime, *, create: bool) -> bool:
        """Insert (``create``) or replace a role; False if it is missing or exists."""
        row = await self._session.get(RoleRow, role.name)
        if (row is None) == (not create):
            return False
        if row is None:
            row = RoleRow(name=role.name)
            self._session.add(row)
        row.description = role.description
        row.policies = list(role.policies)
        row.updated_at = now
        await self._session.flush()
        return True

    async def delete_policy(self, name: str) -> bool:
        """Delete a policy; False if there was none."""
        result = await self._session.execute(delete(PolicyRow).where(PolicyRow.name == name))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of a DELETE

    async def delete_role(self, name: str) -> bool:
        """Delete a role; False if there was none."""
        result = await self._session.execute(delete(RoleRow).where(RoleRow.name == name))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of a DELETE


def _grant(row: GrantRow) -> Grant:
    return Grant(
        id=row.id, key_id=row.key_id, grantee=row.grantee, operations=tuple(row.operations),
        created_by=row.created_by, created_at=as_utc(row.created_at),
    )  # fmt: skip


class GrantRepository:
    """Grants on keys."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, grant: Grant) -> None:
        """Insert a grant."""
        self._session.add(
            GrantRow(
                id=grant.id, key_id=grant.key_id, grantee=grant.grantee,
                operations=list(grant.operations), created_by=grant.created_by,
                created_at=grant.created_at, revoked_at=None,
            )
        )  # fmt: skip
        await self._session.flush()

    async def of_key(self, key_id: str) -> list[Grant]:
        """Return the live grants of a key."""
        rows = await self._session.scalars(
            select(GrantRow)
            .where(GrantRow.key_id == key_id, GrantRow.revoked_at.is_(None))
            .order_by(GrantRow.created_at)
        )
        return [_grant(row) for row in rows]

    async def revoke(self, key_id: str, grant_id: str, now: datetime) -> bool:
        """Revoke one grant of a key; False if it has no such live grant."""
        result = await self._session.execute(
            update(GrantRow)
            .where(GrantRow.id == grant_id, GrantRow.key_id == key_id)
            .where(GrantRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE

    async def revoke_for(self, grantee: str, now: datetime) -> list[str]:
        """Revoke every grant to a principal (a deleted user); return the keys touched."""
        rows = await self._session.scalars(
            select(GrantRow).where(GrantRow.grantee == grantee, GrantRow.revoked_at.is_(None))
        )
        touched = sorted({row.key_id for row in rows})
        await self._session.execute(
            update(GrantRow)
            .where(GrantRow.grantee == grantee, GrantRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return touched
