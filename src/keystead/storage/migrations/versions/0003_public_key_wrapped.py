"""Public keys are stored under the barrier, bound to their row: rename the column.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Rename key_versions.public_key to public_key_wrapped.

    Rows written before this revision hold a plain public key, which now fails its
    integrity check (503 StorageIntegrityError) instead of being trusted: no release
    shipped them.
    """
    with op.batch_alter_table("key_versions") as versions:
        versions.alter_column("public_key", new_column_name="public_key_wrapped")


def downgrade() -> None:
    """Rename the column back."""
    with op.batch_alter_table("key_versions") as versions:
        versions.alter_column("public_key_wrapped", new_column_name="public_key")
