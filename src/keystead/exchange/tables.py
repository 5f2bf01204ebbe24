"""The exchange's tables. Amounts are stored as decimal text, so nothing is ever rounded."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(36), nullable=False),
    sa.Column("registered_ms", sa.BigInteger, nullable=False),
)  # fmt: skip

balances = sa.Table(
    "balances", metadata,
    sa.Column("account", sa.String(64), sa.ForeignKey("accounts.name"), primary_key=True),
    sa.Column("asset", sa.String(10), primary_key=True),
    sa.Column("available", sa.String(40), nullable=False),
    sa.Column("reserved", sa.String(40), nullable=False),
)  # fmt: skip

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("sequence", sa.BigInteger, nullable=False, unique=True),
    sa.Column("account", sa.String(64), sa.ForeignKey("accounts.name"), nullable=False),
    sa.Column("pair", sa.String(21), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("price", sa.String(40), nullable=False),
    sa.Column("quantity", sa.String(40), nullable=False),
    sa.Column("remaining", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("key_version", sa.Integer, nullable=False),
    sa.Column("signed_request", sa.Text, nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Index("ix_orders_open", "status", "pair"),
    sa.Index("ix_orders_account", "account", "sequence"),
)  # fmt: skip

trades = sa.Table(
    "trades", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pair", sa.String(21), nullable=False),
    sa.Column("price", sa.String(40), nullable=False),
    sa.Column("quantity", sa.String(40), nullable=False),
    sa.Column("buy_order", sa.String(32), nullable=False),
    sa.Column("sell_order", sa.String(32), nullable=False),
    sa.Column("buyer", sa.String(64), nullable=False),
    sa.Column("seller", sa.String(64), nullable=False),
    sa.Column("taker_side", sa.String(4), nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("ledger_seq", sa.BigInteger, nullable=False),
    sa.Index("ix_trades_pair", "pair", "ledger_seq"),
)  # fmt: skip

nonces = sa.Table(
    "nonces", metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.String(64), primary_key=True),
    # Kept until the signed request it came in expires: a replay after that is refused as
    # expired, so the row (and its place in memory) can go.
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_nonces_expiry", "expires_ms"),
)  # fmt: skip

ledger = sa.Table(
    "ledger", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("key_version", sa.Integer, nullable=False),
)  # fmt: skip

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account", sa.String(64), sa.ForeignKey("accounts.name"), nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
)  # fmt: skip
