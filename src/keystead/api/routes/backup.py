"""/v1/backups and /v1/keys/{key}/backup|restore: encrypted, signed archives of keys.

A backup streams out as ``application/vnd.keystead.backup``. A restore takes the archive
as the request body (streamed to a temporary file, never held in memory), the passphrase in
the ``Keystead-Backup-Passphrase`` header (base64 of its UTF-8, so that any passphrase fits
in a header and none lands in a URL or a proxy's query log) or ``recipient_key`` in the
query, and ``on_conflict`` (skip, overwrite or rename) in the query.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Final

from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.backup import BackupCreateRequest, RestoreResponse
from keystead.api.schemas.base import Empty
from keystead.errors import PayloadTooLarge, RequestAborted, ValidationFailed
from keystead.services.backup import BackupRequest, BackupStream
from keystead.services.restore import OnConflict, RestoreReport, RestoreRequest

BACKUP_MEDIA_TYPE: Final = "application/vnd.keystead.backup"
PASSPHRASE_HEADER: Final = "keystead-backup-passphrase"  # noqa: S105 - a header name
_IN_MEMORY_BYTES: Final = 8 * 1024 * 1024


def _archive_response(stream: BackupStream) -> Response:
    return StreamingResponse(
        stream.chunks, media_type=BACKUP_MEDIA_TYPE,
        headers={
            "cache-control": "no-store",
            "content-disposition": 'attachment; filename="keystead.backup"',
            "keystead-backup-keys": str(stream.keys), "keystead-backup-signer": stream.signer,
        },
    )  # fmt: skip


async def create_backup(ctx: RequestContext, body: BackupCreateRequest) -> Response:
    """Stream an archive of every key with backup_allowed."""
    request = BackupRequest(
        passphrase=body.passphrase, recipient=body.recipient,
        include_identities=body.include_identities,
    )  # fmt: skip
    return _archive_response(await ctx.services.backups.create(ctx.caller(), request))


async def create_key_backup(ctx: RequestContext, body: BackupCreateRequest) -> Response:
    """Stream an archive of one key."""
    request = BackupRequest(
        passphrase=body.passphrase, recipient=body.recipient, key=ctx.path_params["key"],
        include_identities=body.include_identities,
    )  # fmt: skip
    return _archive_response(await ctx.services.backups.create(ctx.caller(), request))


def _passphrase(ctx: RequestContext) -> str | None:
    encoded = ctx.request.headers.get(PASSPHRASE_HEADER)
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, ValueError):
        msg = f"the {PASSPHRASE_HEADER} header must be the base64 of the passphrase's UTF-8"
        raise ValidationFailed(msg) from None


def _restore_request(ctx: RequestContext, only: str | None) -> RestoreRequest:
    choice = ctx.query_params.get("on_conflict", OnConflict.SKIP.value)
    try:
        on_conflict = OnConflict(choice)
    except ValueError:
        choices = ", ".join(c.value for c in OnConflict)
        msg = f"on_conflict must be one of {choices} (got {choice[:40]!r})"
        raise ValidationFailed(msg) from None
    return RestoreRequest(
        passphrase=_passphrase(ctx), recipient_key=ctx.query_params.get("recipient_key"),
        on_conflict=on_conflict, only=only,
    )  # fmt: skip


@asynccontextmanager
async def _spooled(ctx: RequestContext) -> AsyncIterator[IO[bytes]]:
    limit = ctx.services.settings.max_backup_bytes
    declared = ctx.request.headers.get("content-length", "")
    too_large = f"a backup to restore is limited to {limit} bytes"
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    with tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES) as archive:
        size = 0
        try:
            async for chunk in ctx.request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(too_large)
                archive.write(chunk)
        except ClientDisconnect:
            raise RequestAborted from None
        archive.seek(0)
        yield archive


def _report(report: RestoreReport) -> RestoreResponse:
    return RestoreResponse(
        signer=report.signer, created_at=report.created_at,
        keys_in_backup=report.keys_in_backup, counts=report.counts, restored=report.restored,
        revived=report.revived,
        overwritten=report.overwritten, skipped=report.skipped, renamed=report.renamed,
    )  # fmt: skip


async def restore_backup(ctx: RequestContext, _: Empty) -> RestoreResponse:
    """Restore every key of the archive in the body, all or nothing."""
    request = _restore_request(ctx, only=None)
    async with _spooled(ctx) as archive:
        return _report(await ctx.services.restores.restore(ctx.caller(), archive, request))


async def restore_key(ctx: RequestContext, _: Empty) -> RestoreResponse:
    """Restore one key (by its id or name in the backup) from the archive in the body."""
    request = _restore_request(ctx, only=ctx.path_params["key"])
    async with _spooled(ctx) as archive:
        return _report(await ctx.services.restores.restore(ctx.caller(), archive, request))


ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/backups", create_backup, BackupCreateRequest, bytes,
             "Back up every key with backup_allowed: an encrypted, signed archive (streamed)",
             "backups.create", unsealed=True, media_type=BACKUP_MEDIA_TYPE),
    Endpoint("POST", "/v1/backups/restore", restore_backup, Empty, RestoreResponse,
             "Restore an archive (the request body), all or nothing", "backups.restore",
             unsealed=True),
    Endpoint("POST", "/v1/keys/{key}/backup", create_key_backup, BackupCreateRequest, bytes,
             "Back up one key: an encrypted, signed archive", "keys.backup", unsealed=True,
             media_type=BACKUP_MEDIA_TYPE),
    Endpoint("POST", "/v1/keys/{key}/restore", restore_key, Empty, RestoreResponse,
             "Restore one key (named as in the backup) from an archive", "keys.restore",
             unsealed=True),
]  # fmt: skip
