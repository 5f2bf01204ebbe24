"""Bearer tokens: minted at random, stored only as hashes, resolved to a Principal.

Three kinds, told apart by their prefix: ``kst_root_`` (the root token), ``kst_s_`` (a
login session, renewable up to a maximum) and ``kst_a_`` (an API token for a machine). Each
carries 256 random bits; only its SHA-256 is stored.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from keystead.crypto.hashing import token_digest
from keystead.crypto.random import random_token
from keystead.domain.identity import TokenInfo, User
from keystead.domain.models import Principal
from keystead.errors import Unauthenticated, UnsupportedOperation
from keystead.services.clock import Clock
from keystead.storage.repositories import StoredToken
from keystead.storage.uow import Database, UnitOfWork

TOKEN_PREFIX: Final = "kst_"  # noqa: S105 - a public prefix, not a secret
ROOT_TOKEN_PREFIX: Final = "kst_root_"  # noqa: S105 - a public prefix
SESSION_TOKEN_PREFIX: Final = "kst_s_"  # noqa: S105 - a public prefix
API_TOKEN_PREFIX: Final = "kst_a_"  # noqa: S105 - a public prefix
ROOT: Final = "root"
SESSION: Final = "session"
API: Final = "api"
CERTIFICATE: Final = "certificate"
# A resolved token is trusted for this long without a database read; revocation on this
# node flushes the cache at once, other nodes see it within this window.
_CACHE_TTL: Final = timedelta(seconds=10)
_CACHE_SIZE: Final = 4096
_REFRESH_GRACE: Final = timedelta(seconds=2)
_EPOCH: Final = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True, slots=True)
class TokenLifetimes:
    """How long tokens live: sessions renew up to their maximum; API tokens do not renew."""

    session: timedelta
    session_max: timedelta
    api_default: timedelta
    api_max: timedelta


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: the value, shown once, and its metadata."""

    value: str = field(repr=False)
    info: TokenInfo


def token_info(stored: StoredToken) -> TokenInfo:
    """Return the listed metadata of a stored token."""
    return TokenInfo(
        id=stored.id, kind=stored.kind, username=stored.username,
        description=stored.description, roles=stored.roles,
        created_at=stored.created_at or _EPOCH, expires_at=stored.expires_at,
        max_expires_at=stored.max_expires_at, created_by=stored.created_by,
        revoked=stored.revoked,
    )  # fmt: skip


