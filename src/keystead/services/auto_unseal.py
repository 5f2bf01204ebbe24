"""The pkcs11 seal unseals the server by itself: at start, and again while it cannot.

A task of the server's event loop asks the token once at start, then every
``pkcs11_retry_seconds`` while the server stays sealed (the token unplugged, the module
missing, a wrong label), and stops once the token refused the PIN: repeating a wrong PIN
locks a real HSM. Why it cannot unseal is in the seal status (``seal_error``) and the log.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from keystead.errors import KeysteadError
from keystead.services.system import SystemService

_log = structlog.get_logger("keystead.seal")


class AutoUnseal:
    """The retry loop of one process; :meth:`start` it inside the server's event loop."""

    def __init__(self, system: SystemService, interval_seconds: float) -> None:
        self._system = system
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the loop is running."""
        return self._task is not None and not self._task.done()

    def start(self) -> bool:
        """Start the loop in the running event loop; False (and nothing done) without one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if not self.running:
            self._task = loop.create_task(self._run(), name="keystead-auto-unseal")
        return True

    async def stop(self) -> None:
        """Stop the loop and wait for it."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        keep_trying = await self._attempt()
        while keep_trying:
            await asyncio.sleep(self._interval)
            keep_trying = await self._attempt()
        _log.error("the pkcs11 seal stopped retrying; fix the setting and restart the server")

    async def _attempt(self) -> bool:
        try:
            return await self._system.unseal_from_token()
        except KeysteadError as error:  # the database, most likely: try again later
            _log.warning("auto-unseal attempt failed", code=error.code,
                         detail=error.operator_detail or error.public_detail)  # fmt: skip
            return True
