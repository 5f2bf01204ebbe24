"""One function per identity and access endpoint: the request, and how to read the answer.

The wire shapes are those of ARCHITECTURE.md sections 6 and 7, written once for ``Client``
and ``AsyncClient``. Passwords and codes travel only in bodies, which ``Call`` keeps out of
its ``repr``; login and registration are sent without the client's token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from keystead_sdk._calls import Call, _b64, _key_path, _object, _segment
from keystead_sdk._identity_models import (
    GenerateRootStatus,
    Grant,
    IssuedToken,
    Policy,
    RecoveryCodes,
    Role,
    Statement,
    TokenInfo,
    TotpEnrollment,
    User,
    UserPage,
    UserPublicKey,
    WhoAmI,
)

M = TypeVar("M", bound=BaseModel)

Secret = str | SecretStr
"""A password or code: plain text, or a pydantic ``SecretStr``."""

StatementLike = Statement | Mapping[str, object]
"""A policy statement: a ``Statement``, or a mapping of the same fields."""

_WHAT: Final = {"users": "a username", "roles": "a role name", "policies": "a policy name"}


def _reveal(value: Secret) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _reader(model: type[M]) -> Callable[[httpx.Response], M]:
    def read(response: httpx.Response) -> M:
        return model.model_validate(response.json())

    return read


def _items(name: str, model: type[M]) -> Callable[[httpx.Response], list[M]]:
    """Read ``{name: [...]}`` as a list of ``model``."""

    def read(response: httpx.Response) -> list[M]:
        items = _object(response).get(name)
        if not isinstance(items, list):
            msg = f"{name} is not a list"
            raise TypeError(msg)
        return [model.model_validate(item) for item in items]

    return read


def _nothing(_: httpx.Response) -> None:
    """A 204 (or any success) whose body, if any, says nothing more."""


def _integer(name: str) -> Callable[[httpx.Response], int]:
    def read(response: httpx.Response) -> int:
        value = _object(response).get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            msg = f"{name} is not an integer"
            raise TypeError(msg)
        return value

    return read


def _path(collection: str, name: str, action: str = "") -> str:
    suffix = f"/{action}" if action else ""
    return f"/v1/{collection}/{_segment(name, _WHAT[collection])}{suffix}"


def _statements(statements: Iterable[StatementLike]) -> list[dict[str, object]]:
    """Statements as JSON; a mapping is checked first (``ValueError`` before sending)."""
    checked = [
        item if isinstance(item, Statement) else Statement.model_validate(item)
        for item in statements
    ]
    return [item.model_dump(mode="json") for item in checked]


# --- /v1/auth ----------------------------------------------------------------------------------


def login(
    username: str, password: Secret, totp: Secret | None, recovery_code: Secret | None
) -> Call[IssuedToken]:
    """``POST /v1/auth/login``, without the client's token."""
    body: dict[str, object] = {"username": username, "password": _reveal(password)}
    if totp is not None:
        body["totp"] = _reveal(totp)
    if recovery_code is not None:
        body["recovery_code"] = _reveal(recovery_code)
    return Call("POST", "/v1/auth/login", _reader(IssuedToken), json=body, anonymous=True)


def register(username: str, password: Secret) -> Call[User]:
    """``POST /v1/auth/register``, without the client's token."""
    body = {"username": username, "password": _reveal(password)}
    return Call("POST", "/v1/auth/register", _reader(User), json=body, anonymous=True)


def logout() -> Call[None]:
    """``POST /v1/auth/logout``: revokes the calling token."""
    return Call("POST", "/v1/auth/logout", _nothing, json={})


def renew() -> Call[TokenInfo]:
    """``POST /v1/auth/renew``."""
    return Call("POST", "/v1/auth/renew", _reader(TokenInfo), json={})


def whoami() -> Call[WhoAmI]:
    """``GET /v1/auth/whoami``."""
    return Call("GET", "/v1/auth/whoami", _reader(WhoAmI))


