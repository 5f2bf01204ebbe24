"""The export format: JSON Lines that ``keystead audit verify --offline`` checks alone.

One object per line, in chain order:

- ``{"type": "record", "seq", "body", "prev_hash", "entry_hash"}``: ``body`` is the record's
  canonical JSON text, the hashes lower-case hex;
- ``{"type": "checkpoint", "seq", "time", "entry_hash", "signature"}`` after the record it
  vouches for (``signature``: base64 Ed25519, see ``keystead.audit.checkpoints``);
- last, ``{"type": "head", ...}`` with the same fields: a checkpoint signed at export time
  of the last record, so that a file cut short is detected.

Verification needs nothing but the file and the published public key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from keystead.audit import chain
from keystead.audit.checkpoints import Checkpoint, is_genuine
from keystead.storage.audit_repository import AuditRecord


def record_line(record: AuditRecord) -> str:
    """Return the export line of a record."""
    return _line({
        "type": "record", "seq": record.seq, "body": record.body,
        "prev_hash": record.prev_hash.hex(), "entry_hash": record.entry_hash.hex(),
    })  # fmt: skip


def checkpoint_line(checkpoint: Checkpoint, kind: str = "checkpoint") -> str:
    """Return the export line of a checkpoint (``kind`` "head" for the closing one)."""
    return _line({
        "type": kind, "seq": checkpoint.seq, "time": checkpoint.time,
        "entry_hash": checkpoint.entry_hash.hex(),
        "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
    })  # fmt: skip


def _line(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


class _Parsed:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.checkpoints: list[Checkpoint] = []
        self.head: Checkpoint | None = None
        self.bad_line: tuple[int, str] | None = None


def _parse(lines: Iterable[str]) -> _Parsed:
    parsed = _Parsed()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            kind = item["type"]
            if kind == "record":
                body = item["body"]
                fields = json.loads(body)
                parsed.records.append(
                    AuditRecord(
                        int(item["seq"]), body, bytes.fromhex(item["prev_hash"]),
                        bytes.fromhex(item["entry_hash"]), fields.get("time", ""),
                        fields.get("principal", ""), fields.get("action", ""),
                        fields.get("key_id"), fields.get("outcome", ""),
                    )
                )  # fmt: skip
                continue
            checkpoint = Checkpoint(
                int(item["seq"]),
                bytes.fromhex(item["entry_hash"]),
                str(item["time"]),
                base64.b64decode(item["signature"], validate=True),
            )
        except (ValueError, KeyError, TypeError):
            parsed.bad_line = (number, "not a line of a Keystead audit export")
            return parsed
        if kind == "head":
            parsed.head = checkpoint
        elif kind == "checkpoint":
            parsed.checkpoints.append(checkpoint)
        else:
            parsed.bad_line = (number, f"unknown line type {kind!r}")
            return parsed
    return parsed


async def _each(records: list[AuditRecord]) -> AsyncIterator[AuditRecord]:
    for record in records:
        yield record


async def verify_export(lines: Iterable[str], public_key: bytes) -> chain.Verdict:
    """Check an exported log with nothing but the audit public key (PEM or DER).

    Names the first bad record: any the chain check names, a checkpoint that is forged or
    does not match its record, or a file cut short before its signed head.
    """
    parsed = _parse(lines)
    if parsed.bad_line is not None:
        number, reason = parsed.bad_line
        return chain.Verdict(
            valid=False, records=0, first_bad=None, reason=f"line {number}: {reason}"
        )
    head = parsed.head
    if head is None or not is_genuine(public_key, head):
        last = parsed.records[-1].seq if parsed.records else 0
        reason = "the file has no head signed by the audit key: it is cut short or forged"
        return chain.Verdict(
            valid=False, records=len(parsed.records), first_bad=last + 1, reason=reason
        )
    verdict = await chain.verify(_each(parsed.records), (head.seq, head.entry_hash))
    if not verdict.valid:
        return verdict
    wanted = {c.seq for c in parsed.checkpoints}
    hashes = {r.seq: r.entry_hash for r in parsed.records if r.seq in wanted}
    return check_checkpoints(hashes, head.seq, parsed.checkpoints, public_key, verdict)


def check_checkpoints(
    hashes: Mapping[int, bytes],
    last_seq: int,
    checkpoints: Iterable[Checkpoint],
    public_key: bytes,
    verdict: chain.Verdict,
) -> chain.Verdict:
    """Refuse a forged checkpoint, or one that does not vouch for the record at its seq.

    ``hashes`` holds the entry hash of every record a checkpoint names that exists;
    ``last_seq`` is the last record's. A checkpoint past the last record means the log was
    cut short after it.
    """
    for checkpoint in checkpoints:
        if not is_genuine(public_key, checkpoint):
            reason = f"the checkpoint at record {checkpoint.seq} is not signed by the audit key"
            return _bad(verdict.records, checkpoint.seq, reason)
        if checkpoint.seq > last_seq:
            reason = (
                f"record {last_seq + 1} is missing: a signed checkpoint vouches for "
                f"{checkpoint.seq}"
            )
            return _bad(verdict.records, last_seq + 1, reason)
        if hashes.get(checkpoint.seq) != checkpoint.entry_hash:
            reason = f"the signed checkpoint at record {checkpoint.seq} does not match it"
            return _bad(verdict.records, checkpoint.seq, reason)
    return verdict


def _bad(count: int, seq: int, reason: str) -> chain.Verdict:
    return chain.Verdict(valid=False, records=count, first_bad=seq, reason=reason)
