"""Users and service accounts: create (with their own key pair), list, change, disable, delete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from keystead.crypto.passwords import PasswordHasher, check_password_rules
from keystead.domain.access import personal_key_name
from keystead.domain.identity import USERNAME, User, UserKind
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Principal
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import (
    KeysteadError,
    PermissionDenied,
    RegistrationClosed,
    UserNotFound,
    ValidationFailed,
    WeakPassword,
)
from keystead.services.access import AccessService
from keystead.services.clock import Clock
from keystead.services.keys import KeyService, NewKey
from keystead.services.lifecycle import LifecycleService
from keystead.services.tokens import TokenService
from keystead.storage.identity_repository import StoredUser
from keystead.storage.uow import Database
from keystead.types import KeyId

RESERVED_USERNAMES = frozenset({"root"})


@dataclass(frozen=True, slots=True)
class UserPolicy:
    """What the configuration says about new users."""

    allow_registration: bool
    registration_roles: tuple[str, ...]
    key_spec: KeySpec


def check_new_password(password: str) -> None:
    """Refuse a password that is too short, too long or common.

    Raises:
        WeakPassword: Saying which rule it breaks.
    """
    problem = check_password_rules(password)
    if problem is not None:
        raise WeakPassword(problem)


class UserService:
    """People and service accounts; each gets its own signing key pair at creation."""

    def __init__(  # noqa: PLR0913, PLR0917 - the services a user's life touches
        self,
        database: Database,
        keys: KeyService,
        lifecycle: LifecycleService,
        access: AccessService,
        tokens: TokenService,
        hasher: PasswordHasher,
        clock: Clock,
        policy: UserPolicy,
    ) -> None:
        self._database = database
        self._keys = keys
        self._lifecycle = lifecycle
        self._access = access
        self._tokens = tokens
        self._hasher = hasher
        self._clock = clock
        self._policy = policy

    async def create(
        self,
        principal: Principal,
        username: str,
        password: str | None,
        roles: Sequence[str],
        kind: UserKind = UserKind.USER,
    ) -> User:
        """Create a user (or a service account, with no password) and its key pair.

        Raises:
            PermissionDenied: The caller may not create users.
            ValidationFailed: A bad name, an unknown role, a password for a service account.
            WeakPassword: The password breaks the rules.
            UserAlreadyExists: The name is taken.
            Sealed: The server is sealed.
        """
        await self._access.require(principal, "users.create")
        await self._check_roles(roles)
        return await self._create(username, password, tuple(roles), kind)

    async def register(self, username: str, password: str) -> User:
        """Self-registration, when the configuration turns it on: the configured roles.

        Raises:
            RegistrationClosed: Self-registration is off.
            ValidationFailed: A bad name.
            WeakPassword: The password breaks the rules.
            UserAlreadyExists: The name is taken.
        """
        if not self._policy.allow_registration:
            raise RegistrationClosed
        return await self._create(username, password, self._policy.registration_roles)

    async def _create(
        self,
        username: str,
        password: str | None,
        roles: tuple[str, ...],
        kind: UserKind = UserKind.USER,
    ) -> User:
        _check_username(username)
        if (kind is UserKind.SERVICE) != (password is None):
            msg = "a user needs a password; a service account has none (it uses API tokens)"
            raise ValidationFailed(msg)
        password_hash = None
        if password is not None:
            check_new_password(password)
            password_hash = await asyncio.to_thread(self._hasher.hash, password)
        now = self._clock()
        request = NewKey(
            name=personal_key_name(username), spec=self._policy.key_spec,
            usage=KeyUsage.SIGN_VERIFY, description=f"signing key of {username}",
        )  # fmt: skip
        key, first = self._keys.prepare(request, owner=username)
        user = User(
            id=str(uuid.uuid4()), username=username, kind=kind, roles=roles, disabled=False,
            key_id=str(key.id), totp_enabled=False, created_at=now, updated_at=now,
        )  # fmt: skip
        async with self._database.unit_of_work() as uow:
            await uow.users.add(user, password_hash)
            await uow.keys.add(key, first)
        return user

    async def list(self, principal: Principal, after: str | None, limit: int) -> list[User]:
        """Return one page of users by name.

        Raises:
            PermissionDenied: The caller may not list users.
        """
        await self._access.require(principal, "users.list")
        async with self._database.unit_of_work() as uow:
            return await uow.users.find(after, limit)

    async def describe(self, principal: Principal, username: str) -> User:
        """Return a user (anyone may read their own record).

        Raises:
            PermissionDenied: The caller may not read users.
            UserNotFound: No such user.
        """
        if principal.display_name != username or principal.is_root:
            await self._access.require(principal, "users.describe")
        return (await self.stored(username)).user

    async def stored(self, username: str) -> StoredUser:
        """Return a user with the stored forms of its secrets.

        Raises:
            UserNotFound: No such user.
        """
        async with self._database.unit_of_work() as uow:
            stored = await uow.users.get(username)
        if stored is None:
            raise UserNotFound
        return stored

    async def set_roles(self, principal: Principal, username: str, roles: Sequence[str]) -> User:
        """Replace the roles a user carries; its tokens carry the new ones at once.

        Raises:
            PermissionDenied: The caller may not change users.
            ValidationFailed: An unknown role.
            UserNotFound: No such user.
        """
        await self._access.require(principal, "users.update")
        await self._check_roles(roles)
        return await self._change(username, roles=list(roles))

    async def set_disabled(self, principal: Principal, username: str, *, disabled: bool) -> User:
        """Disable (every token refused at once) or enable a user.

        Raises:
            PermissionDenied: The caller may not, or would disable itself.
            UserNotFound: No such user.
        """
        await self._access.require(principal, "users.disable" if disabled else "users.enable")
        if disabled and principal.display_name == username:
            msg = "an administrator cannot disable their own account"
            raise PermissionDenied(msg)
        return await self._change(username, disabled=disabled)

    async def set_password(self, principal: Principal, username: str, password: str) -> None:
        """An administrator's reset of a user's password; the user's tokens are revoked.

        Raises:
            PermissionDenied: The caller may not.
            WeakPassword: The password breaks the rules.
            UserNotFound: No such user, or a service account.
        """
        await self._access.require(principal, "users.set_password")
        await self.replace_password(username, password)

    async def replace_password(self, username: str, password: str) -> None:
        """Store a new password hash and revoke the user's tokens.

        Raises:
            WeakPassword: The password breaks the rules.
            UserNotFound: No such user, or a service account.
        """
        check_new_password(password)
        stored = await self.stored(username)
        if stored.user.kind is UserKind.SERVICE:
            msg = "a service account has no password"
            raise UserNotFound(msg)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            await uow.users.set_fields(username, now, password_hash=password_hash)
            await uow.tokens.revoke_for_user(username, now)
        self._tokens.forget_all()

    async def delete(self, principal: Principal, username: str) -> None:
        """Delete a user: its tokens and grants are revoked, its own key deactivated.

        The key stays, DEACTIVATED, so that what the user signed still verifies.

        Raises:
            PermissionDenied: The caller may not, or would delete itself.
            UserNotFound: No such user.
        """
        await self._access.require(principal, "users.delete")
        if principal.display_name == username:
            msg = "an administrator cannot delete their own account"
            raise PermissionDenied(msg)
        stored = await self.stored(username)
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            await uow.tokens.revoke_for_user(username, now)
            touched = await uow.grants.revoke_for(username, now)
            await uow.users.delete(username)
        self._tokens.forget_all()
        for key_id in touched:
            self._keys.forget(KeyId(uuid.UUID(key_id)))
        if stored.user.key_id is not None:
            await self._retire_key(stored.user.key_id)

    async def _retire_key(self, key_id: str) -> None:
        try:
            await self._lifecycle.move(key_id, KeyState.DEACTIVATED)
        except KeysteadError:
            return  # Already deactivated, revoked or destroyed: nothing signs with it.

    async def _change(self, username: str, **fields: object) -> User:
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            await uow.users.set_fields(username, now, **fields)
            stored = await uow.users.get(username)
        if stored is None:  # the update touched no row
            raise UserNotFound
        self._tokens.forget_all()
        return stored.user

    async def _check_roles(self, roles: Sequence[str]) -> None:
        known = (await self._access.tables()).roles
        unknown = sorted(set(roles) - set(known))
        if unknown:
            msg = f"unknown roles: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            raise ValidationFailed(msg)


def _check_username(username: str) -> None:
    if not USERNAME.fullmatch(username) or username in RESERVED_USERNAMES:
        msg = (
            "a username is 2 to 64 of a-z 0-9 . _ -, starting with a letter or digit "
            "(and not 'root')"
        )
        raise ValidationFailed(msg)
