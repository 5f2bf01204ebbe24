"""The audit log's writer: records of concurrent requests share one transaction (group commit).

``record`` returns once its record is committed, so a response never leaves before its
record is durable. When a write fails, every request of that batch fails with
``AuditWriteFailed``, and requests are refused before they run for a short while, so that
no operation goes on unrecorded while the store is broken (fail closed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Final

from keystead.audit import chain
from keystead.domain.audit import AuditEvent
from keystead.errors import AuditWriteFailed
from keystead.storage.audit_repository import AuditQuery, AuditRecord
from keystead.storage.uow import Database

# After a failed write, requests are refused for this long; then one is let through to try.
_RETRY_AFTER_SECONDS: Final = 1.0
_PAGE: Final = 1000


class AuditLog:
    """Appends events to the hash chain in batches; reads and verifies it."""

    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._clock = clock
        self._pending: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._broken_until = 0.0

    def now(self) -> str:
        """Return the time a record is stamped with: UTC, RFC 3339, microseconds."""
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    def require_writable(self) -> None:
        """Refuse a request before it runs while the last write failed moments ago.

        Raises:
            AuditWriteFailed: The audit store could not be written.
        """
        if self._broken_until > time.monotonic():
            raise AuditWriteFailed

    async def record(self, event: AuditEvent) -> None:
        """Append one event and return once it is committed.

        Raises:
            AuditWriteFailed: The audit store could not be written.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self._database.unit_of_work() as uow:
                    records = chain.link(await uow.audit.head(), [event for event, _ in batch])
                    await uow.audit.append(records)
            except Exception as exc:  # noqa: BLE001 - any failure must fail its batch, or its requests wait forever
                self._broken_until = time.monotonic() + _RETRY_AFTER_SECONDS
                for _, future in batch:
                    future.set_exception(AuditWriteFailed(operator_detail=repr(exc)))
            else:
                self._broken_until = 0.0
                for _, future in batch:
                    future.set_result(None)

    async def find(self, query: AuditQuery) -> list[AuditRecord]:
        """Return one page of records matching the filters.

        Raises:
            StorageError: The database is unavailable.
        """
        async with self._database.unit_of_work() as uow:
            return await uow.audit.find(query)

    async def verify(self) -> chain.Verdict:
        """Walk the whole chain and say whether it holds, naming the first bad record.

        Raises:
            StorageError: The database is unavailable.
        """
        async with self._database.unit_of_work() as uow:
            head = await uow.audit.recorded_head()
        return await chain.verify(self._all(), head)

    async def _all(self) -> AsyncIterator[AuditRecord]:
        after = 0
        while True:
            async with self._database.unit_of_work() as uow:
                page = await uow.audit.after(after, _PAGE)
            for record in page:
                yield record
            if len(page) < _PAGE:
                return
            after = page[-1].seq
