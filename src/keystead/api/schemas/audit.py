"""Bodies of /v1/audit."""

from __future__ import annotations

from typing import Any

from keystead.api.schemas.base import Response


class AuditRecordResponse(Response):
    """One record: its fields, and its links in the hash chain (hex)."""

    seq: int
    record: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditPageResponse(Response):
    """One page of records, oldest first."""

    records: list[AuditRecordResponse]
    next_cursor: str | None


class AuditVerifyResponse(Response):
    """Whether the chain holds; otherwise the first bad record and why."""

    valid: bool
    records: int
    first_bad: int | None = None
    reason: str | None = None


class AuditPublicKeyResponse(Response):
    """The audit signing key's public half."""

    public_key: str
    algorithm: str = "ED25519"
