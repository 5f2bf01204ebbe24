"""The pkcs11 seal: the recovery shares' check value and the token key of the root key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add seal_config.recovery_check, hsm_key_label, hsm_key_id (NULL for a Shamir seal)."""
    with op.batch_alter_table("seal_config") as seal_config:
        seal_config.add_column(sa.Column("recovery_check", sa.LargeBinary, nullable=True))
        seal_config.add_column(sa.Column("hsm_key_label", sa.String(128), nullable=True))
        seal_config.add_column(sa.Column("hsm_key_id", sa.LargeBinary(16), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("seal_config") as seal_config:
        seal_config.drop_column("hsm_key_id")
        seal_config.drop_column("hsm_key_label")
        seal_config.drop_column("recovery_check")
