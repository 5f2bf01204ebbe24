"""Audit appends done whole in one worker thread, on a synchronous connection.

A batch is one transaction of a handful of statements. Run through the async engine, each
statement would wait for the busy event loop to come round again, and the requests of the
batch with it; here the event loop hands the batch over once and is told once when it is
durable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import OperationalError

from keystead.errors import StorageError
from keystead.storage.audit_repository import GENESIS_HASH, AuditRecord, StoredCheckpoint
from keystead.storage.tables import AuditCheckpointRow, AuditHeadRow, AuditRow

_HEAD_ID = 1

Linker = Callable[[tuple[int, bytes]], Sequence[AuditRecord]]
Checkpointer = Callable[[int, AuditRecord], StoredCheckpoint | None]


class AuditWriter:
    """Appends one batch of records after the head, under the head's lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, link: Linker, checkpoint: Checkpointer) -> Sequence[AuditRecord]:
        """Lock the head, link the batch to it, insert it, move the head; commit.

        ``link`` turns the head (seq, hash) into the batch's records; ``checkpoint`` gets
        the previous head's seq and the batch's last record, and returns a checkpoint to
        store with them, if one is due.

        Raises:
            StorageError: The database could not be reached or refused the write.
        """
        try:
            with self._engine.begin() as connection:
                # Writing first takes SQLite's write lock at once (waiting up to
                # busy_timeout); the head read next is then the newest one.
                moved = connection.execute(
                    update(AuditHeadRow)
                    .where(AuditHeadRow.id == _HEAD_ID)
                    .values(seq=AuditHeadRow.seq)
                )
                head = (0, GENESIS_HASH)
                if moved.rowcount:
                    row = connection.execute(
                        select(AuditHeadRow.seq, AuditHeadRow.entry_hash)
                        .where(AuditHeadRow.id == _HEAD_ID)
                        .with_for_update()
                    ).one()
                    head = (int(row.seq), bytes(row.entry_hash))
                records = link(head)
                connection.execute(insert(AuditRow), [_row(r) for r in records])
                last = records[-1]
                values = {"seq": last.seq, "entry_hash": last.entry_hash}
                if moved.rowcount:
                    connection.execute(
                        update(AuditHeadRow).where(AuditHeadRow.id == _HEAD_ID).values(**values)
                    )
                else:
                    connection.execute(insert(AuditHeadRow).values(id=_HEAD_ID, **values))
                signed = checkpoint(head[0], last)
                if signed is not None:
                    connection.execute(
                        insert(AuditCheckpointRow).values(
                            seq=signed.seq, time=signed.time, entry_hash=signed.entry_hash,
                            signature=signed.signature,
                        )
                    )  # fmt: skip
        except OperationalError as exc:
            raise StorageError(operator_detail=str(exc.orig)) from exc
        return records

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()


def _row(record: AuditRecord) -> dict[str, object]:
    return {
        "seq": record.seq, "time": record.time, "principal": record.principal,
        "action": record.action, "key_id": record.key_id, "outcome": record.outcome,
        "body": record.body, "prev_hash": record.prev_hash, "entry_hash": record.entry_hash,
    }  # fmt: skip
