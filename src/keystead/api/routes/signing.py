"""Sign, verify, MAC, public keys, ML-KEM encapsulation and key agreement."""

from __future__ import annotations

import base64

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.base import Empty
from keystead.api.schemas.signing import (
    AgreeRequest,
    DecapsulateRequest,
    EncapsulateResponse,
    MacRequest,
    MacResponse,
    MacVerifyRequest,
    PublicKeyResponse,
    SharedSecretResponse,
    SignRequest,
    SignResponse,
    VerifyRequest,
    VerifyResponse,
)
from keystead.errors import SignatureInvalid, ValidationFailed
from keystead.services.signing_ops import PublicKeyFormat


def check_one_of(message: bytes | None, digest: bytes | None) -> None:
    """Refuse a request with neither or both of message and digest.

    Raises:
        ValidationFailed: Naming the rule.
    """
    if (message is None) == (digest is None):
        msg = "give exactly one of message and digest"
        raise ValidationFailed(msg)


async def sign(ctx: RequestContext, body: SignRequest) -> SignResponse:
    """Sign with the primary version."""
    check_one_of(body.message, body.digest)
    signed = await ctx.services.signing.sign(
        ctx.caller(), ctx.path_params["key"],
        message=body.message, digest=body.digest, algorithm=body.algorithm,
    )  # fmt: skip
    return SignResponse(
        signature=signed.signature, key_id=str(signed.key_id), version=signed.version,
        algorithm=signed.algorithm,
    )  # fmt: skip


async def verify(ctx: RequestContext, body: VerifyRequest) -> VerifyResponse:
    """Verify a signature; an invalid one answers ``{"valid": false}``."""
    check_one_of(body.message, body.digest)
    try:
        await ctx.services.signing.verify(
            ctx.caller(), ctx.path_params["key"], body.signature,
            message=body.message, digest=body.digest, algorithm=body.algorithm,
            version=body.version,
        )  # fmt: skip
    except SignatureInvalid:
        return VerifyResponse(valid=False)
    return VerifyResponse(valid=True)


async def mac(ctx: RequestContext, body: MacRequest) -> MacResponse:
    """HMAC with the primary version."""
    tag = await ctx.services.signing.mac(ctx.caller(), ctx.path_params["key"], body.message)
    return MacResponse(
        mac=tag.signature, key_id=str(tag.key_id), version=tag.version, algorithm=tag.algorithm
    )


async def mac_verify(ctx: RequestContext, body: MacVerifyRequest) -> VerifyResponse:
    """Check an HMAC tag; a wrong one answers ``{"valid": false}``."""
    try:
        await ctx.services.signing.mac_verify(
            ctx.caller(), ctx.path_params["key"], body.message, body.mac, body.version
        )
    except SignatureInvalid:
        return VerifyResponse(valid=False)
    return VerifyResponse(valid=True)


async def public_key(ctx: RequestContext, _: Empty) -> PublicKeyResponse:
    """The public key (query: format=pem|der|jwk, version)."""
    query = ctx.query_params
    try:
        form = PublicKeyFormat(query.get("format", "pem"))
    except ValueError:
        msg = "format must be pem, der or jwk"
        raise ValidationFailed(msg) from None
    version = ctx.version_query()
    found = await ctx.services.signing.public_key(
        ctx.caller(), ctx.path_params["key"], form, version
    )
    value = found.jwk or found.pem or base64.b64encode(found.der or b"").decode("ascii")
    return PublicKeyResponse(
        key_id=str(found.key_id), version=found.version, format=form.value, public_key=value
    )


async def encapsulate(ctx: RequestContext, _: Empty) -> EncapsulateResponse:
    """A fresh ML-KEM shared secret and its encapsulation."""
    secret = await ctx.services.signing.encapsulate(ctx.caller(), ctx.path_params["key"])
    return EncapsulateResponse(
        shared_secret=secret.shared_secret, encapsulation=secret.encapsulation or b"",
        key_id=str(secret.key_id), version=secret.version,
    )  # fmt: skip


async def decapsulate(ctx: RequestContext, body: DecapsulateRequest) -> SharedSecretResponse:
    """The shared secret of an ML-KEM encapsulation."""
    secret = await ctx.services.signing.decapsulate(
        ctx.caller(), ctx.path_params["key"], body.encapsulation, body.version
    )
    return SharedSecretResponse(
        shared_secret=secret.shared_secret, key_id=str(secret.key_id), version=secret.version
    )


async def agree(ctx: RequestContext, body: AgreeRequest) -> SharedSecretResponse:
    """X25519 / ECDH with a peer's public key."""
    secret = await ctx.services.signing.agree(
        ctx.caller(), ctx.path_params["key"], body.peer_public_key
    )
    return SharedSecretResponse(
        shared_secret=secret.shared_secret, key_id=str(secret.key_id), version=secret.version
    )


_K = "/v1/keys/{key}"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", f"{_K}/sign", sign, SignRequest, SignResponse,
             "Sign a message or digest", "keys.sign", unsealed=True),
    Endpoint("POST", f"{_K}/verify", verify, VerifyRequest, VerifyResponse,
             "Verify a signature", "keys.verify", unsealed=True),
    Endpoint("POST", f"{_K}/mac", mac, MacRequest, MacResponse,
             "Compute an HMAC", "keys.mac", unsealed=True),
    Endpoint("POST", f"{_K}/mac/verify", mac_verify, MacVerifyRequest, VerifyResponse,
             "Verify an HMAC", "keys.mac_verify", unsealed=True),
    Endpoint("GET", f"{_K}/public-key", public_key, Empty, PublicKeyResponse,
             "Public key (query: format=pem|der|jwk, version)", "keys.public_key",
             unsealed=True),
    Endpoint("POST", f"{_K}/encapsulate", encapsulate, Empty, EncapsulateResponse,
             "ML-KEM: a shared secret and its encapsulation", "keys.encapsulate", unsealed=True),
    Endpoint("POST", f"{_K}/decapsulate", decapsulate, DecapsulateRequest,
             SharedSecretResponse, "ML-KEM: recover a shared secret", "keys.decapsulate",
             unsealed=True),
    Endpoint("POST", f"{_K}/agree", agree, AgreeRequest, SharedSecretResponse,
             "X25519/ECDH key agreement with a peer public key", "keys.agree", unsealed=True),
]  # fmt: skip
