"""Wrapped export of one key version, for distribution: never in the clear.

The material leaves wrapped for a recipient public key the caller names, in one of the
formats of ``keystead.crypto.key_wrap``: symmetric and MAC keys as their raw bytes,
asymmetric ones as unencrypted PKCS#8 DER, the form ``import`` takes back. Only keys created
``exportable`` are exported, and only for callers a policy allows ``keys.export``: no
built-in role, ownership or grant gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keystead.crypto import key_wrap
from keystead.crypto.key_wrap import WrappingFormat
from keystead.domain.access import KEY_EXPORT_ACTION
from keystead.domain.models import Principal
from keystead.domain.operations import KeyOperation
from keystead.domain.specs import ASYMMETRIC, KeySpec
from keystead.errors import KeyNotExportable
from keystead.services.hsm_keys import is_hsm
from keystead.services.keys import KeyService
from keystead.services.operations import process_version
from keystead.types import KeyId

__all__ = ["ExportRequest", "ExportService", "ExportedKey", "WrappingFormat", "export_binding"]


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """Which version to export, how to wrap it, and for whom."""

    format: WrappingFormat
    recipient: str | Mapping[str, object] = field(repr=False)
    version: int | None = None


@dataclass(frozen=True, slots=True)
class ExportedKey:
    """One version's material, wrapped for the recipient."""

    key_id: KeyId
    version: int
    spec: KeySpec
    format: WrappingFormat
    encoding: str
    wrapped: bytes = field(repr=False)


def export_binding(key_id: KeyId, version: int) -> bytes:
    """The context a wrap is bound to (HPKE ``info``): this key's id and version."""
    return f"keystead/export/v1/{key_id}/{version}".encode()


class ExportService:
    """Hands one version of an exportable key on, wrapped for a recipient."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    async def export(
        self, principal: Principal, reference: str, request: ExportRequest
    ) -> ExportedKey:
        """Wrap one version (the primary one by default) for the request's recipient.

        Raises:
            PermissionDenied: No policy allows this caller ``keys.export`` on the key.
            KeyNotExportable: The key was not created exportable, or is HSM-protected.
            KeyStateForbidsOperation: The key or version is neither active nor deactivated.
            KeyDestroyed: The version's material was destroyed.
            InvalidPublicKey: The recipient key cannot be used for the format.
            UnsupportedAlgorithm: A JWK of a kind JWE export does not support.
        """
        entry = await self._keys.authorized(principal, KEY_EXPORT_ACTION, reference)
        key = entry.key
        if is_hsm(key):
            # Created non-exportable already; refused first all the same, in its own words.
            msg = "this key is HSM-protected: its material never leaves the token"
            raise KeyNotExportable(msg)
        if not key.exportable:
            raise KeyNotExportable
        version = process_version(entry, KeyOperation.EXPORT, request.version)
        material = await self._keys.material(entry, version)
        with material.expose() as raw:
            wrapped = key_wrap.wrap(
                request.format, request.recipient, raw, export_binding(key.id, version)
            )
        encoding = "pkcs8-der" if key.spec in ASYMMETRIC else "raw"
        return ExportedKey(key.id, version, key.spec, request.format, encoding, wrapped)
