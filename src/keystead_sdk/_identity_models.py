"""Frozen pydantic models of the identity and access answers (ARCHITECTURE.md section 7).

Token values, TOTP secrets, recovery codes and a new root token are secrets: they are kept
as ``SecretStr`` or left out of ``repr`` and ``str``. No model ever holds a password.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import Field, SecretStr

from keystead_sdk._models import _Model


class IssuedToken(_Model):
    """A new token, from a login or ``tokens.create``: its value is shown once, here.

    Attributes:
        token: The token; pass ``token.get_secret_value()`` to ``Client(token=...)``.
            Hidden from ``repr``.
        id: The token's id, to list or revoke it by.
        expires_at: When it expires unless renewed; ``None`` if never.
        max_expires_at: The latest time renewals can push ``expires_at`` to.
        roles: The roles the token carries.
    """

    token: SecretStr = Field(repr=False)
    id: str
    expires_at: datetime | None
    max_expires_at: datetime | None
    roles: list[str]


class TokenInfo(_Model):
    """A token's metadata; never its value.

    Attributes:
        id: The token's id.
        kind: ``"session"`` (a login), ``"api"`` (``tokens.create``) or ``"root"``.
        username: The user it acts for; ``None`` for a root token.
        description: Free text given at creation.
        roles: The roles it carries.
        created_at: When it was made.
        expires_at: When it expires unless renewed; ``None`` if never.
        max_expires_at: The latest time renewals can push ``expires_at`` to.
        created_by: Who made it.
    """

    id: str
    kind: str
    username: str | None
    description: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    max_expires_at: datetime | None
    created_by: str | None


class WhoAmI(_Model):
    """The caller, as the server sees its token.

    Attributes:
        name: The user's (or service account's) name; ``"root"`` for a root token.
        kind: The token's kind: ``"session"`` (a login), ``"api"`` or ``"root"``.
        token_id: The id of the token used.
        roles: The roles that token carries.
        expires_at: When that token expires; ``None`` if never.
    """

    name: str
    kind: str
    token_id: str
    roles: list[str]
    expires_at: datetime | None


class TotpEnrollment(_Model):
    """A TOTP secret to put into an authenticator app; ``auth.totp_confirm`` enables it.

    Attributes:
        otpauth_uri: The ``otpauth://`` URI to show as a QR code; it holds the secret.
            Hidden from ``repr``.
        secret: The base32 secret, to type in by hand. Hidden from ``repr``.
    """

    otpauth_uri: SecretStr = Field(repr=False)
    secret: SecretStr = Field(repr=False)


class RecoveryCodes(_Model):
    """Single-use codes that each open one login without the app, shown once.

    Attributes:
        recovery_codes: The codes; hidden from ``repr``.
    """

    recovery_codes: list[str] = Field(repr=False)


class User(_Model):
    """A person or a service account; never a password, hash or TOTP secret.

    Attributes:
        username: The unique name.
        kind: ``"user"`` (logs in with a password) or ``"service"`` (API tokens only).
        roles: The roles the user carries.
        disabled: Whether the user is locked out (and every token of theirs refused).
        totp_enabled: Whether a login needs a TOTP code too.
        key_id: The id of the user's own signing key, if any.
        created_at: When the user was made.
        updated_at: When the user last changed.
    """

    username: str
    kind: str
    roles: list[str]
    disabled: bool
    totp_enabled: bool
    key_id: str | None
    created_at: datetime
    updated_at: datetime


class UserPage(_Model):
    """One page of users, ordered by name.

    Attributes:
        users: The users of this page.
        next_cursor: Pass it as ``cursor`` to get the next page; ``None`` on the last page.
    """

    users: list[User]
    next_cursor: str | None


class UserPublicKey(_Model):
    """The public half of a user's own signing key.

    Attributes:
        username: The user.
        public_key: A PEM SubjectPublicKeyInfo.
        key_id: The id of the user's key.
        version: The key version this public key belongs to.
        spec: The key spec, e.g. ``"ED25519"``.
        primary_version: The version that signs now.
        key_state: The key's lifecycle state, e.g. ``"ACTIVE"``, ``"COMPROMISED"``.
        version_state: This version's lifecycle state.
    """

    username: str
    public_key: str
    key_id: str
    version: int
    spec: str
    primary_version: int
    key_state: str
    version_state: str


class Statement(_Model):
    """One policy statement: allow or deny actions on keys; deny wins, nothing is allowed else.

    Attributes:
        effect: ``"allow"`` or ``"deny"``.
        actions: Action globs, e.g. ``"keys.encrypt"`` or ``"keys.*"``.
        keys: Key name globs; ``["*"]`` is every key.
    """

    effect: str
    actions: list[str]
    keys: list[str] = Field(default_factory=lambda: ["*"])

    @classmethod
    def allow(cls, actions: Iterable[str], keys: Iterable[str] = ("*",)) -> Statement:
        """A statement that allows ``actions`` on the keys named by ``keys``."""
        return cls(effect="allow", actions=list(actions), keys=list(keys))

    @classmethod
    def deny(cls, actions: Iterable[str], keys: Iterable[str] = ("*",)) -> Statement:
        """A statement that denies ``actions`` on the keys named by ``keys``."""
        return cls(effect="deny", actions=list(actions), keys=list(keys))


class Policy(_Model):
    """A named list of statements; ``builtin`` ones cannot be changed.

    Attributes:
        name: The unique name.
        description: Free text.
        builtin: Whether Keystead ships it (read-only).
        statements: Its statements.
    """

    name: str
    description: str
    builtin: bool
    statements: list[Statement]


class Role(_Model):
    """A named bundle of policies that users and tokens carry; ``builtin`` ones are read-only.

    Attributes:
        name: The unique name, e.g. ``"key-user"``.
        description: Free text.
        builtin: Whether Keystead ships it (read-only).
        policies: The names of its policies.
    """

    name: str
    description: str
    builtin: bool
    policies: list[str]


class Grant(_Model):
    """Operations on one key for one named principal, besides what their roles allow.

    Attributes:
        id: The grant's id, to revoke it by.
        key_id: The key's id.
        principal: The user or service account it is for.
        operations: The operations granted, e.g. ``["encrypt", "decrypt"]``.
        created_by: Who made it.
        created_at: When it was made.
    """

    id: str
    key_id: str
    principal: str
    operations: list[str]
    created_by: str
    created_at: datetime


class GenerateRootStatus(_Model):
    """Progress towards a new root token from unseal shares.

    Attributes:
        progress: How many shares have been given so far.
        threshold: How many shares make the quorum.
        root_token: The new root token, on the answer that completes the quorum only;
            hidden from ``repr``.
    """

    progress: int
    threshold: int
    root_token: SecretStr | None = Field(default=None, repr=False)
