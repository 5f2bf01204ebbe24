"""The Keystead SDK: typed sync and async clients for the Keystead HTTP API.

It depends only on httpx and pydantic and never imports the server (STYLE.md C1)::

    from keystead_sdk import Client

    with Client("https://kms.example:8200", token="...", ca_cert="ca.pem") as client:
        key = client.keys.create("orders", "AES_256_GCM")
        blob = client.keys.encrypt("orders", b"secret", context={"tenant": "a"})
        assert client.keys.decrypt(blob.ciphertext, context={"tenant": "a"}).plaintext == b"secret"

    session = Client("https://kms.example:8200").auth.login("alice", password)
    with Client("https://kms.example:8200", token=session.token) as alice:
        roles = alice.auth.whoami().roles
"""

from pydantic import BaseModel

from keystead_sdk._audit import AsyncAuditAPI, AuditAPI
from keystead_sdk._audit_models import (
    AuditEntry,
    AuditExport,
    AuditPage,
    AuditPublicKey,
    AuditRecord,
    AuditVerification,
)
from keystead_sdk._backup_models import BackupWritten, RestoreReport
from keystead_sdk._backups import AsyncBackupsAPI, BackupsAPI
from keystead_sdk._client import (
    AsyncClient,
    AsyncKeysAPI,
    AsyncSysAPI,
    Client,
    KeysAPI,
    SysAPI,
)
from keystead_sdk._envelope import ciphertext_key_id
from keystead_sdk._errors import (
    AuditWriteFailed,
    BackupInvalid,
    BackupNotAllowed,
    BackupUnlockFailed,
    ConfigurationError,
    Conflict,
    CryptoError,
    GrantNotFound,
    ImportTokenInvalid,
    InvalidCiphertext,
    InvalidCredentials,
    InvalidPublicKey,
    InvalidUnsealKey,
    KeyNotExportable,
    KeysteadAPIError,
    KeysteadSDKError,
    NotFound,
    PermissionDenied,
    PolicyNotFound,
    RegistrationClosed,
    RoleNotFound,
    Sealed,
    ServerError,
    SignatureInvalid,
    TokenNotFound,
    TooManyAttempts,
    TotpRequired,
    TransportError,
    Unauthenticated,
    UnsupportedAlgorithm,
    UserNotFound,
    ValidationFailed,
    error_from_response,
)
from keystead_sdk._identity import AuthAPI, GrantsAPI, PoliciesAPI, RolesAPI, TokensAPI, UsersAPI
from keystead_sdk._identity_async import (
    AsyncAuthAPI,
    AsyncGrantsAPI,
    AsyncPoliciesAPI,
    AsyncRolesAPI,
    AsyncTokensAPI,
    AsyncUsersAPI,
)
from keystead_sdk._identity_models import (
    GenerateRootStatus,
    Grant,
    IssuedToken,
    Policy,
    RecoveryCodes,
    Role,
    Statement,
    TokenInfo,
    TotpEnrollment,
    User,
    UserPage,
    UserPublicKey,
    WhoAmI,
)
from keystead_sdk._models import (
    DataKey,
    Decrypted,
    Encapsulation,
    Encrypted,
    ExportedKey,
    Health,
    ImportParams,
    InitResult,
    Key,
    KeyPage,
    KeyVersion,
    KeyVersions,
    Mac,
    PublicKey,
    SealStatus,
    SharedSecret,
    Signature,
)

__all__ = [
    "AsyncAuditAPI",
    "AsyncAuthAPI",
    "AsyncBackupsAPI",
    "AsyncClient",
    "AsyncGrantsAPI",
    "AsyncKeysAPI",
    "AsyncPoliciesAPI",
    "AsyncRolesAPI",
    "AsyncSysAPI",
    "AsyncTokensAPI",
    "AsyncUsersAPI",
    "AuditAPI",
    "AuditEntry",
    "AuditExport",
    "AuditPage",
    "AuditPublicKey",
    "AuditRecord",
    "AuditVerification",
    "AuditWriteFailed",
    "AuthAPI",
    "BackupInvalid",
    "BackupNotAllowed",
    "BackupUnlockFailed",
    "BackupWritten",
    "BackupsAPI",
    "Client",
    "ConfigurationError",
    "Conflict",
    "CryptoError",
    "DataKey",
    "Decrypted",
    "Encapsulation",
    "Encrypted",
    "ExportedKey",
    "GenerateRootStatus",
    "Grant",
    "GrantNotFound",
    "GrantsAPI",
    "Health",
    "ImportParams",
    "ImportTokenInvalid",
    "InitResult",
    "InvalidCiphertext",
    "InvalidCredentials",
    "InvalidPublicKey",
    "InvalidUnsealKey",
    "IssuedToken",
    "Key",
    "KeyNotExportable",
    "KeyPage",
    "KeyVersion",
    "KeyVersions",
    "KeysAPI",
    "KeysteadAPIError",
    "KeysteadSDKError",
    "Mac",
    "NotFound",
    "PermissionDenied",
    "PoliciesAPI",
    "Policy",
    "PolicyNotFound",
    "PublicKey",
    "RecoveryCodes",
    "RegistrationClosed",
    "RestoreReport",
    "Role",
    "RoleNotFound",
    "RolesAPI",
    "SealStatus",
    "Sealed",
    "ServerError",
    "SharedSecret",
    "Signature",
    "SignatureInvalid",
    "Statement",
    "SysAPI",
    "TokenInfo",
    "TokenNotFound",
    "TokensAPI",
    "TooManyAttempts",
    "TotpEnrollment",
    "TotpRequired",
    "TransportError",
    "Unauthenticated",
    "UnsupportedAlgorithm",
    "User",
    "UserNotFound",
    "UserPage",
    "UserPublicKey",
    "UsersAPI",
    "ValidationFailed",
    "WhoAmI",
    "ciphertext_key_id",
    "error_from_response",
]

# Show the public path in tracebacks and reprs (keystead_sdk.NotFound, not
# keystead_sdk._errors.NotFound), as httpx does. Pydantic models keep their module,
# which they use to resolve annotations.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and not issubclass(_obj, BaseModel):
        _obj.__module__ = __name__
del _name, _obj
