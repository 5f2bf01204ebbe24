"""``client.backups``: encrypted, signed backups of keys, and their restore.

Both directions stream: ``create`` copies ``POST /v1/backups`` to a file chunk by chunk, and
``restore`` uploads a file chunk by chunk; neither holds an archive in memory. Who may: no
built-in role; a policy naming ``backups.create`` / ``backups.restore`` (or, for one key,
``keys.backup`` / ``keys.restore``), or the root token. Besides the errors listed, every
method raises ``TransportError``, ``Unauthenticated``, ``PermissionDenied`` and ``Sealed``.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Final, Protocol
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from keystead_sdk._audit import ExportTarget, _failed, _sink
from keystead_sdk._backup_models import BackupWritten, RestoreReport
from keystead_sdk._errors import ServerError, error_from_response, header

BACKUP_MEDIA_TYPE: Final = "application/vnd.keystead.backup"
PASSPHRASE_HEADER: Final = "Keystead-Backup-Passphrase"  # noqa: S105 - a header's name
ON_CONFLICT: Final = ("skip", "overwrite", "rename")
_MAGIC_BYTES: Final = 8
_FRAME_HEAD: Final = struct.Struct(">BI")
_RECORD: Final = 2
_UPLOAD_CHUNK: Final = 1024 * 1024

BackupProgress = Callable[[int, int], object]
"""Called as the archive goes by: ``(keys so far, keys in all)`` for ``create``,
``(bytes sent, bytes in all)`` for ``restore``."""

RestoreSource = str | os.PathLike[str] | IO[bytes]
"""A path, or a binary file open for reading."""


class Open(Protocol):
    """How ``BackupsAPI`` opens a streamed request: ``Client._open``."""

    def __call__(  # noqa: PLR0913 - httpx's own options
        self,
        method: str,
        path: str,
        /,
        *,
        json: object = None,
        content: Iterator[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[httpx.Response]: ...


class AsyncOpen(Protocol):
    """How ``AsyncBackupsAPI`` opens a streamed request: ``AsyncClient._open``."""

    def __call__(  # noqa: PLR0913 - httpx's own options
        self,
        method: str,
        path: str,
        /,
        *,
        json: object = None,
        content: AsyncIterator[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[httpx.Response]: ...


class _RecordCounter:
    """Counts the records of an archive as its bytes go by (frames: kind, u32 length)."""

    def __init__(self) -> None:
        self.records = 0
        self._magic = _MAGIC_BYTES
        self._skip = 0
        self._head = b""

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            if self._magic:
                taken = min(self._magic, len(view))
                self._magic -= taken
                view = view[taken:]
            elif self._skip:
                taken = min(self._skip, len(view))
                self._skip -= taken
                view = view[taken:]
            else:
                wanted = _FRAME_HEAD.size - len(self._head)
                self._head += bytes(view[:wanted])
                view = view[wanted:]
                if len(self._head) == _FRAME_HEAD.size:
                    kind, self._skip = _FRAME_HEAD.unpack(self._head)
                    self._head = b""
                    self.records += kind == _RECORD


def _body(
    passphrase: str | SecretStr | None, recipient: str | None, *, identities: bool
) -> dict[str, object]:
    if (passphrase is None) == (recipient is None):
        msg = "give a passphrase or a recipient public key PEM, not both"
        raise ValueError(msg)
    body: dict[str, object] = {"include_identities": True} if identities else {}
    if recipient is not None:
        return {**body, "recipient": recipient}
    secret = passphrase.get_secret_value() if isinstance(passphrase, SecretStr) else passphrase
    return {**body, "passphrase": secret or ""}


def _backup_path(key: str | None) -> str:
    return "/v1/backups" if key is None else f"/v1/keys/{quote(key, safe='')}/backup"


def _restore_path(key: str | None) -> str:
    return "/v1/backups/restore" if key is None else f"/v1/keys/{quote(key, safe='')}/restore"


def _restore_options(
    passphrase: str | SecretStr | None, recipient_key: str | None, on_conflict: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The query parameters and headers of a restore."""
    if (passphrase is None) == (recipient_key is None):
        msg = "give the backup's passphrase or the name of a recipient key, not both"
        raise ValueError(msg)
    if on_conflict not in ON_CONFLICT:
        msg = f"on_conflict must be one of {', '.join(ON_CONFLICT)}"
        raise ValueError(msg)
    params = {"on_conflict": on_conflict}
    headers = {"content-type": BACKUP_MEDIA_TYPE}
    if recipient_key is not None:
        params["recipient_key"] = recipient_key
    else:
        secret = passphrase.get_secret_value() if isinstance(passphrase, SecretStr) else passphrase
        headers[PASSPHRASE_HEADER] = base64.b64encode((secret or "").encode()).decode("ascii")
    return params, headers


