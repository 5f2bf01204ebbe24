"""What one backup record holds: a key with its versions, tags and grants; or an identity.

The material is in the clear here, inside the archive's encryption. MessagePack, checked
field by field on the way in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

import msgspec

from keystead.crypto import keygen
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import RevocationReason
from keystead.domain.specs import ASYMMETRIC, SPEC_USAGES, KeySpec, KeyUsage
from keystead.errors import BackupInvalid


class VersionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One version; ``material`` is None once destroyed."""

    version: int
    state: KeyState
    created_at: datetime
    material: bytes | None = None
    public_key: bytes | None = None
    use_count: int = 0
    last_used_at: datetime | None = None
    destruction_date: datetime | None = None
    state_before_destruction: KeyState | None = None
    destroyed_at: datetime | None = None
    valid_to: datetime | None = None

    def __repr__(self) -> str:
        return f"VersionRecord(version={self.version}, state={self.state})"


class GrantRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One grant of operations on the key to a principal."""

    id: str
    grantee: str
    operations: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True, tag="key", tag_field="kind"):
    """A whole key, as the columns of its row plus its tags, versions and grants."""

    id: str
    name: str
    spec: KeySpec
    usage: KeyUsage
    state: KeyState
    primary_version: int
    created_at: datetime
    updated_at: datetime
    description: str = ""
    min_decryption_version: int = 1
    rotation_period_seconds: int | None = None
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
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    versions: list[VersionRecord] = msgspec.field(default_factory=list)
    grants: list[GrantRecord] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return f"KeyRecord(name={self.name!r}, spec={self.spec}, versions={len(self.versions)})"


class PolicyRecord(msgspec.Struct, frozen=True, kw_only=True, tag="policy", tag_field="kind"):
    """An operator's own policy (the built-in ones live in code)."""

    name: str
    statements: list[dict[str, object]]
    updated_at: datetime
    description: str = ""


class RoleRecord(msgspec.Struct, frozen=True, kw_only=True, tag="role", tag_field="kind"):
    """An operator's own role: a bundle of policies."""

    name: str
    policies: list[str]
    updated_at: datetime
    description: str = ""


class UserRecord(msgspec.Struct, frozen=True, kw_only=True, tag="user", tag_field="kind"):
    """A user or service account: its Argon2id hash and TOTP secret, never a token."""

    id: str
    username: str
    kind_of_user: str = msgspec.field(name="user_kind")
    roles: list[str]
    created_at: datetime
    updated_at: datetime
    password_hash: str | None = None
    disabled: bool = False
    key_id: str | None = None
    totp_secret: bytes | None = None
    totp_confirmed: bool = False
    totp_last_step: int = 0
    recovery_code_hashes: list[str] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return f"UserRecord(username={self.username!r})"


Record = KeyRecord | PolicyRecord | RoleRecord | UserRecord
IdentityRecord = PolicyRecord | RoleRecord | UserRecord

_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER: Final = msgspec.msgpack.Decoder(Record)
_MAX_NAME: Final = 200


def encode(record: Record) -> bytes:
    """The record's bytes, as they go into the archive."""
    return _ENCODER.encode(record)


def decode(payload: bytes, seq: int) -> Record:
    """Read and check one record.

    The archive has authenticated the bytes, but a recipient-wrapped archive can be made by
    anyone who has the recipient's public key, so nothing in it is trusted further.

    Raises:
        BackupInvalid: Not a well-formed key record, or one no Keystead would have written.
    """
    try:
        record = _DECODER.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        msg = f"record {seq} of the backup is not a key or identity record: {exc}"
        raise BackupInvalid(msg) from None
    if not isinstance(record, KeyRecord):
        name = record.username if isinstance(record, UserRecord) else record.name
        if not name or len(name) > _MAX_NAME:
            msg = f"record {seq} of the backup: a name that is empty or too long"
            raise BackupInvalid(msg)
        return record
    problem = _problem(record)
    if problem:
        msg = f"record {seq} of the backup ({record.name[:_MAX_NAME]!r}): {problem}"
        raise BackupInvalid(msg)
    return record


def _problem(record: KeyRecord) -> str | None:  # noqa: PLR0911 - one early answer per check
    try:
        uuid.UUID(record.id)
    except ValueError:
        return "its id is not a UUID"
    if not record.name or len(record.name) > _MAX_NAME:
        return "its name is empty or too long"
    if record.usage not in SPEC_USAGES[record.spec]:
        return f"usage {record.usage} does not go with spec {record.spec}"
    numbers = [v.version for v in record.versions]
    if not numbers or numbers != sorted(set(numbers)) or record.primary_version not in numbers:
        return "its versions are missing, repeated or do not include the primary one"
    for version in record.versions:
        if version.material is None:
            continue
        if record.spec in ASYMMETRIC:
            if not version.public_key:
                return f"version {version.version} has no public key"
        elif len(version.material) != keygen.material_length(record.spec.value):
            return f"version {version.version} has material of the wrong length for its spec"
    return None
