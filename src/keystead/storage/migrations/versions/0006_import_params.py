"""BYOK import parameters: a token digest and its wrapping key, under the barrier.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create import_params."""
    op.create_table(
        "import_params",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True, index=True),
        sa.Column("spec", sa.String(40), nullable=False),
        sa.Column("private_key_wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.String(36), nullable=True),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("import_params")
