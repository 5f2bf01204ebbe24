"""Usage counting and limits: uses are reserved from the database in blocks, like a sequence.

A protect operation (encrypt, sign, MAC, data key, encapsulation, agreement) takes one use
from its node's reserved block; only when the block is spent does the node write, adding a
whole block to the version's ``use_count``. So ``use_count`` is exact to a block (an upper
bound), costs one write per block rather than per request, and stays correct across nodes.
A version whose count would pass its spec's limit (2^32 for random-nonce AEADs, NIST SP
800-38D section 8.3) is rotated before it is used again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

import structlog

from keystead.domain.operations import KeyOperation
from keystead.domain.specs import USAGE_LIMITS, KeySpec
from keystead.errors import ConflictError, KeysteadError
from keystead.services.clock import Clock
from keystead.services.key_cache import CachedKey
from keystead.services.keys import KeyService
from keystead.services.lifecycle import LifecycleService
from keystead.services.operations import protect_version
from keystead.storage.uow import Database
from keystead.types import KeyId

DEFAULT_BLOCK: Final = 1000
_log = structlog.get_logger("keystead.usage")


class UsageMeter:
    """Chooses the version a protect operation uses, counting it against its limit."""

    def __init__(  # noqa: PLR0913 - explicit wiring; limits and block are injectable for tests
        self,
        database: Database,
        keys: KeyService,
        lifecycle: LifecycleService,
        clock: Clock,
        *,
        limits: Mapping[KeySpec, int] = USAGE_LIMITS,
        block: int = DEFAULT_BLOCK,
    ) -> None:
        self._database = database
        self._keys = keys
        self._lifecycle = lifecycle
        self._clock = clock
        self._limits = limits
        self._block = block
        self._locks: dict[tuple[KeyId, int], asyncio.Lock] = {}
        self._refills: set[asyncio.Task[None]] = set()

    async def protect(self, entry: CachedKey, operation: KeyOperation) -> tuple[CachedKey, int]:
        """Return the entry and version to use for one protect operation.

        Raises:
            KeyStateForbidsOperation: The key's state does not allow ``operation``.
        """
        version = protect_version(entry.key, operation)
        remaining = entry.reserved_uses.get(version, 0)
        if remaining > 0:
            entry.reserved_uses[version] = remaining - 1
            if remaining == self._block // 4:
                self._refill_soon(entry, version)
            return entry, version
        return await self._reserve(entry, operation, version)

    def _refill_soon(self, entry: CachedKey, version: int) -> None:
        # Reserve the next block while a quarter of this one is left, so that requests do
        # not queue behind a database write when the block runs out.
        task = asyncio.create_task(self._refill(entry, version))
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _refill(self, entry: CachedKey, version: int) -> None:
        key = entry.key
        limit = self._limits.get(key.spec)
        lock = self._locks.setdefault((key.id, version), asyncio.Lock())
        try:
            async with lock, self._database.unit_of_work() as uow:
                total = await uow.keys.record_use(key.id, version, self._block, self._clock())
                if limit is not None and total > limit:
                    # Near the limit: leave it to the next exhausted block to rotate.
                    await uow.keys.record_use(key.id, version, -self._block, self._clock())
                    return
                entry.reserved_uses[version] = entry.reserved_uses.get(version, 0) + self._block
        except KeysteadError as error:
            _log.warning("use reservation failed", key_id=str(key.id), code=error.code)

    async def _reserve(
        self, entry: CachedKey, operation: KeyOperation, version: int
    ) -> tuple[CachedKey, int]:
        # One reservation at a time per version: requests that ran out together wait for it
        # and then take from the block it reserved, instead of each reserving its own.
        lock = self._locks.setdefault((entry.key.id, version), asyncio.Lock())
        async with lock:
            remaining = entry.reserved_uses.get(version, 0)
            if remaining > 0:
                entry.reserved_uses[version] = remaining - 1
                return entry, version
            return await self._reserve_block(entry, operation, version)

    async def _reserve_block(
        self, entry: CachedKey, operation: KeyOperation, version: int
    ) -> tuple[CachedKey, int]:
        key = entry.key
        limit = self._limits.get(key.spec)
        block = self._block if limit is None else max(1, min(self._block, limit))
        async with self._database.unit_of_work() as uow:
            total = await uow.keys.record_use(key.id, version, block, self._clock())
        if limit is None or total <= limit:
            entry.reserved_uses[version] = entry.reserved_uses.get(version, 0) + block - 1
            return entry, version
        async with self._database.unit_of_work() as uow:
            # Give the block back: the version rotates instead of passing its limit.
            await uow.keys.record_use(key.id, version, -block, self._clock())
        try:
            await self._lifecycle.rotate_key(str(key.id))
        except ConflictError:
            self._keys.forget(key.id)  # another request or node rotated it first
        fresh = await self._keys.resolve(str(key.id))
        return await self._after_rotation(fresh, operation)

    async def _after_rotation(
        self, entry: CachedKey, operation: KeyOperation
    ) -> tuple[CachedKey, int]:
        version = protect_version(entry.key, operation)
        if entry.reserved_uses.get(version, 0) > 0:
            entry.reserved_uses[version] -= 1
            return entry, version
        return await self._reserve_block(entry, operation, version)
