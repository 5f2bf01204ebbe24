"""Imported material expiry: when a version's BYOK material is erased by the scheduler.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add key_versions.valid_to (NULL: the material never expires, as before)."""
    with op.batch_alter_table("key_versions") as versions:
        versions.add_column(sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("key_versions") as versions:
        versions.drop_column("valid_to")
