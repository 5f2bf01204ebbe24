"""The hash chain: each record holds the SHA-256 of the one before, so no edit goes unseen.

``entry_hash = SHA-256(prev_hash || body)``, where ``body`` is the record's canonical JSON
(sorted keys, no spaces, UTF-8: ``keystead.domain.audit.canonical``), its ``seq`` included;
the first record's ``prev_hash`` is 32 zero bytes (STYLE.md C29). ``verify`` names the first
record that breaks the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final

import msgspec

from keystead.crypto.hashing import chain_hash, equal
from keystead.domain.audit import AuditEvent
from keystead.storage.audit_repository import GENESIS_HASH, AuditRecord

# The same bytes as ``canonical(event_fields(event, seq))`` for the events the router makes
# (a test holds them equal; JSON floats past 1e16 would be written 1e16, not 1e+16), in a
# quarter of the time: linking runs once per request, on the writer thread, where any Python
# work holds up the requests. "sorted" orders the event's fields by name; ``seq`` goes in
# before "source", the name that follows it. Inside a JSON string a quote is always escaped,
# so the first ``,"source":`` is the key.
_CANONICAL: Final = msgspec.json.Encoder(order="sorted")
_BEFORE_SEQ: Final = b',"source":'
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _encoded(event: AuditEvent) -> bytes:
    """The event's canonical JSON; a lone surrogate (not UTF-8) is recorded as U+FFFD."""
    try:
        return _CANONICAL.encode(event)
    except UnicodeEncodeError:
        texts = {f.name: getattr(event, f.name) for f in fields(event)}
        cleaned: dict[str, Any] = {
            name: _LONE_SURROGATE.sub("\ufffd", value)
            for name, value in texts.items()
            if type(value) is str  # not the Outcome member, a str too
        }
        return _CANONICAL.encode(replace(event, **cleaned))


def link(head: tuple[int, bytes], events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """Return ``events`` as records that follow ``head`` (its seq and hash) in the chain."""
    seq, previous = head
    records = []
    for event in events:
        seq += 1
        body = _encoded(event).replace(_BEFORE_SEQ, b',"seq":%d%s' % (seq, _BEFORE_SEQ), 1)
        entry = chain_hash(previous, body)
        records.append(
            AuditRecord(
                seq, body.decode(), previous, entry, event.time, event.principal, event.action,
                event.key_id, event.outcome.value,
            )
        )  # fmt: skip
        previous = entry
    return records


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a verification found: every record sound, or the first bad one and why."""

    valid: bool
    records: int
    first_bad: int | None = None
    reason: str | None = None


_FILTERED = ("time", "principal", "action", "key_id", "outcome")


async def verify(records: AsyncIterator[AuditRecord], head: tuple[int, bytes] | None) -> Verdict:
    """Check every record in order, then that the last one is the recorded head.

    Names the first record whose position, link, hash or filter columns do not hold: an
    edited record fails its own hash; a deleted one leaves a gap (named by its seq); two
    swapped break the links; a forged one appended breaks its link or passes the head; a
    truncated tail leaves the head pointing past the last record.
    """
    expected_seq, previous, count = 1, GENESIS_HASH, 0
    async for record in records:
        if record.seq != expected_seq:
            reason = f"record {expected_seq} is missing (the next one is {record.seq})"
            return _bad(count, expected_seq, reason)
        problem = _check(record, previous)
        if problem is not None:
            return _bad(count, record.seq, problem)
        expected_seq, previous, count = record.seq + 1, record.entry_hash, count + 1
    last_seq = expected_seq - 1
    head_seq, head_hash = head or (0, GENESIS_HASH)
    if head_seq > last_seq:
        reason = f"record {last_seq + 1} is missing: the log ends before its recorded head"
        return _bad(count, last_seq + 1, reason)
    if head_seq < last_seq:
        reason = "it follows the recorded head: it was not appended by Keystead"
        return _bad(count, head_seq + 1, reason)
    if not equal(head_hash, previous):
        reason = "the last record is not the one the head recorded"
        return _bad(count, last_seq, reason)
    return Verdict(valid=True, records=count)


def _bad(count: int, seq: int, reason: str) -> Verdict:
    return Verdict(valid=False, records=count, first_bad=seq, reason=reason)


def _check(record: AuditRecord, previous: bytes) -> str | None:
    if not equal(record.prev_hash, previous):
        return "its prev_hash is not the hash of the record before: out of order or inserted"
    if not equal(record.entry_hash, chain_hash(previous, record.body.encode())):
        return "its hash does not match its contents: the record was edited"
    try:
        fields = json.loads(record.body)
    except ValueError:  # pragma: no cover - a body that hashes right was written by us
        return "its body is not JSON"
    if fields.get("seq") != record.seq:
        return "its body names another position"
    stored = {"time": record.time, "principal": record.principal, "action": record.action,
              "key_id": record.key_id, "outcome": record.outcome}  # fmt: skip
    for name in _FILTERED:
        if fields.get(name) != stored[name]:
            return f"its {name} column differs from its body"
    return None
