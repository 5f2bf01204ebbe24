"""/v1/keys/{key}/grants: operations on one key for one named principal."""

from __future__ import annotations

from starlette.responses import Response

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint, no_content
from keystead.api.schemas.base import Empty, NoContent
from keystead.api.schemas.identity import GrantListResponse, GrantRequest, GrantResponse
from keystead.domain.identity import Grant


def grant_body(grant: Grant) -> GrantResponse:
    """Shape a grant for the wire."""
    return GrantResponse(
        id=grant.id, key_id=grant.key_id, principal=grant.grantee,
        operations=list(grant.operations), created_by=grant.created_by,
        created_at=grant.created_at,
    )  # fmt: skip


async def create_grant(ctx: RequestContext, body: GrantRequest) -> GrantResponse:
    """Grant operations on the key."""
    grant = await ctx.services.grants.create(
        ctx.caller(), ctx.path_params["key"], body.principal, body.operations
    )
    return grant_body(grant)


async def list_grants(ctx: RequestContext, _: Empty) -> GrantListResponse:
    """List the key's live grants."""
    grants = await ctx.services.grants.list(ctx.caller(), ctx.path_params["key"])
    return GrantListResponse(grants=[grant_body(g) for g in grants])


async def revoke_grant(ctx: RequestContext, _: Empty) -> Response:
    """Revoke one grant."""
    params = ctx.path_params
    await ctx.services.grants.revoke(ctx.caller(), params["key"], params["grant_id"])
    return no_content()


_G = "/v1/keys/{key}/grants"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", _G, create_grant, GrantRequest, GrantResponse,
             "Grant a principal operations on the key", "grants.create", unsealed=True,
             status=201),
    Endpoint("GET", _G, list_grants, Empty, GrantListResponse,
             "List the key's grants", "grants.list", unsealed=True),
    Endpoint("DELETE", f"{_G}/{{grant_id}}", revoke_grant, Empty, NoContent,
             "Revoke a grant", "grants.revoke", unsealed=True, status=204),
]  # fmt: skip
