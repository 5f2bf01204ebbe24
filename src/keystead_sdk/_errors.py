"""The SDK's exceptions, and the mapping from a problem ``code`` back to them (STYLE.md C12, C31).

::

    KeysteadSDKError
    ├── ConfigurationError ─── bad address or CA certificate (raised before any request)
    ├── TransportError ─────── the server could not be reached (refused, TLS, timeout)
    └── KeysteadAPIError ───── the server answered with an error (status, code, detail, request_id)
        ├── Unauthenticated
        │   ├── InvalidCredentials ── unknown user or wrong password (the same answer for both)
        │   └── TotpRequired ──────── the user has TOTP: log in again with a code
        ├── PermissionDenied
        │   ├── KeyNotExportable ── the key was not created exportable
        │   ├── BackupNotAllowed ── the key was created with backups off
        │   └── RegistrationClosed
        ├── TooManyAttempts ── too many failed logins; ``retry_after`` seconds (429)
        ├── NotFound ───────── KeyNotFound, KeyVersionNotFound, RouteNotFound, MethodNotAllowed
        │   ├── UserNotFound
        │   ├── RoleNotFound
        │   ├── PolicyNotFound
        │   ├── GrantNotFound
        │   └── TokenNotFound
        ├── Conflict ───────── AlreadyInitialized, KeyAlreadyExists, InvalidStateTransition,
        │                      KeyStateForbidsOperation, KeyDestroyed, UserAlreadyExists,
        │                      RoleAlreadyExists, PolicyAlreadyExists, BuiltinReadOnly, NoAdmin,
        │                      RestoreConflict
        ├── ValidationFailed ─ ValidationFailed, MalformedRequest, PayloadTooLarge,
        │   │                  UnsupportedMediaType, InvalidUnsealShare, KeyVersionTooOld,
        │   │                  UnsupportedOperation, WeakPassword
        │   ├── ImportTokenInvalid ── the import token is unknown, expired or already used
        │   ├── BackupInvalid ─────── the archive is malformed, cut short or altered
        │   └── BackupUnlockFailed ── the passphrase or recipient key does not open it
        ├── CryptoError ────── CryptoError
        │   ├── InvalidCiphertext
        │   ├── SignatureInvalid
        │   ├── UnsupportedAlgorithm
        │   └── InvalidPublicKey
        ├── InvalidUnsealKey
        ├── Sealed ─────────── Sealed, NotInitialized
        └── ServerError ────── StorageIntegrityError, StorageUnavailable, BackendUnavailable,
            │                  InternalError, and any other 5xx
            └── AuditWriteFailed ── the audit log cannot be written, so the request was
                                    refused (503); retry once the operator has fixed it

Within a family, ``code`` tells the cases apart: ``except Conflict as e: if e.code ==
"KeyStateForbidsOperation": ...``. ``verify`` and ``mac_verify`` answer ``False`` for a
signature that does not verify; ``SignatureInvalid`` is for the operations that refuse one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import httpx

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
_FALLBACK_CODE: Final = "HTTPError"


class KeysteadSDKError(Exception):
    """Base of every exception the SDK raises on purpose."""


class ConfigurationError(KeysteadSDKError, ValueError):
    """The client's settings are unusable: a bad address or CA certificate file."""


class TransportError(KeysteadSDKError):
    """The server could not be reached: connection refused, TLS verification failed, timeout.

    Attributes:
        address: The server address the client was configured with.
    """

    def __init__(self, address: str, cause: httpx.TransportError) -> None:
        self.address = address
        reason = str(cause) or type(cause).__name__
        hint = ""
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            hint = " (TLS verification failed: set KEYSTEAD_CACERT or ca_cert to the server's CA)"
        super().__init__(f"cannot reach Keystead at {address}: {reason}{hint}")


class KeysteadAPIError(KeysteadSDKError):
    """The server answered with an RFC 9457 problem (or another HTTP error).

    Attributes:
        status: The HTTP status code.
        code: The stable error name of ARCHITECTURE.md section 6 (``"HTTPError"`` when the
            body was not a problem document).
        detail: The server's public explanation.
        request_id: The server's request id, to quote when reading the server log.
    """

    def __init__(self, status: int, code: str, detail: str, request_id: str = "") -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id
        super().__init__(status, code, detail, request_id)

    def __str__(self) -> str:
        suffix = f" [request_id={self.request_id}]" if self.request_id else ""
        return f"{self.code} ({self.status}): {self.detail}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"detail={self.detail!r}, request_id={self.request_id!r})"
        )


