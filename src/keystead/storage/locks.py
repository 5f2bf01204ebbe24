"""A lock across nodes for work that must happen once (ARCHITECTURE.md section 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@asynccontextmanager
async def exclusive(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    """Hold a PostgreSQL session advisory lock for the ``with`` block, if it is free.

    Yields:
        Whether this node holds the lock. SQLite has a single writer and no such lock:
        there it yields True, and callers rely on optimistic updates instead.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as connection:
        held = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        try:
            yield held
        finally:
            if held:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
