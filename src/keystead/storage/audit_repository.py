"""The audit log's rows: append in order under the head's lock, read in order. Never commits.

There is no update and no delete: the log is append-only (STYLE.md C29).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from keystead.storage.engine import AsyncSession
from keystead.storage.tables import AuditCheckpointRow, AuditHeadRow, AuditKeyRow, AuditRow

_HEAD_ID = 1
GENESIS_HASH = bytes(32)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored record: its position, canonical JSON, and chain links."""

    seq: int
    body: str
    prev_hash: bytes
    entry_hash: bytes
    time: str = ""
    principal: str = ""
    action: str = ""
    key_id: str | None = None
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A stored signed checkpoint."""

    seq: int
    time: str
    entry_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of ``GET /v1/audit``; a page after ``after_seq``."""

    since: str | None = None
    until: str | None = None
    principal: str | None = None
    key_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    after_seq: int = 0
    limit: int = 100


def _record(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        row.seq, row.body, row.prev_hash, row.entry_hash, row.time, row.principal,
        row.action, row.key_id, row.outcome,
    )  # fmt: skip


class AuditRepository:
    """Audit rows over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def head(self) -> tuple[int, bytes]:
        """Return the last record's seq and hash (0 and the genesis hash when empty), locked.

        The lock (a row lock on PostgreSQL, the write lock on SQLite) lasts until the
        transaction ends, so records of two nodes never share a seq.
        """
        # Writing first takes SQLite's write lock at once (waiting for it up to busy_timeout),
        # so the head read next is the newest; a read first would be refused the upgrade.
        await self._session.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == _HEAD_ID).values(seq=AuditHeadRow.seq)
        )
        row = await self._session.get(
            AuditHeadRow, _HEAD_ID, with_for_update=True, populate_existing=True
        )
        if row is None:
            return 0, GENESIS_HASH
        return row.seq, row.entry_hash

    async def append(self, records: Sequence[AuditRecord]) -> None:
        """Insert records that follow the head, and move the head to the last of them."""
        self._session.add_all(
            AuditRow(
                seq=r.seq, time=r.time, principal=r.principal, action=r.action,
                key_id=r.key_id, outcome=r.outcome, body=r.body, prev_hash=r.prev_hash,
                entry_hash=r.entry_hash,
            )
            for r in records
        )  # fmt: skip
        last = records[-1]
        head = await self._session.get(AuditHeadRow, _HEAD_ID)
        if head is None:
            self._session.add(AuditHeadRow(id=_HEAD_ID, seq=last.seq, entry_hash=last.entry_hash))
        else:
            head.seq, head.entry_hash = last.seq, last.entry_hash
        await self._session.flush()

    async def recorded_head(self) -> tuple[int, bytes] | None:
        """Return the head without locking it, or None before the first record."""
        row = await self._session.get(AuditHeadRow, _HEAD_ID, populate_existing=True)
        return None if row is None else (row.seq, row.entry_hash)

    async def after(self, seq: int, limit: int) -> list[AuditRecord]:
        """Return up to ``limit`` records after ``seq``, in order."""
        rows = await self._session.scalars(
            select(AuditRow).where(AuditRow.seq > seq).order_by(AuditRow.seq).limit(limit)
        )
        return [_record(row) for row in rows]

    async def find(self, query: AuditQuery) -> list[AuditRecord]:
        """Return one page of records matching the filters, in order."""
        statement = select(AuditRow).where(AuditRow.seq > query.after_seq)
        if query.since is not None:
            statement = statement.where(AuditRow.time >= query.since)
        if query.until is not None:
            statement = statement.where(AuditRow.time < query.until)
        for column, value in (
            (AuditRow.principal, query.principal), (AuditRow.key_id, query.key_id),
            (AuditRow.action, query.action), (AuditRow.outcome, query.outcome),
        ):  # fmt: skip
            if value is not None:
                statement = statement.where(column == value)
        rows = await self._session.scalars(statement.order_by(AuditRow.seq).limit(query.limit))
        return [_record(row) for row in rows]

    async def keys(self) -> tuple[bytes, bytes] | None:
        """Return the wrapped signing key and wrapped public key, or None before they exist."""
        row = await self._session.get(AuditKeyRow, _HEAD_ID)
        return None if row is None else (row.signing_key_wrapped, row.public_key_wrapped)

    async def add_keys(self, signing_wrapped: bytes, public_wrapped: bytes, now: datetime) -> bool:
        """Store the audit keys; False if another node stored its own first."""
        self._session.add(
            AuditKeyRow(
                id=_HEAD_ID, signing_key_wrapped=signing_wrapped,
                public_key_wrapped=public_wrapped, created_at=now,
            )
        )  # fmt: skip
        try:
            await self._session.flush()
        except IntegrityError:
            return False
        return True

    async def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Insert a signed checkpoint."""
        self._session.add(
            AuditCheckpointRow(
                seq=checkpoint.seq, time=checkpoint.time, entry_hash=checkpoint.entry_hash,
                signature=checkpoint.signature,
            )
        )  # fmt: skip
        await self._session.flush()

    async def checkpoints(self, after: int, limit: int) -> list[StoredCheckpoint]:
        """Return up to ``limit`` checkpoints after record ``after``, in order."""
        rows = await self._session.scalars(
            select(AuditCheckpointRow)
            .where(AuditCheckpointRow.seq > after)
            .order_by(AuditCheckpointRow.seq)
            .limit(limit)
        )
        return [StoredCheckpoint(r.seq, r.time, r.entry_hash, r.signature) for r in rows]
