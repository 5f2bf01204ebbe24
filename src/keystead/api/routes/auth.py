"""/v1/auth: login, registration, logout, renewal, whoami, own password, TOTP, API tokens."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from keystead.api.deps import RequestContext
from keystead.api.routes.users import user_body
from keystead.api.routing import AnyEndpoint, Endpoint, no_content
from keystead.api.schemas.base import Empty, NoContent
from keystead.api.schemas.identity import (
    ChangePasswordRequest,
    CreateTokenRequest,
    LoginRequest,
    RecoveryCodesResponse,
    RegisterRequest,
    TokenInfoResponse,
    TokenListResponse,
    TokenResponse,
    TotpCodeRequest,
    TotpEnrollRequest,
    TotpEnrollResponse,
    UserResponse,
    WhoAmIResponse,
)
from keystead.domain.identity import TokenInfo
from keystead.services.login import LoginAttempt
from keystead.services.tokens import IssuedToken


def token_body(issued: IssuedToken) -> TokenResponse:
    """Shape a new token for the wire: the only time its value is shown."""
    info = issued.info
    return TokenResponse(
        token=issued.value, id=info.id, expires_at=info.expires_at,
        max_expires_at=info.max_expires_at, roles=list(info.roles),
    )  # fmt: skip


def token_info_body(info: TokenInfo) -> TokenInfoResponse:
    """Shape a token's metadata for the wire."""
    return TokenInfoResponse(
        id=info.id, kind=info.kind, username=info.username, description=info.description,
        roles=list(info.roles), created_at=info.created_at, expires_at=info.expires_at,
        max_expires_at=info.max_expires_at, created_by=info.created_by,
    )  # fmt: skip


async def login(ctx: RequestContext, body: LoginRequest) -> TokenResponse:
    """Check a password (and TOTP code) and open a session."""
    attempt = LoginAttempt(body.username, body.password, ctx.source, body.totp, body.recovery_code)
    return token_body(await ctx.services.login.login(attempt))


async def register(ctx: RequestContext, body: RegisterRequest) -> UserResponse:
    """Create one's own account, when the configuration allows it."""
    return user_body(await ctx.services.users.register(body.username, body.password))


async def logout(ctx: RequestContext, _: Empty) -> Response:
    """Revoke the calling token."""
    await ctx.services.tokens.revoke(ctx.caller().token_id)
    return no_content()


async def renew(ctx: RequestContext, _: Empty) -> TokenInfoResponse:
    """Extend the calling session, up to its maximum."""
    return token_info_body(await ctx.services.tokens.renew(ctx.caller()))


async def whoami(ctx: RequestContext, _: Empty) -> WhoAmIResponse:
    """Say who the caller is."""
    caller = ctx.caller()
    stored = await ctx.services.tokens.get(caller.token_id)
    return WhoAmIResponse(
        name=caller.display_name, kind=caller.kind, token_id=caller.token_id,
        roles=list(caller.roles), expires_at=None if stored is None else stored.expires_at,
    )  # fmt: skip


async def change_password(ctx: RequestContext, body: ChangePasswordRequest) -> Response:
    """Change one's own password; every token of the user is revoked."""
    await ctx.services.login.change_password(ctx.caller(), body.current_password, body.new_password)
    return no_content()


async def totp_enroll(ctx: RequestContext, body: TotpEnrollRequest) -> TotpEnrollResponse:
    """Start TOTP enrolment (the password proves it is the account's owner)."""
    uri, secret = await ctx.services.totp.enroll(ctx.caller(), body.password)
    return TotpEnrollResponse(otpauth_uri=uri, secret=secret)


async def totp_confirm(ctx: RequestContext, body: TotpCodeRequest) -> RecoveryCodesResponse:
    """Turn TOTP on with a first code."""
    codes = await ctx.services.totp.confirm(ctx.caller(), body.code)
    return RecoveryCodesResponse(recovery_codes=codes)


async def totp_disable(ctx: RequestContext, body: TotpCodeRequest) -> Response:
    """Turn TOTP off with a current code."""
    await ctx.services.totp.disable(ctx.caller(), body.code)
    return no_content()


async def create_token(ctx: RequestContext, body: CreateTokenRequest) -> TokenResponse:
    """Mint an API token."""
    ttl = None if body.ttl_seconds is None else timedelta(seconds=body.ttl_seconds)
    issued = await ctx.services.api_tokens.create(
        ctx.caller(), body.username, body.roles, ttl, body.description
    )
    return token_body(issued)


async def list_tokens(ctx: RequestContext, _: Empty) -> TokenListResponse:
    """List live tokens (query: username=NAME or all=true for administrators)."""
    query = ctx.query_params
    everyone = query.get("all", "").lower() in {"1", "true", "yes"}
    tokens = await ctx.services.api_tokens.list(
        ctx.caller(), query.get("username"), everyone=everyone
    )
    return TokenListResponse(tokens=[token_info_body(t) for t in tokens])


async def revoke_token(ctx: RequestContext, _: Empty) -> Response:
    """Revoke a token by id."""
    await ctx.services.api_tokens.revoke(ctx.caller(), ctx.path_params["token_id"])
    return no_content()


_A = "/v1/auth"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", f"{_A}/login", login, LoginRequest, TokenResponse,
             "Log in with a password (and a TOTP code)", "auth.login", auth=False,
             unsealed=True),
    Endpoint("POST", f"{_A}/register", register, RegisterRequest, UserResponse,
             "Register an account (when allowed)", "auth.register", auth=False,
             unsealed=True, status=201),
    Endpoint("POST", f"{_A}/logout", logout, Empty, NoContent,
             "Revoke the calling token", "auth.logout", status=204),
    Endpoint("POST", f"{_A}/renew", renew, Empty, TokenInfoResponse,
             "Extend the calling session", "auth.renew"),
    Endpoint("GET", f"{_A}/whoami", whoami, Empty, WhoAmIResponse,
             "Who the caller is", "auth.whoami"),
    Endpoint("POST", f"{_A}/password", change_password, ChangePasswordRequest, NoContent,
             "Change one's own password", "auth.password", unsealed=True, status=204),
    Endpoint("POST", f"{_A}/totp/enroll", totp_enroll, TotpEnrollRequest, TotpEnrollResponse,
             "Start TOTP enrolment", "auth.totp_enroll", unsealed=True),
    Endpoint("POST", f"{_A}/totp/confirm", totp_confirm, TotpCodeRequest, RecoveryCodesResponse,
             "Confirm TOTP with a first code", "auth.totp_confirm", unsealed=True),
    Endpoint("POST", f"{_A}/totp/disable", totp_disable, TotpCodeRequest, NoContent,
             "Turn TOTP off", "auth.totp_disable", unsealed=True, status=204),
    Endpoint("POST", f"{_A}/tokens", create_token, CreateTokenRequest, TokenResponse,
             "Mint an API token", "tokens.create", unsealed=True, status=201),
    Endpoint("GET", f"{_A}/tokens", list_tokens, Empty, TokenListResponse,
             "List live tokens", "tokens.list"),
    Endpoint("DELETE", f"{_A}/tokens/{{token_id}}", revoke_token, Empty, NoContent,
             "Revoke a token", "tokens.revoke", status=204),
]  # fmt: skip
