"""Bodies of BYOK import: the parameters asked for and given, and the wrapped material."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response
from keystead.api.schemas.keys import AwareDatetime, Tags
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.services.key_import import WrappingFormat


class ImportParamsRequest(Request):
    """The spec of the key to import."""

    spec: KeySpec


class ImportParamsResponse(Response):
    """A one-use token and the RSA-3072 public key to wrap the material to, for 24 hours."""

    import_token: str
    """Shown once; give it back to POST /v1/keys/import."""
    public_key: str
    """The wrapping key, a SubjectPublicKeyInfo PEM."""
    wrapping_algorithm: WrappingFormat
    spec: KeySpec
    expires_at: datetime


class ImportKeyRequest(Request):
    """Material wrapped to an import token's public key, and where it goes.

    Exactly one of ``name`` (a new key of origin EXTERNAL, with the metadata fields) and
    ``key`` (the id or name of an existing EXTERNAL key: the material becomes its new primary
    version). Symmetric and MAC material is its raw bytes (AES_256_GCM: 32;
    HMAC_SHA256/384/512: 32, 48, 64); asymmetric material an unencrypted PKCS#8 DER private
    key of the spec. At ``valid_to``, if given, the material is erased.
    """

    import_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    wrapped_material: Annotated[bytes, msgspec.Meta(min_length=1, max_length=16384)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    valid_to: AwareDatetime | None = None
    usage: KeyUsage | None = None
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    tags: Tags = msgspec.field(default_factory=dict)
    exportable: bool = False
    backup_allowed: bool = True
