"""/v1/keys: create, list, describe, update, versions, rotate and the lifecycle verbs."""

from __future__ import annotations

from datetime import timedelta

from keystead.api.deps import RequestContext
from keystead.api.paging import page_limit
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.base import Empty
from keystead.api.schemas.keys import (
    CreateKeyRequest,
    KeyListResponse,
    KeyResponse,
    KeyVersionResponse,
    KeyVersionsResponse,
    RevokeRequest,
    ScheduleDestructionRequest,
    UpdateKeyRequest,
)
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key, KeyVersionInfo
from keystead.domain.specs import KeySpec
from keystead.errors import ValidationFailed
from keystead.services.keys import KeyUpdate, NewKey
from keystead.storage.key_repository import KeyFilter


def key_body(key: Key) -> KeyResponse:
    """Shape a key for the wire."""
    period = key.rotation_period
    return KeyResponse(
        id=str(key.id), name=key.name, spec=key.spec, usage=key.usage, state=key.state,
        primary_version=key.primary_version, min_decryption_version=key.min_decryption_version,
        description=key.description, tags=dict(key.tags), owner=key.owner,
        protection=key.protection, origin=key.origin, exportable=key.exportable,
        backup_allowed=key.backup_allowed,
        rotation_period_seconds=None if period is None else int(period.total_seconds()),
        next_rotation_at=key.next_rotation_at, activation_date=key.activation_date,
        deactivation_date=key.deactivation_date, destruction_date=key.destruction_date,
        revocation_reason=key.revocation_reason, compromise_date=key.compromise_date,
        created_at=key.created_at, updated_at=key.updated_at,
    )  # fmt: skip


