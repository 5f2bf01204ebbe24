"""Bodies of /v1/keys: creating, describing, updating, versions and lifecycle verbs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from keystead.api.schemas.base import Request, Response
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import RevocationReason
from keystead.domain.specs import KeySpec, KeyUsage

Tags = Annotated[
    dict[
        Annotated[str, msgspec.Meta(max_length=128)], Annotated[str, msgspec.Meta(max_length=256)]
    ],
    msgspec.Meta(max_length=50),
]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True, description="with a UTC offset")]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=36500 * 86400)]


class CreateKeyRequest(Request):
    """A new key: its unique name and spec; everything else has a default."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    spec: KeySpec
    usage: KeyUsage | None = None
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    tags: Tags = msgspec.field(default_factory=dict)
    rotation_period_seconds: Seconds | None = None
    activation_date: AwareDatetime | None = None
    deactivation_date: AwareDatetime | None = None
    exportable: bool = False
    backup_allowed: bool = True
    protection: Literal["SOFTWARE", "HSM"] = "SOFTWARE"
    """HSM: generated and used inside the pkcs11 seal's token, never exported or backed up."""


class UpdateKeyRequest(Request):
    """Fields to change; absent fields stay. ``rotation_period_seconds: 0`` turns it off."""

    description: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    tags: Tags | None = None
    rotation_period_seconds: Seconds | None = None
    deactivation_date: AwareDatetime | None = None
    min_decryption_version: Annotated[int, msgspec.Meta(ge=1)] | None = None


class KeyResponse(Response):
    """A key's metadata; never its material."""

    id: str
    name: str
    spec: KeySpec
    usage: KeyUsage
    state: KeyState
    primary_version: int
    min_decryption_version: int
    description: str
    tags: dict[str, str]
    owner: str | None
    protection: str
    origin: str
    exportable: bool
    backup_allowed: bool
    rotation_period_seconds: int | None
    next_rotation_at: datetime | None
    activation_date: datetime | None
    deactivation_date: datetime | None
    destruction_date: datetime | None
    revocation_reason: RevocationReason | None
    compromise_date: datetime | None
    created_at: datetime
    updated_at: datetime


class KeyListResponse(Response):
    """One page of keys, and the cursor of the next page if there is one."""

    keys: list[KeyResponse]
    next_cursor: str | None


class KeyVersionResponse(Response):
    """One version: its state and how much it has been used."""

    version: int
    state: KeyState
    primary: bool
    created_at: datetime
    use_count: int
    last_used_at: datetime | None
    destruction_date: datetime | None
    destroyed_at: datetime | None
    valid_to: datetime | None
    """When imported material expires and is erased; None: never."""


class KeyVersionsResponse(Response):
    """Every version of a key, oldest first."""

    key_id: str
    versions: list[KeyVersionResponse]


class RevokeRequest(Request):
    """Why the key is revoked, and since when it is compromised (default: now)."""

    reason: RevocationReason
    compromise_date: AwareDatetime | None = None


class ScheduleDestructionRequest(Request):
    """How many days to wait before the material is erased (default 30)."""

    pending_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 30