def change_password(current_password: Secret, new_password: Secret) -> Call[None]:
    """``POST /v1/auth/password``."""
    body = {"current_password": _reveal(current_password), "new_password": _reveal(new_password)}
    return Call("POST", "/v1/auth/password", _nothing, json=body)


def totp_enroll(password: Secret) -> Call[TotpEnrollment]:
    """``POST /v1/auth/totp/enroll``: the password is asked again."""
    body = {"password": _reveal(password)}
    return Call("POST", "/v1/auth/totp/enroll", _reader(TotpEnrollment), json=body)


def totp_confirm(code: Secret) -> Call[RecoveryCodes]:
    """``POST /v1/auth/totp/confirm``."""
    body = {"code": _reveal(code)}
    return Call("POST", "/v1/auth/totp/confirm", _reader(RecoveryCodes), json=body)


def totp_disable(code: Secret) -> Call[None]:
    """``POST /v1/auth/totp/disable``."""
    return Call("POST", "/v1/auth/totp/disable", _nothing, json={"code": _reveal(code)})


def create_token(
    username: str | None, roles: Iterable[str] | None, ttl_seconds: int | None, description: str
) -> Call[IssuedToken]:
    """``POST /v1/auth/tokens``; options left as ``None`` are not sent."""
    body: dict[str, object] = {"description": description}
    if username is not None:
        body["username"] = username
    if roles is not None:
        body["roles"] = list(roles)
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    return Call("POST", "/v1/auth/tokens", _reader(IssuedToken), json=body)


def list_tokens(username: str | None, *, everyone: bool) -> Call[list[TokenInfo]]:
    """``GET /v1/auth/tokens``, ``?username=NAME`` or ``?all=true``."""
    if username is not None and everyone:
        msg = "give username or all, not both"
        raise ValueError(msg)
    params: dict[str, str | int] = {}
    if username is not None:
        params["username"] = username
    if everyone:
        params["all"] = "true"
    return Call("GET", "/v1/auth/tokens", _items("tokens", TokenInfo), params=params)


def revoke_token(token_id: str) -> Call[None]:
    """``DELETE /v1/auth/tokens/{id}``."""
    return Call("DELETE", f"/v1/auth/tokens/{_segment(token_id, 'a token id')}", _nothing)


# --- /v1/users ---------------------------------------------------------------------------------


def create_user(
    username: str, password: Secret | None, roles: Iterable[str], kind: str
) -> Call[User]:
    """``POST /v1/users``; no password is sent for a service account."""
    body: dict[str, object] = {"username": username, "roles": list(roles), "kind": kind}
    if password is not None:
        body["password"] = _reveal(password)
    return Call("POST", "/v1/users", _reader(User), json=body)


def list_users(limit: int, cursor: str | None) -> Call[UserPage]:
    """``GET /v1/users?limit=&cursor=``."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    return Call("GET", "/v1/users", _reader(UserPage), params=params)


def get_user(username: str) -> Call[User]:
    """``GET /v1/users/{name}``."""
    return Call("GET", _path("users", username), _reader(User))


def update_user(username: str, roles: Iterable[str]) -> Call[User]:
    """``PATCH /v1/users/{name}``."""
    return Call("PATCH", _path("users", username), _reader(User), json={"roles": list(roles)})


def delete_user(username: str) -> Call[None]:
    """``DELETE /v1/users/{name}``."""
    return Call("DELETE", _path("users", username), _nothing)


def user_action(username: str, action: str) -> Call[User]:
    """``POST /v1/users/{name}/{action}`` with ``{}``: disable, enable, reset-totp."""
    return Call("POST", _path("users", username, action), _reader(User), json={})


def set_user_password(username: str, password: Secret) -> Call[None]:
    """``POST /v1/users/{name}/password``: an administrator's reset."""
    body = {"password": _reveal(password)}
    return Call("POST", _path("users", username, "password"), _nothing, json=body)


