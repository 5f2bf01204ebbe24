"""Seal configuration, tokens, keys and key versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "seal_config",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seal_type", sa.String(32), nullable=False),
        sa.Column("secret_shares", sa.Integer, nullable=False),
        sa.Column("secret_threshold", sa.Integer, nullable=False),
        sa.Column("keyring_wrapped", sa.LargeBinary, nullable=False),
        sa.Column("initialized_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_index("ix_tokens_token_hash", "tokens", ["token_hash"], unique=True)
    op.create_table(
        "keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(40), nullable=False),
        sa.Column("usage", sa.String(40), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("primary_version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_keys_name", "keys", ["name"], unique=True)
    op.create_table(
        "key_versions",
        sa.Column(
            "key_id",
            sa.String(36),
            sa.ForeignKey("keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("material_wrapped", sa.LargeBinary, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )


def downgrade() -> None:
    """Drop the first tables."""
    op.drop_table("key_versions")
    op.drop_index("ix_keys_name", table_name="keys")
    op.drop_table("keys")
    op.drop_index("ix_tokens_token_hash", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("seal_config")
