"""Plain records of keys and versions: identifiers and metadata, never key bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from keystead.domain.lifecycle import KeyState
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.types import KeyId, KeyVersionNumber


class RevocationReason(StrEnum):
    """Why a key was revoked (the reasons of RFC 5280 that apply to keys)."""

    KEY_COMPROMISE = "KEY_COMPROMISE"
    CA_COMPROMISE = "CA_COMPROMISE"
    AFFILIATION_CHANGED = "AFFILIATION_CHANGED"
    SUPERSEDED = "SUPERSEDED"
    CESSATION_OF_OPERATION = "CESSATION_OF_OPERATION"
    UNSPECIFIED = "UNSPECIFIED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    """A named, long-lived key and its current metadata."""

    id: KeyId
    name: str
    spec: KeySpec
    usage: KeyUsage
    state: KeyState
    primary_version: KeyVersionNumber
    description: str
    created_at: datetime
    updated_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    min_decryption_version: int = 1
    rotation_period: timedelta | None = None
    next_rotation_at: datetime | None = None
    activation_date: datetime | None = None
    deactivation_date: datetime | None = None
    exportable: bool = False
    backup_allowed: bool = True
    protection: str = "SOFTWARE"
    origin: str = "KEYSTEAD"
    owner: str | None = None
    destruction_date: datetime | None = None
    state_before_destruction: KeyState | None = None
    revocation_reason: RevocationReason | None = None
    compromise_date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyVersionInfo:
    """One version of a key, without its material."""

    key_id: KeyId
    version: KeyVersionNumber
    state: KeyState
    created_at: datetime
    use_count: int = 0
    last_used_at: datetime | None = None
    destruction_date: datetime | None = None
    state_before_destruction: KeyState | None = None
    destroyed_at: datetime | None = None
    valid_to: datetime | None = None
    """When imported material expires: the scheduler erases it then (None: never)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id and kind, and the roles it carries."""

    token_id: str
    kind: str
    display_name: str
    roles: tuple[str, ...]

    @property
    def is_root(self) -> bool:
        """Whether this is the root token, which may do everything (until issue 4's roles)."""
        return self.kind == "root"