class TokenService:
    """Mints tokens and turns a presented token into a Principal."""

    def __init__(self, database: Database, clock: Clock, lifetimes: TokenLifetimes) -> None:
        self._database = database
        self._clock = clock
        self._lifetimes = lifetimes
        self._cache: OrderedDict[bytes, tuple[Principal, datetime, datetime | None]] = OrderedDict()

    async def create_root_token(self, uow: UnitOfWork, now: datetime) -> str:
        """Mint a root token inside the caller's transaction and return its value once."""
        value = ROOT_TOKEN_PREFIX + random_token(32)
        stored = StoredToken(
            id=str(uuid.uuid4()), kind=ROOT, display_name=ROOT, roles=(ROOT,), expires_at=None,
            description="root token", created_at=now,
        )  # fmt: skip
        await uow.tokens.add(stored, token_digest(value), now)
        return value

    async def issue_session(self, uow: UnitOfWork, user: User, now: datetime) -> IssuedToken:
        """Mint a login session for ``user`` inside the caller's transaction."""
        lifetimes = self._lifetimes
        return await self._issue(
            uow, SESSION_TOKEN_PREFIX,
            StoredToken(
                id=str(uuid.uuid4()), kind=SESSION, display_name=user.username,
                roles=user.roles, expires_at=now + lifetimes.session,
                username=user.username, description="login session",
                max_expires_at=now + lifetimes.session_max, created_by=user.username,
                created_at=now,
            ),
        )  # fmt: skip

    async def issue_api_token(  # noqa: PLR0913, PLR0917 - the fields of a new token
        self,
        uow: UnitOfWork,
        user: User,
        roles: Sequence[str],
        ttl: timedelta | None,
        description: str,
        created_by: str,
    ) -> IssuedToken:
        """Mint an API token for ``user`` carrying ``roles`` (already checked to be a subset)."""
        now = self._clock()
        lifetime = min(ttl or self._lifetimes.api_default, self._lifetimes.api_max)
        expires = now + lifetime
        return await self._issue(
            uow, API_TOKEN_PREFIX,
            StoredToken(
                id=str(uuid.uuid4()), kind=API, display_name=user.username, roles=tuple(roles),
                expires_at=expires, username=user.username, description=description,
                max_expires_at=expires, created_by=created_by, created_at=now,
            ),
        )  # fmt: skip

    async def _issue(self, uow: UnitOfWork, prefix: str, stored: StoredToken) -> IssuedToken:
        value = prefix + random_token(32)
        await uow.tokens.add(stored, token_digest(value), stored.created_at or self._clock())
        return IssuedToken(value, token_info(stored))

    async def authenticate(self, presented: str | None) -> Principal:
        """Return the Principal of a presented bearer token.

        A user's token carries the user's roles as they are now (an API token, those of its
        own roles that the user still has); a disabled or deleted user's tokens are refused.

        Raises:
            Unauthenticated: No token, or unknown, expired or revoked, or its user disabled.
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
            owner = None
            if stored is not None and stored.username is not None:
                owner = await uow.users.get(stored.username)
        if stored is None or stored.revoked or not _alive(stored.expires_at, now):
            self._cache.pop(digest, None)
            raise Unauthenticated
        roles = stored.roles
        if stored.username is not None:
            if owner is None or owner.user.disabled:
                self._cache.pop(digest, None)
                raise Unauthenticated
            current = owner.user.roles
            roles = current if stored.kind == SESSION else tuple(r for r in roles if r in current)
        principal = Principal(stored.id, stored.kind, stored.display_name, roles)
        self._remember(digest, principal, now + _CACHE_TTL, stored.expires_at)
        return principal

    async def authenticate_certificate(self, username: str) -> Principal:
        """Return the Principal of a user shown by a verified client certificate (its CN).

        Raises:
            Unauthenticated: No such user, or disabled.
            StorageError: The database is unavailable.
        """
        key = b"cert:" + username.encode("utf-8")
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._database.unit_of_work() as uow:
            stored = await uow.users.get(username)
        if stored is None or stored.user.disabled:
            self._cache.pop(key, None)
            raise Unauthenticated
        principal = Principal(f"cert:{username}", CERTIFICATE, username, stored.user.roles)
        self._remember(key, principal, now + _CACHE_TTL, None)
        return principal

    async def renew(self, principal: Principal) -> TokenInfo:
        """Extend the caller's session by its lifetime, never past its maximum.

        Raises:
            Unauthenticated: The token is gone.
            UnsupportedOperation: The token is not a login session (API and root tokens keep
                the lifetime they were given).
        """
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            stored = await uow.tokens.get(principal.token_id)
            if stored is None or stored.revoked:
                raise Unauthenticated
            if stored.kind != SESSION:
                msg = "only a login session can be renewed; API and root tokens cannot"
                raise UnsupportedOperation(msg)
            ceiling = stored.max_expires_at or now
            expires = min(now + self._lifetimes.session, ceiling)
            await uow.tokens.set_expiry(stored.id, expires)
        self.forget_all()
        return token_info(replace(stored, expires_at=expires))

    async def revoke(self, token_id: str) -> bool:
        """Revoke one token by id; False if no live token has it."""
        async with self._database.unit_of_work() as uow:
            revoked = await uow.tokens.revoke(token_id, self._clock())
        self.forget_all()
        return revoked

    async def get(self, token_id: str) -> StoredToken | None:
        """Return a token's stored metadata, or None."""
        async with self._database.unit_of_work() as uow:
            return await uow.tokens.get(token_id)

    async def live(self, username: str | None) -> list[TokenInfo]:
        """Return the live tokens of a user, or of everyone for None."""
        async with self._database.unit_of_work() as uow:
            tokens = await uow.tokens.find(username, live_after=self._clock())
        return [token_info(t) for t in tokens]

    def _remember(
        self, digest: bytes, principal: Principal, until: datetime, expires: datetime | None
    ) -> None:
        self._cache[digest] = (principal, until, expires)
        self._cache.move_to_end(digest)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget_all(self) -> None:
        """Drop every cached resolution (on seal, and on any revocation by this node)."""
        self._cache.clear()


def _alive(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or expires_at > now
