"""One function per endpoint: it describes the request and how to read the answer.

``Client`` and ``AsyncClient`` only send these descriptions, so the wire shapes of
ARCHITECTURE.md section 6 are written once for both.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Generic, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from keystead_sdk._envelope import ciphertext_key_id
from keystead_sdk._errors import (
    ServerError,
    error_from_response,
    header,
    is_problem,
    item_error,
)
from keystead_sdk._models import (
    DataKey,
    Decrypted,
    Encapsulation,
    Encrypted,
    ExportedKey,
    Health,
    ImportParams,
    InitResult,
    Key,
    KeyPage,
    KeyVersions,
    Mac,
    PublicKey,
    SealStatus,
    SharedSecret,
    Signature,
)

T = TypeVar("T")

JSONBody = Mapping[str, object]

_HEALTH_STATUSES: Final = frozenset({200, 501, 503})
_PUBLIC_KEY_FORMATS: Final = frozenset({"pem", "der", "jwk"})
_JWE: Final = "JWE"

Tag = str | tuple[str, str]
"""A tag filter: ``"NAME=VALUE"`` or ``(name, value)``."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A request to send, and how to turn its successful answer into a ``T``.

    Attributes:
        method: The HTTP method.
        path: The path, with its segments already quoted.
        parse: Reads a successful response.
        json: The JSON body, if any; left out of ``repr``, as it may hold a password,
            a share or a plaintext.
        params: The query parameters.
        ok_statuses: Statuses that are answers rather than errors, besides 2xx.
        anonymous: Send no ``Authorization`` header (login, registration), so that a stale
            token cannot get in the way.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: JSONBody | None = field(default=None, repr=False)
    params: Mapping[str, str | int] = field(default_factory=dict)
    ok_statuses: frozenset[int] = frozenset()
    anonymous: bool = False

    def finish(self, response: httpx.Response) -> T:
        """Parse a read response, or raise the ``KeysteadAPIError`` it describes.

        Raises:
            KeysteadAPIError: The server answered with an error, or with a body that does not
                have the expected shape (``ServerError``, code ``InvalidResponse``).
        """
        ok = response.is_success or response.status_code in self.ok_statuses
        if not ok or is_problem(response):
            raise error_from_response(response)
        try:
            return self.parse(response)
        except (ValueError, TypeError):  # pydantic.ValidationError is a ValueError
            # The body is not quoted: it may hold plaintext.
            raise ServerError(
                response.status_code,
                "InvalidResponse",
                f"the answer to {self.method} {self.path} does not have the expected shape",
                header(response, "x-request-id"),
            ) from None


class Send(Protocol):
    """How a synchronous namespace sends a ``Call``: ``Client._send``."""

    def __call__(self, call: Call[T], /) -> T: ...


class AsyncSend(Protocol):
    """How an asynchronous namespace sends a ``Call``: ``AsyncClient._send``."""

    def __call__(self, call: Call[T], /) -> Awaitable[T]: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _segment(value: str, what: str = "a key id or name") -> str:
    """Quote one path segment, so that ``/``, ``?``, ``%`` and dot segments stay inside it."""
    if not value:
        msg = f"{what} must not be empty"
        raise ValueError(msg)
    quoted = quote(value, safe="")
    # "." and ".." would be removed by URL normalisation (RFC 3986 section 5.2.4).
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


