"""Bearer tokens: minted at random, stored only as hashes, resolved to a Principal."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Final

from keystead.crypto.hashing import token_digest
from keystead.crypto.random import random_token
from keystead.domain.models import Principal
from keystead.errors import Unauthenticated
from keystead.services.clock import Clock
from keystead.storage.repositories import StoredToken
from keystead.storage.uow import Database, UnitOfWork

TOKEN_PREFIX: Final = "kst_"  # noqa: S105 - a public prefix, not a secret
ROOT_TOKEN_PREFIX: Final = "kst_root_"  # noqa: S105 - a public prefix
# A resolved token is trusted for this long without a database read; revocation on this
# node flushes the cache at once, other nodes see it within this window.
_CACHE_TTL: Final = timedelta(seconds=10)
_CACHE_SIZE: Final = 4096
_REFRESH_GRACE: Final = timedelta(seconds=2)


class TokenService:
    """Mints tokens and turns a presented token into a Principal."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[Principal, datetime, datetime | None]] = OrderedDict()

    async def create_root_token(self, uow: UnitOfWork, now: datetime) -> str:
        """Mint the root token inside the caller's transaction and return its value once."""
        value = ROOT_TOKEN_PREFIX + random_token(32)
        stored = StoredToken(str(uuid.uuid4()), "root", "root", ("root",), None, revoked=False)
        await uow.tokens.add(stored, token_digest(value), now)
        return value

    async def authenticate(self, presented: str | None) -> Principal:
        """Return the Principal of a presented bearer token.

        Raises:
            Unauthenticated: No token, or unknown, expired or revoked.
            StorageError: The database is unavailable.
        """
        if not presented or not presented.startswith(TOKEN_PREFIX):
            raise Unauthenticated
        digest = token_digest(presented)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and _alive(cached[2], now):
            if cached[1] > now:
                return cached[0]
            # This request re-reads the token; requests meanwhile keep the cached answer.
            self._cache[digest] = (cached[0], now + _REFRESH_GRACE, cached[2])
        async with self._database.unit_of_work() as uow:
            stored = await uow.tokens.find_by_hash(digest)
        if stored is None or stored.revoked or not _alive(stored.expires_at, now):
            self._cache.pop(digest, None)
            raise Unauthenticated
        principal = Principal(stored.id, stored.kind, stored.display_name, stored.roles)
        self._remember(digest, principal, now + _CACHE_TTL, stored.expires_at)
        return principal

    def _remember(
        self, digest: bytes, principal: Principal, until: datetime, expires: datetime | None
    ) -> None:
        self._cache[digest] = (principal, until, expires)
        self._cache.move_to_end(digest)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget_all(self) -> None:
        """Drop every cached resolution (on seal)."""
        self._cache.clear()


def _alive(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or expires_at > now
