"""The identity namespaces of ``Client``: auth, tokens, users, roles, policies, grants.

Each method sends one description from ``_identity_calls``. Besides the errors listed, every
method raises ``TransportError`` when the server cannot be reached, ``Unauthenticated`` for a
missing, expired or revoked token (except ``login`` and ``register``, which send none) and
``PermissionDenied`` when the token's roles do not allow the action.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from keystead_sdk import _identity_calls as calls
from keystead_sdk._calls import Send
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


class AuthAPI:
    """``client.auth``: log in and out, the caller's own token, password and TOTP."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def login(
        self,
        username: str,
        password: Secret,
        *,
        totp: Secret | None = None,
        recovery_code: Secret | None = None,
    ) -> IssuedToken:
        """Log in with a password (and a TOTP or recovery code, once TOTP is enrolled).

        The client's own token, if any, is not sent. Use the result with a new client:
        ``Client(address, token=result.token)``.

        Args:
            username: The user's name.
            password: The user's password.
            totp: The current code of the user's authenticator app.
            recovery_code: One of the user's single-use recovery codes, instead of ``totp``.

        Returns:
            The new session token, shown once.

        Raises:
            InvalidCredentials: An unknown user, a wrong password or a wrong code.
            TotpRequired: The user has TOTP and no code was given: ask for one, log in again.
            TooManyAttempts: Too many failures; ``retry_after`` says how long to wait.
        """
        return self._send(calls.login(username, password, totp, recovery_code))

    def register(self, username: str, password: Secret) -> User:
        """Register oneself as a new user, when the server allows it; no token is sent.

        Raises:
            RegistrationClosed: The server does not allow self-registration.
            Conflict: ``UserAlreadyExists``.
            ValidationFailed: ``WeakPassword``, or a name that is not allowed.
        """
        return self._send(calls.register(username, password))

    def logout(self) -> None:
        """Revoke the calling token."""
        return self._send(calls.logout())

    def renew(self) -> TokenInfo:
        """Push the calling token's expiry forward (up to its ``max_expires_at``)."""
        return self._send(calls.renew())

    def whoami(self) -> WhoAmI:
        """Describe the caller: name, kind, token id, roles, expiry."""
        return self._send(calls.whoami())

    def change_password(self, current_password: Secret, new_password: Secret) -> None:
        """Change one's own password.

        Raises:
            InvalidCredentials: ``current_password`` is wrong.
            ValidationFailed: ``WeakPassword``.
        """
        return self._send(calls.change_password(current_password, new_password))

    def totp_enroll(self, password: Secret) -> TotpEnrollment:
        """Start TOTP enrolment: a secret for an authenticator app; ``totp_confirm`` enables it.

        The account's password is asked again, so a stolen token cannot enrol a factor.

        Raises:
            InvalidCredentials: The password is wrong.
            Conflict: TOTP is already enabled.
        """
        return self._send(calls.totp_enroll(password))

    def totp_confirm(self, code: Secret) -> RecoveryCodes:
        """Enable TOTP with a first code from the app; returns the recovery codes, once.

        Raises:
            ValidationFailed: A wrong, expired or used code.
            Conflict: No enrolment is waiting for confirmation.
        """
        return self._send(calls.totp_confirm(code))

    def totp_disable(self, code: Secret) -> None:
        """Turn TOTP off with a current code.

        Raises:
            ValidationFailed: A wrong, expired or used code.
            Conflict: TOTP is not on.
        """
        return self._send(calls.totp_disable(code))


class TokensAPI:
    """``client.tokens``: API tokens for oneself or (administrators) for service accounts."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def create(
        self,
        *,
        username: str | None = None,
        roles: Iterable[str] | None = None,
        ttl_seconds: int | None = None,
        description: str = "",
    ) -> IssuedToken:
        """Make an API token.

        Args:
            username: A service account (or another user) to make it for; administrators
                only. ``None`` makes one for the caller.
            roles: A subset of the user's roles for the token to carry; ``None``: all.
            ttl_seconds: Its lifetime, 60 to 31622400 seconds; ``None``: the server default.
            description: Free text, shown by ``list``.

        Returns:
            The token, shown once.

        Raises:
            UserNotFound: No such user.
            ValidationFailed: A TTL out of range, roles the user does not have.
        """
        return self._send(calls.create_token(username, roles, ttl_seconds, description))

    def list(
        self,
        *,
        username: str | None = None,
        all: bool = False,  # noqa: A002 - the name of the query parameter
    ) -> builtins.list[TokenInfo]:
        """The caller's live tokens; another user's (``username``) or everyone's (``all``).

        Raises:
            ValueError: Both ``username`` and ``all``, before anything is sent.
        """
        return self._send(calls.list_tokens(username, everyone=all))

    def revoke(self, token_id: str) -> None:
        """Revoke a token by id (one's own; anyone's for administrators).

        Raises:
            TokenNotFound: No live token has that id.
        """
        return self._send(calls.revoke_token(token_id))


class UsersAPI:
    """``client.users``: people and service accounts (administrators).

    Methods that name a user raise ``UserNotFound`` when there is no such user.
    """

    def __init__(self, send: Send) -> None:
        self._send = send

    def create(
        self,
        username: str,
        password: Secret | None = None,
        *,
        roles: Iterable[str] = (),
        kind: str = "user",
    ) -> User:
        """Create a user (``kind="user"``, with a password) or a service account.

        Args:
            username: A unique name.
            password: The first password; ``None`` for ``kind="service"``.
            roles: The roles to give, e.g. ``["key-user"]``.
            kind: ``"user"`` or ``"service"`` (API tokens only, no password).

        Returns:
            The new user; a user gets their own signing key (``key_id``).

        Raises:
            Conflict: ``UserAlreadyExists``.
            RoleNotFound: An unknown role.
            ValidationFailed: ``WeakPassword``, a name that is not allowed, a missing password.
        """
        return self._send(calls.create_user(username, password, roles, kind))

    def list(self, limit: int = 100, cursor: str | None = None) -> UserPage:
        """List users by name, one page at a time (``cursor`` is the last ``next_cursor``)."""
        return self._send(calls.list_users(limit, cursor))

    def get(self, username: str) -> User:
        """Describe a user."""
        return self._send(calls.get_user(username))

    def update(self, username: str, *, roles: Iterable[str]) -> User:
        """Replace the roles a user carries.

        Raises:
            RoleNotFound: An unknown role.
        """
        return self._send(calls.update_user(username, roles))

    def delete(self, username: str) -> None:
        """Delete a user and revoke their tokens."""
        return self._send(calls.delete_user(username))

    def disable(self, username: str) -> User:
        """Lock a user out: logins and every token of theirs are refused until ``enable``."""
        return self._send(calls.user_action(username, "disable"))

    def enable(self, username: str) -> User:
        """Let a disabled user back in."""
        return self._send(calls.user_action(username, "enable"))

    def set_password(self, username: str, password: Secret) -> None:
        """Reset another user's password.

        Raises:
            ValidationFailed: ``WeakPassword``, or a service account.
        """
        return self._send(calls.set_user_password(username, password))

    def reset_totp(self, username: str) -> User:
        """Turn a user's TOTP off, e.g. after they lost their device and recovery codes."""
        return self._send(calls.user_action(username, "reset-totp"))

    def public_key(self, username: str, version: int | None = None) -> UserPublicKey:
        """The public half of a user's own signing key (PEM)."""
        return self._send(calls.user_public_key(username, version))


