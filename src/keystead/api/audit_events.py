"""What the audit log keeps of one request: who, from where, what on which key, how it ended.

Taken from the route, the caller and the answer's identifiers, never from a body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from starlette.requests import Request

from keystead.domain.access import KEY_EXPORT_ACTION, KEY_USE_ACTIONS, permission_of
from keystead.domain.audit import AuditEvent, Outcome
from keystead.domain.models import Principal
from keystead.errors import AuthError, KeysteadError

# Liveness probes would fill the log with nothing: they read no secret and change nothing.
UNAUDITED: Final = frozenset({"sys.health", "sys.seal_status"})
# Actions that change nothing stored although they are not GETs.
_UNCHANGING: Final = KEY_USE_ACTIONS | {"sys.random", KEY_EXPORT_ACTION}


def changes_state(method: str, action: str) -> bool:
    """Whether a request may change what is stored, and so is recorded as begun first."""
    return method != "GET" and permission_of(action) not in _UNCHANGING


@dataclass(slots=True)
class Seen:
    """What the router learns of a request as it runs."""

    started: float = 0.0
    principal: Principal | None = None
    result: object = None
    error: KeysteadError | None = None
    context_hmac: str | None = None


def audit_event(  # noqa: PLR0913 - the parts of a request the record is made of
    request: Request,
    *,
    method: str,
    route: str,
    action: str,
    request_id: str,
    seen: Seen,
    status: int,
    now: str,
    begun: bool = False,
) -> AuditEvent:
    """Return the audit record of a request answered with ``status``, or ``begun`` (status 0)."""
    principal = seen.principal
    error = seen.error
    if begun:
        outcome = Outcome.BEGUN
    elif error is None:
        outcome = Outcome.ALLOWED
    else:
        outcome = Outcome.REFUSED if isinstance(error, AuthError) else Outcome.FAILED
    key_id, version = _key_of(seen.result, route)
    client = request.client
    return AuditEvent(
        time=now, request_id=request_id,
        principal=principal.display_name if principal else "anonymous",
        principal_kind=principal.kind if principal else "none",
        token_id=principal.token_id if principal else "",
        source=client.host if client else "", method=method, route=route, action=action,
        key=request.path_params.get("key"), key_id=key_id, version=version, outcome=outcome,
        status=status, code=None if error is None else error.code,
        latency_ms=round((time.perf_counter() - seen.started) * 1000, 3),
        context_hmac=seen.context_hmac,
    )  # fmt: skip


def _key_of(result: object, route: str) -> tuple[str | None, int | None]:
    """The key id and version an answer names (``key_id``/``version``, or a key's own id)."""
    key_id = getattr(result, "key_id", None)
    if key_id is None and route.startswith("/v1/keys"):
        key_id = getattr(result, "id", None)
    version = getattr(result, "version", None)
    if version is None:
        version = getattr(result, "primary_version", None)
    return (
        key_id if isinstance(key_id, str) else None,
        version if isinstance(version, int) and not isinstance(version, bool) else None,
    )
