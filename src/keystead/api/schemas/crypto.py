"""Bodies of the cryptographic operations: encrypt, decrypt (more with issue 3)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from keystead.api.schemas.base import Request, Response

Context = Annotated[
    dict[
        Annotated[str, msgspec.Meta(max_length=256)], Annotated[str, msgspec.Meta(max_length=4096)]
    ],
    msgspec.Meta(max_length=64, description="encryption context, bound as associated data"),
]


class EncryptRequest(Request):
    """Plaintext (standard base64) and an optional encryption context."""

    plaintext: bytes
    context: Context = msgspec.field(default_factory=dict)


class EncryptResponse(Response):
    """The self-describing ciphertext of ARCHITECTURE.md section 4."""

    ciphertext: bytes
    key_id: str
    version: int


class DecryptRequest(Request):
    """A ciphertext made by encrypt, and the same encryption context."""

    ciphertext: Annotated[bytes, msgspec.Meta(max_length=128 * 1024)]
    context: Context = msgspec.field(default_factory=dict)


class DecryptResponse(Response):
    """The plaintext and the key version that opened it."""

    plaintext: bytes
    key_id: str
    version: int


class KeyDecryptRequest(Request):
    """A ciphertext for this key: RSA-OAEP made with its public key, or its own envelope."""

    ciphertext: Annotated[bytes, msgspec.Meta(max_length=128 * 1024)]
    context: Context = msgspec.field(default_factory=dict)
    version: Annotated[int, msgspec.Meta(ge=1)] | None = None


class ReencryptRequest(Request):
    """A ciphertext to move to the primary version of its key, or of ``destination_key``."""

    ciphertext: Annotated[bytes, msgspec.Meta(max_length=128 * 1024)]
    context: Context = msgspec.field(default_factory=dict)
    destination_key: str | None = None


class DataKeyRequest(Request):
    """A data key of ``spec``; ``plaintext: false`` returns it wrapped only."""

    spec: Literal["AES_128", "AES_256"] = "AES_256"
    plaintext: bool = True
    context: Context = msgspec.field(default_factory=dict)


class DataKeyResponse(Response):
    """The data key wrapped under the Keystead key, and in the clear when asked for."""

    ciphertext: bytes
    key_id: str
    version: int
    plaintext: bytes | None = None


class RandomRequest(Request):
    """How many random bytes (1 to 1024)."""

    bytes: Annotated[int, msgspec.Meta(ge=1, le=1024)]


class RandomResponse(Response):
    """Bytes from the OS CSPRNG."""

    random: bytes
