"""SQLAlchemy 2 tables. Secret columns are named ``*_wrapped`` and hold barrier ciphertext."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class KeyRow(Base):
    """A key's metadata."""

    __tablename__ = "keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    spec: Mapped[str] = mapped_column(String(40))
    usage: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(32))
    primary_version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KeyVersionRow(Base):
    """One version of a key; its material only as barrier ciphertext."""

    __tablename__ = "key_versions"

    key_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    material_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
