"""/v1/users: create, list, describe, change roles, disable, enable, delete, public keys."""

from __future__ import annotations

from starlette.responses import Response

from keystead.api.deps import RequestContext
from keystead.api.paging import page_limit
from keystead.api.routing import AnyEndpoint, Endpoint, no_content
from keystead.api.schemas.base import Empty, NoContent
from keystead.api.schemas.identity import (
    CreateUserRequest,
    SetPasswordRequest,
    UpdateUserRequest,
    UserListResponse,
    UserPublicKeyResponse,
    UserResponse,
)
from keystead.domain.identity import User, UserKind
from keystead.errors import UserNotFound


def user_body(user: User) -> UserResponse:
    """Shape a user for the wire."""
    return UserResponse(
        username=user.username, kind=user.kind.value, roles=list(user.roles),
        disabled=user.disabled, totp_enabled=user.totp_enabled, key_id=user.key_id,
        created_at=user.created_at, updated_at=user.updated_at,
    )  # fmt: skip


def _name(ctx: RequestContext) -> str:
    return ctx.path_params["name"]


async def create_user(ctx: RequestContext, body: CreateUserRequest) -> UserResponse:
    """Create a user or service account, and its own key pair."""
    user = await ctx.services.users.create(
        ctx.caller(), body.username, body.password, body.roles, UserKind(body.kind)
    )
    return user_body(user)


async def list_users(ctx: RequestContext, _: Empty) -> UserListResponse:
    """List users by name (query: limit, cursor)."""
    limit = page_limit(ctx.query_params)
    users = await ctx.services.users.list(ctx.caller(), ctx.query_params.get("cursor"), limit)
    cursor = users[-1].username if len(users) == limit else None
    return UserListResponse(users=[user_body(u) for u in users], next_cursor=cursor)


async def describe_user(ctx: RequestContext, _: Empty) -> UserResponse:
    """Describe a user."""
    return user_body(await ctx.services.users.describe(ctx.caller(), _name(ctx)))


async def update_user(ctx: RequestContext, body: UpdateUserRequest) -> UserResponse:
    """Replace a user's roles."""
    return user_body(await ctx.services.users.set_roles(ctx.caller(), _name(ctx), body.roles))


async def delete_user(ctx: RequestContext, _: Empty) -> Response:
    """Delete a user; its key pair is deactivated."""
    await ctx.services.users.delete(ctx.caller(), _name(ctx))
    return no_content()


async def disable_user(ctx: RequestContext, _: Empty) -> UserResponse:
    """Disable a user: every token refused."""
    users = ctx.services.users
    return user_body(await users.set_disabled(ctx.caller(), _name(ctx), disabled=True))


async def enable_user(ctx: RequestContext, _: Empty) -> UserResponse:
    """Enable a user again."""
    users = ctx.services.users
    return user_body(await users.set_disabled(ctx.caller(), _name(ctx), disabled=False))


async def set_password(ctx: RequestContext, body: SetPasswordRequest) -> Response:
    """Reset a user's password."""
    await ctx.services.users.set_password(ctx.caller(), _name(ctx), body.password)
    return no_content()


async def reset_totp(ctx: RequestContext, _: Empty) -> UserResponse:
    """Remove a user's TOTP second factor."""
    await ctx.services.totp.reset(ctx.caller(), _name(ctx))
    return user_body((await ctx.services.users.stored(_name(ctx))).user)


async def user_public_key(ctx: RequestContext, _: Empty) -> UserPublicKeyResponse:
    """The public half of a user's own signing key: any authenticated caller may read it.

    Query: ``version`` (the primary by default). The answer carries the key's and the
    version's states, so a verifier can refuse a signature by a revoked or suspended key.
    """
    ctx.caller()
    user = (await ctx.services.users.stored(_name(ctx))).user
    if user.key_id is None:  # pragma: no cover - every user gets a key at creation
        raise UserNotFound
    version = ctx.version_query()
    public = await ctx.services.signing.published_public_key(user.key_id, version)
    key = (await ctx.services.keys.resolve(user.key_id)).key
    return UserPublicKeyResponse(
        username=user.username, public_key=public.pem, key_id=str(public.key_id),
        version=public.version, spec=key.spec.value, primary_version=public.primary_version,
        key_state=public.key_state.value, version_state=public.version_state.value,
    )  # fmt: skip


_U = "/v1/users/{name}"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/users", create_user, CreateUserRequest, UserResponse,
             "Create a user (and its own key pair)", "users.create", unsealed=True,
             status=201),
    Endpoint("GET", "/v1/users", list_users, Empty, UserListResponse,
             "List users (query: limit, cursor)", "users.list", unsealed=True),
    Endpoint("GET", _U, describe_user, Empty, UserResponse,
             "Describe a user", "users.describe", unsealed=True),
    Endpoint("PATCH", _U, update_user, UpdateUserRequest, UserResponse,
             "Replace a user's roles", "users.update", unsealed=True),
    Endpoint("DELETE", _U, delete_user, Empty, NoContent,
             "Delete a user", "users.delete", unsealed=True, status=204),
    Endpoint("POST", f"{_U}/disable", disable_user, Empty, UserResponse,
             "Disable a user", "users.disable", unsealed=True),
    Endpoint("POST", f"{_U}/enable", enable_user, Empty, UserResponse,
             "Enable a user", "users.enable", unsealed=True),
    Endpoint("POST", f"{_U}/password", set_password, SetPasswordRequest, NoContent,
             "Reset a user's password", "users.set_password", unsealed=True, status=204),
    Endpoint("POST", f"{_U}/reset-totp", reset_totp, Empty, UserResponse,
             "Remove a user's TOTP", "users.reset_totp", unsealed=True),
    Endpoint("GET", f"{_U}/public-key", user_public_key, Empty, UserPublicKeyResponse,
             "The public key of a user's own signing key", "users.public_key", unsealed=True),
]  # fmt: skip
