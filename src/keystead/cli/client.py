"""What every client command shares: the SDK client from the environment, and error exits.

Client commands read ``KEYSTEAD_ADDR``, ``KEYSTEAD_TOKEN`` and ``KEYSTEAD_CACERT`` as Vault's
CLI does (ARCHITECTURE.md section 6a); without ``KEYSTEAD_TOKEN`` they use the token that
``keystead login`` saved in ``~/.keystead/token``. An expected error prints one red line on
stderr, ``Error: <code>: <detail>``, never a traceback, and exits with the stable code of its
family (STYLE.md C32):

====  ================================================================================
0     success
1     any other error (a server fault, an unexpected answer, a file that cannot be used)
2     ``operator status`` only: the server is sealed (as ``vault status``); also Click's
      code for a command-line usage error
3     the request was refused as invalid: ValidationFailed, MalformedRequest,
      PayloadTooLarge, InvalidUnsealShare, InvalidUnsealKey, InvalidCiphertext,
      WeakPassword
4     Unauthenticated (InvalidCredentials, TotpRequired), PermissionDenied
      (RegistrationClosed), TooManyAttempts
5     NotFound: KeyNotFound, KeyVersionNotFound, RouteNotFound, UserNotFound,
      RoleNotFound, PolicyNotFound, GrantNotFound, TokenNotFound
6     Conflict: AlreadyInitialized, KeyAlreadyExists, InvalidStateTransition,
      KeyStateForbidsOperation, UserAlreadyExists, RoleAlreadyExists,
      PolicyAlreadyExists, BuiltinReadOnly, NoAdmin
7     Sealed or NotInitialized
8     the server could not be reached (connection refused, TLS verification, timeout)
9     local configuration: a bad KEYSTEAD_ADDR or KEYSTEAD_CACERT
10    ``audit verify`` only: the audit log (or export file) failed verification
11    ``backup verify`` only: the archive failed verification
====  ================================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Final, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from keystead.cli import token_store
from keystead_sdk import (
    Client,
    ConfigurationError,
    Conflict,
    CryptoError,
    InvalidUnsealKey,
    KeysteadAPIError,
    KeysteadSDKError,
    NotFound,
    PermissionDenied,
    Sealed,
    TooManyAttempts,
    TransportError,
    Unauthenticated,
    ValidationFailed,
)

ENV_TOKEN: Final = "KEYSTEAD_TOKEN"  # noqa: S105 - the variable's name, not a token


class ExitCode(IntEnum):
    """The stable exit codes of client commands (see the module docstring)."""

    OK = 0
    ERROR = 1
    SEALED_STATUS = 2
    INVALID = 3
    AUTH = 4
    NOT_FOUND = 5
    CONFLICT = 6
    SEALED = 7
    UNREACHABLE = 8
    CONFIGURATION = 9
    AUDIT_INVALID = 10
    BACKUP_INVALID = 11
    CONFIRMATION_INVALID = 12
    LEDGER_INVALID = 13


# Checked in order: the first family the error belongs to decides.
_EXIT_CODES: Final[tuple[tuple[tuple[type[KeysteadSDKError], ...], ExitCode], ...]] = (
    ((TransportError,), ExitCode.UNREACHABLE),
    ((ConfigurationError,), ExitCode.CONFIGURATION),
    ((ValidationFailed, InvalidUnsealKey, CryptoError), ExitCode.INVALID),
    ((Unauthenticated, PermissionDenied, TooManyAttempts), ExitCode.AUTH),
    ((NotFound,), ExitCode.NOT_FOUND),
    ((Conflict,), ExitCode.CONFLICT),
    ((Sealed,), ExitCode.SEALED),
)


def make_client(token: str | None = None, *, use_saved: bool = True) -> Client:
    """Return an SDK client configured from KEYSTEAD_ADDR, the token and KEYSTEAD_CACERT.

    Args:
        token: The token to use; by default KEYSTEAD_TOKEN, else the token saved by
            ``keystead login`` (``~/.keystead/token``), else none.
        use_saved: Whether to read the saved token at all (``login`` and ``register``
            send none, and must work while the saved one is unusable).

    Raises:
        ConfigurationError: The address is not an http(s) URL, the CA file is unusable, or
            the saved token cannot be read or is readable by other users.
    """
    if token is None:
        token = os.environ.get(ENV_TOKEN) or (token_store.load() if use_saved else None)
    return Client(
        os.environ.get("KEYSTEAD_ADDR") or None,
        token=token,
        ca_cert=os.environ.get("KEYSTEAD_CACERT") or None,
    )


def exit_code_for(error: KeysteadSDKError) -> ExitCode:
    """Return the exit code of an SDK error's family."""
    for families, code in _EXIT_CODES:
        if isinstance(error, families):
            return code
    return ExitCode.ERROR


def fail(code: str, detail: str, exit_code: ExitCode) -> NoReturn:
    """Print ``Error: <code>: <detail>`` in red on stderr and exit with ``exit_code``."""
    # Text, not markup: a detail may contain brackets, and must be printed verbatim.
    line = Text(f"Error: {code}: {detail}", style="red")
    Console(stderr=True, highlight=False).print(line, soft_wrap=True)
    raise typer.Exit(exit_code)


def warn(message: str) -> None:
    """Print a yellow warning line on stderr."""
    line = Text(f"Warning: {message}", style="yellow")
    Console(stderr=True, highlight=False).print(line, soft_wrap=True)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn SDK errors into one line on stderr and the family's exit code.

    Usable as ``with api_errors():`` or as the decorator ``@api_errors()``.
    """
    try:
        yield
    except KeysteadAPIError as error:
        detail = (
            f"{error.detail} [request_id={error.request_id}]" if error.request_id else error.detail
        )
        fail(error.code, detail, exit_code_for(error))
    except KeysteadSDKError as error:
        fail(type(error).__name__, str(error), exit_code_for(error))
