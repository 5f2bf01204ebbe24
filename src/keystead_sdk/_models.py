"""Frozen pydantic models of the server's responses (ARCHITECTURE.md section 6).

Bytes travel as standard base64 strings: a ``str`` given to a bytes field is decoded, and
``bytes`` are kept as they are. Fields that hold secrets (unseal shares, the root token,
plaintext) are left out of ``repr`` and ``str``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SecretStr


def _from_base64(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            msg = "not standard base64"
            raise ValueError(msg) from None
    return value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str, when_used="json"),
]
"""Bytes that are standard base64 on the wire."""


class _Model(BaseModel):
    # Unknown fields are ignored: the server may add fields, never rename them (section 6).
    model_config = ConfigDict(frozen=True, extra="ignore")


class SealStatus(_Model):
    """The seal status anyone may read.

    Attributes:
        initialized: Whether the server has a root key.
        sealed: Whether the server holds no keys in memory.
        type: The seal type, e.g. ``"shamir"``.
        shares: How many unseal shares exist.
        threshold: How many shares rebuild the root key.
        progress: How many shares have been given so far towards unsealing.
        version: The server's version.
    """

    initialized: bool
    sealed: bool
    type: str
    shares: int
    threshold: int
    progress: int
    version: str


class Health(_Model):
    """Health as Vault reports it; ``status_code`` is 200 unsealed, 503 sealed, 501 uninitialised.

    Attributes:
        initialized: Whether the server has a root key.
        sealed: Whether the server is sealed.
        version: The server's version.
        server_time_utc: The server's clock, in seconds since the Unix epoch.
        status_code: The HTTP status of the answer.
    """

    initialized: bool
    sealed: bool
    version: str
    server_time_utc: int
    status_code: int


class InitResult(_Model):
    """The unseal shares and the root token: the server shows them once, never again.

    Attributes:
        shares: The unseal shares, raw bytes; hidden from ``repr``.
        root_token: The root token; hidden from ``repr``.
        threshold: How many shares rebuild the root key.
    """

    shares: list[Base64Bytes] = Field(repr=False)
    root_token: SecretStr = Field(repr=False)
    threshold: int


class Key(_Model):
    """A key's metadata; never its material.

    Attributes:
        id: The key's id.
        name: The key's unique name.
        spec: The key spec, e.g. ``"AES_256_GCM"``.
        usage: The key usage, e.g. ``"ENCRYPT_DECRYPT"``.
        state: The lifecycle state, e.g. ``"ACTIVE"`` (ARCHITECTURE.md section 3).
        primary_version: The version that encrypts new data.
        description: Free text.
        created_at: When the key was created.
        updated_at: When the key last changed.
    """

    id: str
    name: str
    spec: str
    usage: str
    state: str
    primary_version: int
    description: str
    created_at: datetime
    updated_at: datetime


class KeyPage(_Model):
    """One page of keys, ordered by name.

    Attributes:
        keys: The keys of this page.
        next_cursor: Pass it as ``cursor`` to get the next page; ``None`` on the last page.
    """

    keys: list[Key]
    next_cursor: str | None


class Encrypted(_Model):
    """A self-describing ciphertext (ARCHITECTURE.md section 4) and the key version that made it.

    Attributes:
        ciphertext: The ciphertext, raw bytes.
        key_id: The id of the key that encrypted.
        version: The key version that encrypted.
    """

    ciphertext: Base64Bytes
    key_id: str
    version: int


class Decrypted(_Model):
    """A plaintext and the key version that opened it.

    Attributes:
        plaintext: The plaintext, raw bytes; hidden from ``repr``.
        key_id: The id of the key that decrypted.
        version: The key version that decrypted.
    """

    plaintext: Base64Bytes = Field(repr=False)
    key_id: str
    version: int
