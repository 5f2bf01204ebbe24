"""Bodies of /v1/keys and the cryptographic operations on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response
from keystead.domain.lifecycle import KeyState
from keystead.domain.specs import KeySpec, KeyUsage

Context = Annotated[
    dict[
        Annotated[str, msgspec.Meta(max_length=256)], Annotated[str, msgspec.Meta(max_length=4096)]
    ],
    msgspec.Meta(max_length=64, description="encryption context, bound as associated data"),
]


class CreateKeyRequest(Request):
    """A new key: its unique name, spec and usage."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    spec: KeySpec
    usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class KeyResponse(Response):
    """A key's metadata; never its material."""

    id: str
    name: str
    spec: KeySpec
    usage: KeyUsage
    state: KeyState
    primary_version: int
    description: str
    created_at: datetime
    updated_at: datetime


class KeyListResponse(Response):
    """One page of keys, and the cursor of the next page if there is one."""

    keys: list[KeyResponse]
    next_cursor: str | None


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
