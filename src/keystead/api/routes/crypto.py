"""Cryptographic operations: /v1/keys/{key}/encrypt, /v1/decrypt (more with issue 3)."""

from __future__ import annotations

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.crypto import (
    DataKeyRequest,
    DataKeyResponse,
    DecryptRequest,
    DecryptResponse,
    EncryptRequest,
    EncryptResponse,
    KeyDecryptRequest,
    RandomRequest,
    RandomResponse,
    ReencryptRequest,
)
from keystead.services import crypto_ops


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


async def decrypt_with_key(ctx: RequestContext, body: KeyDecryptRequest) -> DecryptResponse:
    """Decrypt with a named key (RSA-OAEP, or this key's own envelope)."""
    result = await ctx.services.crypto.decrypt_with(
        ctx.caller(), ctx.path_params["key"], body.ciphertext, body.context, body.version
    )
    return DecryptResponse(
        plaintext=result.plaintext, key_id=str(result.key_id), version=result.version
    )


async def reencrypt(ctx: RequestContext, body: ReencryptRequest) -> EncryptResponse:
    """Move a ciphertext of this key to its primary version (or to destination_key's)."""
    result = await ctx.services.crypto.reencrypt(
        ctx.caller(), ctx.path_params["key"], body.ciphertext, body.context, body.destination_key
    )
    return EncryptResponse(
        ciphertext=result.ciphertext, key_id=str(result.key_id), version=result.version
    )


async def data_key(ctx: RequestContext, body: DataKeyRequest) -> DataKeyResponse:
    """A fresh data key wrapped under the key."""
    size = 16 if body.spec == "AES_128" else 32
    result = await ctx.services.crypto.data_key(
        ctx.caller(), ctx.path_params["key"], size, body.context, with_plaintext=body.plaintext
    )
    return DataKeyResponse(
        ciphertext=result.ciphertext, plaintext=result.plaintext,
        key_id=str(result.key_id), version=result.version,
    )  # fmt: skip


async def random_bytes(ctx: RequestContext, body: RandomRequest) -> RandomResponse:
    """Bytes from the OS CSPRNG."""
    ctx.caller()
    return RandomResponse(random=crypto_ops.random(body.bytes))


ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/keys/{key}/encrypt", encrypt, EncryptRequest, EncryptResponse,
             "Encrypt under the primary version", "keys.encrypt", unsealed=True),
    Endpoint("POST", "/v1/decrypt", decrypt, DecryptRequest, DecryptResponse,
             "Decrypt a Keystead ciphertext", "keys.decrypt", unsealed=True),
    Endpoint("POST", "/v1/keys/{key}/decrypt", decrypt_with_key, KeyDecryptRequest,
             DecryptResponse, "Decrypt with a named key (RSA-OAEP or its own envelope)",
             "keys.decrypt_with_key", unsealed=True),
    Endpoint("POST", "/v1/keys/{key}/reencrypt", reencrypt, ReencryptRequest, EncryptResponse,
             "Re-encrypt under the primary version, never returning plaintext",
             "keys.reencrypt", unsealed=True),
    Endpoint("POST", "/v1/keys/{key}/data-key", data_key, DataKeyRequest, DataKeyResponse,
             "Generate a data key", "keys.data_key", unsealed=True),
    Endpoint("POST", "/v1/random", random_bytes, RandomRequest, RandomResponse,
             "Random bytes from the OS CSPRNG", "sys.random"),
]  # fmt: skip
