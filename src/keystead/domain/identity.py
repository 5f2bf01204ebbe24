"""Users, service accounts and grants as plain records: never a password or a secret."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
ROLE_OR_POLICY_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class UserKind(StrEnum):
    """A person logs in with a password; a service account only holds API tokens."""

    USER = "user"
    SERVICE = "service"


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A user's public record."""

    id: str
    username: str
    kind: UserKind
    roles: tuple[str, ...]
    disabled: bool
    key_id: str | None
    totp_enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """Operations on one key given to one named principal."""

    id: str
    key_id: str
    grantee: str
    operations: tuple[str, ...]
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """A token's metadata as listed: never its value nor its hash."""

    id: str
    kind: str
    username: str | None
    description: str
    roles: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    max_expires_at: datetime | None
    created_by: str | None
    revoked: bool
