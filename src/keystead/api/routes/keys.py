"""/v1/keys and /v1/decrypt."""

from __future__ import annotations

from typing import Final

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.base import Empty
from keystead.api.schemas.keys import (
    CreateKeyRequest,
    DecryptRequest,
    DecryptResponse,
    EncryptRequest,
    EncryptResponse,
    KeyListResponse,
    KeyResponse,
)
from keystead.domain.models import Key
from keystead.errors import ValidationFailed
from keystead.services.keys import NewKey

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000


def key_body(key: Key) -> KeyResponse:
    """Shape a key for the wire."""
    return KeyResponse(
        id=str(key.id),
        name=key.name,
        spec=key.spec,
        usage=key.usage,
        state=key.state,
        primary_version=key.primary_version,
        description=key.description,
        created_at=key.created_at,
        updated_at=key.updated_at,
    )


async def create_key(ctx: RequestContext, body: CreateKeyRequest) -> KeyResponse:
    """Create a key and its first version."""
    request = NewKey(body.name, body.spec, body.usage, body.description)
    return key_body(await ctx.services.keys.create(ctx.caller(), request))


async def describe_key(ctx: RequestContext, _: Empty) -> KeyResponse:
    """Describe a key by id or name."""
    return key_body(await ctx.services.keys.describe(ctx.caller(), ctx.path_params["key"]))


async def list_keys(ctx: RequestContext, _: Empty) -> KeyListResponse:
    """List keys by name, a page at a time."""
    limit_text = ctx.query_params.get("limit", str(DEFAULT_PAGE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        msg = f"limit must be 1 to {MAX_PAGE}"
        raise ValidationFailed(msg)
    limit = int(limit_text)
    keys = await ctx.services.keys.list(ctx.caller(), limit, ctx.query_params.get("cursor"))
    cursor = keys[-1].name if len(keys) == limit else None
    return KeyListResponse(keys=[key_body(key) for key in keys], next_cursor=cursor)


async def encrypt(ctx: RequestContext, body: EncryptRequest) -> EncryptResponse:
    """Encrypt under the key's primary version."""
    result = await ctx.services.crypto.encrypt(
        ctx.caller(), ctx.path_params["key"], body.plaintext, body.context
    )
    return EncryptResponse(
        ciphertext=result.ciphertext, key_id=str(result.key_id), version=result.version
    )


async def decrypt(ctx: RequestContext, body: DecryptRequest) -> DecryptResponse:
    """Decrypt a self-describing ciphertext."""
    result = await ctx.services.crypto.decrypt(ctx.caller(), body.ciphertext, body.context)
    return DecryptResponse(
        plaintext=result.plaintext, key_id=str(result.key_id), version=result.version
    )


ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/keys", create_key, CreateKeyRequest, KeyResponse,
             "Create a key", "keys.create", unsealed=True, status=201),
    Endpoint("GET", "/v1/keys", list_keys, Empty, KeyListResponse,
             "List keys (query: limit, cursor)", "keys.list", unsealed=True),
    Endpoint("GET", "/v1/keys/{key}", describe_key, Empty, KeyResponse,
             "Describe a key by id or name", "keys.describe", unsealed=True),
    Endpoint("POST", "/v1/keys/{key}/encrypt", encrypt, EncryptRequest, EncryptResponse,
             "Encrypt under the primary version", "keys.encrypt", unsealed=True),
    Endpoint("POST", "/v1/decrypt", decrypt, DecryptRequest, DecryptResponse,
             "Decrypt a Keystead ciphertext", "keys.decrypt", unsealed=True),
]  # fmt: skip
