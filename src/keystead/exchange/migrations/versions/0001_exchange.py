"""Accounts, balances, orders, trades, nonces, the ledger and sessions.

Revision ID: x0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "x0001"
down_revision = None
branch_labels = None
depends_on = None

_NAME = sa.String(64)
_AMOUNT = sa.String(40)
_ID = sa.String(32)


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "accounts",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("registered_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("account", _NAME, sa.ForeignKey("accounts.name"), primary_key=True),
        sa.Column("asset", sa.String(10), primary_key=True),
        sa.Column("available", _AMOUNT, nullable=False),
        sa.Column("reserved", _AMOUNT, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False, unique=True),
        sa.Column("account", _NAME, sa.ForeignKey("accounts.name"), nullable=False),
        sa.Column("pair", sa.String(21), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("price", _AMOUNT, nullable=False),
        sa.Column("quantity", _AMOUNT, nullable=False),
        sa.Column("remaining", _AMOUNT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("key_version", sa.Integer, nullable=False),
        sa.Column("signed_request", sa.Text, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_orders_open", "orders", ["status", "pair"])
    op.create_index("ix_orders_account", "orders", ["account", "sequence"])
    op.create_table(
        "trades",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("pair", sa.String(21), nullable=False),
        sa.Column("price", _AMOUNT, nullable=False),
        sa.Column("quantity", _AMOUNT, nullable=False),
        sa.Column("buy_order", _ID, nullable=False),
        sa.Column("sell_order", _ID, nullable=False),
        sa.Column("buyer", _NAME, nullable=False),
        sa.Column("seller", _NAME, nullable=False),
        sa.Column("taker_side", sa.String(4), nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_trades_pair", "trades", ["pair", "ledger_seq"])
    op.create_table(
        "nonces",
        sa.Column("account", _NAME, primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_nonces_expiry", "nonces", ["expires_ms"])
    op.create_table(
        "ledger",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("key_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("account", _NAME, sa.ForeignKey("accounts.name"), nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    for table in ("sessions", "ledger", "nonces", "trades", "orders", "balances", "accounts"):
        op.drop_table(table)
