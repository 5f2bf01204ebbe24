"""Frozen pydantic models of the ``/v1/audit`` answers.

A record holds identifiers and codes, never a key, a plaintext or a token value. The hashes
are lower-case hex, as on the wire and in an export file.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from keystead_sdk._models import _Model


class AuditRecord(_Model):
    """What the audit log keeps of one request: who, from where, what, on which key, how.

    Attributes:
        seq: The record's position in the chain, from 1.
        time: When the request was answered.
        request_id: The server's request id (``X-Request-Id``).
        principal: Who made it: a username, ``"root"``, or ``"anonymous"``.
        principal_kind: The kind of caller, e.g. ``"user"``, ``"service"``, ``"root"``.
        token_id: The id of the token used; empty without one.
        source: The client's address.
        method: The HTTP method.
        route: The route template, e.g. ``"/v1/keys/{key}/encrypt"``.
        action: The action checked, e.g. ``"keys.encrypt"``.
        key: The key as the caller named it (id or name); ``None`` when no key was involved.
        key_id: The key's id; ``None`` when no key was involved or it was not found.
        version: The key version used, if any.
        outcome: ``"allowed"``, ``"refused"`` (authentication or authorization said no),
            ``"failed"`` (allowed, but it failed), or ``"begun"``: a request that may change
            state, recorded before it ran; its ending is another record, same ``request_id``.
        status: The HTTP status of the answer (0 in a ``"begun"`` record).
        code: The error code of a refused or failed request; ``None`` on success.
        latency_ms: How long the server took to answer.
        context_hmac: A keyed hash (hex) of the request's encryption context, so that two
            requests with the same context can be matched without the log holding it;
            ``None`` without a context.
    """

    seq: int
    time: datetime
    request_id: str
    principal: str
    principal_kind: str
    token_id: str
    source: str
    method: str
    route: str
    action: str
    key: str | None = None
    key_id: str | None = None
    version: int | None = None
    outcome: str
    status: int
    code: str | None = None
    latency_ms: float
    context_hmac: str | None = None


class AuditEntry(_Model):
    """One record of the chain, with its links.

    Attributes:
        seq: The record's position in the chain, from 1.
        record: The record's fields.
        prev_hash: The ``entry_hash`` of the record before (64 zeros for the first), hex.
        entry_hash: SHA-256 of ``prev_hash`` and the record's canonical JSON, hex.
    """

    seq: int
    record: AuditRecord
    prev_hash: str
    entry_hash: str


class AuditPage(_Model):
    """One page of audit records, oldest first.

    Attributes:
        records: The records of this page.
        next_cursor: Pass it as ``cursor`` to get the next page; ``None`` on the last page.
    """

    records: list[AuditEntry]
    next_cursor: str | None


class AuditVerification(_Model):
    """Whether the audit log's hash chain holds; otherwise the first bad record and why.

    Attributes:
        valid: Whether every record is sound and the chain ends at its recorded head.
        records: How many records were checked (before the first bad one, if any).
        first_bad: The seq of the first bad record; ``None`` when valid, or when the
            problem is not one record's (a malformed export line).
        reason: Why it is bad; ``None`` when valid.
    """

    valid: bool
    records: int
    first_bad: int | None = None
    reason: str | None = None


class AuditPublicKey(_Model):
    """The public key that checks the audit log's signed checkpoints.

    Attributes:
        public_key: A ``-----BEGIN PUBLIC KEY-----`` PEM (SubjectPublicKeyInfo).
        algorithm: ``"ED25519"``.
    """

    public_key: str
    algorithm: str


class AuditExport(_Model):
    """What ``audit.export`` wrote.

    Attributes:
        lines: How many JSON lines (records, checkpoints and the closing head).
        bytes_written: How many bytes.
    """

    lines: int = Field(ge=0)
    bytes_written: int = Field(ge=0)
