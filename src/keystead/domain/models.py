"""Plain records of keys and versions: identifiers and metadata, never key bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keystead.domain.lifecycle import KeyState
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.types import KeyId, KeyVersionNumber


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class KeyVersionInfo:
    """One version of a key, without its material."""

    key_id: KeyId
    version: KeyVersionNumber
    state: KeyState
    created_at: datetime


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