class PoliciesAPI:
    """``client.policies``: named lists of allow/deny statements (administrators).

    Methods that name a policy raise ``PolicyNotFound`` when there is no such policy, and
    ``Conflict`` (``BuiltinReadOnly``) for changing a built-in one.
    """

    def __init__(self, send: Send) -> None:
        self._send = send

    def create(
        self, name: str, statements: Iterable[StatementLike], *, description: str = ""
    ) -> Policy:
        """Create a policy.

        Args:
            name: A unique name.
            statements: ``Statement.allow([...], keys=[...])``, ``Statement.deny(...)``, or
                mappings ``{"effect", "actions", "keys"?}``.
            description: Free text.

        Raises:
            Conflict: ``PolicyAlreadyExists``.
            ValidationFailed: An empty or malformed statement list.
            ValueError: A mapping that is not a statement, before anything is sent.
        """
        return self._send(calls.put_policy(name, statements, description, create=True))

    def list(self) -> builtins.list[Policy]:
        """Every policy, built-in ones included."""
        return self._send(calls.list_policies())

    def get(self, name: str) -> Policy:
        """Describe a policy."""
        return self._send(calls.get_policy(name))

    def update(
        self, name: str, statements: Iterable[StatementLike], *, description: str = ""
    ) -> Policy:
        """Replace a policy's statements and description (``PUT``); arguments as ``create``."""
        return self._send(calls.put_policy(name, statements, description, create=False))

    def delete(self, name: str) -> None:
        """Delete a policy.

        Raises:
            Conflict: ``BuiltinReadOnly``, or a role still uses it.
        """
        return self._send(calls.delete_policy(name))


class RolesAPI:
    """``client.roles``: named bundles of policies (administrators).

    Methods that name a role raise ``RoleNotFound`` when there is no such role, and
    ``Conflict`` (``BuiltinReadOnly``) for changing a built-in one.
    """

    def __init__(self, send: Send) -> None:
        self._send = send

    def create(self, name: str, policies: Iterable[str], *, description: str = "") -> Role:
        """Create a role from policy names.

        Raises:
            Conflict: ``RoleAlreadyExists``.
            PolicyNotFound: An unknown policy.
        """
        return self._send(calls.put_role(name, policies, description, create=True))

    def list(self) -> builtins.list[Role]:
        """Every role, built-in ones included."""
        return self._send(calls.list_roles())

    def get(self, name: str) -> Role:
        """Describe a role."""
        return self._send(calls.get_role(name))

    def update(self, name: str, policies: Iterable[str], *, description: str = "") -> Role:
        """Replace a role's policies and description (``PUT``).

        Raises:
            PolicyNotFound: An unknown policy.
        """
        return self._send(calls.put_role(name, policies, description, create=False))

    def delete(self, name: str) -> None:
        """Delete a role.

        Raises:
            Conflict: ``BuiltinReadOnly``.
        """
        return self._send(calls.delete_role(name))


class GrantsAPI:
    """``client.grants``: operations on one key for one principal, beyond their roles.

    Keys are addressed by id or name; an unknown key raises ``NotFound`` (``KeyNotFound``).
    """

    def __init__(self, send: Send) -> None:
        self._send = send

    def create(self, key: str, principal: str, operations: Iterable[str]) -> Grant:
        """Grant ``operations`` (e.g. ``["encrypt", "decrypt"]``) on ``key`` to ``principal``.

        Raises:
            UserNotFound: No such principal.
            ValidationFailed: An operation that cannot be granted or the key cannot do.
        """
        return self._send(calls.create_grant(key, principal, operations))

    def list(self, key: str) -> builtins.list[Grant]:
        """The live grants of a key."""
        return self._send(calls.list_grants(key))

    def revoke(self, key: str, grant_id: str) -> None:
        """Revoke a grant.

        Raises:
            GrantNotFound: The key has no grant with that id.
        """
        return self._send(calls.revoke_grant(key, grant_id))