class Unauthenticated(KeysteadAPIError):
    """No token, or a token that is unknown, expired or revoked (401)."""


class InvalidCredentials(Unauthenticated):
    """The username or the password (or the TOTP or recovery code) is wrong (401).

    The server gives the same answer for an unknown user, so that names cannot be guessed.
    """


class TotpRequired(Unauthenticated):
    """The user has enrolled TOTP: log in again with ``totp`` or a ``recovery_code`` (401)."""


class PermissionDenied(KeysteadAPIError):
    """The token is valid but may not do this (403)."""


class RegistrationClosed(PermissionDenied):
    """The server does not let people register themselves (403)."""


class KeyNotExportable(PermissionDenied):
    """The key was not created exportable: its material never leaves the server (403)."""


class BackupNotAllowed(PermissionDenied):
    """The key was created with backup_allowed off: it is never backed up (403)."""


class TooManyAttempts(KeysteadAPIError):
    """Too many failed logins: wait before trying again (429).

    Attributes:
        retry_after: Seconds to wait, from the ``Retry-After`` header; ``None`` if absent.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        request_id: str = "",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(status, code, detail, request_id)
        self.retry_after = retry_after
        # Keep every field in args, so that copy and pickle rebuild the same error.
        self.args = (status, code, detail, request_id, retry_after)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, retry_after={self.retry_after!r})"


class NotFound(KeysteadAPIError):
    """The key, key version, user, role, policy, grant, token or endpoint does not exist (404)."""


class UserNotFound(NotFound):
    """No user or service account has that name (404)."""


class RoleNotFound(NotFound):
    """No role has that name (404)."""


class PolicyNotFound(NotFound):
    """No policy has that name (404)."""


class GrantNotFound(NotFound):
    """The key has no grant with that id (404)."""


class TokenNotFound(NotFound):
    """No live token has that id (404)."""


class Conflict(KeysteadAPIError):
    """The request conflicts with the current state: a duplicate name, a lifecycle rule (409)."""


class ValidationFailed(KeysteadAPIError):
    """The request was refused as invalid: a field, the body, its size, an unseal share (4xx)."""


class ImportTokenInvalid(ValidationFailed):
    """The BYOK import token is unknown, expired or already used: ask new parameters (400)."""


class BackupInvalid(ValidationFailed):
    """The backup archive is malformed, cut short or altered; nothing was restored (400)."""


class BackupUnlockFailed(ValidationFailed):
    """The passphrase or recipient key does not open the backup; nothing was restored (400)."""


class CryptoError(KeysteadAPIError):
    """A cryptographic check or choice failed (400); the subclasses name which."""


class InvalidCiphertext(CryptoError):
    """The ciphertext or its context did not decrypt; deliberately opaque (400)."""


class SignatureInvalid(CryptoError):
    """A signature or MAC does not verify (400)."""


class UnsupportedAlgorithm(CryptoError):
    """The key cannot do that with the algorithm asked for; the detail says what it can (400)."""


class InvalidPublicKey(CryptoError):
    """A public key given by the caller is malformed or of the wrong kind (400)."""


class InvalidUnsealKey(KeysteadAPIError):
    """The shares given rebuild a key that does not open this server; progress was reset."""


class Sealed(KeysteadAPIError):
    """The server is sealed or not initialised (503)."""


class ServerError(KeysteadAPIError):
    """The server failed (5xx) for a reason the caller cannot fix.

    ``StorageIntegrityError`` (503) means stored data failed its integrity check: the
    operator must investigate before anyone retries.
    """


class AuditWriteFailed(ServerError):
    """The server could not write the audit log, so it refused the request (503).

    Keystead fails closed: nothing was done. The operation can be retried once the audit
    log (its database) is writable again.
    """


_BY_CODE: Final[Mapping[str, type[KeysteadAPIError]]] = {
    "Unauthenticated": Unauthenticated,
    "InvalidCredentials": InvalidCredentials,
    "TotpRequired": TotpRequired,
    "TooManyAttempts": TooManyAttempts,
    "PermissionDenied": PermissionDenied,
    "RegistrationClosed": RegistrationClosed,
    "KeyNotExportable": KeyNotExportable,
    "BackupNotAllowed": BackupNotAllowed,
    "NotFound": NotFound,
    "KeyNotFound": NotFound,
    "KeyVersionNotFound": NotFound,
    "RouteNotFound": NotFound,
    "MethodNotAllowed": NotFound,
    "UserNotFound": UserNotFound,
    "RoleNotFound": RoleNotFound,
    "PolicyNotFound": PolicyNotFound,
    "GrantNotFound": GrantNotFound,
    "TokenNotFound": TokenNotFound,
    "Conflict": Conflict,
    "AlreadyInitialized": Conflict,
    "KeyAlreadyExists": Conflict,
    "InvalidStateTransition": Conflict,
    "KeyStateForbidsOperation": Conflict,
    "KeyDestroyed": Conflict,
    "UserAlreadyExists": Conflict,
    "RoleAlreadyExists": Conflict,
    "PolicyAlreadyExists": Conflict,
    "BuiltinReadOnly": Conflict,
    "NoAdmin": Conflict,
    "RestoreConflict": Conflict,
    "ValidationFailed": ValidationFailed,
    "MalformedRequest": ValidationFailed,
    "PayloadTooLarge": ValidationFailed,
    "UnsupportedMediaType": ValidationFailed,
    "InvalidUnsealShare": ValidationFailed,
    "KeyVersionTooOld": ValidationFailed,
    "UnsupportedOperation": ValidationFailed,
    "WeakPassword": ValidationFailed,
    "ImportTokenInvalid": ImportTokenInvalid,
    "BackupInvalid": BackupInvalid,
    "BackupUnlockFailed": BackupUnlockFailed,
    "CryptoError": CryptoError,
    "InvalidCiphertext": InvalidCiphertext,
    "SignatureInvalid": SignatureInvalid,
    "UnsupportedAlgorithm": UnsupportedAlgorithm,
    "InvalidPublicKey": InvalidPublicKey,
    "InvalidUnsealKey": InvalidUnsealKey,
    "Sealed": Sealed,
    "NotInitialized": Sealed,
    "InternalError": ServerError,
    "BackendUnavailable": ServerError,
    "StorageUnavailable": ServerError,
    "StorageIntegrityError": ServerError,
    "AuditWriteFailed": AuditWriteFailed,
}

# Used when the code is unknown (a newer server) or absent (a proxy's HTML page).
_BY_STATUS: Final[Mapping[int, type[KeysteadAPIError]]] = {
    400: ValidationFailed,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    405: NotFound,
    409: Conflict,
    413: ValidationFailed,
    415: ValidationFailed,
    422: ValidationFailed,
    429: TooManyAttempts,
}


def header(response: httpx.Response, name: str) -> str:
    """Return a response header's value, or ``""``."""
    return str(response.headers.get(name, ""))


