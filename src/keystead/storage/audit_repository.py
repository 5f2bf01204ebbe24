"""The audit log's rows: append in order under the head's lock, read in order. Never commits.

There is no update and no delete: the log is append-only (STYLE.md C29).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keystead.storage.engine import AsyncSession
from keystead.storage.tables import AuditCheckpointRow, AuditHeadRow, AuditKeyRow, AuditRow

_HEAD_ID = 1
GENESIS_HASH = bytes(32)


class AuditRecord(NamedTuple):
    """A stored record: its position, canonical JSON, and chain links.

    A tuple in the audit_log table's column order: one is made per request, and the
    writer hands them to the driver as they are.
    """

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

    async def checkpoints(self, after: int, limit: int) -> list[StoredCheckpoint]:
        """Return up to ``limit`` checkpoints after record ``after``, in order."""
        rows = await self._session.scalars(
            select(AuditCheckpointRow)
            .where(AuditCheckpointRow.seq > after)
            .order_by(AuditCheckpointRow.seq)
            .limit(limit)
        )
        return [StoredCheckpoint(r.seq, r.time, r.entry_hash, r.signature) for r in rows]
