"""/v1/audit: read the audit log with filters, and verify its hash chain (auditor role)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Final

from starlette.responses import Response, StreamingResponse

from keystead.api.deps import RequestContext
from keystead.api.paging import page_limit, query_number
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.audit import (
    AuditPageResponse,
    AuditPublicKeyResponse,
    AuditRecordResponse,
    AuditVerifyResponse,
)
from keystead.api.schemas.base import Empty
from keystead.domain.audit import Outcome
from keystead.errors import ValidationFailed
from keystead.storage.audit_repository import AuditQuery

NDJSON: Final = "application/x-ndjson"


def _moment(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        msg = f"{name} must be an RFC 3339 time with a UTC offset"
        raise ValidationFailed(msg)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _query(ctx: RequestContext) -> AuditQuery:
    params = ctx.query_params
    outcome = params.get("outcome")
    if outcome is not None and outcome not in {o.value for o in Outcome}:
        msg = f"outcome must be one of {', '.join(o.value for o in Outcome)}"
        raise ValidationFailed(msg)
    return AuditQuery(
        since=_moment(params.get("since"), "since"), until=_moment(params.get("until"), "until"),
        principal=params.get("principal"), key_id=params.get("key_id"),
        action=params.get("action"), outcome=outcome,
        after_seq=query_number(params, "cursor", 0, 0, 2**62), limit=page_limit(params),
    )  # fmt: skip


async def read_audit(ctx: RequestContext, _: Empty) -> AuditPageResponse:
    """Records matching the filters, oldest first.

    Query: since, until, principal, key_id, action, outcome, limit, cursor.
    """
    query = _query(ctx)
    found = await ctx.services.audit.find(query)
    records = [
        AuditRecordResponse(
            seq=r.seq, record=json.loads(r.body), prev_hash=r.prev_hash.hex(),
            entry_hash=r.entry_hash.hex(),
        )
        for r in found
    ]  # fmt: skip
    cursor = str(found[-1].seq) if len(found) == query.limit else None
    return AuditPageResponse(records=records, next_cursor=cursor)


async def verify_audit(ctx: RequestContext, _: Empty) -> AuditVerifyResponse:
    """Walk the whole chain; name the first bad record."""
    verdict = await ctx.services.audit.verify()
    return AuditVerifyResponse(
        valid=verdict.valid, records=verdict.records, first_bad=verdict.first_bad,
        reason=verdict.reason,
    )  # fmt: skip


async def audit_public_key(ctx: RequestContext, _: Empty) -> AuditPublicKeyResponse:
    """The public half of Keystead's audit signing key: checks checkpoints and exports."""
    ctx.caller()
    return AuditPublicKeyResponse(public_key=await ctx.services.audit.public_key_pem())


async def export_audit(ctx: RequestContext, _: Empty) -> Response:
    """The whole log as JSON Lines, closed by a head signed now (streamed)."""
    lines = ctx.services.audit.export()
    first = await anext(lines)  # errors (sealed) become a problem answer, not a cut stream

    async def body() -> AsyncIterator[bytes]:
        yield first.encode()
        async for line in lines:
            yield line.encode()

    return StreamingResponse(body(), media_type=NDJSON, headers={"cache-control": "no-store"})


ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("GET", "/v1/audit", read_audit, Empty, AuditPageResponse,
             "Read the audit log (filters: since, until, principal, key_id, action, outcome)",
             "audit.read"),
    Endpoint("GET", "/v1/audit/verify", verify_audit, Empty, AuditVerifyResponse,
             "Verify the audit log's hash chain", "audit.verify"),
    Endpoint("GET", "/v1/audit/public-key", audit_public_key, Empty, AuditPublicKeyResponse,
             "The audit signing key's public half (PEM)", "audit.public_key", unsealed=True),
    Endpoint("GET", "/v1/audit/export", export_audit, Empty, str,
             "Export the log as JSON Lines for offline verification", "audit.export",
             unsealed=True, media_type=NDJSON),
]  # fmt: skip
