"""Audit appends done whole in one worker thread, on the driver's own connection.

A batch is one transaction of a handful of statements. Run through the async engine, each
statement would wait for the busy event loop to come round again, and the requests of the
batch with it; here the event loop hands the batch over once and is told once when it is
durable.

The thread shares the GIL with the busy event loop, and each time it gives the GIL up (the
driver does, around every call into SQLite or PostgreSQL) it waits to get it back while the
requests of the next batch run. So a batch makes as few driver calls as it can: the head is
remembered from the last append and moved with one conditional UPDATE (read again, under
the lock, only when another node or process moved it); the records go in one multi-row
INSERT, not one statement per row; and the statements go to the DB-API cursor, not through
SQLAlchemy Core, whose statement and per-row parameter handling cost several times the
insert itself. ``bench/http_ops.py --audit-compare`` measures what this buys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from keystead.errors import StorageError
from keystead.storage.audit_repository import GENESIS_HASH, AuditRecord, StoredCheckpoint
from keystead.storage.tables import AuditCheckpointRow, AuditHeadRow, AuditRow

_HEAD_ID: Final = 1
# Rows per INSERT: 9 parameters each stays far below SQLite's 32,766 and PostgreSQL's 65,535.
_ROWS_PER_INSERT: Final = 500
_RECORD_COLUMNS: Final = AuditRecord._fields

Linker = Callable[[tuple[int, bytes]], Sequence[AuditRecord]]
Checkpointer = Callable[[int, AuditRecord], StoredCheckpoint | None]


@dataclass(frozen=True, slots=True)
class _Statements:
    """The append's SQL, in the driver's parameter style."""

    marker: str
    touch_head: str
    read_head: str
    move_head_from: str
    move_head: str
    insert_head: str
    insert_checkpoint: str

    @classmethod
    def for_engine(cls, engine: Engine) -> _Statements:
        # Only constant names and the driver's markers are put into the text: no value.
        m = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        # SQLite has no row locks: its write lock, taken by touch_head, serialises appends.
        lock = "" if engine.dialect.name == "sqlite" else " FOR UPDATE"
        head, where = AuditHeadRow.__tablename__, f"WHERE id = {_HEAD_ID}"
        move = f"UPDATE {head} SET seq = {m}, entry_hash = {m}"  # noqa: S608
        return cls(
            marker=m,
            touch_head=f"UPDATE {head} SET seq = seq {where}",  # noqa: S608
            read_head=f"SELECT seq, entry_hash FROM {head} {where}{lock}",  # noqa: S608
            move_head_from=f"{move} {where} AND seq = {m}",
            move_head=f"{move} {where}",
            insert_head=_insert(head, ("id", "seq", "entry_hash"), m),
            insert_checkpoint=_insert(
                AuditCheckpointRow.__tablename__, ("seq", "time", "entry_hash", "signature"), m
            ),
        )


def _insert(table: str, columns: Sequence[str], marker: str, rows: int = 1) -> str:
    one = "(" + ", ".join(marker for _ in columns) + ")"
    values = ", ".join(one for _ in range(rows))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608 - names and markers only


class AuditWriter:
    """Appends one batch of records after the head, under the head's lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql = _Statements.for_engine(engine)
        # The head this writer last committed; None when unknown (at start, after a failure).
        self._head: tuple[int, bytes] | None = None
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def append(self, link: Linker, checkpoint: Checkpointer) -> Sequence[AuditRecord]:
        """Lock the head, link the batch to it, insert it, move the head; commit.

        ``link`` turns the head (seq, hash) into the batch's records; ``checkpoint`` gets
        the previous head's seq and the batch's last record, and returns a checkpoint to
        store with them, if one is due.

        Raises:
            StorageError: The database could not be reached or refused the write.
        """
        try:
            connection = self._engine.raw_connection()
        except SQLAlchemyError as exc:
            raise StorageError(operator_detail=str(getattr(exc, "orig", exc))) from exc
        self._head, remembered = None, self._head
        try:
            records = self._append(connection.cursor(), remembered, link, checkpoint)
            connection.commit()
        except self._driver_error as exc:
            self._roll_back(connection)
            raise StorageError(operator_detail=str(exc)) from exc
        except BaseException:
            self._roll_back(connection)
            raise
        finally:
            connection.close()
        self._head = (records[-1].seq, records[-1].entry_hash)
        return records

    def _append(
        self,
        cursor: Any,  # noqa: ANN401 - a DB-API cursor: SQLAlchemy types it Any
        remembered: tuple[int, bytes] | None,
        link: Linker,
        checkpoint: Checkpointer,
    ) -> Sequence[AuditRecord]:
        records: Sequence[AuditRecord] = ()
        head = remembered
        if head is not None:
            # Moving the head from where this writer left it takes the lock (SQLite's write
            # lock, PostgreSQL's row lock); no row moves if someone else appended since.
            records = link(head)
            last = records[-1]
            cursor.execute(self._sql.move_head_from, (last.seq, last.entry_hash, head[0]))
            if cursor.rowcount != 1:
                head = None
        if head is None:
            head, exists = self._locked_head(cursor)
            records = link(head)
            last = records[-1]
            if exists:
                cursor.execute(self._sql.move_head, (last.seq, last.entry_hash))
            else:
                cursor.execute(self._sql.insert_head, (_HEAD_ID, last.seq, last.entry_hash))
        for start in range(0, len(records), _ROWS_PER_INSERT):
            chunk = records[start : start + _ROWS_PER_INSERT]
            sql = _insert(AuditRow.__tablename__, _RECORD_COLUMNS, self._sql.marker, len(chunk))
            cursor.execute(sql, list(chain.from_iterable(chunk)))
        signed = checkpoint(head[0], records[-1])
        if signed is not None:
            cursor.execute(
                self._sql.insert_checkpoint,
                (signed.seq, signed.time, signed.entry_hash, signed.signature),
            )
        return records

    def _locked_head(self, cursor: Any) -> tuple[tuple[int, bytes], bool]:  # noqa: ANN401 - a DB-API cursor
        """Lock the head and read it; also say whether its row exists yet."""
        # Writing first takes SQLite's write lock at once (waiting up to busy_timeout); the
        # head read next is then the newest one.
        cursor.execute(self._sql.touch_head)
        if cursor.rowcount < 1:
            return (0, GENESIS_HASH), False
        cursor.execute(self._sql.read_head)
        seq, entry_hash = cursor.fetchone()
        return (int(seq), bytes(entry_hash)), True

    def _roll_back(self, connection: Any) -> None:  # noqa: ANN401 - a pooled DB-API connection
        try:
            connection.rollback()
        except self._driver_error:  # pragma: no cover - too broken to roll back: drop it
            connection.invalidate()

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()