def user_public_key(username: str, version: int | None = None) -> Call[UserPublicKey]:
    """``GET /v1/users/{name}/public-key[?version=N]``."""
    params = {} if version is None else {"version": str(version)}
    path = _path("users", username, "public-key")
    return Call("GET", path, _reader(UserPublicKey), params=params)


# --- /v1/policies and /v1/roles ----------------------------------------------------------------


def put_policy(
    name: str, statements: Iterable[StatementLike], description: str, *, create: bool
) -> Call[Policy]:
    """``POST /v1/policies`` (``create``) or ``PUT /v1/policies/{name}``, the same body."""
    body = {"name": name, "description": description, "statements": _statements(statements)}
    if create:
        return Call("POST", "/v1/policies", _reader(Policy), json=body)
    return Call("PUT", _path("policies", name), _reader(Policy), json=body)


def list_policies() -> Call[list[Policy]]:
    """``GET /v1/policies``."""
    return Call("GET", "/v1/policies", _items("policies", Policy))


def get_policy(name: str) -> Call[Policy]:
    """``GET /v1/policies/{name}``."""
    return Call("GET", _path("policies", name), _reader(Policy))


def delete_policy(name: str) -> Call[None]:
    """``DELETE /v1/policies/{name}``."""
    return Call("DELETE", _path("policies", name), _nothing)


def put_role(name: str, policies: Iterable[str], description: str, *, create: bool) -> Call[Role]:
    """``POST /v1/roles`` (``create``) or ``PUT /v1/roles/{name}``, the same body."""
    body = {"name": name, "description": description, "policies": list(policies)}
    if create:
        return Call("POST", "/v1/roles", _reader(Role), json=body)
    return Call("PUT", _path("roles", name), _reader(Role), json=body)


def list_roles() -> Call[list[Role]]:
    """``GET /v1/roles``."""
    return Call("GET", "/v1/roles", _items("roles", Role))


def get_role(name: str) -> Call[Role]:
    """``GET /v1/roles/{name}``."""
    return Call("GET", _path("roles", name), _reader(Role))


def delete_role(name: str) -> Call[None]:
    """``DELETE /v1/roles/{name}``."""
    return Call("DELETE", _path("roles", name), _nothing)


# --- /v1/keys/{key}/grants ---------------------------------------------------------------------


def create_grant(key: str, principal: str, operations: Iterable[str]) -> Call[Grant]:
    """``POST /v1/keys/{key}/grants``."""
    body = {"principal": principal, "operations": list(operations)}
    return Call("POST", _key_path(key, "grants"), _reader(Grant), json=body)


def list_grants(key: str) -> Call[list[Grant]]:
    """``GET /v1/keys/{key}/grants``."""
    return Call("GET", _key_path(key, "grants"), _items("grants", Grant))


def revoke_grant(key: str, grant_id: str) -> Call[None]:
    """``DELETE /v1/keys/{key}/grants/{id}``."""
    path = _key_path(key, f"grants/{_segment(grant_id, 'a grant id')}")
    return Call("DELETE", path, _nothing)


# --- /v1/sys -----------------------------------------------------------------------------------


def generate_root(share: bytes) -> Call[GenerateRootStatus]:
    """``POST /v1/sys/generate-root`` with one unseal share."""
    body = {"share": _b64(share)}
    return Call("POST", "/v1/sys/generate-root", _reader(GenerateRootStatus), json=body)


def reset_generate_root() -> Call[GenerateRootStatus]:
    """``POST /v1/sys/generate-root`` forgetting the shares given so far."""
    body = {"reset": True}
    return Call("POST", "/v1/sys/generate-root", _reader(GenerateRootStatus), json=body)


def revoke_root() -> Call[int]:
    """``POST /v1/sys/revoke-root``: the number of root tokens revoked."""
    return Call("POST", "/v1/sys/revoke-root", _integer("revoked"), json={})
