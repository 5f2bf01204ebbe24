"""Authorization: one place that says whether a principal may take an action (section 7).

Roles and policies are read from the database at most every few seconds and kept compiled in
memory; grants travel with each cached key. So a check on a hot key reads nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from keystead.domain.access import (
    BUILTIN_POLICIES,
    BUILTIN_ROLES,
    GRANT_ACTIONS,
    KEY_READ_ACTIONS,
    KEY_USE_ACTIONS,
    PERSONAL_KEY_PREFIX,
    PUBLIC_HALF_USES,
    BuiltinRole,
    Effect,
    Policy,
    Statement,
    evaluate,
    permission_of,
)
from keystead.domain.identity import Grant
from keystead.domain.models import Principal
from keystead.errors import PermissionDenied, StorageIntegrityError
from keystead.services.key_cache import CachedKey
from keystead.storage.identity_repository import StoredPolicy, StoredRole
from keystead.storage.uow import Database

# Roles and policies changed on another node are seen within this time.
_TTL_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class AccessTables:
    """The policies and roles in force: built-in ones and the operators' own."""

    policies: Mapping[str, Policy]
    roles: Mapping[str, tuple[str, ...]]
    _by_roles: dict[tuple[str, ...], tuple[Statement, ...]] = field(default_factory=dict)

    def statements(self, roles: tuple[str, ...]) -> tuple[Statement, ...]:
        """Return the statements of every policy of these roles (unknown names give none)."""
        found = self._by_roles.get(roles)
        if found is None:
            names = (name for role in roles for name in self.roles.get(role, ()))
            policies = (self.policies.get(name) for name in names)
            found = tuple(s for p in policies if p is not None for s in p.statements)
            self._by_roles[roles] = found
        return found


def policy_from_stored(stored: StoredPolicy) -> Policy:
    """Rebuild a policy from its JSON statements.

    Raises:
        StorageIntegrityError: A stored statement is not of the documented shape.
    """
    statements = [_statement(item) for item in stored.statements]
    if not all(statements):
        detail = f"policy {stored.name!r} holds a statement of an unknown shape"
        raise StorageIntegrityError(operator_detail=detail)
    return Policy(stored.name, tuple(s for s in statements if s), stored.description)


def _statement(item: Mapping[str, object]) -> Statement | None:
    effect, actions, keys = item.get("effect"), item.get("actions"), item.get("keys", ["*"])
    if effect not in {e.value for e in Effect}:
        return None
    if not (isinstance(actions, list) and isinstance(keys, list)):
        return None
    return Statement(Effect(str(effect)), tuple(map(str, actions)), tuple(map(str, keys)))


def build_tables(policies: Sequence[StoredPolicy], roles: Sequence[StoredRole]) -> AccessTables:
    """Merge the built-in policies and roles with the stored ones (built-ins win)."""
    merged_policies: dict[str, Policy] = {p.name: policy_from_stored(p) for p in policies}
    merged_policies.update(BUILTIN_POLICIES)
    merged_roles: dict[str, tuple[str, ...]] = {r.name: r.policies for r in roles}
    merged_roles.update(BUILTIN_ROLES)
    return AccessTables(merged_policies, merged_roles)


@dataclass(frozen=True, slots=True)
class Target:
    """The key an action is taken on: its name, and for an existing key its owner and grants."""

    name: str
    owner: str | None = None
    grants: Sequence[Grant] = ()
    exists: bool = False

    @classmethod
    def of(cls, entry: CachedKey) -> Target:
        """The target of a cached key."""
        return cls(entry.key.name, entry.key.owner, entry.grants, exists=True)


