"""/v1/keys/{key}/export: one version of an exportable key, wrapped for a recipient."""

from __future__ import annotations

from collections.abc import Mapping

from keystead.api.deps import RequestContext
from keystead.api.routing import AnyEndpoint, Endpoint
from keystead.api.schemas.export import ExportKeyRequest, ExportKeyResponse
from keystead.errors import ValidationFailed
from keystead.services.key_export import ExportRequest, WrappingFormat


def _recipient(body: ExportKeyRequest) -> str | Mapping[str, object]:
    if body.format is WrappingFormat.JWE:
        if body.jwk is None or body.public_key is not None:
            msg = "JWE export takes the recipient as jwk (and no public_key)"
            raise ValidationFailed(msg)
        return body.jwk
    if body.public_key is None or body.jwk is not None:
        msg = f"{body.format} export takes the recipient as public_key, a PEM (and no jwk)"
        raise ValidationFailed(msg)
    return body.public_key


async def export_key(ctx: RequestContext, body: ExportKeyRequest) -> ExportKeyResponse:
    """Wrap one version of the key for the recipient; the material never leaves in the clear."""
    request = ExportRequest(body.format, _recipient(body), body.version)
    exported = await ctx.services.exports.export(ctx.caller(), ctx.path_params["key"], request)
    jwe = exported.format is WrappingFormat.JWE
    return ExportKeyResponse(
        key_id=str(exported.key_id), version=exported.version, spec=exported.spec,
        format=exported.format, encoding=exported.encoding,
        wrapped_key=None if jwe else exported.wrapped,
        jwe=exported.wrapped.decode("ascii") if jwe else None,
    )  # fmt: skip


ENDPOINTS: list[AnyEndpoint] = [
    Endpoint("POST", "/v1/keys/{key}/export", export_key, ExportKeyRequest, ExportKeyResponse,
             "Export one version, wrapped for a recipient public key", "keys.export",
             unsealed=True),
]  # fmt: skip
