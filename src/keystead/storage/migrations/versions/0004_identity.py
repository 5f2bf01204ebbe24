"""Identity and access: users, login throttling, policies, roles, grants, token owners.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the identity tables and the owner columns of tokens."""
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("key_id", sa.String(36), nullable=True),
        sa.Column("totp_secret_wrapped", sa.LargeBinary, nullable=True),
        sa.Column("totp_confirmed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_last_step", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("recovery_code_hashes", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "policies",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("statements", sa.JSON, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "roles",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("policies", sa.JSON, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "key_id",
            sa.String(36),
            sa.ForeignKey("keys.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("grantee", sa.String(64), nullable=False, index=True),
        sa.Column("operations", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    with op.batch_alter_table("tokens") as tokens:
        tokens.add_column(sa.Column("username", sa.String(64), nullable=True))
        tokens.add_column(
            sa.Column("description", sa.String(200), nullable=False, server_default="")
        )
        tokens.add_column(sa.Column("max_expires_at", _TS, nullable=True))
        tokens.add_column(sa.Column("created_by", sa.String(64), nullable=True))
        tokens.create_index("ix_tokens_username", ["username"])


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("tokens") as tokens:
        tokens.drop_index("ix_tokens_username")
        for column in ("created_by", "max_expires_at", "description", "username"):
            tokens.drop_column(column)
    for table in ("grants", "roles", "policies", "login_throttle", "users"):
        op.drop_table(table)
