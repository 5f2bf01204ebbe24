"""/v1/policies and /v1/roles: the operators' own; built-in ones are listed, read-only."""

from __future__ import annotations

from starlette.responses import Response

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint, no_content
from keystead.api.schemas.base import Empty, NoContent
from keystead.api.schemas.identity import (
    PolicyListResponse,
    PolicyRequest,
    PolicyResponse,
    RoleListResponse,
    RoleRequest,
    RoleResponse,
    StatementBody,
)
from keystead.domain.access import BUILTIN_ROLES, Effect, Policy, Statement
from keystead.errors import ValidationFailed
from keystead.storage.identity_repository import StoredRole


def _policy(body: PolicyRequest) -> Policy:
    statements = tuple(
        Statement(Effect(s.effect), tuple(s.actions), tuple(s.keys)) for s in body.statements
    )
    return Policy(body.name, statements, body.description)


def policy_body(policy: Policy) -> PolicyResponse:
    """Shape a policy for the wire."""
    return PolicyResponse(
        name=policy.name, description=policy.description, builtin=policy.builtin,
        statements=[
            StatementBody(effect=s.effect.value, actions=list(s.actions), keys=list(s.keys))
            for s in policy.statements
        ],
    )  # fmt: skip


def role_body(role: StoredRole) -> RoleResponse:
    """Shape a role for the wire."""
    return RoleResponse(
        name=role.name, description=role.description, builtin=role.name in BUILTIN_ROLES,
        policies=list(role.policies),
    )  # fmt: skip


def _same_name(ctx: RequestContext, name: str) -> None:
    if ctx.path_params["name"] != name:
        msg = "the name in the body must be the name in the path"
        raise ValidationFailed(msg)


async def create_policy(ctx: RequestContext, body: PolicyRequest) -> PolicyResponse:
    """Create a policy."""
    policies = ctx.services.policies
    return policy_body(await policies.put_policy(ctx.caller(), _policy(body), create=True))


async def list_policies(ctx: RequestContext, _: Empty) -> PolicyListResponse:
    """List every policy."""
    found = await ctx.services.policies.policies(ctx.caller())
    return PolicyListResponse(policies=[policy_body(p) for p in found])


async def describe_policy(ctx: RequestContext, _: Empty) -> PolicyResponse:
    """Describe a policy."""
    name = ctx.path_params["name"]
    return policy_body(await ctx.services.policies.policy(ctx.caller(), name))


async def replace_policy(ctx: RequestContext, body: PolicyRequest) -> PolicyResponse:
    """Replace a policy's statements."""
    _same_name(ctx, body.name)
    policies = ctx.services.policies
    return policy_body(await policies.put_policy(ctx.caller(), _policy(body), create=False))


async def delete_policy(ctx: RequestContext, _: Empty) -> Response:
    """Delete a policy no role uses."""
    await ctx.services.policies.delete_policy(ctx.caller(), ctx.path_params["name"])
    return no_content()


async def create_role(ctx: RequestContext, body: RoleRequest) -> RoleResponse:
    """Create a role."""
    role = StoredRole(body.name, body.description, tuple(body.policies))
    return role_body(await ctx.services.policies.put_role(ctx.caller(), role, create=True))


async def list_roles(ctx: RequestContext, _: Empty) -> RoleListResponse:
    """List every role."""
    found = await ctx.services.policies.roles(ctx.caller())
    return RoleListResponse(roles=[role_body(r) for r in found])


async def describe_role(ctx: RequestContext, _: Empty) -> RoleResponse:
    """Describe a role."""
    name = ctx.path_params["name"]
    return role_body(await ctx.services.policies.role(ctx.caller(), name))


async def replace_role(ctx: RequestContext, body: RoleRequest) -> RoleResponse:
    """Replace a role's policies."""
    _same_name(ctx, body.name)
    role = StoredRole(body.name, body.description, tuple(body.policies))
    return role_body(await ctx.services.policies.put_role(ctx.caller(), role, create=False))


async def delete_role(ctx: RequestContext, _: Empty) -> Response:
    """Delete a role."""
    await ctx.services.policies.delete_role(ctx.caller(), ctx.path_params["name"])
    return no_content()


_P, _R = "/v1/policies", "/v1/roles"
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", _P, create_policy, PolicyRequest, PolicyResponse,
             "Create a policy", "policies.create", status=201),
    Endpoint("GET", _P, list_policies, Empty, PolicyListResponse,
             "List policies", "policies.list"),
    Endpoint("GET", f"{_P}/{{name}}", describe_policy, Empty, PolicyResponse,
             "Describe a policy", "policies.describe"),
    Endpoint("PUT", f"{_P}/{{name}}", replace_policy, PolicyRequest, PolicyResponse,
             "Replace a policy", "policies.update"),
    Endpoint("DELETE", f"{_P}/{{name}}", delete_policy, Empty, NoContent,
             "Delete a policy", "policies.delete", status=204),
    Endpoint("POST", _R, create_role, RoleRequest, RoleResponse,
             "Create a role", "roles.create", status=201),
    Endpoint("GET", _R, list_roles, Empty, RoleListResponse, "List roles", "roles.list"),
    Endpoint("GET", f"{_R}/{{name}}", describe_role, Empty, RoleResponse,
             "Describe a role", "roles.describe"),
    Endpoint("PUT", f"{_R}/{{name}}", replace_role, RoleRequest, RoleResponse,
             "Replace a role", "roles.update"),
    Endpoint("DELETE", f"{_R}/{{name}}", delete_role, Empty, NoContent,
             "Delete a role", "roles.delete", status=204),
]  # fmt: skip
