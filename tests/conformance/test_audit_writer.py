"""The audit writer on SQLite and PostgreSQL: two writers on one database keep one chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from keystead.audit import chain
from keystead.domain.audit import AuditEvent, Outcome
from keystead.errors import StorageError
from keystead.storage.audit_repository import GENESIS_HASH, AuditRecord
from keystead.storage.audit_writer import AuditWriter
from keystead.storage.engine import create_sync_engine, migrate


@pytest.fixture
def database(database_url: str, writers: tuple[AuditWriter, AuditWriter]) -> Iterator[Engine]:
    del writers  # they migrate the database first
    engine = create_sync_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def writers(database_url: str) -> Iterator[tuple[AuditWriter, AuditWriter]]:
    migrate(database_url)
    first = AuditWriter(create_sync_engine(database_url))
    second = AuditWriter(create_sync_engine(database_url))
    yield first, second
    first.close()
    second.close()


def _events(count: int, who: str) -> list[AuditEvent]:
    return [
        AuditEvent(
            time="2026-12-01T20:00:00.000000+00:00", request_id=f"{who}-{n}", principal=who,
            principal_kind="user", token_id="", source="127.0.0.1", method="POST",
            route="/v1/keys", action="key.create", key=None, key_id=None, version=None,
            outcome=Outcome.ALLOWED, status=201, code=None, latency_ms=1.0,
        )
        for n in range(count)
    ]  # fmt: skip


def _append(writer: AuditWriter, events: list[AuditEvent]) -> list[AuditRecord]:
    return list(writer.append(lambda head: chain.link(head, events), lambda _seq, _last: None))


def _stored(database: Engine) -> list[tuple[int, bytes, bytes, str]]:
    with database.connect() as connection:
        rows = connection.execute(
            text("SELECT seq, prev_hash, entry_hash, body FROM audit_log ORDER BY seq")
        )
        return [(int(r[0]), bytes(r[1]), bytes(r[2]), str(r[3])) for r in rows]


def test_writers_taking_turns_keep_one_unbroken_chain(
    writers: tuple[AuditWriter, AuditWriter], database: Engine
) -> None:
    first, second = writers
    written = []
    # Each turn, the other writer has moved the head this one remembers.
    for turn in range(4):
        writer, who = (first, "a") if turn % 2 == 0 else (second, "b")
        written += _append(writer, _events(3, who))
    written += _append(second, _events(600, "b"))  # more rows than one INSERT takes
    stored = _stored(database)
    assert [seq for seq, *_ in stored] == list(range(1, 613))
    previous = GENESIS_HASH
    for (seq, prev_hash, entry_hash, body), record in zip(stored, written, strict=True):
        assert (seq, prev_hash, entry_hash, body) == (
            record.seq, previous, record.entry_hash, record.body,
        )  # fmt: skip
        previous = entry_hash


def test_a_failed_append_leaves_nothing_and_the_next_one_follows_the_head(
    writers: tuple[AuditWriter, AuditWriter], database: Engine
) -> None:
    first, _ = writers
    _append(first, _events(2, "a"))
    with database.begin() as connection:  # the store breaks
        connection.execute(text("ALTER TABLE audit_log RENAME TO audit_log_gone"))
    with pytest.raises(StorageError):
        _append(first, _events(2, "a"))
    with database.begin() as connection:  # and is mended
        connection.execute(text("ALTER TABLE audit_log_gone RENAME TO audit_log"))
    (record,) = _append(first, _events(1, "a"))
    assert record.seq == 3
    assert [seq for seq, *_ in _stored(database)] == [1, 2, 3]
