"""Accounts, balances, orders, trades, nonces, the ledger and sessions.

Revision ID: x0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from keystead.exchange.tables import metadata

revision = "x0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the first tables (later revisions spell out their changes)."""
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    """Drop them."""
    metadata.drop_all(op.get_bind())
