"""``client.audit``: read, verify and export the audit log, and its public key (auditor role).

The JSON endpoints are ``Call`` descriptions, as in ``_calls``. The export is streamed:
``export`` copies ``GET /v1/audit/export`` to a file in chunks, never holding it whole.
Besides the errors listed, every method raises ``TransportError`` when the server cannot be
reached, ``Unauthenticated`` for a missing, expired or revoked token, ``PermissionDenied``
when the token's roles do not allow the action, and ``Sealed`` when the server is sealed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

import httpx

from keystead_sdk._audit_models import (
    AuditExport,
    AuditPage,
    AuditPublicKey,
    AuditVerification,
)
from keystead_sdk._calls import AsyncSend, Call, Send, _iso
from keystead_sdk._errors import ServerError, error_from_response, header, is_problem

EXPORT_PATH: Final = "/v1/audit/export"
EXPORT_MEDIA_TYPE: Final = "application/x-ndjson"


class BinaryWriter(Protocol):
    """Where ``export`` can write: any object with ``write(bytes)``, e.g. ``open(p, "wb")``."""

    def write(self, data: bytes, /) -> object: ...


ExportTarget = str | os.PathLike[str] | BinaryWriter
"""A path (created mode 0600, replaced only once the export is complete) or a binary writer."""

Progress = Callable[[int], object]
"""Called after each chunk with the number of bytes written so far."""


class Stream(Protocol):
    """How ``AuditAPI`` opens a streamed ``GET``: ``Client._stream``."""

    def __call__(self, path: str, /) -> AbstractContextManager[httpx.Response]: ...


class AsyncStream(Protocol):
    """How ``AsyncAuditAPI`` opens a streamed ``GET``: ``AsyncClient._stream``."""

    def __call__(self, path: str, /) -> AbstractAsyncContextManager[httpx.Response]: ...


# --- the JSON endpoints ------------------------------------------------------------------------


def _page(response: httpx.Response) -> AuditPage:
    return AuditPage.model_validate(response.json())


def _verification(response: httpx.Response) -> AuditVerification:
    return AuditVerification.model_validate(response.json())


def _public_key(response: httpx.Response) -> AuditPublicKey:
    return AuditPublicKey.model_validate(response.json())


def list_records(  # noqa: PLR0913 - one argument per query parameter
    limit: int,
    cursor: str | None,
    *,
    since: datetime | None,
    until: datetime | None,
    principal: str | None,
    key_id: str | None,
    action: str | None,
    outcome: str | None,
) -> Call[AuditPage]:
    """``GET /v1/audit``; filters left as ``None`` are not sent."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    if since is not None:
        params["since"] = _iso("since", since)
    if until is not None:
        params["until"] = _iso("until", until)
    filters = {"principal": principal, "key_id": key_id, "action": action, "outcome": outcome}
    params.update({name: value for name, value in filters.items() if value is not None})
    return Call("GET", "/v1/audit", _page, params=params)


def verify() -> Call[AuditVerification]:
    """``GET /v1/audit/verify``."""
    return Call("GET", "/v1/audit/verify", _verification)


def public_key() -> Call[AuditPublicKey]:
    """``GET /v1/audit/public-key``."""
    return Call("GET", "/v1/audit/public-key", _public_key)


# --- the streamed export -----------------------------------------------------------------------


