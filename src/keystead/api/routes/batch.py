"""Batch forms of encrypt, decrypt, sign and verify: each item gets its own result."""

from __future__ import annotations

from keystead.api.deps import RequestContext
from keystead.api.routes.signing import check_one_of
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.batch import (
    BatchDecryptRequest,
    BatchDecryptResponse,
    BatchEncryptRequest,
    BatchEncryptResponse,
    BatchSignRequest,
    BatchSignResponse,
    BatchVerifyRequest,
    BatchVerifyResponse,
    DecryptResult,
    EncryptResult,
    ItemError,
    SignResult,
    VerifyResult,
)
from keystead.errors import KeysteadError, SignatureInvalid


def _error(error: KeysteadError) -> ItemError:
    return ItemError(code=error.code, detail=error.public_detail)


async def encrypt_batch(ctx: RequestContext, body: BatchEncryptRequest) -> BatchEncryptResponse:
    """Encrypt every item; a failed item does not fail the rest."""
    caller, reference = ctx.caller(), ctx.path_params["key"]
    key = await ctx.services.keys.describe(caller, reference)
    done = await ctx.services.crypto.encrypt_many(
        caller, reference, [(item.plaintext, item.context) for item in body.items]
    )
    results = [
        EncryptResult(error=_error(one)) if isinstance(one, KeysteadError)
        else EncryptResult(ciphertext=one.ciphertext, version=one.version)
        for one in done
    ]  # fmt: skip
    return BatchEncryptResponse(key_id=str(key.id), results=results)


async def decrypt_batch(ctx: RequestContext, body: BatchDecryptRequest) -> BatchDecryptResponse:
    """Decrypt every item; a failed item does not fail the rest."""
    caller = ctx.caller()
    results = []
    for item in body.items:
        try:
            done = await ctx.services.crypto.decrypt(caller, item.ciphertext, item.context)
        except KeysteadError as error:
            results.append(DecryptResult(error=_error(error)))
        else:
            results.append(
                DecryptResult(
                    plaintext=done.plaintext, key_id=str(done.key_id), version=done.version
                )
            )
    return BatchDecryptResponse(results=results)


async def sign_batch(ctx: RequestContext, body: BatchSignRequest) -> BatchSignResponse:
    """Sign every item; a failed item does not fail the rest."""
    caller, reference = ctx.caller(), ctx.path_params["key"]
    key = (await ctx.services.keys.authorized(caller, "keys.sign", reference)).key
    results, algorithm = [], body.algorithm
    for item in body.items:
        try:
            check_one_of(item.message, item.digest)
            done = await ctx.services.signing.sign(
                caller, reference, message=item.message, digest=item.digest, algorithm=algorithm
            )
        except KeysteadError as error:
            results.append(SignResult(error=_error(error)))
        else:
            algorithm = done.algorithm
            results.append(SignResult(signature=done.signature, version=done.version))
    return BatchSignResponse(key_id=str(key.id), algorithm=algorithm, results=results)


async def verify_batch(ctx: RequestContext, body: BatchVerifyRequest) -> BatchVerifyResponse:
    """Verify every item; a failed item does not fail the rest."""
    caller, reference = ctx.caller(), ctx.path_params["key"]
    key = (await ctx.services.keys.authorized(caller, "keys.verify", reference)).key
    results = []
    for item in body.items:
        try:
            check_one_of(item.message, item.digest)
            await ctx.services.signing.verify(
                caller, reference, item.signature, message=item.message, digest=item.digest,
                algorithm=body.algorithm, version=item.version,
            )  # fmt: skip
        except SignatureInvalid:
            results.append(VerifyResult(valid=False))
        except KeysteadError as error:
            results.append(VerifyResult(error=_error(error)))
        else:
            results.append(VerifyResult(valid=True))
    return BatchVerifyResponse(key_id=str(key.id), results=results)


_K = "/v1/keys/{key}"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", f"{_K}/encrypt/batch", encrypt_batch, BatchEncryptRequest,
             BatchEncryptResponse, "Encrypt up to 1000 items", "keys.encrypt_batch",
             unsealed=True),
    Endpoint("POST", "/v1/decrypt/batch", decrypt_batch, BatchDecryptRequest,
             BatchDecryptResponse, "Decrypt up to 1000 items", "keys.decrypt_batch",
             unsealed=True),
    Endpoint("POST", f"{_K}/sign/batch", sign_batch, BatchSignRequest, BatchSignResponse,
             "Sign up to 1000 items", "keys.sign_batch", unsealed=True),
    Endpoint("POST", f"{_K}/verify/batch", verify_batch, BatchVerifyRequest,
             BatchVerifyResponse, "Verify up to 1000 items", "keys.verify_batch", unsealed=True),
]  # fmt: skip
