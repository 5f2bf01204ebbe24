"""Audit events: who did what to which key, when, and how it ended. Never a secret.

An event's canonical form is its JSON with sorted keys, no spaces, UTF-8: the bytes the hash
chain covers (``keystead.audit.chain``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from enum import StrEnum


class Outcome(StrEnum):
    """How a request ended."""

    ALLOWED = "allowed"
    """It was allowed and succeeded."""
    REFUSED = "refused"
    """Authentication or authorization said no."""
    FAILED = "failed"
    """It was allowed (or not yet checked) and failed: bad input, wrong state, sealed."""
    BEGUN = "begun"
    """It may change state and is about to run: recorded before it does (see below)."""


# A request that may change state (create, rotate, revoke, log in, ...) is recorded twice:
# "begun" once it is authenticated and its body read, durably before it runs, then how it
# ended. Should the second record fail to be written, the change is not unrecorded: the log
# holds the first, with no ending after it. Key uses (encrypt, sign, ...) change nothing,
# and their answer is withheld when their record fails, so they are recorded once.


# Not frozen: a frozen dataclass's __init__ costs 2 us more, and one is made per request.
@dataclass(slots=True, kw_only=True)
class AuditEvent:
    """One request as the audit log keeps it: identifiers and codes, never values."""

    time: str
    request_id: str
    principal: str
    principal_kind: str
    token_id: str
    source: str
    method: str
    route: str
    action: str
    key: str | None
    key_id: str | None
    version: int | None
    outcome: Outcome
    status: int
    code: str | None
    latency_ms: float
    context_hmac: str | None = None


def canonical(fields: dict[str, object]) -> bytes:
    """Return the canonical bytes of a JSON object: sorted keys, no spaces, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_FIELDS = tuple(f.name for f in fields(AuditEvent))


def event_fields(event: AuditEvent, seq: int) -> dict[str, object]:
    """Return the fields a record stores for ``event`` at position ``seq``."""
    # Not dataclasses.asdict: it deep-copies, and this runs once per request.
    found: dict[str, object] = {name: getattr(event, name) for name in _FIELDS}
    found["outcome"] = event.outcome.value
    found["seq"] = seq
    return found
