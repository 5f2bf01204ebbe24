"""The server's own key pairs, one per purpose, both halves wrapped under the barrier."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from keystead.storage.engine import AsyncSession
from keystead.storage.tables import ServerKeyRow


class ServerKeyRepository:
    """The ``server_keys`` rows over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, purpose: str) -> tuple[bytes, bytes] | None:
        """Return the wrapped private and public key for ``purpose``, or None."""
        row = await self._session.get(ServerKeyRow, purpose)
        return None if row is None else (row.private_key_wrapped, row.public_key_wrapped)

    async def add(
        self, purpose: str, private_wrapped: bytes, public_wrapped: bytes, now: datetime
    ) -> bool:
        """Store a key pair; False if another node stored its own for ``purpose`` first."""
        self._session.add(
            ServerKeyRow(
                purpose=purpose, private_key_wrapped=private_wrapped,
                public_key_wrapped=public_wrapped, created_at=now,
            )
        )  # fmt: skip
        try:
            await self._session.flush()
        except IntegrityError:
            return False
        return True