def is_problem(response: httpx.Response) -> bool:
    """Return whether the response body is an RFC 9457 problem document."""
    media_type = header(response, "content-type").split(";", 1)[0].strip().lower()
    return media_type == PROBLEM_CONTENT_TYPE


def error_from_response(response: httpx.Response) -> KeysteadAPIError:
    """Build the exception that matches an error response.

    The body is read only as a problem document; anything else (HTML from a proxy, an empty
    body) falls back to code ``"HTTPError"`` and the reason phrase. The request body is
    never part of the message.

    Args:
        response: A response whose status is an error, already read.

    Returns:
        The most specific ``KeysteadAPIError`` subclass for the problem's code, or for the
        status when the code is unknown.
    """
    status = response.status_code
    problem = _problem_fields(response)
    code = _text(problem.get("code")) or _FALLBACK_CODE
    detail = _text(problem.get("detail")) or response.reason_phrase or f"HTTP {status}"
    request_id = _text(problem.get("request_id")) or header(response, "x-request-id")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else KeysteadAPIError  # noqa: PLR2004 - 5xx
    if issubclass(cls, TooManyAttempts):
        return cls(status, code, detail, request_id, retry_after(response))
    return cls(status, code, detail, request_id)


def item_error(status: int, code: str, detail: str) -> KeysteadAPIError:
    """The exception for one failed item of a batch answer (the answer itself succeeded).

    Args:
        status: The batch answer's status.
        code: The item's error code, as a single request would have had.
        detail: The item's explanation.
    """
    cls = _BY_CODE.get(code, KeysteadAPIError)
    return cls(status, code, detail)


def retry_after(response: httpx.Response) -> int | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    RFC 9110 section 10.2.3 allows both forms; a date in the past is 0 seconds, and a
    header that is absent or unreadable is ``None``.
    """
    value = header(response, "retry-after").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - datetime.now(UTC)).total_seconds()))


def _problem_fields(response: httpx.Response) -> Mapping[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
