"""Batch bodies: a list of items in, a list of results out; one failure fails only its item."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response
from keystead.api.schemas.crypto import Context
from keystead.api.schemas.signing import Digest, Message, Version

MAX_BATCH = 1000
Batch = msgspec.Meta(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} items")


class ItemError(Response):
    """Why one item failed: the same code and detail a single request would get."""

    code: str
    detail: str


class EncryptItem(Request):
    """One plaintext and its context."""

    plaintext: Annotated[bytes, msgspec.Meta(max_length=64 * 1024)]
    context: Context = msgspec.field(default_factory=dict)


class BatchEncryptRequest(Request):
    """Plaintexts to encrypt under the key's primary version."""

    items: Annotated[list[EncryptItem], Batch]


class EncryptResult(Response):
    """One ciphertext, or the item's error."""

    ciphertext: bytes | None = None
    version: int | None = None
    error: ItemError | None = None


class BatchEncryptResponse(Response):
    """Results in the order of the items."""

    key_id: str
    results: list[EncryptResult]


class DecryptItem(Request):
    """One ciphertext and its context."""

    ciphertext: Annotated[bytes, msgspec.Meta(max_length=128 * 1024)]
    context: Context = msgspec.field(default_factory=dict)


class BatchDecryptRequest(Request):
    """Ciphertexts to decrypt (of any keys)."""

    items: Annotated[list[DecryptItem], Batch]


class DecryptResult(Response):
    """One plaintext, or the item's error."""

    plaintext: bytes | None = None
    key_id: str | None = None
    version: int | None = None
    error: ItemError | None = None


class BatchDecryptResponse(Response):
    """Results in the order of the items."""

    results: list[DecryptResult]


class SignItem(Request):
    """One message or digest."""

    message: Message | None = None
    digest: Digest | None = None


class BatchSignRequest(Request):
    """Messages or digests to sign with the primary version."""

    items: Annotated[list[SignItem], Batch]
    algorithm: str | None = None


class SignResult(Response):
    """One signature, or the item's error."""

    signature: bytes | None = None
    version: int | None = None
    error: ItemError | None = None


class BatchSignResponse(Response):
    """Results in the order of the items."""

    key_id: str
    algorithm: str | None
    results: list[SignResult]


class VerifyItem(Request):
    """One signature over a message or digest, by the primary version unless ``version``."""

    signature: Annotated[bytes, msgspec.Meta(max_length=8192)]
    message: Message | None = None
    digest: Digest | None = None
    version: Version | None = None


class BatchVerifyRequest(Request):
    """Signatures to verify."""

    items: Annotated[list[VerifyItem], Batch]
    algorithm: str | None = None


class VerifyResult(Response):
    """Whether one signature verifies, or the item's error."""

    valid: bool | None = None
    error: ItemError | None = None


class BatchVerifyResponse(Response):
    """Results in the order of the items."""

    key_id: str
    results: list[VerifyResult]
