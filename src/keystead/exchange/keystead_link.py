"""What the exchange asks Keystead, through the SDK: users' public keys and its own signatures.

Public keys are cached per key version for good: a version's public key never changes. Whether
a key still counts (its and its version's lifecycle states) is cached for
``key_status_ttl_seconds`` only, so a revocation or suspension in Keystead stops orders within
that time; a version the cache has not seen is always fetched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from keystead.exchange.errors import AccountNotFound, KeyNotUsable, KeysteadUnavailable
from keystead.exchange.errors import NotFound as ExchangeNotFound
from keystead.exchange.signatures import VersionKey, public_key_from_pem
from keystead_sdk import AsyncClient, KeysteadSDKError, NotFound, UserNotFound

# Signatures made before a rotation still verify; a compromised or suspended key signs nothing.
USABLE_KEY_STATES = frozenset({"ACTIVE"})
USABLE_VERSION_STATES = frozenset({"ACTIVE", "DEACTIVATED"})
_BATCH = 1000  # the most Keystead signs in one request


@dataclass(frozen=True, slots=True)
class UserKey:
    """One version of a user's key, and the states Keystead last reported for it."""

    username: str
    key: VersionKey
    key_state: str
    version_state: str
    checked_at: float

    def require_usable(self) -> None:
        """Refuse a key or version that Keystead reports revoked, suspended or destroyed.

        Raises:
            KeyNotUsable: Naming the state.
        """
        if self.key_state not in USABLE_KEY_STATES:
            msg = f"Keystead reports the account's key {self.key_state.lower()}"
            raise KeyNotUsable(msg)
        if self.version_state not in USABLE_VERSION_STATES:
            msg = f"Keystead reports version {self.key.version} of the account's key "
            raise KeyNotUsable(msg + self.version_state.lower())


@dataclass(frozen=True, slots=True)
class ExchangeSignature:
    """A signature by the exchange's own key, and the version that made it."""

    signature: bytes
    version: int


class KeysteadLink:
    """The exchange's one connection to Keystead (its own service-account token)."""

    def __init__(
        self,
        client: AsyncClient,
        key_name: str,
        status_ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key_name = key_name
        self._ttl = status_ttl_seconds
        self._monotonic = monotonic
        self._user_keys: dict[tuple[str, int], UserKey] = {}
        self._own_keys: dict[int, VersionKey] = {}

    async def user_key(self, username: str, version: int) -> UserKey:
        """One version of a user's key, from the cache while its states are fresh.

        Raises:
            AccountNotFound: Keystead has no such user, or its key has no such version.
            KeysteadUnavailable: Keystead did not answer.
        """
        cached = self._user_keys.get((username, version))
        if cached is not None and self._monotonic() - cached.checked_at < self._ttl:
            return cached
        try:
            published = await self._client.users.public_key(username, version)
        except (UserNotFound, NotFound):
            msg = f"Keystead has no version {version} of {username}'s key"
            raise AccountNotFound(msg) from None
        except KeysteadSDKError as error:
            raise KeysteadUnavailable(_reason(error)) from None
        der = cached.key.public_key_der if cached else public_key_from_pem(published.public_key)
        key = VersionKey(published.key_id, published.version, published.spec, der)
        fresh = UserKey(
            username, key, published.key_state, published.version_state, self._monotonic()
        )
        self._user_keys[username, version] = fresh
        return fresh

    async def primary_user_key(self, username: str) -> UserKey:
        """The primary version of a user's key (at registration).

        Raises:
            AccountNotFound: Keystead has no such user.
            KeysteadUnavailable: Keystead did not answer.
        """
        try:
            published = await self._client.users.public_key(username)
        except (UserNotFound, NotFound):
            msg = f"Keystead has no user named {username}"
            raise AccountNotFound(msg) from None
        except KeysteadSDKError as error:
            raise KeysteadUnavailable(_reason(error)) from None
        return await self.user_key(username, published.version)

    async def ensure_own_key(self, spec: str) -> None:
        """Create the exchange's signing key in Keystead unless it exists.

        Raises:
            KeysteadUnavailable: Keystead refused or did not answer.
        """
        try:
            try:
                await self._client.keys.get(self._key_name)
            except NotFound:
                await self._client.keys.create(
                    self._key_name, spec, usage="SIGN_VERIFY",
                    description="the exchange's ledger and confirmation key",
                )  # fmt: skip
        except KeysteadSDKError as error:
            raise KeysteadUnavailable(_reason(error)) from None

    async def sign(self, messages: Sequence[bytes]) -> list[ExchangeSignature]:
        """Sign each message with the exchange's key, a thousand to a request.

        Raises:
            KeysteadUnavailable: Keystead refused or did not answer.
        """
        chunks = [messages[i : i + _BATCH] for i in range(0, len(messages), _BATCH)]
        try:
            signed = await asyncio.gather(
                *(self._client.keys.sign_batch(self._key_name, chunk) for chunk in chunks)
            )
        except KeysteadSDKError as error:
            raise KeysteadUnavailable(_reason(error)) from None
        return [ExchangeSignature(item.signature, item.version) for part in signed for item in part]

    async def own_key(self, version: int | None = None) -> VersionKey:
        """One version (the primary by default) of the exchange's key.

        Raises:
            NotFound: The key has no such version.
            KeysteadUnavailable: Keystead refused or did not answer.
        """
        if version is not None and version in self._own_keys:
            return self._own_keys[version]
        try:
            described = await self._client.keys.get(self._key_name)
            chosen = described.primary_version if version is None else version
            if chosen in self._own_keys:
                return self._own_keys[chosen]
            public = await self._client.keys.public_key(self._key_name, "der", chosen)
        except NotFound:
            msg = f"the exchange's key has no version {version}"
            raise ExchangeNotFound(msg) from None
        except KeysteadSDKError as error:
            raise KeysteadUnavailable(_reason(error)) from None
        key = VersionKey(described.id, chosen, described.spec, public.der or b"")
        self._own_keys[chosen] = key
        return key

    async def close(self) -> None:
        """Close the connection to Keystead."""
        await self._client.close()


def _reason(error: KeysteadSDKError) -> str:
    return f"Keystead: {error}"
