"""An optional copy of the audit log as JSON Lines, appended in chain order, rotated by size.

Each line is an export line (``keystead.audit.export``): records, and checkpoints after the
record they vouch for. When the file would pass ``max_bytes`` it becomes ``NAME.1`` (the
older ones ``NAME.2`` ... up to ``keep``), and a new file starts.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path


class FileSink:
    """Appends lines to a file (mode 0600), fsynced, rotating it by size."""

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._keep = keep

    def __repr__(self) -> str:
        return f"FileSink({str(self._path)!r})"

    async def write(self, lines: Sequence[str]) -> None:
        """Append ``lines`` and flush them to disk before returning.

        Raises:
            OSError: The file cannot be written.
        """
        data = "".join(lines).encode("utf-8")
        await asyncio.to_thread(self._append, data)

    def _append(self, data: bytes) -> None:
        try:
            size = self._path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(data) > self._max_bytes:
            self._rotate()
        descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _rotate(self) -> None:
        oldest = self._path.with_name(f"{self._path.name}.{self._keep}")
        oldest.unlink(missing_ok=True)
        for number in range(self._keep - 1, 0, -1):
            older = self._path.with_name(f"{self._path.name}.{number}")
            if older.exists():
                older.rename(self._path.with_name(f"{self._path.name}.{number + 1}"))
        self._path.rename(self._path.with_name(f"{self._path.name}.1"))
