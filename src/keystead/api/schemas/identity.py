"""Bodies of /v1/auth, /v1/users, /v1/roles, /v1/policies and /v1/keys/{key}/grants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from keystead.api.schemas.base import Request, Response

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RoleList = Annotated[list[Name], msgspec.Meta(max_length=32)]
TotpCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Ttl = Annotated[int, msgspec.Meta(ge=60, le=366 * 86400)]
Glob = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class LoginRequest(Request):
    """A password login; ``totp`` (or one ``recovery_code``) once TOTP is enrolled."""

    username: Username
    password: Password
    totp: TotpCode | None = None
    recovery_code: TotpCode | None = None


class TokenResponse(Response):
    """A new token: its value is shown once, here, and never again."""

    token: str
    id: str
    expires_at: datetime | None
    max_expires_at: datetime | None
    roles: list[str]


class RegisterRequest(Request):
    """Self-registration (when the server allows it): the configured roles are given."""

    username: Username
    password: Password


class WhoAmIResponse(Response):
    """The caller."""

    name: str
    kind: str
    token_id: str
    roles: list[str]
    expires_at: datetime | None


class ChangePasswordRequest(Request):
    """A user's own password change: the current one, then the new one."""

    current_password: Password
    new_password: Password


class TotpEnrollRequest(Request):
    """The caller's password, asked again before a second factor is put on the account."""

    password: Password


class TotpEnrollResponse(Response):
    """The TOTP secret to put into an authenticator app; confirm it with a code."""

    otpauth_uri: str
    secret: str


class TotpCodeRequest(Request):
    """A code from the authenticator app."""

    code: TotpCode


class RecoveryCodesResponse(Response):
    """Single-use recovery codes, shown once: each opens one login without the app."""

    recovery_codes: list[str]


class CreateTokenRequest(Request):
    """An API token for oneself, or (admin) for a service account; roles a subset."""

    username: Username | None = None
    roles: RoleList | None = None
    ttl_seconds: Ttl | None = None
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenInfoResponse(Response):
    """A token's metadata: never its value."""

    id: str
    kind: str
    username: str | None
    description: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    max_expires_at: datetime | None
    created_by: str | None


class TokenListResponse(Response):
    """Live tokens."""

    tokens: list[TokenInfoResponse]


class CreateUserRequest(Request):
    """A person (with a password) or a service account (``kind: service``, no password)."""

    username: Username
    password: Password | None = None
    roles: RoleList = msgspec.field(default_factory=list)
    kind: Literal["user", "service"] = "user"


class UpdateUserRequest(Request):
    """The roles a user carries."""

    roles: RoleList


class SetPasswordRequest(Request):
    """An administrator's reset of another user's password."""

    password: Password


class UserResponse(Response):
    """A user: never a password, hash or TOTP secret."""

    username: str
    kind: str
    roles: list[str]
    disabled: bool
    totp_enabled: bool
    key_id: str | None
    created_at: datetime
    updated_at: datetime


class UserListResponse(Response):
    """One page of users, by name."""

    users: list[UserResponse]
    next_cursor: str | None


class UserPublicKeyResponse(Response):
    """A user's own signing key: one version's public half (PEM), id, spec and states."""

    username: str
    public_key: str
    key_id: str
    version: int
    spec: str
    primary_version: int
    key_state: str
    version_state: str


class StatementBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One statement: allow or deny actions (globs) on keys (name globs)."""

    effect: Literal["allow", "deny"]
    actions: Annotated[list[Glob], msgspec.Meta(min_length=1, max_length=100)]
    keys: Annotated[list[Glob], msgspec.Meta(min_length=1, max_length=100)] = msgspec.field(
        default_factory=lambda: ["*"]
    )


class PolicyRequest(Request):
    """A policy of one's own."""

    name: Name
    statements: Annotated[list[StatementBody], msgspec.Meta(min_length=1, max_length=100)]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class PolicyResponse(Response):
    """A policy; ``builtin`` ones cannot be changed."""

    name: str
    description: str
    builtin: bool
    statements: list[StatementBody]


class PolicyListResponse(Response):
    """Every policy."""

    policies: list[PolicyResponse]


class RoleRequest(Request):
    """A role of one's own: the policies it bundles."""

    name: Name
    policies: Annotated[list[Name], msgspec.Meta(min_length=1, max_length=32)]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RoleResponse(Response):
    """A role; ``builtin`` ones cannot be changed."""

    name: str
    description: str
    builtin: bool
    policies: list[str]


class RoleListResponse(Response):
    """Every role."""

    roles: list[RoleResponse]


class GrantRequest(Request):
    """Operations on this key for one named principal."""

    principal: Username
    operations: Annotated[list[Name], msgspec.Meta(min_length=1, max_length=20)]


class GrantResponse(Response):
    """A grant."""

    id: str
    key_id: str
    principal: str
    operations: list[str]
    created_by: str
    created_at: datetime


class GrantListResponse(Response):
    """The live grants of a key."""

    grants: list[GrantResponse]


class GenerateRootRequest(Request):
    """One unseal share towards a new root token, or a reset of the progress."""

    share: Annotated[bytes, msgspec.Meta(max_length=256)] | None = None
    reset: bool = False


class GenerateRootResponse(Response):
    """Progress towards a new root token; the token itself once the quorum is reached."""

    progress: int
    threshold: int
    root_token: str | None = None


class RevokeRootResponse(Response):
    """How many root tokens were revoked."""

    revoked: int
