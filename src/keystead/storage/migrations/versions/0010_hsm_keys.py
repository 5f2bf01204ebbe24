"""HSM-protected keys: the token object id of a version whose material stays in the token.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add key_versions.hsm_object_id (NULL for software versions)."""
    with op.batch_alter_table("key_versions") as key_versions:
        key_versions.add_column(sa.Column("hsm_object_id", sa.LargeBinary(24), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("key_versions") as key_versions:
        key_versions.drop_column("hsm_object_id")
