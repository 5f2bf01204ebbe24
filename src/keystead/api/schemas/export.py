"""Bodies of wrapped key export: the recipient and format asked for, the wrapped material."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response
from keystead.domain.specs import KeySpec
from keystead.services.key_export import WrappingFormat

_JwkMember = Annotated[str, msgspec.Meta(max_length=2048)]


class ExportKeyRequest(Request):
    """One version, wrapped for a recipient: a PEM public key, or a JWK for JWE."""

    format: WrappingFormat
    public_key: Annotated[str, msgspec.Meta(max_length=16384)] | None = None
    """The recipient's SubjectPublicKeyInfo in PEM: RSA for RSA_AES_KEY_WRAP_SHA_256,
    X25519 or MLKEM768X25519 for HPKE."""
    jwk: Annotated[dict[_JwkMember, _JwkMember], msgspec.Meta(max_length=20)] | None = None
    """The recipient's public JWK, for JWE: RSA, EC P-256/P-384/P-521 or OKP X25519."""
    version: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """The version to export; the primary one by default."""


class ExportKeyResponse(Response):
    """The wrapped material: ``wrapped_key`` (base64), or ``jwe`` (compact) for JWE."""

    key_id: str
    version: int
    spec: KeySpec
    format: WrappingFormat
    encoding: str
    """What the unwrapped bytes are: "raw" (symmetric and MAC keys) or "pkcs8-der"."""
    wrapped_key: bytes | None = None
    jwe: str | None = None
