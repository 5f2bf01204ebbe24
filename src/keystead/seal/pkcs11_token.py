"""One PKCS#11 token: a pool of logged-in sessions, and one reconnect on a token error.

The first session logs in with the PIN; PKCS#11 login state belongs to the application, so
the other sessions share it (PKCS#11 v2.40 ``C_Login``) and the login session is closed
last. Sessions are kept open between calls, and a session that failed is replaced, never
reused. While calls are serialised (``keystead.seal.pkcs11_library``) one session is in use
at a time, so the pool holds the login session and whatever replaced a failed one.

A call that fails with a token error is tried once more after re-initialising the library,
finding the token again and logging in again (STYLE.md C28, Barbican ``_call_pkcs11``); a
second failure is reported. The library is injectable for tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import structlog
from pkcs11 import Session, Token
from pkcs11 import exceptions as p11
from pydantic import SecretStr

from keystead.errors import HSMError
from keystead.seal.pkcs11_library import DEFINITIVE, Library, describe, load_library

__all__ = ["PKCS11Token"]

T = TypeVar("T")
_log = structlog.get_logger("keystead.seal")


class PKCS11Token:
    """The token named by its label, reached through the process's library for ``module``."""

    __slots__ = ("_generation", "_idle", "_library", "_loader", "_login", "_token",
                 "label", "module", "pin")  # fmt: skip

    def __init__(
        self,
        module: Path,
        label: str,
        pin: SecretStr,
        *,
        loader: Callable[[Path], Library] = load_library,
    ) -> None:
        self.module = module
        self.label = label
        self.pin = pin
        self._loader = loader
        self._library: Library | None = None
        self._token: Token | None = None
        self._login: Session | None = None
        self._idle: list[Session] = []
        self._generation = -1

    def __repr__(self) -> str:
        return f"PKCS11Token(label={self.label!r}, module={str(self.module)!r})"

    def run(self, operation: Callable[[Session], T], doing: str) -> T:
        """Run ``operation`` with a session of the token, reconnecting once if the token fails.

        Args:
            operation: What to do; it may raise ``pkcs11`` errors.
            doing: What it does, for the log (``"decrypting the keyring"``).

        Raises:
            HSMError: The token cannot be reached, refuses the PIN, or fails twice.
            PKCS11Error: ``operation`` raised one of ``DEFINITIVE`` (its caller's business).
        """
        library = self._connected()
        with library.lock:
            try:
                return self._once(operation)
            except DEFINITIVE:
                raise
            except p11.PKCS11Error as first:
                _log.warning("pkcs11 token error; reconnecting once", doing=doing,
                             error=type(first).__name__)  # fmt: skip
            self._reconnect()
            try:
                return self._once(operation)
            except DEFINITIVE:
                raise
            except p11.PKCS11Error as second:
                raise describe(second, doing) from None

    def connect(self) -> None:
        """Load the library, find the token and log in, unless that is done already.

        Raises:
            HSMError: The module, the token or the PIN is wrong, or the token fails.
        """
        self._connected()

    def close(self) -> None:
        """Close every session (the login session last); the library stays loaded."""
        library = self._library
        if library is None:
            return
        with library.lock:
            self._drop_sessions(library)

    def _once(self, operation: Callable[[Session], T]) -> T:
        session = self._idle.pop() if self._idle else self._open_session()
        broken = False
        try:
            return operation(session)
        except DEFINITIVE:
            raise
        except p11.PKCS11Error:
            broken = True
            raise
        finally:
            if broken:
                _close_quietly(session)  # a session that failed is not trusted again
            else:
                self._idle.append(session)

    def _connected(self) -> Library:
        library = self._library or self._loader(self.module)
        self._library = library
        with library.lock:
            if self._login is None or self._generation != library.generation:
                self._open(library)
        return library

    def _reconnect(self) -> None:
        library = self._connected()
        with library.lock:
            self._drop_sessions(library)
            library.reinitialize()
            self._open(library)

    def _open(self, library: Library) -> None:
        """Find the token and log in; a token not found re-initialises the library once."""
        self._drop_sessions(library)
        try:
            token = self._find(library)
        except p11.PKCS11Error:
            # Modules list their tokens at C_Initialize: one plugged in (or back) since, or
            # one whose slot went away, is seen right only after initialising again.
            library.reinitialize()
            try:
                token = self._find(library)
            except p11.PKCS11Error as exc:
                raise describe(exc, "finding the token") from None
        self._login = self._log_in(token)
        self._token = token
        self._idle = [self._login]
        self._generation = library.generation

    def _find(self, library: Library) -> Token:
        return library.native.get_token(token_label=self.label)

    def _log_in(self, token: Token) -> Session:
        try:
            return token.open(rw=True, user_pin=self.pin.get_secret_value())
        except p11.UserAlreadyLoggedIn:
            # Another PKCS11Token of this process logged in to the same token: share it.
            pass
        except p11.PKCS11Error as exc:
            raise describe(exc, "logging in to the token") from None
        try:
            return token.open(rw=True)
        except p11.PKCS11Error as exc:
            raise describe(exc, "opening a session") from None

    def _open_session(self) -> Session:
        if self._token is None:  # pragma: no cover - _connected() opened it
            raise HSMError(operator_detail="pkcs11 token used before it was connected")
        return self._token.open(rw=True)

    def _drop_sessions(self, library: Library) -> None:
        if self._generation == library.generation:
            for session in self._idle:
                if session is not self._login:
                    _close_quietly(session)
            if self._login is not None:
                _close_quietly(self._login)
        self._idle, self._login, self._token = [], None, None


def _close_quietly(session: Session) -> None:
    # A session of a finalised library or an unplugged token cannot be closed, only dropped.
    with contextlib.suppress(p11.PKCS11Error):
        session.close()