def _iso(name: str, value: datetime) -> str:
    """ISO 8601 with its offset; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{name} must be timezone-aware, e.g. datetime(..., tzinfo=UTC)"
        raise ValueError(msg)
    return value.isoformat()


def _tag(tag: Tag) -> str:
    if isinstance(tag, str):
        if "=" not in tag:
            msg = "tag must be 'NAME=VALUE' or a (name, value) tuple"
            raise ValueError(msg)
        return tag
    name, value = tag
    if "=" in name:
        msg = "a tag name must not contain '='"
        raise ValueError(msg)
    return f"{name}={value}"


def _one_of(message: bytes | None, digest: bytes | None) -> dict[str, object]:
    if (message is None) == (digest is None):
        msg = "give exactly one of message and digest"
        raise ValueError(msg)
    if message is not None:
        return {"message": _b64(message)}
    assert digest is not None  # noqa: S101 - narrowed by the check above
    return {"digest": _b64(digest)}


def _key_path(key: str, action: str = "") -> str:
    suffix = f"/{action}" if action else ""
    return f"/v1/keys/{_segment(key)}{suffix}"


def _seal_status(response: httpx.Response) -> SealStatus:
    return SealStatus.model_validate(response.json())


def _key(response: httpx.Response) -> Key:
    return Key.model_validate(response.json())


def _health(response: httpx.Response) -> Health:
    body = response.json()
    if not isinstance(body, dict):
        msg = "health body is not an object"
        raise TypeError(msg)
    return Health.model_validate({**body, "status_code": response.status_code})


def _init_result(response: httpx.Response) -> InitResult:
    return InitResult.model_validate(response.json())


def _term(response: httpx.Response) -> int:
    body = response.json()
    term = body.get("term") if isinstance(body, dict) else None
    if not isinstance(term, int) or isinstance(term, bool):
        msg = "term is not an integer"
        raise TypeError(msg)
    return term


def _key_page(response: httpx.Response) -> KeyPage:
    return KeyPage.model_validate(response.json())


def _encrypted(response: httpx.Response) -> Encrypted:
    return Encrypted.model_validate(response.json())


def _decrypted(response: httpx.Response) -> Decrypted:
    return Decrypted.model_validate(response.json())


def _key_versions(response: httpx.Response) -> KeyVersions:
    return KeyVersions.model_validate(response.json())


def _data_key(response: httpx.Response) -> DataKey:
    return DataKey.model_validate(response.json())


def _signature(response: httpx.Response) -> Signature:
    return Signature.model_validate(response.json())


def _signatures(response: httpx.Response) -> list[Signature]:
    body = response.json()
    signatures = []
    for item in body["results"]:
        if item.get("error"):
            raise item_error(response.status_code, item["error"]["code"], item["error"]["detail"])
        signatures.append(Signature.model_validate({
            "signature": item["signature"], "key_id": body["key_id"],
            "version": item["version"], "algorithm": body["algorithm"],
        }))  # fmt: skip
    return signatures


def _mac(response: httpx.Response) -> Mac:
    return Mac.model_validate(response.json())


def _encapsulation(response: httpx.Response) -> Encapsulation:
    return Encapsulation.model_validate(response.json())


def _shared_secret(response: httpx.Response) -> SharedSecret:
    return SharedSecret.model_validate(response.json())


def _exported_key(response: httpx.Response) -> ExportedKey:
    """The wrapped material is in exactly one of ``wrapped_key`` and ``jwe``."""
    exported = ExportedKey.model_validate(response.json())
    if (exported.wrapped_key is None) == (exported.jwe is None):
        msg = "expected exactly one of wrapped_key and jwe"
        raise ValueError(msg)
    return exported


def _import_params(response: httpx.Response) -> ImportParams:
    return ImportParams.model_validate(response.json())


def _import_target(  # noqa: PLR0913 - the target and the fields of a new key
    name: str | None,
    key: str | None,
    *,
    usage: str | None,
    description: str,
    tags: Mapping[str, str] | None,
    exportable: bool,
    backup_allowed: bool,
) -> dict[str, object]:
    """``{"key": ...}`` for a new version, or ``{"name": ...}`` and the new key's fields."""
    if (name is None) == (key is None):
        msg = "give exactly one of name (a new key) and key (a new version of an EXTERNAL key)"
        raise ValueError(msg)
    if key is not None:
        if usage is not None or description or tags or exportable or not backup_allowed:
            msg = (
                "usage, description, tags, exportable and backup_allowed describe a new key: "
                "leave them out with key"
            )
            raise ValueError(msg)
        return {"key": key}
    body: dict[str, object] = {
        "name": name,
        "description": description,
        "tags": dict(tags or {}),
        "exportable": exportable,
        "backup_allowed": backup_allowed,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def _export_recipient(
    form: str, public_key: str | None, jwk: Mapping[str, str] | None
) -> dict[str, object]:
    """``{"jwk": ...}`` for JWE, ``{"public_key": PEM}`` for the other formats."""
    if form == _JWE:
        if jwk is None or public_key is not None:
            msg = "JWE export takes the recipient as jwk, not public_key"
            raise ValueError(msg)
        return {"jwk": dict(jwk)}
    if public_key is None or jwk is not None:
        msg = f"{form} export takes the recipient as public_key (PEM), not jwk"
        raise ValueError(msg)
    return {"public_key": public_key}


def _object(response: httpx.Response) -> Mapping[str, object]:
    body = response.json()
    if not isinstance(body, dict):
        msg = "the body is not an object"
        raise TypeError(msg)
    return body


def _valid(response: httpx.Response) -> bool:
    valid = _object(response).get("valid")
    if not isinstance(valid, bool):
        msg = "valid is not a boolean"
        raise TypeError(msg)
    return valid


def _random(response: httpx.Response) -> bytes:
    value = _object(response).get("random")
    if not isinstance(value, str):
        msg = "random is not a string"
        raise TypeError(msg)
    return base64.b64decode(value, validate=True)  # binascii.Error is a ValueError


def _public_key(response: httpx.Response) -> PublicKey:
    """``{"format": "der", "public_key": ...}`` becomes ``PublicKey(format="der", der=...)``."""
    body = _object(response)
    form = body.get("format")
    if not isinstance(form, str) or form not in _PUBLIC_KEY_FORMATS:
        msg = "unknown public key format"
        raise TypeError(msg)
    fields = {name: body.get(name) for name in ("key_id", "version")}
    return PublicKey.model_validate({**fields, "format": form, form: body.get("public_key")})


def init(shares: int, threshold: int) -> Call[InitResult]:
    """``POST /v1/sys/init``."""
    body = {"shares": shares, "threshold": threshold}
    return Call("POST", "/v1/sys/init", _init_result, json=body)


def init_recovery(recovery_shares: int, recovery_threshold: int) -> Call[InitResult]:
    """``POST /v1/sys/init`` of a server with the pkcs11 seal: recovery shares."""
    body = {"recovery_shares": recovery_shares, "recovery_threshold": recovery_threshold}
    return Call("POST", "/v1/sys/init", _init_result, json=body)


def unseal(share: bytes) -> Call[SealStatus]:
    """``POST /v1/sys/unseal`` with one share."""
    return Call("POST", "/v1/sys/unseal", _seal_status, json={"share": _b64(share)})


def reset_unseal() -> Call[SealStatus]:
    """``POST /v1/sys/unseal`` forgetting the shares given so far."""
    return Call("POST", "/v1/sys/unseal", _seal_status, json={"reset": True})


def seal() -> Call[SealStatus]:
    """``POST /v1/sys/seal``."""
    return Call("POST", "/v1/sys/seal", _seal_status)


def seal_status() -> Call[SealStatus]:
    """``GET /v1/sys/seal-status``."""
    return Call("GET", "/v1/sys/seal-status", _seal_status)


def health() -> Call[Health]:
    """``GET /v1/sys/health``: 503 (sealed) and 501 (not initialised) are answers too."""
    return Call("GET", "/v1/sys/health", _health, ok_statuses=_HEALTH_STATUSES)


def rotate_keyring() -> Call[int]:
    """``POST /v1/sys/rotate-keyring``."""
    return Call("POST", "/v1/sys/rotate-keyring", _term)


def create_key(  # noqa: PLR0913 - one argument per field of the request
    name: str,
    spec: str,
    *,
    usage: str | None,
    description: str,
    tags: Mapping[str, str] | None,
    rotation_period_seconds: int | None,
    activation_date: datetime | None,
    deactivation_date: datetime | None,
    exportable: bool,
    backup_allowed: bool,
    protection: str | None = None,
) -> Call[Key]:
    """``POST /v1/keys``; optional fields left as ``None`` are not sent."""
    body: dict[str, object] = {
        "name": name,
        "spec": spec,
        "description": description,
        "tags": dict(tags or {}),
        "exportable": exportable,
        "backup_allowed": backup_allowed,
    }
    if usage is not None:
        body["usage"] = usage
    if protection is not None:
        body["protection"] = protection
    if rotation_period_seconds is not None:
        body["rotation_period_seconds"] = rotation_period_seconds
    if activation_date is not None:
        body["activation_date"] = _iso("activation_date", activation_date)
    if deactivation_date is not None:
        body["deactivation_date"] = _iso("deactivation_date", deactivation_date)
    return Call("POST", "/v1/keys", _key, json=body)


def get_key(key: str) -> Call[Key]:
    """``GET /v1/keys/{key}``, by id or name."""
    return Call("GET", _key_path(key), _key)


def list_keys(
    limit: int,
    cursor: str | None,
    *,
    state: str | None = None,
    spec: str | None = None,
    tag: Tag | None = None,
) -> Call[KeyPage]:
    """``GET /v1/keys?limit=&cursor=&state=&spec=&tag=NAME=VALUE``."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    if state is not None:
        params["state"] = state
    if spec is not None:
        params["spec"] = spec
    if tag is not None:
        params["tag"] = _tag(tag)
    return Call("GET", "/v1/keys", _key_page, params=params)


def update_key(  # noqa: PLR0913 - one argument per field of the request
    key: str,
    *,
    description: str | None,
    tags: Mapping[str, str] | None,
    rotation_period_seconds: int | None,
    deactivation_date: datetime | None,
    min_decryption_version: int | None,
) -> Call[Key]:
    """``PATCH /v1/keys/{key}`` with only the fields given."""
    body: dict[str, object] = {}
    if description is not None:
        body["description"] = description
    if tags is not None:
        body["tags"] = dict(tags)
    if rotation_period_seconds is not None:
        body["rotation_period_seconds"] = rotation_period_seconds
    if deactivation_date is not None:
        body["deactivation_date"] = _iso("deactivation_date", deactivation_date)
    if min_decryption_version is not None:
        body["min_decryption_version"] = min_decryption_version
    return Call("PATCH", _key_path(key), _key, json=body)


def key_versions(key: str) -> Call[KeyVersions]:
    """``GET /v1/keys/{key}/versions``."""
    return Call("GET", _key_path(key, "versions"), _key_versions)


def key_action(key: str, action: str) -> Call[Key]:
    """``POST /v1/keys/{key}/{action}`` with ``{}``: rotate and the lifecycle verbs."""
    return Call("POST", _key_path(key, action), _key, json={})


def revoke(key: str, reason: str, compromise_date: datetime | None) -> Call[Key]:
    """``POST /v1/keys/{key}/revoke``."""
    body: dict[str, object] = {"reason": reason}
    if compromise_date is not None:
        body["compromise_date"] = _iso("compromise_date", compromise_date)
    return Call("POST", _key_path(key, "revoke"), _key, json=body)


def schedule_destruction(key: str, pending_days: int) -> Call[Key]:
    """``POST /v1/keys/{key}/schedule-destruction``."""
    body = {"pending_days": pending_days}
    return Call("POST", _key_path(key, "schedule-destruction"), _key, json=body)


def encrypt(key: str, plaintext: bytes, context: Mapping[str, str] | None) -> Call[Encrypted]:
    """``POST /v1/keys/{key}/encrypt``."""
    body = {"plaintext": _b64(plaintext), "context": dict(context or {})}
    return Call("POST", _key_path(key, "encrypt"), _encrypted, json=body)


def decrypt(ciphertext: bytes, context: Mapping[str, str] | None) -> Call[Decrypted]:
    """``POST /v1/decrypt``."""
    body = {"ciphertext": _b64(ciphertext), "context": dict(context or {})}
    return Call("POST", "/v1/decrypt", _decrypted, json=body)


def decrypt_with(
    key: str, ciphertext: bytes, context: Mapping[str, str] | None, version: int | None
) -> Call[Decrypted]:
    """``POST /v1/keys/{key}/decrypt``."""
    body: dict[str, object] = {"ciphertext": _b64(ciphertext), "context": dict(context or {})}
    if version is not None:
        body["version"] = version
    return Call("POST", _key_path(key, "decrypt"), _decrypted, json=body)


def reencrypt(
    ciphertext: bytes, context: Mapping[str, str] | None, destination_key: str | None
) -> Call[Encrypted]:
    """``POST /v1/keys/{key}/reencrypt``; ``{key}`` is the source key, read from the header.

    Raises:
        ValueError: ``ciphertext`` has no Keystead header to read the source key id from.
    """
    path_key = ciphertext_key_id(ciphertext)
    body: dict[str, object] = {"ciphertext": _b64(ciphertext), "context": dict(context or {})}
    if destination_key is not None:
        body["destination_key"] = destination_key
    return Call("POST", _key_path(path_key, "reencrypt"), _encrypted, json=body)


def data_key(
    key: str, spec: str, *, plaintext: bool, context: Mapping[str, str] | None
) -> Call[DataKey]:
    """``POST /v1/keys/{key}/data-key``."""
    body = {"spec": spec, "plaintext": plaintext, "context": dict(context or {})}
    return Call("POST", _key_path(key, "data-key"), _data_key, json=body)


def sign(
    key: str, *, message: bytes | None, digest: bytes | None, algorithm: str | None
) -> Call[Signature]:
    """``POST /v1/keys/{key}/sign`` with exactly one of ``message`` and ``digest``."""
    body = _one_of(message, digest)
    if algorithm is not None:
        body["algorithm"] = algorithm
    return Call("POST", _key_path(key, "sign"), _signature, json=body)


MAX_BATCH = 1000


def sign_batch(key: str, messages: Sequence[bytes], algorithm: str | None) -> Call[list[Signature]]:
    """``POST /v1/keys/{key}/sign/batch``: up to :data:`MAX_BATCH` messages in one request."""
    if not 1 <= len(messages) <= MAX_BATCH:
        msg = f"a batch holds 1 to {MAX_BATCH} messages, not {len(messages)}"
        raise ValueError(msg)
    body: dict[str, Any] = {"items": [{"message": _b64(message)} for message in messages]}
    if algorithm is not None:
        body["algorithm"] = algorithm
    return Call("POST", _key_path(key, "sign/batch"), _signatures, json=body)


def verify(  # noqa: PLR0913 - one argument per field of the request
    key: str,
    signature: bytes,
    *,
    message: bytes | None,
    digest: bytes | None,
    algorithm: str | None,
    version: int | None,
) -> Call[bool]:
    """``POST /v1/keys/{key}/verify``: ``{"valid": false}`` is an answer, not an error."""
    body = {"signature": _b64(signature), **_one_of(message, digest)}
    if algorithm is not None:
        body["algorithm"] = algorithm
    if version is not None:
        body["version"] = version
    return Call("POST", _key_path(key, "verify"), _valid, json=body)


def mac(key: str, message: bytes) -> Call[Mac]:
    """``POST /v1/keys/{key}/mac``."""
    return Call("POST", _key_path(key, "mac"), _mac, json={"message": _b64(message)})


def mac_verify(key: str, message: bytes, tag: bytes, version: int | None) -> Call[bool]:
    """``POST /v1/keys/{key}/mac/verify``."""
    body: dict[str, object] = {"message": _b64(message), "mac": _b64(tag)}
    if version is not None:
        body["version"] = version
    return Call("POST", _key_path(key, "mac/verify"), _valid, json=body)


def public_key(key: str, form: str, version: int | None) -> Call[PublicKey]:
    """``GET /v1/keys/{key}/public-key?format=&version=``."""
    params: dict[str, str | int] = {"format": form}
    if version is not None:
        params["version"] = version
    return Call("GET", _key_path(key, "public-key"), _public_key, params=params)


def export_key(
    key: str,
    form: str,
    *,
    public_key: str | None,
    jwk: Mapping[str, str] | None,
    version: int | None,
) -> Call[ExportedKey]:
    """``POST /v1/keys/{key}/export``: the recipient as ``jwk`` for JWE, else ``public_key``.

    Raises:
        ValueError: The recipient is missing, or given in the form the format does not take.
    """
    body = {"format": form, **_export_recipient(form, public_key, jwk)}
    if version is not None:
        body["version"] = version
    return Call("POST", _key_path(key, "export"), _exported_key, json=body)


def import_params(spec: str) -> Call[ImportParams]:
    """``POST /v1/keys/import-params``."""
    return Call("POST", "/v1/keys/import-params", _import_params, json={"spec": spec})


def import_key(  # noqa: PLR0913 - one argument per field of the request
    import_token: str | SecretStr,
    wrapped_material: bytes,
    *,
    name: str | None,
    key: str | None,
    valid_to: datetime | None,
    usage: str | None,
    description: str,
    tags: Mapping[str, str] | None,
    exportable: bool,
    backup_allowed: bool,
) -> Call[Key]:
    """``POST /v1/keys/import``: to a new key (``name``) or as a new version (``key``).

    Raises:
        ValueError: Neither or both of ``name`` and ``key``, new-key fields with ``key``, or
            a naive ``valid_to``.
    """
    target = _import_target(
        name, key, usage=usage, description=description, tags=tags, exportable=exportable,
        backup_allowed=backup_allowed,
    )  # fmt: skip
    token = import_token.get_secret_value() if isinstance(import_token, SecretStr) else import_token
    body = {"import_token": token, "wrapped_material": _b64(wrapped_material), **target}
    if valid_to is not None:
        body["valid_to"] = _iso("valid_to", valid_to)
    return Call("POST", "/v1/keys/import", _key, json=body)


def encapsulate(key: str) -> Call[Encapsulation]:
    """``POST /v1/keys/{key}/encapsulate``."""
    return Call("POST", _key_path(key, "encapsulate"), _encapsulation, json={})


def decapsulate(key: str, encapsulation: bytes, version: int | None) -> Call[SharedSecret]:
    """``POST /v1/keys/{key}/decapsulate``."""
    body: dict[str, object] = {"encapsulation": _b64(encapsulation)}
    if version is not None:
        body["version"] = version
    return Call("POST", _key_path(key, "decapsulate"), _shared_secret, json=body)


def agree(key: str, peer_public_key: bytes) -> Call[SharedSecret]:
    """``POST /v1/keys/{key}/agree``."""
    body = {"peer_public_key": _b64(peer_public_key)}
    return Call("POST", _key_path(key, "agree"), _shared_secret, json=body)


def random(count: int) -> Call[bytes]:
    """``POST /v1/random``."""
    return Call("POST", "/v1/random", _random, json={"bytes": count})
