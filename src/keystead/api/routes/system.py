"""/v1/sys: init, unseal, seal, seal status, health, keyring rotation."""

from __future__ import annotations

import time

from keystead import __version__
from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.base import Empty
from keystead.api.schemas.identity import (
    GenerateRootRequest,
    GenerateRootResponse,
    RevokeRootResponse,
)
from keystead.api.schemas.system import (
    HealthResponse,
    InitRequest,
    InitResponse,
    RotateKeyringResponse,
    SealStatusResponse,
    UnsealRequest,
)
from keystead.errors import ValidationFailed
from keystead.services.seal_plan import PKCS11
from keystead.services.system import SealStatus


def _status_body(status: SealStatus) -> SealStatusResponse:
    return SealStatusResponse(
        initialized=status.initialized,
        sealed=status.sealed,
        type=status.seal_type,
        shares=status.shares,
        threshold=status.threshold,
        progress=status.progress,
        version=__version__,
        recovery_seal=status.recovery_seal,
        migration=status.migration,
        seal_error=status.seal_error,
    )


def _quorum(body: InitRequest, *, recovery: bool) -> tuple[int, int]:
    """The share count and threshold in the fields of the configured seal."""
    if recovery:
        if body.shares is not None or body.threshold is not None:
            msg = (
                "shares: this server's seal is pkcs11, which makes recovery shares: give "
                "recovery_shares and recovery_threshold (keystead operator init "
                "--recovery-shares N --recovery-threshold T)"
            )
            raise ValidationFailed(msg)
        shares, threshold, names = body.recovery_shares, body.recovery_threshold, "recovery_"
    else:
        if body.recovery_shares is not None or body.recovery_threshold is not None:
            msg = (
                "recovery_shares: only the pkcs11 seal makes recovery shares; this server's "
                "seal is shamir: give shares and threshold"
            )
            raise ValidationFailed(msg)
        shares, threshold, names = body.shares, body.threshold, ""
    if shares is None or threshold is None:
        msg = f"{names}shares and {names}threshold are both required"
        raise ValidationFailed(msg)
    return shares, threshold


async def init(ctx: RequestContext, body: InitRequest) -> InitResponse:
    """Create the root key and the shares (unseal or recovery), and mint the root token."""
    system = ctx.services.system
    shares, threshold = _quorum(body, recovery=system.plan.kind == PKCS11)
    result = await system.initialize(shares, threshold)
    if result.recovery:
        return InitResponse(
            shares=[], root_token=result.root_token, threshold=threshold,
            recovery_shares=result.shares, recovery_threshold=threshold,
        )  # fmt: skip
    return InitResponse(shares=result.shares, root_token=result.root_token, threshold=threshold)


async def unseal(ctx: RequestContext, body: UnsealRequest) -> SealStatusResponse:
    """Give one share, or reset the progress."""
    system = ctx.services.system
    if body.reset:
        return _status_body(await system.reset_unseal())
    if body.share is None:
        msg = "give a share, or reset: true"
        raise ValidationFailed(msg)
    return _status_body(await system.unseal(body.share))


async def seal(ctx: RequestContext, _: Empty) -> SealStatusResponse:
    """Drop every key from memory."""
    ctx.caller()
    return _status_body(await ctx.services.system.seal())


async def seal_status(ctx: RequestContext, _: Empty) -> SealStatusResponse:
    """Read the seal status."""
    return _status_body(await ctx.services.system.status())


async def health(ctx: RequestContext, _: Empty) -> HealthResponse:
    """Liveness with the seal state in the status code."""
    status = await ctx.services.system.status()
    return HealthResponse(
        initialized=status.initialized,
        sealed=status.sealed,
        version=__version__,
        server_time_utc=int(time.time()),
    )


def _health_status(body: HealthResponse) -> int:
    if not body.initialized:
        return 501
    return 503 if body.sealed else 200


async def rotate_keyring(ctx: RequestContext, _: Empty) -> RotateKeyringResponse:
    """Add a keyring term."""
    ctx.caller()
    return RotateKeyringResponse(term=await ctx.services.system.rotate_keyring())


async def generate_root(ctx: RequestContext, body: GenerateRootRequest) -> GenerateRootResponse:
    """Give one unseal share towards a new root token (or reset the progress)."""
    system = ctx.services.system
    if body.reset:
        progress, threshold = await system.reset_generate_root()
        return GenerateRootResponse(progress=progress, threshold=threshold)
    if body.share is None:
        msg = "give a share, or reset: true"
        raise ValidationFailed(msg)
    progress, threshold, token = await system.generate_root(body.share)
    return GenerateRootResponse(progress=progress, threshold=threshold, root_token=token)


async def revoke_root(ctx: RequestContext, _: Empty) -> RevokeRootResponse:
    """Revoke every root token, once an enabled admin user exists."""
    ctx.caller()
    return RevokeRootResponse(revoked=await ctx.services.system.revoke_root())


ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/sys/init", init, InitRequest, InitResponse,
             "Initialise: make the root key and its unseal (or recovery) shares", "sys.init",
             auth=False),
    Endpoint("POST", "/v1/sys/unseal", unseal, UnsealRequest, SealStatusResponse,
             "Give one unseal share (recovery share with the pkcs11 seal; the old seal's "
             "share while migrating), or reset progress", "sys.unseal", auth=False),
    Endpoint("POST", "/v1/sys/seal", seal, Empty, SealStatusResponse,
             "Seal: drop all key material from memory", "sys.seal"),
    Endpoint("GET", "/v1/sys/seal-status", seal_status, Empty, SealStatusResponse,
             "Seal status", "sys.seal_status", auth=False),
    Endpoint("GET", "/v1/sys/health", health, Empty, HealthResponse,
             "Health: 200 unsealed, 503 sealed, 501 not initialised", "sys.health",
             auth=False, status_of=_health_status),
    Endpoint("POST", "/v1/sys/generate-root", generate_root, GenerateRootRequest,
             GenerateRootResponse, "Give one unseal share towards a new root token",
             "sys.generate_root", auth=False, unsealed=True),
    Endpoint("POST", "/v1/sys/revoke-root", revoke_root, Empty, RevokeRootResponse,
             "Revoke the root token (once an admin user exists)", "sys.revoke_root",
             unsealed=True),
    Endpoint("POST", "/v1/sys/rotate-keyring", rotate_keyring, Empty, RotateKeyringResponse,
             "Add a keyring term; old terms still decrypt", "sys.rotate_keyring", unsealed=True),
]  # fmt: skip
