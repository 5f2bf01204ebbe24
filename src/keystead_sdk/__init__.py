"""The Keystead SDK: typed sync and async clients for the Keystead HTTP API.

It depends only on httpx and pydantic and never imports the server (STYLE.md C1)::

    from keystead_sdk import Client

    with Client("https://kms.example:8200", token="...", ca_cert="ca.pem") as client:
        key = client.keys.create("orders", "AES_256_GCM")
        blob = client.keys.encrypt("orders", b"secret", context={"tenant": "a"})
        assert client.keys.decrypt(blob.ciphertext, context={"tenant": "a"}).plaintext == b"secret"
"""

from pydantic import BaseModel

from keystead_sdk._client import (
    AsyncClient,
    AsyncKeysAPI,
    AsyncSysAPI,
    Client,
    KeysAPI,
    SysAPI,
)
from keystead_sdk._errors import (
    ConfigurationError,
    Conflict,
    InvalidCiphertext,
    InvalidUnsealKey,
    KeysteadAPIError,
    KeysteadSDKError,
    NotFound,
    PermissionDenied,
    Sealed,
    ServerError,
    TransportError,
    Unauthenticated,
    ValidationFailed,
    error_from_response,
)
from keystead_sdk._models import (
    Decrypted,
    Encrypted,
    Health,
    InitResult,
    Key,
    KeyPage,
    SealStatus,
)

__all__ = [
    "AsyncClient",
    "AsyncKeysAPI",
    "AsyncSysAPI",
    "Client",
    "ConfigurationError",
    "Conflict",
    "Decrypted",
    "Encrypted",
    "Health",
    "InitResult",
    "InvalidCiphertext",
    "InvalidUnsealKey",
    "Key",
    "KeyPage",
    "KeysAPI",
    "KeysteadAPIError",
    "KeysteadSDKError",
    "NotFound",
    "PermissionDenied",
    "SealStatus",
    "Sealed",
    "ServerError",
    "SysAPI",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
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
