"""/v1/keys/import-params and /v1/keys/import: BYOK, material wrapped to a Keystead key."""

from __future__ import annotations

from keystead.api.deps import RequestContext
from keystead.api.routes.keys import key_body
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.key_import import (
    ImportKeyRequest,
    ImportParamsRequest,
    ImportParamsResponse,
)
from keystead.api.schemas.keys import KeyResponse
from keystead.services.key_import import ImportRequest


async def import_params(ctx: RequestContext, body: ImportParamsRequest) -> ImportParamsResponse:
    """Issue a one-use import token and the public key to wrap material to."""
    params = await ctx.services.imports.import_params(ctx.caller(), body.spec)
    return ImportParamsResponse(
        import_token=params.token, public_key=params.public_key_pem,
        wrapping_algorithm=params.wrapping_algorithm, spec=params.spec,
        expires_at=params.expires_at,
    )  # fmt: skip


async def import_key(ctx: RequestContext, body: ImportKeyRequest) -> KeyResponse:
    """Store wrapped material as a new key of origin EXTERNAL, or a new version of one."""
    request = ImportRequest(
        token=body.import_token, wrapped_material=body.wrapped_material, name=body.name,
        key=body.key, valid_to=body.valid_to, usage=body.usage,
        description=body.description, tags=body.tags, exportable=body.exportable,
        backup_allowed=body.backup_allowed,
    )  # fmt: skip
    return key_body(await ctx.services.imports.import_key(ctx.caller(), request))


# Before /v1/keys/{key}... in the table, so that "import" is never taken for a key name.
ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/keys/import-params", import_params, ImportParamsRequest,
             ImportParamsResponse, "Get a token and a public key to wrap BYOK material to",
             "keys.import_params", unsealed=True),
    Endpoint("POST", "/v1/keys/import", import_key, ImportKeyRequest, KeyResponse,
             "Import material wrapped to an import token's public key, as a new key or version",
             "keys.import", unsealed=True, status=201),
]  # fmt: skip
