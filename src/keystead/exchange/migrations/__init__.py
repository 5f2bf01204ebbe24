"""Alembic migrations of the exchange's own schema."""
