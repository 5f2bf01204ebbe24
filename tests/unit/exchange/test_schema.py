"""The exchange's migrations build exactly the schema its tables declare, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keystead.exchange.tables import metadata
from keystead.storage.engine import create_sync_engine, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exchange.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_the_migrations_match_the_tables(database_url: str) -> None:
    migrate(database_url, "keystead.exchange")
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert compare_metadata(context, metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert tables >= {"accounts", "balances", "orders", "trades", "nonces", "ledger", "sessions"}
    migrate(database_url, "keystead.exchange")  # a second start changes nothing
