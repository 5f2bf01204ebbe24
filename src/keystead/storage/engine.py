"""Database engines: URL normalisation, SQLite pragmas, migrations at start."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = [
    "AsyncEngine",
    "AsyncSession",
    "create_database_engine",
    "create_sync_engine",
    "mask_dsn",
    "migrate",
    "session_factory",
]

from keystead.errors import ConfigurationError, StorageError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _url_for(database_url: str, drivers: dict[str, str]) -> URL:
    try:
        url = make_url(database_url)
    except Exception as exc:
        msg = "database_url: not a valid database URL"
        raise ConfigurationError(msg) from exc
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in drivers:
        msg = f"database_url: unsupported database {backend!r} (use sqlite or postgresql)"
        raise ConfigurationError(msg)
    return url.set(drivername=drivers[backend])


def mask_dsn(database_url: str) -> str:
    """Return the URL with its password hidden, for logs and messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401 - DB-API
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; FULL syncs the WAL on every commit so an
    # acknowledged write survives power loss (ARCHITECTURE.md section 10).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _install_pragmas(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def create_database_engine(database_url: str) -> AsyncEngine:
    """Return the async engine the services use."""
    engine = create_async_engine(_url_for(database_url, _ASYNC_DRIVERS), pool_pre_ping=True)
    _install_pragmas(engine.sync_engine)
    return engine


def create_sync_engine(database_url: str) -> Engine:
    """Return a synchronous engine, for work done whole in a worker thread (audit appends)."""
    url = _url_for(database_url, _SYNC_DRIVERS)
    # A SQLite file cannot go away under an open connection: no ping (a statement) per use.
    engine = create_engine(url, pool_pre_ping=url.get_backend_name() != "sqlite")
    _install_pragmas(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a factory of sessions that keep objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def migrate(database_url: str, package: str = "keystead.storage") -> None:
    """Apply every Alembic migration up to head (run once at start, before serving).

    Args:
        database_url: The database.
        package: The package whose ``migrations`` folder holds the scripts (the exchange
            keeps its own schema in its own database).
    """
    engine = create_engine(_url_for(database_url, _SYNC_DRIVERS))
    _install_pragmas(engine)
    config = AlembicConfig()
    config.set_main_option("script_location", str(files(package) / "migrations"))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        msg = f"database_url: cannot use {mask_dsn(database_url)}: {exc.orig}"
        raise StorageError(msg) from None
    finally:
        engine.dispose()
