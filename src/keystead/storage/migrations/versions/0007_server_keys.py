"""The server's own key pairs, one per purpose (the backup signing key), under the barrier.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create server_keys."""
    op.create_table(
        "server_keys",
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("private_key_wrapped", sa.LargeBinary, nullable=False),
        sa.Column("public_key_wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("server_keys")
