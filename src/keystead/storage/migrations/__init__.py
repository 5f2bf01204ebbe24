"""Alembic migrations of the Keystead schema."""