class _Count:
    """The lines and bytes that went by; a last line without its newline still counts."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._newlines = 0
        self._size = 0
        self._open_line = False

    def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._newlines += chunk.count(b"\n")
        self._size += len(chunk)
        self._open_line = not chunk.endswith(b"\n")
        if self._progress is not None:
            self._progress(self._size)

    def result(self) -> AuditExport:
        return AuditExport(lines=self._newlines + int(self._open_line), bytes_written=self._size)


def _refuse_media_type(response: httpx.Response) -> None:
    """A success that is not JSON Lines (a proxy's page, an older server) is not an export."""
    media_type = header(response, "content-type").split(";", 1)[0].strip().lower()
    if media_type != EXPORT_MEDIA_TYPE:
        raise ServerError(
            response.status_code,
            "InvalidResponse",
            f"the answer to GET {EXPORT_PATH} is {media_type or 'untyped'}, not "
            f"{EXPORT_MEDIA_TYPE}",
            header(response, "x-request-id"),
        )


def _failed(response: httpx.Response) -> bool:
    return not response.is_success or is_problem(response)


@contextmanager
def _sink(target: ExportTarget) -> Iterator[BinaryWriter]:
    """The writer for ``target``; a path is written beside it, then renamed over it."""
    if not isinstance(target, str | os.PathLike):
        yield target
        return
    path = Path(target)
    # mkstemp makes the file mode 0600; the rename keeps that mode, whatever was there before.
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- the namespaces ----------------------------------------------------------------------------


class AuditAPI:
    """``client.audit``: the audit log's records, its verification, export and public key."""

    def __init__(self, send: Send, stream: Stream) -> None:
        self._send = send
        self._stream = stream

    def list(  # noqa: PLR0913 - one argument per query parameter
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        principal: str | None = None,
        key_id: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
    ) -> AuditPage:
        """Read audit records matching the filters, oldest first, one page at a time.

        Args:
            limit: The page size, 1 to 1000.
            cursor: ``next_cursor`` of the page before.
            since: Only records from this time on (timezone-aware).
            until: Only records up to this time (timezone-aware).
            principal: Only this caller's records, e.g. ``"alice"``.
            key_id: Only records of the key with this id.
            action: Only this action, e.g. ``"keys.decrypt"``.
            outcome: Only ``"allowed"``, ``"refused"``, ``"failed"`` or ``"begun"`` records.

        Returns:
            A page; its ``next_cursor`` is ``None`` on the last page.

        Raises:
            ValidationFailed: A limit or cursor out of range, or an unknown outcome.
            ValueError: A naive datetime, before anything is sent.
        """
        return self._send(
            list_records(
                limit, cursor, since=since, until=until, principal=principal, key_id=key_id,
                action=action, outcome=outcome,
            )
        )  # fmt: skip

    def verify(self) -> AuditVerification:
        """Have the server walk the whole hash chain and name the first bad record, if any.

        A broken chain is an answer (``valid`` is ``False``), not an exception.
        """
        return self._send(verify())

    def public_key(self) -> AuditPublicKey:
        """The Ed25519 public key that checks the signed checkpoints of an export."""
        return self._send(public_key())

    def export(self, target: ExportTarget, *, progress: Progress | None = None) -> AuditExport:
        """Stream the whole log as JSON Lines to ``target``, chunk by chunk.

        The file can be checked offline, with nothing but it and ``public_key()``
        (``keystead audit verify --offline``).

        Args:
            target: A path, created mode 0600 and put in place only once the export is
                complete (nothing is left behind on failure); or a binary writer, e.g. a
                file opened ``"wb"``, written as the chunks arrive.
            progress: Called after each chunk with the bytes written so far.

        Returns:
            How many lines and bytes were written.

        Raises:
            ServerError: ``InvalidResponse``: the answer is not ``application/x-ndjson``.
            OSError: The path cannot be written.
        """
        with self._stream(EXPORT_PATH) as response:
            if _failed(response):
                response.read()
                raise error_from_response(response)
            _refuse_media_type(response)
            count = _Count(progress)
            with _sink(target) as writer:
                for chunk in response.iter_bytes():
                    writer.write(chunk)
                    count.add(chunk)
        return count.result()


class AsyncAuditAPI:
    """``client.audit`` of ``AsyncClient``: the methods of ``AuditAPI``, awaited.

    ``export`` writes each chunk to the target as it arrives, synchronously.
    """

    def __init__(self, send: AsyncSend, stream: AsyncStream) -> None:
        self._send = send
        self._stream = stream

    async def list(  # noqa: PLR0913 - one argument per query parameter
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        principal: str | None = None,
        key_id: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
    ) -> AuditPage:
        """Read audit records matching the filters, oldest first; see ``AuditAPI.list``."""
        return await self._send(
            list_records(
                limit, cursor, since=since, until=until, principal=principal, key_id=key_id,
                action=action, outcome=outcome,
            )
        )  # fmt: skip

    async def verify(self) -> AuditVerification:
        """Have the server walk the whole hash chain; see ``AuditAPI.verify``."""
        return await self._send(verify())

    async def public_key(self) -> AuditPublicKey:
        """The Ed25519 public key that checks the signed checkpoints of an export."""
        return await self._send(public_key())

    async def export(
        self, target: ExportTarget, *, progress: Progress | None = None
    ) -> AuditExport:
        """Stream the whole log as JSON Lines to ``target``; see ``AuditAPI.export``."""
        async with self._stream(EXPORT_PATH) as response:
            if _failed(response):
                await response.aread()
                raise error_from_response(response)
            _refuse_media_type(response)
            count = _Count(progress)
            with _sink(target) as writer:
                async for chunk in response.aiter_bytes():
                    writer.write(chunk)
                    count.add(chunk)
        return count.result()
