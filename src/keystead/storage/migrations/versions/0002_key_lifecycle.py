"""Key lifecycle: dates, rotation, destruction, revocation, tags, per-version state and use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add lifecycle columns, version metadata and the tags table."""
    with op.batch_alter_table("keys") as keys:
        keys.add_column(
            sa.Column("min_decryption_version", sa.Integer, nullable=False, server_default="1")
        )
        keys.add_column(sa.Column("rotation_period_seconds", sa.Integer, nullable=True))
        keys.add_column(sa.Column("next_rotation_at", _TS, nullable=True))
        keys.add_column(sa.Column("activation_date", _TS, nullable=True))
        keys.add_column(sa.Column("deactivation_date", _TS, nullable=True))
        keys.add_column(
            sa.Column("exportable", sa.Boolean, nullable=False, server_default=sa.false())
        )
        keys.add_column(
            sa.Column("backup_allowed", sa.Boolean, nullable=False, server_default=sa.true())
        )
        keys.add_column(
            sa.Column("protection", sa.String(16), nullable=False, server_default="SOFTWARE")
        )
        keys.add_column(
            sa.Column("origin", sa.String(16), nullable=False, server_default="KEYSTEAD")
        )
        keys.add_column(sa.Column("owner", sa.String(200), nullable=True))
        keys.add_column(sa.Column("destruction_date", _TS, nullable=True))
        keys.add_column(sa.Column("state_before_destruction", sa.String(32), nullable=True))
        keys.add_column(sa.Column("revocation_reason", sa.String(40), nullable=True))
        keys.add_column(sa.Column("compromise_date", _TS, nullable=True))
    with op.batch_alter_table("key_versions") as versions:
        versions.add_column(sa.Column("public_key", sa.LargeBinary, nullable=True))
        versions.add_column(
            sa.Column("use_count", sa.BigInteger, nullable=False, server_default="0")
        )
        versions.add_column(sa.Column("last_used_at", _TS, nullable=True))
        versions.add_column(sa.Column("destruction_date", _TS, nullable=True))
        versions.add_column(sa.Column("state_before_destruction", sa.String(32), nullable=True))
        versions.add_column(sa.Column("destroyed_at", _TS, nullable=True))
    op.create_table(
        "key_tags",
        sa.Column(
            "key_id", sa.String(36), sa.ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.create_index("ix_key_tags_name_value", "key_tags", ["name", "value"])
    op.create_index("ix_keys_state", "keys", ["state"])
    op.create_index("ix_keys_next_rotation_at", "keys", ["next_rotation_at"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_keys_next_rotation_at", table_name="keys")
    op.drop_index("ix_keys_state", table_name="keys")
    op.drop_index("ix_key_tags_name_value", table_name="key_tags")
    op.drop_table("key_tags")
    with op.batch_alter_table("key_versions") as versions:
        for column in ("destroyed_at", "state_before_destruction", "destruction_date",
                       "last_used_at", "use_count", "public_key"):  # fmt: skip
            versions.drop_column(column)
    with op.batch_alter_table("keys") as keys:
        for column in ("compromise_date", "revocation_reason", "state_before_destruction",
                       "destruction_date", "owner", "origin", "protection", "backup_allowed",
                       "exportable", "deactivation_date", "activation_date", "next_rotation_at",
                       "rotation_period_seconds", "min_decryption_version"):  # fmt: skip
            keys.drop_column(column)
