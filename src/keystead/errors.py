"""The error tree of Keystead.

Every error carries a stable wire ``code`` (ARCHITECTURE.md section 6) and a
``public_detail`` that is safe to show to any caller; ``operator_detail`` is for the
server log only. No HTTP knowledge lives here: ``keystead.api.errors`` maps families
to statuses (STYLE.md C12).

::

    KeysteadError
    ├── NotFoundError ────── KeyNotFound, KeyVersionNotFound, RouteNotFound, UserNotFound,
    │                        RoleNotFound, PolicyNotFound, GrantNotFound, TokenNotFound
    ├── ConflictError ────── KeyAlreadyExists, InvalidStateTransition, AlreadyInitialized,
    │                        KeyStateForbidsOperation, KeyDestroyed, UserAlreadyExists,
    │                        RoleAlreadyExists, PolicyAlreadyExists, BuiltinReadOnly, NoAdmin,
    │                        RestoreConflict, SealMismatch, SealMigrationRefused
    ├── ValidationError ──── ValidationFailed, MalformedRequest, PayloadTooLarge,
    │                        UnsupportedMediaType, InvalidUnsealShare, KeyVersionTooOld,
    │                        UnsupportedOperation, WeakPassword, ImportTokenInvalid,
    │                        BackupInvalid, BackupUnlockFailed
    ├── AuthError ────────── Unauthenticated (InvalidCredentials, TotpRequired),
    │                        PermissionDenied (RegistrationClosed, KeyNotExportable,
    │                        BackupNotAllowed)
    ├── TooManyAttempts      (429, with retry_after)
    ├── SealedError ──────── Sealed, NotInitialized
    ├── CryptoError ──────── DecryptionFailed (opaque, code InvalidCiphertext),
    │                        SignatureInvalid, UnsupportedAlgorithm, InvalidPublicKey,
    │                        InvalidRootKey
    ├── BackendError ─────── StorageError, StorageIntegrityError, AuditWriteFailed, HSMError
    └── ConfigurationError
"""

from __future__ import annotations

from typing import ClassVar


class KeysteadError(Exception):
    """Base of every error Keystead raises on purpose.

    Attributes:
        code: The stable wire name of the error.
        public_detail: A message safe to return to the caller.
        operator_detail: Extra context for the server log; never returned.
    """

    code: ClassVar[str] = "InternalError"
    default_detail: ClassVar[str] = "internal error"

    def __init__(self, public_detail: str | None = None, *, operator_detail: str = "") -> None:
        self.public_detail = public_detail or self.default_detail
        self.operator_detail = operator_detail
        super().__init__(self.public_detail)


class NotFoundError(KeysteadError):
    """Something addressed by the caller does not exist."""

    code = "NotFound"
    default_detail = "not found"


class KeyNotFound(NotFoundError):
    """No key has that id or name."""

    code = "KeyNotFound"
    default_detail = "key not found"


class KeyVersionNotFound(NotFoundError):
    """The key has no such version."""

    code = "KeyVersionNotFound"
    default_detail = "key version not found"


class UserNotFound(NotFoundError):
    """No user has that name."""

    code = "UserNotFound"
    default_detail = "user not found"


class RoleNotFound(NotFoundError):
    """No role has that name."""

    code = "RoleNotFound"
    default_detail = "role not found"


class PolicyNotFound(NotFoundError):
    """No policy has that name."""

    code = "PolicyNotFound"
    default_detail = "policy not found"


class GrantNotFound(NotFoundError):
    """The key has no live grant with that id."""

    code = "GrantNotFound"
    default_detail = "grant not found"


class TokenNotFound(NotFoundError):
    """No live token with that id is visible to the caller."""

    code = "TokenNotFound"
    default_detail = "token not found"


class RouteNotFound(NotFoundError):
    """No endpoint answers at that path."""

    code = "RouteNotFound"
    default_detail = "no such endpoint"


class MethodNotAllowed(NotFoundError):
    """The endpoint exists but not with that HTTP method."""

    code = "MethodNotAllowed"
    default_detail = "method not allowed on this endpoint"


class ConflictError(KeysteadError):
    """The request conflicts with the current state of something."""

    code = "Conflict"
    default_detail = "conflict"


class KeyAlreadyExists(ConflictError):
    """A key with that name exists already."""

    code = "KeyAlreadyExists"
    default_detail = "a key with that name already exists"


class KeyDestroyed(ConflictError):
    """The key version's material was destroyed: nothing can use it again."""

    code = "KeyDestroyed"
    default_detail = "the key material was destroyed"


class UserAlreadyExists(ConflictError):
    """A user with that name exists already."""

    code = "UserAlreadyExists"
    default_detail = "a user with that name already exists"