def decide(
    principal: Principal, action: str, statements: Sequence[Statement], target: Target | None
) -> bool:
    """Whether ``principal`` may take ``action`` (on ``target``, a key, if the action has one).

    The rules, in order:

    1. A user's own key (named ``user:NAME``) signs for its owner alone, root included;
       verifying needs only its public half and follows the other rules.
    2. Root may do anything else.
    3. A matching deny refuses; otherwise a matching allow permits.
    4. With the key-user role, ownership permits every use of a key and managing its
       grants, and a grant the uses it lists; both let the holder read the key's metadata.
    """
    permission = permission_of(action)
    name = None if target is None else target.name
    effect = None if principal.is_root else evaluate(statements, permission, name)
    private_use = permission in KEY_USE_ACTIONS and permission not in PUBLIC_HALF_USES
    if target is not None and private_use and _personal(target.name):
        return effect is not Effect.DENY and _holds(principal, target, permission, owner=True)
    if principal.is_root or effect is not None:
        return principal.is_root or effect is Effect.ALLOW
    return target is not None and _holds(principal, target, permission, owner=False)


def _personal(name: str) -> bool:
    return name.startswith(PERSONAL_KEY_PREFIX)


def _holds(principal: Principal, target: Target, permission: str, *, owner: bool) -> bool:
    """Whether ownership (or, unless ``owner``, a grant) gives a key-user ``permission``."""
    if not (target.exists and BuiltinRole.KEY_USER.value in principal.roles):
        return False
    if principal.is_root:
        return False
    if target.owner == principal.display_name:
        return permission in KEY_USE_ACTIONS | KEY_READ_ACTIONS | GRANT_ACTIONS
    operation = permission.removeprefix("keys.")
    return not owner and any(
        grant.grantee == principal.display_name
        and (operation in grant.operations or permission in KEY_READ_ACTIONS)
        for grant in target.grants
    )


class AccessService:
    """Checks actions against roles, policies, ownership and grants."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._tables: AccessTables | None = None
        self._fresh_until = 0.0

    async def tables(self) -> AccessTables:
        """Return the policies and roles in force (re-read every few seconds).

        Raises:
            StorageError: The database is unavailable.
        """
        if self._tables is None or self._fresh_until < time.monotonic():
            async with self._database.unit_of_work() as uow:
                policies = await uow.access.policies()
                roles = await uow.access.roles()
            self._tables = build_tables(policies, roles)
            self._fresh_until = time.monotonic() + _TTL_SECONDS
        return self._tables

    def invalidate(self) -> None:
        """Re-read roles and policies at the next check (after this node changed them)."""
        self._tables = None

    async def require(self, principal: Principal, action: str) -> None:
        """Allow an action that concerns no key, or refuse it.

        Raises:
            PermissionDenied: The caller's roles do not allow it.
        """
        if principal.is_root:
            return
        statements = (await self.tables()).statements(principal.roles)
        if not decide(principal, action, statements, None):
            raise PermissionDenied(_denied(action))

    async def check_name(self, principal: Principal, action: str, name: str) -> None:
        """Refuse ``action`` on a key of that name that does not exist.

        A caller that may not take the action on a key of that name gets PermissionDenied
        whether the key exists or not, so names cannot be probed.

        Raises:
            PermissionDenied: The caller may not.
        """
        statements = await self._statements(principal)
        if not decide(principal, action, statements, Target(name)):
            raise PermissionDenied(_denied(action))

    async def check_entry(self, principal: Principal, action: str, entry: CachedKey) -> None:
        """Refuse ``action`` on a key already resolved (a key named by a ciphertext, say).

        Raises:
            PermissionDenied: The caller may not.
        """
        statements = await self._statements(principal)
        if not decide(principal, action, statements, Target.of(entry)):
            raise PermissionDenied(_denied(action))

    async def check_new_key(self, principal: Principal, name: str) -> None:
        """Refuse creating a key of that name unless the caller may.

        Raises:
            PermissionDenied: The caller may not, or the name is reserved for users' keys.
        """
        if name.startswith(PERSONAL_KEY_PREFIX):
            msg = f"key names starting {PERSONAL_KEY_PREFIX!r} are reserved for users' own keys"
            raise PermissionDenied(msg)
        statements = await self._statements(principal)
        if not decide(principal, "keys.create", statements, Target(name)):
            raise PermissionDenied(_denied("keys.create"))

    async def _statements(self, principal: Principal) -> tuple[Statement, ...]:
        if principal.is_root:
            return ()
        return (await self.tables()).statements(principal.roles)


def _denied(action: str) -> str:
    return f"the caller may not {action}"
