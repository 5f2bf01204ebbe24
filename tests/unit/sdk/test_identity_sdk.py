"""The identity namespaces and root-token sys methods against canned answers (MockTransport).

Each method, sync and async: the request (method, path, query, body, whether the token is
sent) and the parsed answer; the identity error codes, ``TooManyAttempts.retry_after``;
reprs that never show a token, a password, a TOTP secret or a recovery code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

import keystead_sdk
from conftest import b64
from keystead_sdk import (
    Client,
    Conflict,
    GenerateRootStatus,
    Grant,
    GrantNotFound,
    InvalidCredentials,
    IssuedToken,
    KeysteadAPIError,
    NotFound,
    PermissionDenied,
    Policy,
    PolicyNotFound,
    RecoveryCodes,
    RegistrationClosed,
    Role,
    RoleNotFound,
    ServerError,
    Statement,
    TokenInfo,
    TokenNotFound,
    TooManyAttempts,
    TotpEnrollment,
    TotpRequired,
    Unauthenticated,
    User,
    UserNotFound,
    UserPage,
    UserPublicKey,
    ValidationFailed,
    WhoAmI,
    error_from_response,
)
from keystead_sdk import _identity_calls as calls
from keystead_sdk._calls import Call
from sdk_harness import (
    ADDRESS,
    PROBLEM,
    Case,
    Harness,
    Server,
    anyio_backend,  # noqa: F401  (a fixture: pytest finds it by name)
    assert_async_mirrors_sync,
    assert_methods_covered,
    clean_env,  # noqa: F401  (an autouse fixture)
)

TOKEN = "kst_identity-sdk-caller-token"
NEW_TOKEN = "kst_freshly-issued-session-token"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "tr0ub4dor&3-but-longer"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/Keystead:alice?secret={TOTP_SECRET}&issuer=Keystead"
RECOVERY = [f"rc{n:02d}-abcd-efgh" for n in range(10)]
SHARE = b"\x01share-for-root\xff"
ROOT_TOKEN = "kst_root_brand-new-root"
WHEN = "2030-01-02T03:04:05+00:00"

ISSUED = {
    "token": NEW_TOKEN,
    "id": "tok_1",
    "expires_at": WHEN,
    "max_expires_at": "2030-02-01T00:00:00Z",
    "roles": ["key-user"],
}
TOKEN_INFO = {
    "id": "tok_1",
    "kind": "api",
    "username": "svc-orders",
    "description": "orders service",
    "roles": ["key-user"],
    "created_at": "2025-01-02T03:04:05Z",
    "expires_at": WHEN,
    "max_expires_at": None,
    "created_by": "alice",
}
USER = {
    "username": "alice",
    "kind": "user",
    "roles": ["key-user"],
    "disabled": False,
    "totp_enabled": False,
    "key_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "created_at": "2025-01-02T03:04:05Z",
    "updated_at": "2025-01-02T03:04:05+02:00",
}
WHOAMI = {"name": "alice", "kind": "user", "token_id": "tok_1", "roles": ["key-user"],
          "expires_at": WHEN}  # fmt: skip
PUBLIC_KEY = {
    "username": "alice",
    "public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
    "key_id": USER["key_id"],
    "version": 2,
    "spec": "ED25519",
    "primary_version": 3,
    "key_state": "ACTIVE",
    "version_state": "DEACTIVATED",
}
STATEMENTS = [
    {"effect": "allow", "actions": ["keys.encrypt", "keys.decrypt"], "keys": ["orders-*"]},
    {"effect": "deny", "actions": ["keys.*"], "keys": ["*"]},
]
POLICY = {"name": "orders-use", "description": "", "builtin": False, "statements": STATEMENTS}
ROLE = {"name": "orders", "description": "d", "builtin": False, "policies": ["orders-use"]}
GRANT = {
    "id": "g_1",
    "key_id": USER["key_id"],
    "principal": "bob",
    "operations": ["encrypt", "decrypt"],
    "created_by": "alice",
    "created_at": "2025-01-02T03:04:05Z",
}


HARNESS = Harness(token=TOKEN)
sync_client, async_client = HARNESS.sync_client, HARNESS.async_client


def _issued(result: IssuedToken) -> None:
    assert result.token.get_secret_value() == NEW_TOKEN
    assert result.id == "tok_1"
    assert result.expires_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert result.max_expires_at == datetime(2030, 2, 1, tzinfo=UTC)
    assert result.roles == ["key-user"]


def _user(result: User) -> None:
    assert result.username == "alice"
    assert result.roles == ["key-user"]
    assert result.key_id == USER["key_id"]
    assert result.updated_at.utcoffset() == timedelta(hours=2)


def _none(result: None) -> None:
    assert result is None


def _token_info(result: TokenInfo) -> None:
    assert (result.id, result.kind, result.username) == ("tok_1", "api", "svc-orders")
    assert result.max_expires_at is None
    assert result.created_by == "alice"


def _token_list(result: list[TokenInfo]) -> None:
    assert [info.id for info in result] == ["tok_1", "tok_1"]
    assert all(isinstance(info, TokenInfo) for info in result)


def _whoami(result: WhoAmI) -> None:
    assert result == WhoAmI.model_validate(WHOAMI)
    assert result.token_id == "tok_1"


def _enrollment(result: TotpEnrollment) -> None:
    assert result.otpauth_uri.get_secret_value() == URI
    assert result.secret.get_secret_value() == TOTP_SECRET


def _recovery(result: RecoveryCodes) -> None:
    assert result.recovery_codes == RECOVERY


def _page(result: UserPage) -> None:
    assert [user.username for user in result.users] == ["alice"]
    assert result.next_cursor == "alice"


def _public_key(result: UserPublicKey) -> None:
    assert result.public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert (result.version, result.primary_version) == (2, 3)
    assert (result.key_state, result.version_state) == ("ACTIVE", "DEACTIVATED")
    assert (result.version, result.spec) == (2, "ED25519")


def _policy(result: Policy) -> None:
    assert result.name == "orders-use"
    assert result.statements[0] == Statement.allow(["keys.encrypt", "keys.decrypt"], ["orders-*"])
    assert result.statements[1].effect == "deny"


def _policies(result: list[Policy]) -> None:
    assert [policy.name for policy in result] == ["orders-use"]


def _role(result: Role) -> None:
    assert result == Role.model_validate(ROLE)


def _roles(result: list[Role]) -> None:
    assert [role.policies for role in result] == [["orders-use"], ["orders-use"]]


def _grant(result: Grant) -> None:
    assert (result.principal, result.operations) == ("bob", ["encrypt", "decrypt"])
    assert result.created_at.year == 2025


def _grants(result: list[Grant]) -> None:
    assert [grant.id for grant in result] == ["g_1"]


def _progress(result: GenerateRootStatus) -> None:
    assert (result.progress, result.threshold, result.root_token) == (1, 3, None)


def _reset(result: GenerateRootStatus) -> None:
    assert (result.progress, result.threshold, result.root_token) == (0, 3, None)


def _root(result: GenerateRootStatus) -> None:
    assert result.progress == 3
    assert result.root_token is not None
    assert result.root_token.get_secret_value() == ROOT_TOKEN


def _revoked(result: int) -> None:
    assert result == 2


KEY_PATH = "/v1/keys/orders%2Fmain/grants"
CASES = [
    Case("auth.login", ("alice", PASSWORD), {}, "POST", "/v1/auth/login",
         {"username": "alice", "password": PASSWORD}, ISSUED, _issued, anonymous=True),
    Case("auth.login", ("alice", SecretStr(PASSWORD)), {"totp": "123456"}, "POST",
         "/v1/auth/login", {"username": "alice", "password": PASSWORD, "totp": "123456"},
         ISSUED, _issued, anonymous=True),
    Case("auth.login", ("alice", PASSWORD), {"recovery_code": RECOVERY[0]}, "POST",
         "/v1/auth/login", {"username": "alice", "password": PASSWORD,
                            "recovery_code": RECOVERY[0]}, ISSUED, _issued, anonymous=True),
    Case("auth.register", ("alice", PASSWORD), {}, "POST", "/v1/auth/register",
         {"username": "alice", "password": PASSWORD}, USER, _user, status=201, anonymous=True),
    Case("auth.logout", (), {}, "POST", "/v1/auth/logout", {}, None, _none, status=204),
    Case("auth.renew", (), {}, "POST", "/v1/auth/renew", {}, TOKEN_INFO, _token_info),
    Case("auth.whoami", (), {}, "GET", "/v1/auth/whoami", None, WHOAMI, _whoami),
    Case("auth.change_password", (PASSWORD, SecretStr(NEW_PASSWORD)), {}, "POST",
         "/v1/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
         None, _none, status=204),
    Case("auth.totp_enroll", (PASSWORD,), {}, "POST", "/v1/auth/totp/enroll",
         {"password": PASSWORD},
         {"otpauth_uri": URI, "secret": TOTP_SECRET}, _enrollment),
    Case("auth.totp_confirm", ("123456",), {}, "POST", "/v1/auth/totp/confirm",
         {"code": "123456"}, {"recovery_codes": RECOVERY}, _recovery),
    Case("auth.totp_disable", ("654321",), {}, "POST", "/v1/auth/totp/disable",
         {"code": "654321"}, None, _none, status=204),
    Case("tokens.create", (), {}, "POST", "/v1/auth/tokens", {"description": ""}, ISSUED,
         _issued, status=201),
    Case("tokens.create", (), {"username": "svc-orders", "roles": ("key-user",),
                               "ttl_seconds": 3600, "description": "orders"}, "POST",
         "/v1/auth/tokens", {"username": "svc-orders", "roles": ["key-user"],
                             "ttl_seconds": 3600, "description": "orders"}, ISSUED, _issued,
         status=201),
    Case("tokens.list", (), {}, "GET", "/v1/auth/tokens", None,
         {"tokens": [TOKEN_INFO, TOKEN_INFO]}, _token_list),
    Case("tokens.list", (), {"username": "svc-orders"}, "GET", "/v1/auth/tokens", None,
         {"tokens": [TOKEN_INFO, TOKEN_INFO]}, _token_list, query={"username": "svc-orders"}),
    Case("tokens.list", (), {"all": True}, "GET", "/v1/auth/tokens", None,
         {"tokens": [TOKEN_INFO, TOKEN_INFO]}, _token_list, query={"all": "true"}),
    Case("tokens.revoke", ("tok/1",), {}, "DELETE", "/v1/auth/tokens/tok%2F1", None, None,
         _none, status=204),
    Case("users.create", ("alice", PASSWORD), {"roles": ["key-user"]}, "POST", "/v1/users",
         {"username": "alice", "password": PASSWORD, "roles": ["key-user"], "kind": "user"},
         USER, _user, status=201),
    Case("users.create", ("svc-orders",), {"kind": "service"}, "POST", "/v1/users",
         {"username": "svc-orders", "roles": [], "kind": "service"}, USER, _user, status=201),
    Case("users.list", (), {}, "GET", "/v1/users", None,
         {"users": [USER], "next_cursor": "alice"}, _page, query={"limit": "100"}),
    Case("users.list", (10, "al ice"), {}, "GET", "/v1/users", None,
         {"users": [USER], "next_cursor": "alice"}, _page,
         query={"limit": "10", "cursor": "al ice"}),
    Case("users.get", ("alice",), {}, "GET", "/v1/users/alice", None, USER, _user),
    Case("users.get", ("..",), {}, "GET", "/v1/users/%2E%2E", None, USER, _user),
    Case("users.update", ("alice",), {"roles": ("admin", "key-user")}, "PATCH",
         "/v1/users/alice", {"roles": ["admin", "key-user"]}, USER, _user),
    Case("users.delete", ("alice",), {}, "DELETE", "/v1/users/alice", None, None, _none,
         status=204),
    Case("users.disable", ("alice",), {}, "POST", "/v1/users/alice/disable", {}, USER, _user),
    Case("users.enable", ("alice",), {}, "POST", "/v1/users/alice/enable", {}, USER, _user),
    Case("users.set_password", ("alice", NEW_PASSWORD), {}, "POST", "/v1/users/alice/password",
         {"password": NEW_PASSWORD}, None, _none, status=204),
    Case("users.reset_totp", ("alice",), {}, "POST", "/v1/users/alice/reset-totp", {}, USER,
         _user),
    Case("users.public_key", ("alice",), {}, "GET", "/v1/users/alice/public-key", None,
         PUBLIC_KEY, _public_key),
    Case("policies.create", ("orders-use", [Statement.allow(["keys.encrypt", "keys.decrypt"],
                                                            ["orders-*"]),
                                            {"effect": "deny", "actions": ["keys.*"]}]), {},
         "POST", "/v1/policies", {"name": "orders-use", "description": "",
                                  "statements": STATEMENTS}, POLICY, _policy, status=201),
    Case("policies.list", (), {}, "GET", "/v1/policies", None, {"policies": [POLICY]},
         _policies),
    Case("policies.get", ("orders-use",), {}, "GET", "/v1/policies/orders-use", None, POLICY,
         _policy),
    Case("policies.update", ("orders-use", STATEMENTS), {"description": "new"}, "PUT",
         "/v1/policies/orders-use", {"name": "orders-use", "description": "new",
                                     "statements": STATEMENTS}, POLICY, _policy),
    Case("policies.delete", ("orders-use",), {}, "DELETE", "/v1/policies/orders-use", None,
         None, _none, status=204),
    Case("roles.create", ("orders", ["orders-use"]), {"description": "d"}, "POST", "/v1/roles",
         {"name": "orders", "description": "d", "policies": ["orders-use"]}, ROLE, _role,
         status=201),
    Case("roles.list", (), {}, "GET", "/v1/roles", None, {"roles": [ROLE, ROLE]}, _roles),
    Case("roles.get", ("orders",), {}, "GET", "/v1/roles/orders", None, ROLE, _role),
    Case("roles.update", ("orders", ("orders-use",)), {}, "PUT", "/v1/roles/orders",
         {"name": "orders", "description": "", "policies": ["orders-use"]}, ROLE, _role),
    Case("roles.delete", ("orders",), {}, "DELETE", "/v1/roles/orders", None, None, _none,
         status=204),
    Case("grants.create", ("orders/main", "bob", ("encrypt", "decrypt")), {}, "POST",
         KEY_PATH, {"principal": "bob", "operations": ["encrypt", "decrypt"]}, GRANT, _grant,
         status=201),
    Case("grants.list", ("orders/main",), {}, "GET", KEY_PATH, None, {"grants": [GRANT]},
         _grants),
    Case("grants.revoke", ("orders/main", "g 1"), {}, "DELETE", f"{KEY_PATH}/g%201", None, None,
         _none, status=204),
    Case("sys.generate_root", (SHARE,), {}, "POST", "/v1/sys/generate-root",
         {"share": b64(SHARE)}, {"progress": 1, "threshold": 3, "root_token": None}, _progress),
    Case("sys.generate_root", (SHARE,), {}, "POST", "/v1/sys/generate-root",
         {"share": b64(SHARE)}, {"progress": 3, "threshold": 3, "root_token": ROOT_TOKEN},
         _root),
    Case("sys.reset_generate_root", (), {}, "POST", "/v1/sys/generate-root", {"reset": True},
         {"progress": 0, "threshold": 3}, _reset),
    Case("sys.revoke_root", (), {}, "POST", "/v1/sys/revoke-root", {}, {"revoked": 2},
         _revoked),
]  # fmt: skip
test_sync_method, test_async_method = HARNESS.method_tests(CASES)


API_CLASSES = [
    ("auth", keystead_sdk.AuthAPI, keystead_sdk.AsyncAuthAPI),
    ("tokens", keystead_sdk.TokensAPI, keystead_sdk.AsyncTokensAPI),
    ("users", keystead_sdk.UsersAPI, keystead_sdk.AsyncUsersAPI),
    ("roles", keystead_sdk.RolesAPI, keystead_sdk.AsyncRolesAPI),
    ("policies", keystead_sdk.PoliciesAPI, keystead_sdk.AsyncPoliciesAPI),
    ("grants", keystead_sdk.GrantsAPI, keystead_sdk.AsyncGrantsAPI),
]


def test_every_public_method_is_covered() -> None:
    covered = assert_methods_covered(CASES, API_CLASSES)
    assert {"sys.generate_root", "sys.reset_generate_root", "sys.revoke_root"} <= covered


def test_async_methods_mirror_sync_signatures() -> None:
    assert_async_mirrors_sync(
        [*API_CLASSES, ("sys", keystead_sdk.SysAPI, keystead_sdk.AsyncSysAPI)]
    )


def test_clients_have_every_namespace() -> None:
    server = Server()
    with sync_client(server) as client:
        for namespace, sync_cls, _ in API_CLASSES:
            assert type(getattr(client, namespace)) is sync_cls
    other = async_client(server)
    for namespace, _, async_cls in API_CLASSES:
        assert type(getattr(other, namespace)) is async_cls


# --- refused before sending ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.users.get(""), "a username must not be empty"),
        (lambda c: c.roles.delete(""), "a role name must not be empty"),
        (lambda c: c.policies.get(""), "a policy name must not be empty"),
        (lambda c: c.tokens.revoke(""), "a token id must not be empty"),
        (lambda c: c.grants.revoke("orders", ""), "a grant id must not be empty"),
        (lambda c: c.tokens.list(username="bob", all=True), "not both"),
        (lambda c: c.policies.create("p", [{"actions": ["keys.*"]}]), "effect"),
    ],
)
def test_bad_arguments_raise_before_sending(call: Callable[[Client], object], message: str) -> None:
    server = Server()
    with sync_client(server) as client, pytest.raises(ValueError, match=message):
        call(client)
    assert server.requests == []


def test_login_sends_no_token_even_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTEAD_TOKEN", TOKEN)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ISSUED if request.url.path.endswith("login") else WHOAMI)

    with Client(ADDRESS, transport=httpx.MockTransport(answer)) as client:
        assert client.auth.login("alice", PASSWORD).id == "tok_1"
        assert client.auth.whoami().name == "alice"  # other calls still send the token
    assert "authorization" not in seen[0].headers
    assert seen[1].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (lambda c: c.tokens.list(), {"tokens": {"id": "x"}}),
        (lambda c: c.roles.list(), [ROLE]),
        (lambda c: c.sys.revoke_root(), {"revoked": True}),
        (lambda c: c.sys.revoke_root(), {"revoked": "2"}),
        (lambda c: c.users.get("alice"), {**USER, "created_at": "yesterday"}),
        (lambda c: c.auth.login("alice", PASSWORD), {**ISSUED, "token": None}),
    ],
)
def test_unexpected_answer_shapes_are_server_errors(
    call: Callable[[Client], object], body: object
) -> None:
    with sync_client(Server(body=body)) as client, pytest.raises(ServerError) as caught:
        call(client)
    assert caught.value.code == "InvalidResponse"


# --- errors --------------------------------------------------------------------------------


def problem(status: int, code: str, headers: dict[str, str] | None = None) -> Server:
    body = {"type": "about:blank", "title": "T", "status": status, "detail": "the detail",
            "code": code, "request_id": "req-9"}  # fmt: skip
    return Server(status=status, body=body, content_type=PROBLEM, headers=headers or {})


IDENTITY_ERRORS = [
    (401, "InvalidCredentials", InvalidCredentials, Unauthenticated),
    (401, "TotpRequired", TotpRequired, Unauthenticated),
    (429, "TooManyAttempts", TooManyAttempts, KeysteadAPIError),
    (403, "RegistrationClosed", RegistrationClosed, PermissionDenied),
    (404, "UserNotFound", UserNotFound, NotFound),
    (404, "RoleNotFound", RoleNotFound, NotFound),
    (404, "PolicyNotFound", PolicyNotFound, NotFound),
    (404, "GrantNotFound", GrantNotFound, NotFound),
    (404, "TokenNotFound", TokenNotFound, NotFound),
    (409, "UserAlreadyExists", Conflict, Conflict),
    (409, "RoleAlreadyExists", Conflict, Conflict),
    (409, "PolicyAlreadyExists", Conflict, Conflict),
    (409, "BuiltinReadOnly", Conflict, Conflict),
    (409, "NoAdmin", Conflict, Conflict),
    (400, "WeakPassword", ValidationFailed, ValidationFailed),
    (429, "SomeFutureThrottle", TooManyAttempts, KeysteadAPIError),
]


@pytest.mark.parametrize(("status", "code", "cls", "family"), IDENTITY_ERRORS)
def test_identity_codes_map_to_exceptions(
    status: int, code: str, cls: type[KeysteadAPIError], family: type[KeysteadAPIError]
) -> None:
    with sync_client(problem(status, code)) as client, pytest.raises(family) as caught:
        client.auth.login("alice", PASSWORD)
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.detail, error.request_id) == (
        status, code, "the detail", "req-9",
    )  # fmt: skip
    text = str(error) + repr(error)
    assert PASSWORD not in text
    assert TOKEN not in text


@pytest.mark.anyio
async def test_async_identity_error() -> None:
    async with async_client(problem(404, "UserNotFound")) as client:
        with pytest.raises(UserNotFound):
            await client.users.get("nobody")


def test_too_many_attempts_reads_retry_after_seconds() -> None:
    server = problem(429, "TooManyAttempts", {"Retry-After": "42"})
    with sync_client(server) as client, pytest.raises(TooManyAttempts) as caught:
        client.auth.login("alice", PASSWORD)
    assert caught.value.retry_after == 42
    assert "retry_after=42" in repr(caught.value)
    assert str(caught.value) == "TooManyAttempts (429): the detail [request_id=req-9]"


def test_too_many_attempts_reads_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    server = problem(429, "TooManyAttempts", {"Retry-After": format_datetime(later, usegmt=True)})
    with sync_client(server) as client, pytest.raises(TooManyAttempts) as caught:
        client.auth.login("alice", PASSWORD)
    assert caught.value.retry_after is not None
    assert 110 <= caught.value.retry_after <= 121


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("soon", None), ("-5", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0),
     ("0", 0), ("1.5", None), ("Wed, 21 Oct 2015 07:28:00 -0000", 0)],
)  # fmt: skip
def test_retry_after_edge_cases(value: str | None, expected: int | None) -> None:
    headers = {"content-type": PROBLEM} | ({} if value is None else {"retry-after": value})
    response = httpx.Response(429, json={"code": "TooManyAttempts"}, headers=headers)
    error = error_from_response(response)
    assert isinstance(error, TooManyAttempts)
    assert error.retry_after == expected


def test_too_many_attempts_survives_copy() -> None:
    error = TooManyAttempts(429, "TooManyAttempts", "wait", "r", 30)
    clone = copy.copy(error)
    assert (clone.retry_after, clone.code, clone.request_id) == (30, "TooManyAttempts", "r")
    assert copy.deepcopy(error).retry_after == 30


# --- reprs and secrets -----------------------------------------------------------------------


def test_issued_token_repr_hides_the_token() -> None:
    issued = IssuedToken.model_validate(ISSUED)
    for text in (repr(issued), str(issued), issued.model_dump_json()):
        assert NEW_TOKEN not in text
    assert "id='tok_1'" in repr(issued)


def test_totp_and_root_secrets_are_hidden() -> None:
    models = [
        TotpEnrollment.model_validate({"otpauth_uri": URI, "secret": TOTP_SECRET}),
        RecoveryCodes(recovery_codes=RECOVERY),
        GenerateRootStatus(progress=3, threshold=3, root_token=SecretStr(ROOT_TOKEN)),
    ]
    for model in models:
        for text in (repr(model), str(model)):
            assert TOTP_SECRET not in text
            assert ROOT_TOKEN not in text
            assert all(code not in text for code in RECOVERY)
    assert "progress=3" in repr(models[2])


def test_request_descriptions_never_show_passwords_or_codes() -> None:
    described: list[Call[Any]] = [
        calls.login("alice", PASSWORD, "123456", None),
        calls.register("alice", PASSWORD),
        calls.change_password(PASSWORD, NEW_PASSWORD),
        calls.create_user("alice", PASSWORD, [], "user"),
        calls.set_user_password("alice", NEW_PASSWORD),
        calls.totp_confirm("123456"),
        calls.generate_root(SHARE),
    ]
    for call in described:
        text = repr(call)
        assert PASSWORD not in text
        assert NEW_PASSWORD not in text
        assert "123456" not in text
        assert b64(SHARE) not in text
        assert call.path in text


def test_client_repr_with_a_login_token_masks_it() -> None:
    issued = IssuedToken.model_validate(ISSUED)
    with Client(ADDRESS, token=issued.token, transport=Server().transport()) as client:
        assert NEW_TOKEN not in repr(client)
        assert "**********" in repr(client)


def test_statement_helpers_default_to_every_key() -> None:
    assert Statement.allow(["keys.encrypt"]).keys == ["*"]
    assert Statement.deny(("keys.*",), ("a-*",)).model_dump() == {
        "effect": "deny", "actions": ["keys.*"], "keys": ["a-*"],
    }  # fmt: skip
    assert Statement.model_validate({"effect": "allow", "actions": ["x"]}).keys == ["*"]