class RoleAlreadyExists(ConflictError):
    """A role with that name exists already (built-in ones included)."""

    code = "RoleAlreadyExists"
    default_detail = "a role with that name already exists"


class PolicyAlreadyExists(ConflictError):
    """A policy with that name exists already (built-in ones included)."""

    code = "PolicyAlreadyExists"
    default_detail = "a policy with that name already exists"


class BuiltinReadOnly(ConflictError):
    """Built-in roles and policies cannot be changed or deleted."""

    code = "BuiltinReadOnly"
    default_detail = "built-in roles and policies cannot be changed"


class NoAdmin(ConflictError):
    """The root token stays until an enabled user holds the admin role."""

    code = "NoAdmin"
    default_detail = "create an enabled user with the admin role before revoking root"


class AlreadyInitialized(ConflictError):
    """``init`` was called on a server that is initialised."""

    code = "AlreadyInitialized"
    default_detail = "the server is already initialised"


class SealMigrationRefused(ConflictError):
    """The seal migration would leave keys unusable (HSM-protected keys need the token)."""

    code = "SealMigrationRefused"
    default_detail = "this seal migration would leave keys unusable; nothing changed"


class SealMismatch(ConflictError):
    """The stored seal is not the configured one: configure it, or migrate (``migrate_seal``)."""

    code = "SealMismatch"
    default_detail = "the server was initialised with another seal than the configured one"


class RestoreConflict(ConflictError):
    """A restore would overwrite a different key that holds a backed-up key's name."""

    code = "RestoreConflict"
    default_detail = (
        "a key in the backup has the name of a different key here; overwrite replaces only "
        "the same key: restore with on_conflict=rename or skip"
    )


class InvalidStateTransition(ConflictError):
    """A lifecycle transition not in the table of ARCHITECTURE.md section 3."""

    code = "InvalidStateTransition"
    default_detail = "that state transition is not allowed"


class KeyStateForbidsOperation(ConflictError):
    """The key's lifecycle state does not permit the operation."""

    code = "KeyStateForbidsOperation"
    default_detail = "the key's state does not permit this operation"


class ValidationError(KeysteadError):
    """The request is well-formed transport but its content is not acceptable."""

    code = "ValidationFailed"
    default_detail = "the request is not valid"


class ValidationFailed(ValidationError):
    """A field has a wrong type, a value out of range, or an unknown name."""


class MalformedRequest(ValidationError):
    """The body is not parseable JSON."""

    code = "MalformedRequest"
    default_detail = "the request body is not valid JSON"


class PayloadTooLarge(ValidationError):
    """The body is larger than ``max_request_bytes``."""

    code = "PayloadTooLarge"
    default_detail = "the request body is too large"


class UnsupportedMediaType(ValidationError):
    """The body is not ``application/json``."""

    code = "UnsupportedMediaType"
    default_detail = "the request body must be application/json"


class WeakPassword(ValidationError):
    """A new password is too short, too long, or on the list of common passwords."""

    code = "WeakPassword"
    default_detail = "the password does not meet the rules"


class KeyVersionTooOld(ValidationError):
    """The ciphertext's key version is below the key's min_decryption_version."""

    code = "KeyVersionTooOld"
    default_detail = "the key version is below the key's minimum decryption version"


class UnsupportedOperation(ValidationError):
    """The key's spec or usage cannot do this operation (sign with an AES key, say)."""

    code = "UnsupportedOperation"
    default_detail = "this key cannot perform that operation"


class RequestAborted(ValidationError):
    """The client went away before its request body arrived."""

    code = "RequestAborted"
    default_detail = "the client closed the connection before the request was read"


class ImportTokenInvalid(ValidationError):
    """A BYOK import token that is unknown, expired or already used (never echoed back)."""

    code = "ImportTokenInvalid"
    default_detail = (
        "the import token is unknown, expired or already used: "
        "ask POST /v1/keys/import-params for a new one"
    )


class BackupInvalid(ValidationError):
    """A backup archive that is malformed, truncated or altered; nothing was restored."""

    code = "BackupInvalid"
    default_detail = "the backup is malformed, truncated or altered; nothing was restored"


class BackupUnlockFailed(ValidationError):
    """The passphrase or recipient key given does not open the backup."""

    code = "BackupUnlockFailed"
    default_detail = "the passphrase or recipient key does not open this backup"


class InvalidUnsealShare(ValidationError):
    """An unseal share that cannot be a share of any root key (bad length or encoding)."""

    code = "InvalidUnsealShare"
    default_detail = "the unseal share is malformed"


class AuthError(KeysteadError):
    """The caller is not who it must be, or may not do this."""

    code = "Unauthenticated"
    default_detail = "authentication required"


