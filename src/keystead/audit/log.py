"""The audit log's writer: records of concurrent requests share one transaction (group commit).

``record`` returns once its record is committed, so a response never leaves before its
record is durable. When a write fails, every request of that batch fails with
``AuditWriteFailed``, and requests are refused before they run for a short while, so that
no operation goes on unrecorded while the store is broken (fail closed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from keystead.audit import chain, checkpoints, export
from keystead.audit.file_sink import FileSink
from keystead.crypto import asymmetric, hashing, keygen
from keystead.crypto.secret import KeyMaterial
from keystead.domain.audit import AuditEvent, canonical
from keystead.errors import AuditWriteFailed, DecryptionFailed, Sealed, StorageIntegrityError
from keystead.seal.barrier import Barrier
from keystead.storage.audit_repository import AuditQuery, AuditRecord, StoredCheckpoint
from keystead.storage.audit_writer import AuditWriter
from keystead.storage.uow import Database

# After a failed write, requests are refused for this long; then one is let through to try.
_RETRY_AFTER_SECONDS: Final = 1.0
# Another node (or worker process) may append between our read of the head and our write:
# the batch is linked again to the new head, a few times, before it fails.
_ATTEMPTS: Final = 3
_PAGE: Final = 1000
_SIGNING_BINDING: Final = b"keystead/audit-signing-key/v1"
_PUBLIC_BINDING: Final = b"keystead/audit-public-key/v1"
_CONTEXT_KEY_INFO: Final = b"keystead/audit-context-hmac/v1"


def _stored(checkpoint: checkpoints.Checkpoint) -> StoredCheckpoint:
    return StoredCheckpoint(
        checkpoint.seq, checkpoint.time, checkpoint.entry_hash, checkpoint.signature
    )


class AuditLog:
    """Appends events to the hash chain in batches; reads and verifies it."""

    def __init__(  # noqa: PLR0913, PLR0917 - the stores, the clock, the seal, the checkpoints
        self,
        database: Database,
        writer: AuditWriter,
        clock: Callable[[], datetime],
        barrier: Barrier,
        checkpoint_interval: int = 1000,
        file_sink: FileSink | None = None,
    ) -> None:
        self._writer = writer
        self._file = file_sink
        self._database = database
        self._clock = clock
        self._barrier = barrier
        self._interval = checkpoint_interval
        self._signing: KeyMaterial | None = None
        self._context_key: KeyMaterial | None = None
        self._public: bytes | None = None
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
            # Let the requests that are ready to run add their records first: one more
            # turn of the event loop makes the batches, and so the commits, far fewer.
            await asyncio.sleep(0)
            batch, self._pending = self._pending, []
            events = [event for event, _ in batch]
            failure: Exception | None = None
            lines: list[str] = []
            for _ in range(_ATTEMPTS):
                try:
                    lines = await self._write(events)
                except Exception as exc:  # noqa: BLE001 - any failure must fail its batch, or its requests wait forever
                    failure = exc
                else:
                    failure = None
                    break
            if failure is None and self._file is not None:
                try:
                    await self._file.write(lines)
                except OSError as exc:
                    failure = exc
            if failure is not None:
                self._broken_until = time.monotonic() + _RETRY_AFTER_SECONDS
                for _, future in batch:
                    future.set_exception(AuditWriteFailed(operator_detail=repr(failure)))
                continue
            self._broken_until = 0.0
            for _, future in batch:
                future.set_result(None)

    async def _write(self, events: list[AuditEvent]) -> list[str]:
        """Append one batch in one transaction, checkpointing if due; return its export lines."""
        signing = await self._signing_key()
        signed: list[checkpoints.Checkpoint] = []

        def due(previous_seq: int, last: AuditRecord) -> StoredCheckpoint | None:
            if signing is None or last.seq // self._interval <= previous_seq // self._interval:
                return None
            signed.append(checkpoints.sign(signing, last.seq, last.entry_hash, self.now()))
            return _stored(signed[-1])

        records = await asyncio.to_thread(
            self._writer.append, lambda head: chain.link(head, events), due
        )
        if self._file is None:
            return []
        return [export.record_line(r) for r in records] + [
            export.checkpoint_line(c) for c in signed
        ]

    def close(self) -> None:
        """Wipe the keys and release the writer's connections."""
        self.forget_keys()
        self._writer.close()

    def forget_keys(self) -> None:
        """Wipe the signing key from memory (on seal)."""
        for key in (self._signing, self._context_key):
            if key is not None:
                key.wipe()
        self._signing = self._context_key = None

    async def context_digest(self, context: Mapping[str, str]) -> str | None:
        """Return the HMAC the log keeps of an encryption context; None while sealed.

        The key is derived from the audit signing key, so it lives under the barrier too.
        """
        if not context or await self._signing_key() is None or self._context_key is None:
            return None
        return hashing.keyed_digest(self._context_key, canonical(dict(context)))

    async def _signing_key(self) -> KeyMaterial | None:
        """The audit signing key, made at the first record while unsealed; None while sealed.

        While sealed, records are still appended (unseal requests among them); the next
        checkpoint after unsealing vouches for them too.
        """
        if self._signing is not None or self._barrier.sealed:
            return self._signing
        async with self._database.unit_of_work() as uow:
            stored = await uow.audit.keys()
        if stored is None:
            generated = keygen.generate("ED25519")
            with generated.material.expose() as raw:
                wrapped = self._barrier.encrypt(raw, _SIGNING_BINDING)
            public = self._barrier.encrypt(generated.public_key or b"", _PUBLIC_BINDING)
            generated.material.wipe()
            async with self._database.unit_of_work() as uow:
                await uow.audit.add_keys(wrapped, public, self._clock())
            async with self._database.unit_of_work() as uow:
                stored = await uow.audit.keys()
        if stored is None:  # pragma: no cover - stored just above
            return None
        try:
            self._signing = KeyMaterial(self._barrier.decrypt(stored[0], _SIGNING_BINDING))
            self._public = self._barrier.decrypt(stored[1], _PUBLIC_BINDING)
            self._context_key = hashing.derive_key(self._signing, _CONTEXT_KEY_INFO)
        except DecryptionFailed:
            raise StorageIntegrityError(
                operator_detail="the audit keys fail their integrity check"
            ) from None
        return self._signing

    async def public_key_pem(self) -> str:
        """Return the audit signing key's public half (PEM), making the key if need be.

        Raises:
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        await self._signing_key()
        return asymmetric.der_to_pem(self._public or b"")

    async def export(self) -> AsyncIterator[str]:
        """Yield the whole log as export lines, closed by a head signed now.

        Raises:
            Sealed: The server is sealed (the closing head must be signed).
        """
        self._barrier.require_unsealed()
        signing = await self._signing_key()
        if signing is None:  # pragma: no cover - unsealed just above
            raise Sealed
        async with self._database.unit_of_work() as uow:
            head = await uow.audit.recorded_head()
        pending = [c async for c in self._checkpoints()]
        last: AuditRecord | None = None
        async for record in self._all():
            if head is not None and record.seq > head[0]:
                break
            yield export.record_line(record)
            while pending and pending[0].seq <= record.seq:
                yield export.checkpoint_line(pending.pop(0))
            last = record
        seq, entry = (last.seq, last.entry_hash) if last else (0, bytes(32))
        yield export.checkpoint_line(checkpoints.sign(signing, seq, entry, self.now()), "head")

    async def _checkpoints(self) -> AsyncIterator[checkpoints.Checkpoint]:
        after = 0
        while True:
            async with self._database.unit_of_work() as uow:
                page = await uow.audit.checkpoints(after, _PAGE)
            for c in page:
                yield checkpoints.Checkpoint(c.seq, c.entry_hash, c.time, c.signature)
            if len(page) < _PAGE:
                return
            after = page[-1].seq

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
        verdict = await chain.verify(self._all(), head)
        if not verdict.valid or self._barrier.sealed:
            return verdict
        await self._signing_key()
        found = [c async for c in self._checkpoints()]
        wanted = {c.seq for c in found}
        hashes = {r.seq: r.entry_hash async for r in self._all() if r.seq in wanted}
        last_seq = head[0] if head is not None else 0
        return export.check_checkpoints(hashes, last_seq, found, self._public or b"", verdict)

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


class DiscardingAuditLog(AuditLog):
    """Records nothing (``audit_sink = "none"``): for measuring what the audit log costs.

    Never for production: requests leave no trace.
    """

    async def record(self, event: AuditEvent) -> None:
        """Drop the event."""
        del event