def _refuse_media_type(response: httpx.Response, path: str) -> None:
    media_type = header(response, "content-type").split(";", 1)[0].strip().lower()
    if media_type != BACKUP_MEDIA_TYPE:
        raise ServerError(
            response.status_code, "InvalidResponse",
            f"the answer to POST {path} is {media_type or 'untyped'}, not {BACKUP_MEDIA_TYPE}",
            header(response, "x-request-id"),
        )  # fmt: skip


def _total(response: httpx.Response) -> int:
    declared = header(response, "keystead-backup-keys")
    return int(declared) if declared.isdigit() else 0


def _chunks(source: IO[bytes], size: int, progress: BackupProgress | None) -> Iterator[bytes]:
    sent = 0
    while chunk := source.read(_UPLOAD_CHUNK):
        sent += len(chunk)
        if progress is not None:
            progress(sent, size)
        yield chunk


async def _async_chunks(
    source: IO[bytes], size: int, progress: BackupProgress | None
) -> AsyncIterator[bytes]:
    for chunk in _chunks(source, size, progress):
        yield chunk


def _size(source: IO[bytes]) -> int:
    try:
        return os.fstat(source.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return 0


def _report(response: httpx.Response) -> RestoreReport:
    if _failed(response):
        raise error_from_response(response)
    return RestoreReport.model_validate(response.json())


@contextmanager
def _opened(source: RestoreSource) -> Iterator[IO[bytes]]:
    """The restore source open for reading; closed after only if it was a path."""
    if not isinstance(source, str | os.PathLike):
        yield source
        return
    with Path(source).open("rb") as file:
        yield file


class BackupsAPI:
    """``client.backups``: back every key (or one) up to a file; restore one."""

    def __init__(self, open_stream: Open) -> None:
        self._open = open_stream

    def create(  # noqa: PLR0913 - the protection, the scope, where it goes
        self,
        target: ExportTarget,
        *,
        passphrase: str | SecretStr | None = None,
        recipient: str | None = None,
        key: str | None = None,
        include_identities: bool = False,
        progress: BackupProgress | None = None,
    ) -> BackupWritten:
        """Stream an archive of every key with backup_allowed (or of ``key``) to ``target``.

        Args:
            target: A path, created mode 0600 and put in place only once the archive is whole;
                or a binary writer.
            passphrase: The archive is encrypted under Argon2id(passphrase): at least 12
                characters, not a common password. Whoever knows it can read every key in it.
            recipient: Instead, a public key PEM (RSA, X25519 or MLKEM768X25519) the archive
                key is wrapped for: only its private key (e.g. a key of the Keystead the
                backup is for) opens it.
            key: Back up this one key (id or name) only.
            include_identities: Also the operators' policies and roles, and every user
                (password hashes, TOTP secrets; never a token); a full backup only.
            progress: Called with ``(records written, keys in the backup)``: identities are
                records too, so the count may pass the keys'.

        Returns:
            How many keys and bytes were written, and the signer's fingerprint.

        Raises:
            WeakPassword: The passphrase is too short or too common.
            InvalidPublicKey: The recipient is not a usable public key.
            PermissionDenied: ``BackupNotAllowed`` (the key was created with backups off).
            ValueError: Neither or both of passphrase and recipient, before anything is sent.
        """
        path = _backup_path(key)
        with self._open(
            "POST", path, json=_body(passphrase, recipient, identities=include_identities)
        ) as response:
            if _failed(response):
                response.read()
                raise error_from_response(response)
            _refuse_media_type(response, path)
            counter, total, written = _RecordCounter(), _total(response), 0
            with _sink(target) as writer:
                for chunk in response.iter_bytes():
                    writer.write(chunk)
                    written += len(chunk)
                    counter.feed(chunk)
                    if progress is not None:
                        progress(counter.records, total)
        return BackupWritten(
            keys=counter.records, bytes_written=written,
            signer=header(response, "keystead-backup-signer"),
        )  # fmt: skip

    def restore(  # noqa: PLR0913 - how to open it, what to do on conflicts, which key
        self,
        source: RestoreSource,
        *,
        passphrase: str | SecretStr | None = None,
        recipient_key: str | None = None,
        on_conflict: str = "skip",
        key: str | None = None,
        progress: BackupProgress | None = None,
    ) -> RestoreReport:
        """Upload an archive and restore it, all of it or nothing.

        Args:
            source: The archive: a path or a binary file.
            passphrase: The passphrase it was made with (sent in a header, never the URL).
            recipient_key: Instead, the id or name of the key here it was wrapped for.
            on_conflict: For a key whose name or id is taken here: ``skip``, ``overwrite``
                (the same key only) or ``rename`` (to ``<name>-restored``).
            key: Restore only this key, named by its id or name in the backup.
            progress: Called with ``(bytes sent, bytes in all)``.

        Returns:
            What the restore did, by key name.

        Raises:
            BackupInvalid: The archive is malformed, cut short or altered; nothing changed.
            BackupUnlockFailed: The passphrase or recipient key does not open it.
            Conflict: ``RestoreConflict`` (``overwrite`` of a different key of that name).
            NotFound: ``key`` is not in the backup, or no such recipient key.
            ValueError: Neither or both of passphrase and recipient_key, or an unknown
                ``on_conflict``, before anything is sent.
        """
        params, headers = _restore_options(passphrase, recipient_key, on_conflict)
        with _opened(source) as file:
            content = _chunks(file, _size(file), progress)
            path = _restore_path(key)
            with self._open(
                "POST", path, content=content, params=params, headers=headers
            ) as response:
                response.read()
        return _report(response)


class AsyncBackupsAPI:
    """``client.backups`` of ``AsyncClient``: the methods of ``BackupsAPI``, awaited."""

    def __init__(self, open_stream: AsyncOpen) -> None:
        self._open = open_stream

    async def create(  # noqa: PLR0913 - as BackupsAPI.create
        self,
        target: ExportTarget,
        *,
        passphrase: str | SecretStr | None = None,
        recipient: str | None = None,
        key: str | None = None,
        include_identities: bool = False,
        progress: BackupProgress | None = None,
    ) -> BackupWritten:
        """Stream an archive to ``target``; see ``BackupsAPI.create``."""
        path = _backup_path(key)
        async with self._open(
            "POST", path, json=_body(passphrase, recipient, identities=include_identities)
        ) as response:
            if _failed(response):
                await response.aread()
                raise error_from_response(response)
            _refuse_media_type(response, path)
            counter, total, written = _RecordCounter(), _total(response), 0
            with _sink(target) as writer:
                async for chunk in response.aiter_bytes():
                    writer.write(chunk)
                    written += len(chunk)
                    counter.feed(chunk)
                    if progress is not None:
                        progress(counter.records, total)
        return BackupWritten(
            keys=counter.records, bytes_written=written,
            signer=header(response, "keystead-backup-signer"),
        )  # fmt: skip

    async def restore(  # noqa: PLR0913 - as BackupsAPI.restore
        self,
        source: RestoreSource,
        *,
        passphrase: str | SecretStr | None = None,
        recipient_key: str | None = None,
        on_conflict: str = "skip",
        key: str | None = None,
        progress: BackupProgress | None = None,
    ) -> RestoreReport:
        """Upload an archive and restore it; see ``BackupsAPI.restore``."""
        params, headers = _restore_options(passphrase, recipient_key, on_conflict)
        with _opened(source) as file:
            content = _async_chunks(file, _size(file), progress)
            path = _restore_path(key)
            async with self._open(
                "POST", path, content=content, params=params, headers=headers
            ) as response:
                await response.aread()
        return _report(response)