def _seconds(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


async def create_key(ctx: RequestContext, body: CreateKeyRequest) -> KeyResponse:
    """Create a key and its first version."""
    request = NewKey(
        name=body.name, spec=body.spec, usage=body.usage, description=body.description,
        tags=body.tags, rotation_period=_seconds(body.rotation_period_seconds),
        activation_date=body.activation_date, deactivation_date=body.deactivation_date,
        exportable=body.exportable, backup_allowed=body.backup_allowed,
        protection=body.protection,
    )  # fmt: skip
    return key_body(await ctx.services.keys.create(ctx.caller(), request))


async def describe_key(ctx: RequestContext, _: Empty) -> KeyResponse:
    """Describe a key by id or name."""
    return key_body(await ctx.services.keys.describe(ctx.caller(), ctx.path_params["key"]))


async def update_key(ctx: RequestContext, body: UpdateKeyRequest) -> KeyResponse:
    """Change a key's metadata."""
    change = KeyUpdate(
        description=body.description, tags=body.tags,
        rotation_period=_seconds(body.rotation_period_seconds),
        deactivation_date=body.deactivation_date,
        min_decryption_version=body.min_decryption_version,
    )  # fmt: skip
    key = await ctx.services.keys.update(ctx.caller(), ctx.path_params["key"], change)
    return key_body(key)


def _filter(ctx: RequestContext) -> KeyFilter:
    query = ctx.query_params
    limit = page_limit(query)
    try:
        state = KeyState(query["state"]) if "state" in query else None
        spec = KeySpec(query["spec"]) if "spec" in query else None
    except ValueError:
        msg = "state and spec must be names from the documentation, e.g. ACTIVE, AES_256_GCM"
        raise ValidationFailed(msg) from None
    tag = None
    if "tag" in query:
        name, sep, value = query["tag"].partition("=")
        if not sep:
            msg = "tag must be NAME=VALUE"
            raise ValidationFailed(msg)
        tag = (name, value)
    return KeyFilter(state, spec, tag, query.get("cursor"), limit)


async def list_keys(ctx: RequestContext, _: Empty) -> KeyListResponse:
    """List keys by name, a page at a time (query: limit, cursor, state, spec, tag)."""
    query = _filter(ctx)
    keys = await ctx.services.keys.find(ctx.caller(), query)
    cursor = keys[-1].name if len(keys) == query.limit else None
    return KeyListResponse(keys=[key_body(key) for key in keys], next_cursor=cursor)


def _version_body(info: KeyVersionInfo, key: Key) -> KeyVersionResponse:
    # A key's state caps its versions' (ARCHITECTURE.md section 3).
    state = key.state if info.state is KeyState.ACTIVE else info.state
    return KeyVersionResponse(
        version=info.version, state=state, primary=info.version == key.primary_version,
        created_at=info.created_at, use_count=info.use_count, last_used_at=info.last_used_at,
        destruction_date=info.destruction_date, destroyed_at=info.destroyed_at,
        valid_to=info.valid_to,
    )  # fmt: skip


async def list_versions(ctx: RequestContext, _: Empty) -> KeyVersionsResponse:
    """Every version of a key with its state and use count."""
    services, reference = ctx.services, ctx.path_params["key"]
    versions = await services.keys.versions(ctx.caller(), reference)
    key = (await services.keys.resolve(reference)).key
    return KeyVersionsResponse(
        key_id=str(key.id), versions=[_version_body(v, key) for v in versions]
    )


async def rotate(ctx: RequestContext, _: Empty) -> KeyResponse:
    """Add a version and make it primary."""
    return key_body(await ctx.services.lifecycle.rotate(ctx.caller(), ctx.path_params["key"]))


async def activate(ctx: RequestContext, _: Empty) -> KeyResponse:
    """PRE_ACTIVE to ACTIVE."""
    return key_body(await ctx.services.lifecycle.activate(ctx.caller(), ctx.path_params["key"]))


async def suspend(ctx: RequestContext, _: Empty) -> KeyResponse:
    """ACTIVE to SUSPENDED."""
    return key_body(await ctx.services.lifecycle.suspend(ctx.caller(), ctx.path_params["key"]))


async def resume(ctx: RequestContext, _: Empty) -> KeyResponse:
    """SUSPENDED to ACTIVE."""
    return key_body(await ctx.services.lifecycle.resume(ctx.caller(), ctx.path_params["key"]))


async def deactivate(ctx: RequestContext, _: Empty) -> KeyResponse:
    """To DEACTIVATED: old data only."""
    key = await ctx.services.lifecycle.deactivate(ctx.caller(), ctx.path_params["key"])
    return key_body(key)


async def revoke(ctx: RequestContext, body: RevokeRequest) -> KeyResponse:
    """Revoke with a reason: COMPROMISED for a compromise, DEACTIVATED otherwise."""
    key = await ctx.services.lifecycle.revoke(
        ctx.caller(), ctx.path_params["key"], body.reason, body.compromise_date
    )
    return key_body(key)


async def schedule_destruction(
    ctx: RequestContext, body: ScheduleDestructionRequest
) -> KeyResponse:
    """To DESTROY_PENDING for ``pending_days``."""
    key = await ctx.services.lifecycle.schedule_destruction(
        ctx.caller(), ctx.path_params["key"], body.pending_days
    )
    return key_body(key)


async def cancel_destruction(ctx: RequestContext, _: Empty) -> KeyResponse:
    """DESTROY_PENDING back to the state before."""
    key = await ctx.services.lifecycle.cancel_destruction(ctx.caller(), ctx.path_params["key"])
    return key_body(key)


def _version_number(ctx: RequestContext) -> int:
    text = ctx.path_params["version"]
    if not text.isdigit() or int(text) < 1:
        msg = "the version must be a positive integer"
        raise ValidationFailed(msg)
    return int(text)


async def _version_answer(ctx: RequestContext, info: KeyVersionInfo) -> KeyVersionResponse:
    key = (await ctx.services.keys.resolve(ctx.path_params["key"])).key
    return _version_body(info, key)


async def deactivate_version(ctx: RequestContext, _: Empty) -> KeyVersionResponse:
    """One version to DEACTIVATED."""
    info = await ctx.services.versions.deactivate(
        ctx.caller(), ctx.path_params["key"], _version_number(ctx)
    )
    return await _version_answer(ctx, info)


async def revoke_version(ctx: RequestContext, _: Empty) -> KeyVersionResponse:
    """One version to COMPROMISED."""
    info = await ctx.services.versions.revoke(
        ctx.caller(), ctx.path_params["key"], _version_number(ctx)
    )
    return await _version_answer(ctx, info)


async def schedule_version_destruction(
    ctx: RequestContext, body: ScheduleDestructionRequest
) -> KeyVersionResponse:
    """One version to DESTROY_PENDING."""
    info = await ctx.services.versions.schedule_destruction(
        ctx.caller(), ctx.path_params["key"], _version_number(ctx), body.pending_days
    )
    return await _version_answer(ctx, info)


async def cancel_version_destruction(ctx: RequestContext, _: Empty) -> KeyVersionResponse:
    """One version back from DESTROY_PENDING."""
    info = await ctx.services.versions.cancel_destruction(
        ctx.caller(), ctx.path_params["key"], _version_number(ctx)
    )
    return await _version_answer(ctx, info)


_K = "/v1/keys/{key}"
_V = "/v1/keys/{key}/versions/{version}"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/keys", create_key, CreateKeyRequest, KeyResponse,
             "Create a key", "keys.create", unsealed=True, status=201),
    Endpoint("GET", "/v1/keys", list_keys, Empty, KeyListResponse,
             "List keys (query: limit, cursor, state, spec, tag=NAME=VALUE)", "keys.list",
             unsealed=True),
    Endpoint("GET", _K, describe_key, Empty, KeyResponse,
             "Describe a key by id or name", "keys.describe", unsealed=True),
    Endpoint("PATCH", _K, update_key, UpdateKeyRequest, KeyResponse,
             "Update a key's metadata", "keys.update", unsealed=True),
    Endpoint("GET", f"{_K}/versions", list_versions, Empty, KeyVersionsResponse,
             "List a key's versions", "keys.versions", unsealed=True),
    Endpoint("POST", f"{_K}/rotate", rotate, Empty, KeyResponse,
             "Rotate: a new primary version", "keys.rotate", unsealed=True),
    Endpoint("POST", f"{_K}/activate", activate, Empty, KeyResponse,
             "PRE_ACTIVE to ACTIVE", "keys.activate", unsealed=True),
    Endpoint("POST", f"{_K}/suspend", suspend, Empty, KeyResponse,
             "ACTIVE to SUSPENDED", "keys.suspend", unsealed=True),
    Endpoint("POST", f"{_K}/resume", resume, Empty, KeyResponse,
             "SUSPENDED to ACTIVE", "keys.resume", unsealed=True),
    Endpoint("POST", f"{_K}/deactivate", deactivate, Empty, KeyResponse,
             "To DEACTIVATED: decrypt and verify only", "keys.deactivate", unsealed=True),
    Endpoint("POST", f"{_K}/revoke", revoke, RevokeRequest, KeyResponse,
             "Revoke with a reason", "keys.revoke", unsealed=True),
    Endpoint("POST", f"{_K}/schedule-destruction", schedule_destruction,
             ScheduleDestructionRequest, KeyResponse,
             "Schedule destruction after a waiting period", "keys.schedule_destruction",
             unsealed=True),
    Endpoint("POST", f"{_K}/cancel-destruction", cancel_destruction, Empty, KeyResponse,
             "Cancel a scheduled destruction", "keys.cancel_destruction", unsealed=True),
    Endpoint("POST", f"{_V}/deactivate", deactivate_version, Empty, KeyVersionResponse,
             "One version to DEACTIVATED", "keys.version_deactivate", unsealed=True),
    Endpoint("POST", f"{_V}/revoke", revoke_version, Empty, KeyVersionResponse,
             "One version to COMPROMISED", "keys.version_revoke", unsealed=True),
    Endpoint("POST", f"{_V}/schedule-destruction", schedule_version_destruction,
             ScheduleDestructionRequest, KeyVersionResponse,
             "Schedule one version's destruction", "keys.version_schedule_destruction",
             unsealed=True),
    Endpoint("POST", f"{_V}/cancel-destruction", cancel_version_destruction, Empty,
             KeyVersionResponse, "Cancel one version's destruction",
             "keys.version_cancel_destruction", unsealed=True),
]  # fmt: skip
