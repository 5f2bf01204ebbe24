"""Policies and roles of the operators' own; the built-in ones are read-only."""

from __future__ import annotations

from keystead.domain.access import (
    ALL_ACTIONS,
    BUILTIN_POLICIES,
    BUILTIN_ROLES,
    Policy,
    Statement,
    check_glob,
    glob_match,
)
from keystead.domain.identity import ROLE_OR_POLICY_NAME
from keystead.domain.models import Principal
from keystead.errors import (
    BuiltinReadOnly,
    ConflictError,
    PolicyAlreadyExists,
    PolicyNotFound,
    RoleAlreadyExists,
    RoleNotFound,
    ValidationFailed,
)
from keystead.services.access import AccessService, AccessTables
from keystead.services.clock import Clock
from keystead.storage.identity_repository import StoredPolicy, StoredRole
from keystead.storage.uow import Database


class PolicyService:
    """Create, read, replace and delete policies and roles."""

    def __init__(self, database: Database, access: AccessService, clock: Clock) -> None:
        self._database = database
        self._access = access
        self._clock = clock

    async def policies(self, principal: Principal) -> list[Policy]:
        """Return every policy, built-in ones first.

        Raises:
            PermissionDenied: The caller may not read policies.
        """
        await self._access.require(principal, "policies.list")
        tables = await self._fresh_tables()
        return sorted(tables.policies.values(), key=lambda p: (not p.builtin, p.name))

    async def policy(self, principal: Principal, name: str) -> Policy:
        """Return one policy.

        Raises:
            PermissionDenied: The caller may not read policies.
            PolicyNotFound: No such policy.
        """
        await self._access.require(principal, "policies.describe")
        found = (await self._fresh_tables()).policies.get(name)
        if found is None:
            raise PolicyNotFound
        return found

    async def put_policy(self, principal: Principal, policy: Policy, *, create: bool) -> Policy:
        """Create (``create``) or replace a policy after checking every statement.

        Raises:
            PermissionDenied: The caller may not.
            ValidationFailed: A bad name, an action glob that matches no action, a bad key glob.
            BuiltinReadOnly: The name is a built-in policy's.
            PolicyAlreadyExists / PolicyNotFound: For create / replace.
        """
        await self._access.require(principal, "policies.create" if create else "policies.update")
        _check_name(policy.name)
        if policy.name in BUILTIN_POLICIES:
            raise PolicyAlreadyExists if create else BuiltinReadOnly
        for statement in policy.statements:
            _check_statement(statement)
        stored = StoredPolicy(policy.name, policy.description, _statements_json(policy))
        async with self._database.unit_of_work() as uow:
            done = await uow.access.put_policy(stored, self._clock(), create=create)
        if not done:
            raise PolicyAlreadyExists if create else PolicyNotFound
        self._access.invalidate()
        return policy

    async def delete_policy(self, principal: Principal, name: str) -> None:
        """Delete a policy no role uses.

        Raises:
            PermissionDenied: The caller may not.
            BuiltinReadOnly: A built-in policy.
            ConflictError: A role still uses it.
            PolicyNotFound: No such policy.
        """
        await self._access.require(principal, "policies.delete")
        if name in BUILTIN_POLICIES:
            raise BuiltinReadOnly
        users = [r for r, ps in (await self._fresh_tables()).roles.items() if name in ps]
        if users:
            msg = f"policy {name!r} is used by roles {', '.join(sorted(users))}"
            raise ConflictError(msg)
        async with self._database.unit_of_work() as uow:
            if not await uow.access.delete_policy(name):
                raise PolicyNotFound
        self._access.invalidate()

    async def roles(self, principal: Principal) -> list[StoredRole]:
        """Return every role, built-in ones first.

        Raises:
            PermissionDenied: The caller may not read roles.
        """
        await self._access.require(principal, "roles.list")
        return await self._role_rows()

    async def role(self, principal: Principal, name: str) -> StoredRole:
        """Return one role.

        Raises:
            PermissionDenied: The caller may not read roles.
            RoleNotFound: No such role.
        """
        await self._access.require(principal, "roles.describe")
        for row in await self._role_rows():
            if row.name == name:
                return row
        raise RoleNotFound

    async def put_role(self, principal: Principal, role: StoredRole, *, create: bool) -> StoredRole:
        """Create (``create``) or replace a role bundling existing policies.

        Raises:
            PermissionDenied: The caller may not.
            ValidationFailed: A bad name or an unknown policy.
            BuiltinReadOnly: The name is a built-in role's.
            RoleAlreadyExists / RoleNotFound: For create / replace.
        """
        await self._access.require(principal, "roles.create" if create else "roles.update")
        _check_name(role.name)
        if role.name in BUILTIN_ROLES:
            raise RoleAlreadyExists if create else BuiltinReadOnly
        known = (await self._fresh_tables()).policies
        unknown = sorted(set(role.policies) - set(known))
        if unknown:
            msg = f"unknown policies: {', '.join(unknown)}"
            raise ValidationFailed(msg)
        async with self._database.unit_of_work() as uow:
            done = await uow.access.put_role(role, self._clock(), create=create)
        if not done:
            raise RoleAlreadyExists if create else RoleNotFound
        self._access.invalidate()
        return role

    async def delete_role(self, principal: Principal, name: str) -> None:
        """Delete a role; users and tokens that carried it lose what it gave.

        Raises:
            PermissionDenied: The caller may not.
            BuiltinReadOnly: A built-in role.
            RoleNotFound: No such role.
        """
        await self._access.require(principal, "roles.delete")
        if name in BUILTIN_ROLES:
            raise BuiltinReadOnly
        async with self._database.unit_of_work() as uow:
            if not await uow.access.delete_role(name):
                raise RoleNotFound
        self._access.invalidate()

    async def _fresh_tables(self) -> AccessTables:
        self._access.invalidate()
        return await self._access.tables()

    async def _role_rows(self) -> list[StoredRole]:
        async with self._database.unit_of_work() as uow:
            stored = await uow.access.roles()
        builtin = [
            StoredRole(name, BUILTIN_POLICIES[name].description, policies)
            for name, policies in sorted(BUILTIN_ROLES.items())
        ]
        return builtin + stored


def _check_name(name: str) -> None:
    if not ROLE_OR_POLICY_NAME.fullmatch(name):
        msg = "a name is 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit"
        raise ValidationFailed(msg)


def _check_statement(statement: Statement) -> None:
    for pattern in statement.actions:
        if not any(glob_match(pattern, action) for action in ALL_ACTIONS):
            msg = f"action {pattern!r} matches no action; actions look like 'keys.encrypt'"
            raise ValidationFailed(msg)
    for pattern in statement.keys:
        if not check_glob(pattern):
            msg = f"key glob {pattern!r}: letters, digits, . _ : - and the wildcards * ?"
            raise ValidationFailed(msg)


def _statements_json(policy: Policy) -> list[dict[str, object]]:
    return [
        {"effect": s.effect.value, "actions": list(s.actions), "keys": list(s.keys)}
        for s in policy.statements
    ]
