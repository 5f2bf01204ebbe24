"""The identity namespaces of ``AsyncClient``: the async twins of ``_identity``.

Arguments, results and errors are those of the synchronous method of the same name.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from keystead_sdk import _identity_calls as calls
from keystead_sdk._calls import AsyncSend
from keystead_sdk._identity_calls import Secret, StatementLike
from keystead_sdk._identity_models import (
    Grant,
    IssuedToken,
    Policy,
    RecoveryCodes,
    Role,
    TokenInfo,
    TotpEnrollment,
    User,
    UserPage,
    UserPublicKey,
    WhoAmI,
)


class AsyncAuthAPI:
    """``client.auth``: log in and out, the caller's own token, password and TOTP."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    async def login(
        self,
        username: str,
        password: Secret,
        *,
        totp: Secret | None = None,
        recovery_code: Secret | None = None,
    ) -> IssuedToken:
        """Log in with a password (and a code once TOTP is enrolled); see ``AuthAPI.login``."""
        return await self._send(calls.login(username, password, totp, recovery_code))

    async def register(self, username: str, password: Secret) -> User:
        """Register oneself as a new user, when the server allows it; no token is sent."""
        return await self._send(calls.register(username, password))

    async def logout(self) -> None:
        """Revoke the calling token."""
        return await self._send(calls.logout())

    async def renew(self) -> TokenInfo:
        """Push the calling token's expiry forward (up to its ``max_expires_at``)."""
        return await self._send(calls.renew())

    async def whoami(self) -> WhoAmI:
        """Describe the caller: name, kind, token id, roles, expiry."""
        return await self._send(calls.whoami())

    async def change_password(self, current_password: Secret, new_password: Secret) -> None:
        """Change one's own password."""
        return await self._send(calls.change_password(current_password, new_password))

    async def totp_enroll(self, password: Secret) -> TotpEnrollment:
        """Start TOTP enrolment (the password is asked again): a secret for an app."""
        return await self._send(calls.totp_enroll(password))

    async def totp_confirm(self, code: Secret) -> RecoveryCodes:
        """Enable TOTP with a first code from the app; returns the recovery codes, once."""
        return await self._send(calls.totp_confirm(code))

    async def totp_disable(self, code: Secret) -> None:
        """Turn TOTP off with a current code."""
        return await self._send(calls.totp_disable(code))


class AsyncTokensAPI:
    """``client.tokens``: API tokens for oneself or (administrators) for service accounts."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    async def create(
        self,
        *,
        username: str | None = None,
        roles: Iterable[str] | None = None,
        ttl_seconds: int | None = None,
        description: str = "",
    ) -> IssuedToken:
        """Make an API token, shown once; see ``TokensAPI.create``."""
        return await self._send(calls.create_token(username, roles, ttl_seconds, description))

    async def list(
        self,
        *,
        username: str | None = None,
        all: bool = False,  # noqa: A002 - the name of the query parameter
    ) -> builtins.list[TokenInfo]:
        """The caller's live tokens; another user's (``username``) or everyone's (``all``)."""
        return await self._send(calls.list_tokens(username, everyone=all))

    async def revoke(self, token_id: str) -> None:
        """Revoke a token by id."""
        return await self._send(calls.revoke_token(token_id))


class AsyncUsersAPI:
    """``client.users``: people and service accounts (administrators)."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    async def create(
        self,
        username: str,
        password: Secret | None = None,
        *,
        roles: Iterable[str] = (),
        kind: str = "user",
    ) -> User:
        """Create a user (with a password) or a service account; see ``UsersAPI.create``."""
        return await self._send(calls.create_user(username, password, roles, kind))

    async def list(self, limit: int = 100, cursor: str | None = None) -> UserPage:
        """List users by name, one page at a time."""
        return await self._send(calls.list_users(limit, cursor))

    async def get(self, username: str) -> User:
        """Describe a user."""
        return await self._send(calls.get_user(username))

    async def update(self, username: str, *, roles: Iterable[str]) -> User:
        """Replace the roles a user carries."""
        return await self._send(calls.update_user(username, roles))

    async def delete(self, username: str) -> None:
        """Delete a user and revoke their tokens."""
        return await self._send(calls.delete_user(username))

    async def disable(self, username: str) -> User:
        """Lock a user out until ``enable``."""
        return await self._send(calls.user_action(username, "disable"))

    async def enable(self, username: str) -> User:
        """Let a disabled user back in."""
        return await self._send(calls.user_action(username, "enable"))

    async def set_password(self, username: str, password: Secret) -> None:
        """Reset another user's password."""
        return await self._send(calls.set_user_password(username, password))

    async def reset_totp(self, username: str) -> User:
        """Turn a user's TOTP off."""
        return await self._send(calls.user_action(username, "reset-totp"))

    async def public_key(self, username: str, version: int | None = None) -> UserPublicKey:
        """The public half of a user's own signing key (PEM)."""
        return await self._send(calls.user_public_key(username, version))


class AsyncPoliciesAPI:
    """``client.policies``: named lists of allow/deny statements (administrators)."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    async def create(
        self, name: str, statements: Iterable[StatementLike], *, description: str = ""
    ) -> Policy:
        """Create a policy; see ``PoliciesAPI.create``."""
        return await self._send(calls.put_policy(name, statements, description, create=True))

    async def list(self) -> builtins.list[Policy]:
        """Every policy, built-in ones included."""
        return await self._send(calls.list_policies())

    async def get(self, name: str) -> Policy:
        """Describe a policy."""
        return await self._send(calls.get_policy(name))

    async def update(
        self, name: str, statements: Iterable[StatementLike], *, description: str = ""
    ) -> Policy:
        """Replace a policy's statements and description (``PUT``)."""
        return await self._send(calls.put_policy(name, statements, description, create=False))

    async def delete(self, name: str) -> None:
        """Delete a policy."""
        return await self._send(calls.delete_policy(name))


class AsyncRolesAPI:
    """``client.roles``: named bundles of policies (administrators)."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    async def create(self, name: str, policies: Iterable[str], *, description: str = "") -> Role:
        """Create a role from policy names."""
        return await self._send(calls.put_role(name, policies, description, create=True))

    async def list(self) -> builtins.list[Role]:
        """Every role, built-in ones included."""
        return await self._send(calls.list_roles())

    async def get(self, name: str) -> Role:
        """Describe a role."""
        return await self._send(calls.get_role(name))

    async def update(self, name: str, policies: Iterable[str], *, description: str = "") -> Role:
        """Replace a role's policies and description (``PUT``)."""
        return await self._send(calls.put_role(name, policies, description, create=False))

    async def delete(self, name: str) -> None:
        """Delete a role."""
        return await self._send(calls.delete_role(name))


class AsyncGrantsAPI:
    """``client.grants``: operations on one key for one principal, beyond their roles."""

    def __init__(self, send: AsyncSend) -> None:
        self._send = send

    async def create(self, key: str, principal: str, operations: Iterable[str]) -> Grant:
        """Grant ``operations`` on ``key`` to ``principal``."""
        return await self._send(calls.create_grant(key, principal, operations))

    async def list(self, key: str) -> builtins.list[Grant]:
        """The live grants of a key."""
        return await self._send(calls.list_grants(key))

    async def revoke(self, key: str, grant_id: str) -> None:
        """Revoke a grant."""
        return await self._send(calls.revoke_grant(key, grant_id))
