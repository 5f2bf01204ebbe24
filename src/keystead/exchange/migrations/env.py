"""Alembic environment: runs on the connection that ``keystead.storage.engine.migrate`` gives."""

from __future__ import annotations

from alembic import context

from keystead.exchange.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
