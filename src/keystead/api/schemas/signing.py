"""Bodies of sign, verify, MAC, public keys, ML-KEM and key agreement."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response

Message = Annotated[bytes, msgspec.Meta(max_length=256 * 1024)]
Digest = Annotated[bytes, msgspec.Meta(max_length=64)]
Version = Annotated[int, msgspec.Meta(ge=1)]


class SignRequest(Request):
    """A message, or its digest, and optionally the signing algorithm."""

    message: Message | None = None
    digest: Digest | None = None
    algorithm: str | None = None


class SignResponse(Response):
    """The signature (raw, or DER for ECDSA) and how it was made."""

    signature: bytes
    key_id: str
    version: int
    algorithm: str


class VerifyRequest(Request):
    """A signature over a message or digest; the primary version unless ``version``."""

    signature: Annotated[bytes, msgspec.Meta(max_length=8192)]
    message: Message | None = None
    digest: Digest | None = None
    algorithm: str | None = None
    version: Version | None = None


class VerifyResponse(Response):
    """Whether the signature (or MAC) verifies."""

    valid: bool


class MacRequest(Request):
    """The message to authenticate."""

    message: Message


class MacResponse(Response):
    """The HMAC tag."""

    mac: bytes
    key_id: str
    version: int
    algorithm: str


class MacVerifyRequest(Request):
    """A message and the tag to check."""

    message: Message
    mac: Annotated[bytes, msgspec.Meta(max_length=64)]
    version: Version | None = None


class PublicKeyResponse(Response):
    """A public key as PEM (string), DER (base64) or JWK (object)."""

    key_id: str
    version: int
    format: str
    public_key: str | dict[str, str]


class EncapsulateResponse(Response):
    """A fresh ML-KEM shared secret and the encapsulation to send to the key's holder."""

    shared_secret: bytes
    encapsulation: bytes
    key_id: str
    version: int


class DecapsulateRequest(Request):
    """An ML-KEM encapsulation made against this key's public key."""

    encapsulation: Annotated[bytes, msgspec.Meta(max_length=4096)]
    version: Version | None = None


class SharedSecretResponse(Response):
    """A shared secret (ML-KEM decapsulation or key agreement)."""

    shared_secret: bytes
    key_id: str
    version: int


class AgreeRequest(Request):
    """The peer's public key: PEM or DER SubjectPublicKeyInfo, or raw X25519 bytes."""

    peer_public_key: Annotated[bytes, msgspec.Meta(max_length=4096)]