class Unauthenticated(AuthError):
    """No token, or a token that is unknown, expired or revoked."""


class InvalidCredentials(Unauthenticated):
    """A login with a wrong password or an unknown user: the two cannot be told apart."""

    code = "InvalidCredentials"
    default_detail = "invalid username or password"


class TotpRequired(Unauthenticated):
    """The password was right; the account needs its TOTP code (or a recovery code)."""

    code = "TotpRequired"
    default_detail = "this account needs a TOTP code: give totp (or recovery_code)"


class PermissionDenied(AuthError):
    """The caller is known but not allowed to do this."""

    code = "PermissionDenied"
    default_detail = "permission denied"


class KeyNotExportable(PermissionDenied):
    """The key was not created exportable: its material never leaves Keystead."""

    code = "KeyNotExportable"
    default_detail = "this key was not created exportable: its material never leaves Keystead"


class BackupNotAllowed(PermissionDenied):
    """The key was created with backup_allowed off: it never goes into a backup."""

    code = "BackupNotAllowed"
    default_detail = "this key was created with backup_allowed off: it is never backed up"


class RegistrationClosed(PermissionDenied):
    """Self-registration is turned off in this server's configuration."""

    code = "RegistrationClosed"
    default_detail = "self-registration is turned off; ask an administrator for an account"


class TooManyAttempts(KeysteadError):
    """Too many failed logins for this user or address: wait, or the lock ends.

    Attributes:
        retry_after: Whole seconds until the next attempt is considered.
    """

    code = "TooManyAttempts"
    default_detail = "too many failed logins; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class SealedError(KeysteadError):
    """The server cannot read any secret: it is sealed or not initialised."""

    code = "Sealed"
    default_detail = "the server is sealed"


class Sealed(SealedError):
    """The barrier holds no keyring."""


class NotInitialized(SealedError):
    """The server has no root key yet: call ``init``."""

    code = "NotInitialized"
    default_detail = "the server is not initialised"


class CryptoError(KeysteadError):
    """A cryptographic check failed."""

    code = "CryptoError"
    default_detail = "cryptographic operation failed"


class DecryptionFailed(CryptoError):
    """Any failure to decrypt or unwrap: deliberately opaque (STYLE.md C14)."""

    code = "InvalidCiphertext"
    default_detail = "decryption failed"


class SignatureInvalid(CryptoError):
    """A signature or MAC does not verify (STYLE.md C14: verify raises, never returns False)."""

    code = "SignatureInvalid"
    default_detail = "the signature does not verify"


class UnsupportedAlgorithm(CryptoError):
    """The key cannot do what was asked with that algorithm; the detail says what it can do."""

    code = "UnsupportedAlgorithm"
    default_detail = "the key does not support that algorithm"


class InvalidPublicKey(CryptoError):
    """A public key given by the caller cannot be parsed or is of the wrong kind."""

    code = "InvalidPublicKey"
    default_detail = "the public key is malformed or of the wrong kind"


class InvalidRootKey(CryptoError):
    """The unseal shares rebuilt a key that does not open this server's keyring."""

    code = "InvalidUnsealKey"
    default_detail = (
        "the shares given do not rebuild this server's root key "
        "(a wrong, corrupted or foreign share); unseal progress was reset"
    )


class BackendError(KeysteadError):
    """A backend the server depends on failed."""

    code = "BackendUnavailable"
    default_detail = "a storage or HSM backend is unavailable"


class StorageError(BackendError):
    """The database failed."""

    code = "StorageUnavailable"
    default_detail = "the database is unavailable"


class AuditWriteFailed(BackendError):
    """The audit log could not be written, so the operation is refused (fail closed)."""

    code = "AuditWriteFailed"
    default_detail = "the audit log cannot be written; the request was refused"


class StorageIntegrityError(BackendError):
    """A stored value failed its integrity check: it was altered or moved to another row."""

    code = "StorageIntegrityError"
    default_detail = "stored data failed its integrity check; the operator must investigate"


class HSMError(BackendError):
    """The PKCS#11 token cannot be used; the detail names the setting at fault, never the PIN.

    Attributes:
        retry: Whether trying again may help; False for a refused PIN, since retrying a
            wrong PIN locks a real HSM's user PIN.
    """

    code = "HSMUnavailable"
    default_detail = "the HSM (PKCS#11 token) is unavailable"

    def __init__(
        self, public_detail: str | None = None, *, operator_detail: str = "", retry: bool = True
    ) -> None:
        super().__init__(public_detail, operator_detail=operator_detail)
        self.retry = retry


class ConfigurationError(KeysteadError):
    """A setting is missing or wrong; the detail names the setting."""

    code = "ConfigurationError"
    default_detail = "invalid configuration"
