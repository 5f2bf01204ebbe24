"""The hash-chained audit log and its head.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create audit_log and audit_head."""
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("time", sa.String(40), nullable=False, index=True),
        sa.Column("principal", sa.String(200), nullable=False, index=True),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("key_id", sa.String(36), nullable=True, index=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(32), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("audit_head")
    op.drop_table("audit_log")
