"""SQLAlchemy 2 tables. Secret columns are named ``*_wrapped`` and hold barrier ciphertext."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    """Declarative base of every Keystead table."""


class SealConfigRow(Base):
    """The one row that says how the server is sealed and holds the wrapped keyring."""

    __tablename__ = "seal_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seal_type: Mapped[str] = mapped_column(String(32))
    secret_shares: Mapped[int] = mapped_column(Integer)
    secret_threshold: Mapped[int] = mapped_column(Integer)
    keyring_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # The pkcs11 seal (migration 0009): the recovery shares' check value, and which token key.
    recovery_check: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    hsm_key_label: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hsm_key_id: Mapped[bytes | None] = mapped_column(LargeBinary(16), nullable=True)
    initialized_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """A bearer token, stored only as the SHA-256 of its value."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    max_expires_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class KeyRow(Base):
    """A key's metadata."""

    __tablename__ = "keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    spec: Mapped[str] = mapped_column(String(40))
    usage: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(32), index=True)
    primary_version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    min_decryption_version: Mapped[int] = mapped_column(Integer, default=1)
    rotation_period_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_rotation_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True, index=True)
    activation_date: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    deactivation_date: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    exportable: Mapped[bool] = mapped_column(Boolean, default=False)
    backup_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    protection: Mapped[str] = mapped_column(String(16), default="SOFTWARE")
    origin: Mapped[str] = mapped_column(String(16), default="KEYSTEAD")
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    destruction_date: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    state_before_destruction: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    compromise_date: Mapped[datetime | None] = mapped_column(_TS, nullable=True)


class KeyTagRow(Base):
    """One tag of a key: a name and a value."""

    __tablename__ = "key_tags"

    key_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class KeyVersionRow(Base):
    """One version of a key; its private material only as barrier ciphertext."""

    __tablename__ = "key_versions"

    key_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    material_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    public_key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    hsm_object_id: Mapped[bytes | None] = mapped_column(LargeBinary(24), nullable=True)
    """The CKA_ID of an HSM-protected version's token objects (its material stays there)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    use_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    destruction_date: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    state_before_destruction: Mapped[str | None] = mapped_column(String(32), nullable=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(_TS, nullable=True)


class UserRow(Base):
    """A person or a service account. The password only as an Argon2id hash."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    totp_secret_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    recovery_code_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(_TS)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class LoginThrottleRow(Base):
    """Failed logins counted per username (known or not) and per source address."""

    __tablename__ = "login_throttle"

    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class PolicyRow(Base):
    """A policy of the operators' own (built-in ones live in code)."""

    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    statements: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class RoleRow(Base):
    """A role of the operators' own: a bundle of policies."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    policies: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class GrantRow(Base):
    """Operations on one key given to one named principal, until revoked."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("keys.id", ondelete="CASCADE"), index=True
    )
    grantee: Mapped[str] = mapped_column(String(64), index=True)
    operations: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_TS)
    revoked_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)


class AuditRow(Base):
    """One audit record: its canonical JSON and its link in the hash chain.

    The filter columns repeat fields of ``body`` for queries; verification reads ``body``.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40), index=True)
    principal: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHeadRow(Base):
    """The last record's position and hash: appends lock it, so one node appends at a time."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditKeyRow(Base):
    """Keystead's own audit signing key (Ed25519), wrapped under the barrier."""

    __tablename__ = "audit_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signing_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    public_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_TS)


class AuditCheckpointRow(Base):
    """A signed checkpoint of the chain at one record."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class ImportParamsRow(Base):
    """A BYOK import token (only its SHA-256) and its RSA wrapping key, under the barrier."""

    __tablename__ = "import_params"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True, index=True)
    spec: Mapped[str] = mapped_column(String(40))
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(_TS)
    expires_at: Mapped[datetime] = mapped_column(_TS)
    used_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class ServerKeyRow(Base):
    """A key pair of the server's own, one per purpose (e.g. signing backups), under the barrier."""

    __tablename__ = "server_keys"

    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    public_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_TS)
