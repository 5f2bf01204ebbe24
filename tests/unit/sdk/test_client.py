"""The SDK against canned answers (httpx.MockTransport): requests, parsing, errors, reprs, TLS."""

from __future__ import annotations

import inspect
import json
from datetime import datetime
from pathlib import Path

import certifi
import httpx
import pytest
from pydantic import SecretStr

import keystead_sdk
from conftest import b64
from keystead_sdk import (
    AsyncClient,
    Client,
    ConfigurationError,
    Conflict,
    Decrypted,
    Encrypted,
    GenerateRootStatus,
    Health,
    InitResult,
    InvalidCiphertext,
    InvalidUnsealKey,
    Key,
    KeyPage,
    KeysteadAPIError,
    NotFound,
    PermissionDenied,
    Sealed,
    SealStatus,
    ServerError,
    TransportError,
    Unauthenticated,
    ValidationFailed,
    error_from_response,
)
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
    problem,
)

TOKEN = "kst_root_s3cret-token-value"
SHARES = [b"\x01share-one\xff", b"\x02share-two\xfe", b"\x03share-three\xfd"]
PLAINTEXT = b"attack at dawn"
CIPHERTEXT = b"KST1\x00\x01opaque-ciphertext"

SEAL_STATUS = {
    "initialized": True,
    "sealed": True,
    "type": "shamir",
    "shares": 3,
    "threshold": 2,
    "progress": 1,
    "version": "0.1.0",
}
KEY = {
    "id": "k_01J0000000",
    "name": "orders",
    "spec": "AES_256_GCM",
    "usage": "ENCRYPT_DECRYPT",
    "state": "ACTIVE",
    "primary_version": 1,
    "min_decryption_version": 1,
    "description": "order data",
    "tags": {},
    "owner": None,
    "protection": "SOFTWARE",
    "origin": "KEYSTEAD",
    "exportable": False,
    "backup_allowed": True,
    "rotation_period_seconds": None,
    "next_rotation_at": None,
    "activation_date": None,
    "deactivation_date": None,
    "destruction_date": None,
    "revocation_reason": None,
    "compromise_date": None,
    "created_at": "2025-01-02T03:04:05Z",
    "updated_at": "2025-01-02T03:04:05Z",
}
CREATE_DEFAULTS = {"tags": {}, "exportable": False, "backup_allowed": True}
HEALTH = {
    "initialized": True,
    "sealed": False,
    "version": "0.1.0",
    "server_time_utc": 1_700_000_000,
}


HARNESS = Harness(token=TOKEN)
sync_client, async_client = HARNESS.sync_client, HARNESS.async_client


def _check_init(result: InitResult) -> None:
    assert result.shares == SHARES
    assert result.root_token.get_secret_value() == TOKEN
    assert result.threshold == 2


def _check_recovery_init(result: InitResult) -> None:
    assert (result.shares, result.recovery_shares) == ([], SHARES)
    assert (result.recovery_threshold, result.root_token.get_secret_value()) == (2, TOKEN)
    assert b64(SHARES[0]) not in repr(result)
    assert TOKEN not in repr(result)


def _check_seal_status(result: SealStatus) -> None:
    assert result == SealStatus(**SEAL_STATUS)


def _check_key(result: Key) -> None:
    assert result.id == "k_01J0000000"
    assert result.state == "ACTIVE"
    assert isinstance(result.created_at, datetime)
    assert result.created_at.year == 2025


def _check_page(result: KeyPage) -> None:
    assert [key.name for key in result.keys] == ["orders", "orders"]
    assert result.next_cursor == "orders"


def _check_encrypted(result: Encrypted) -> None:
    assert result == Encrypted(ciphertext=CIPHERTEXT, key_id="k_01J0000000", version=3)


def _check_decrypted(result: Decrypted) -> None:
    assert result.plaintext == PLAINTEXT
    assert (result.key_id, result.version) == ("k_01J0000000", 3)


def _check_health(result: Health) -> None:
    assert result == Health(**HEALTH, status_code=200)


def _check_term(result: int) -> None:
    assert result == 4


def _check_root_progress(result: GenerateRootStatus) -> None:
    assert (result.progress, result.threshold, result.root_token) == (1, 2, None)


CASES = [
    Case("sys.init", (3, 2), {}, "POST", "/v1/sys/init", {"shares": 3, "threshold": 2},
         {"shares": [b64(s) for s in SHARES], "root_token": TOKEN, "threshold": 2}, _check_init),
    Case("sys.init_recovery", (3, 2), {}, "POST", "/v1/sys/init",
         {"recovery_shares": 3, "recovery_threshold": 2},
         {"shares": [], "root_token": TOKEN, "threshold": 2,
          "recovery_shares": [b64(s) for s in SHARES], "recovery_threshold": 2},
         _check_recovery_init),
    Case("sys.unseal", (SHARES[0],), {}, "POST", "/v1/sys/unseal", {"share": b64(SHARES[0])},
         SEAL_STATUS, _check_seal_status),
    Case("sys.reset_unseal", (), {}, "POST", "/v1/sys/unseal", {"reset": True},
         SEAL_STATUS, _check_seal_status),
    Case("sys.seal", (), {}, "POST", "/v1/sys/seal", None, SEAL_STATUS, _check_seal_status),
    Case("sys.seal_status", (), {}, "GET", "/v1/sys/seal-status", None, SEAL_STATUS,
         _check_seal_status),
    Case("sys.health", (), {}, "GET", "/v1/sys/health", None, HEALTH, _check_health),
    Case("sys.rotate_keyring", (), {}, "POST", "/v1/sys/rotate-keyring", None, {"term": 4},
         _check_term),
    Case("sys.generate_root", (SHARES[0],), {}, "POST", "/v1/sys/generate-root",
         {"share": b64(SHARES[0])}, {"progress": 1, "threshold": 2, "root_token": None},
         _check_root_progress),
    Case("sys.reset_generate_root", (), {}, "POST", "/v1/sys/generate-root", {"reset": True},
         {"progress": 1, "threshold": 2}, _check_root_progress),
    Case("sys.revoke_root", (), {}, "POST", "/v1/sys/revoke-root", {}, {"revoked": 4},
         _check_term),
    Case("keys.create", ("orders", "AES_256_GCM"), {"description": "order data"}, "POST",
         "/v1/keys", {"name": "orders", "spec": "AES_256_GCM", "description": "order data",
                      **CREATE_DEFAULTS}, KEY, _check_key, status=201),
    Case("keys.create", ("mac", "HMAC_SHA256"), {"usage": "GENERATE_VERIFY_MAC"}, "POST",
         "/v1/keys", {"name": "mac", "spec": "HMAC_SHA256", "usage": "GENERATE_VERIFY_MAC",
                      "description": "", **CREATE_DEFAULTS}, KEY, _check_key, status=201),
    Case("keys.get", ("orders",), {}, "GET", "/v1/keys/orders", None, KEY, _check_key),
    Case("keys.get", ("a/b c?d%",), {}, "GET", "/v1/keys/a%2Fb%20c%3Fd%25", None, KEY, _check_key),
    Case("keys.get", ("..",), {}, "GET", "/v1/keys/%2E%2E", None, KEY, _check_key),
    Case("keys.list", (), {}, "GET", "/v1/keys", None,
         {"keys": [KEY, KEY], "next_cursor": "orders"}, _check_page, query={"limit": "100"}),
    Case("keys.list", (), {"limit": 2, "cursor": "m n"}, "GET", "/v1/keys", None,
         {"keys": [KEY, KEY], "next_cursor": "orders"}, _check_page,
         query={"limit": "2", "cursor": "m n"}),
    Case("keys.encrypt", ("orders", PLAINTEXT), {"context": {"tenant": "a"}}, "POST",
         "/v1/keys/orders/encrypt", {"plaintext": b64(PLAINTEXT), "context": {"tenant": "a"}},
         {"ciphertext": b64(CIPHERTEXT), "key_id": "k_01J0000000", "version": 3},
         _check_encrypted),
    Case("keys.encrypt", ("orders", b""), {}, "POST", "/v1/keys/orders/encrypt",
         {"plaintext": "", "context": {}},
         {"ciphertext": b64(CIPHERTEXT), "key_id": "k_01J0000000", "version": 3},
         _check_encrypted),
    Case("keys.decrypt", (CIPHERTEXT,), {"context": {"tenant": "a"}}, "POST", "/v1/decrypt",
         {"ciphertext": b64(CIPHERTEXT), "context": {"tenant": "a"}},
         {"plaintext": b64(PLAINTEXT), "key_id": "k_01J0000000", "version": 3}, _check_decrypted),
    Case("keys.decrypt", (CIPHERTEXT,), {}, "POST", "/v1/decrypt",
         {"ciphertext": b64(CIPHERTEXT), "context": {}},
         {"plaintext": b64(PLAINTEXT), "key_id": "k_01J0000000", "version": 3}, _check_decrypted),
]  # fmt: skip
test_sync_method, test_async_method = HARNESS.method_tests(CASES)


API_CLASSES = [
    ("sys", keystead_sdk.SysAPI, keystead_sdk.AsyncSysAPI),
    ("keys", keystead_sdk.KeysAPI, keystead_sdk.AsyncKeysAPI),
]


def test_every_public_method_is_covered() -> None:
    # client.keys has its own table, in test_keys_sdk.py.
    assert_methods_covered(CASES, API_CLASSES[:1])


def test_async_methods_mirror_sync_signatures() -> None:
    assert_async_mirrors_sync(API_CLASSES)


# --- tokens, environment, addresses -------------------------------------------------------


def test_no_token_sends_no_authorization() -> None:
    server = Server(body=SEAL_STATUS)
    with Client(ADDRESS, transport=server.transport()) as client:
        client.sys.seal_status()
    assert "authorization" not in server.last.headers


def test_secretstr_token_is_accepted() -> None:
    server = Server(body=SEAL_STATUS)
    with sync_client(server, token=SecretStr(TOKEN)) as client:
        client.sys.seal()
    assert server.last.headers["authorization"] == f"Bearer {TOKEN}"


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTEAD_ADDR", "https://env.example:9999/")
    monkeypatch.setenv("KEYSTEAD_TOKEN", "kst_env_token")
    monkeypatch.setenv("KEYSTEAD_CACERT", certifi.where())
    server = Server(body=SEAL_STATUS)
    with Client(transport=server.transport()) as client:
        assert client.address == "https://env.example:9999"
        client.sys.seal_status()
    assert server.last.url == "https://env.example:9999/v1/sys/seal-status"
    assert server.last.headers["authorization"] == "Bearer kst_env_token"


def test_default_address() -> None:
    with Client(transport=Server().transport()) as client:
        assert client.address == "https://127.0.0.1:8200"


def test_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTEAD_ADDR", "https://env.example")
    monkeypatch.setenv("KEYSTEAD_TOKEN", "kst_env_token")
    server = Server(body=SEAL_STATUS)
    with sync_client(server) as client:
        client.sys.seal()
    assert server.last.url.host == "kms.test"
    assert server.last.headers["authorization"] == f"Bearer {TOKEN}"


def test_address_with_a_path_prefix() -> None:
    server = Server(body=SEAL_STATUS)
    with Client("https://proxy.test/kms/", transport=server.transport()) as client:
        client.sys.seal_status()
    assert server.last.url == "https://proxy.test/kms/v1/sys/seal-status"


@pytest.mark.parametrize("address", ["ftp://kms.test", "kms.test:8200", "https://", "http://[::1"])
def test_invalid_address(address: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid Keystead address"):
        Client(address)


def test_empty_key_is_refused_before_sending() -> None:
    server = Server(body=KEY)
    with sync_client(server) as client, pytest.raises(ValueError, match="empty"):
        client.keys.get("")
    assert server.requests == []


# --- TLS ------------------------------------------------------------------------------------


def test_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "ca.pem"
    with pytest.raises(ConfigurationError, match="CA certificate file not found") as caught:
        Client(ADDRESS, ca_cert=missing)
    assert str(missing) in str(caught.value)


def test_missing_ca_file_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KEYSTEAD_CACERT", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="KEYSTEAD_CACERT"):
        AsyncClient(ADDRESS)


def test_ca_file_that_is_not_a_certificate(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="cannot load CA certificate file"):
        Client(ADDRESS, ca_cert=str(bogus))


def test_ca_file_is_used_for_verification() -> None:
    with Client(ADDRESS, ca_cert=Path(certifi.where())) as client:
        context = client._settings.verify
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_tls_verification_cannot_be_disabled() -> None:
    parameters = inspect.signature(Client).parameters
    assert "verify" not in parameters
    assert set(parameters) == {"address", "token", "ca_cert", "timeout", "transport"}


# --- transport errors -----------------------------------------------------------------------


def _refuse(request: httpx.Request) -> httpx.Response:
    msg = "[Errno 111] Connection refused"
    raise httpx.ConnectError(msg, request=request)


def _bad_certificate(request: httpx.Request) -> httpx.Response:
    msg = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    raise httpx.ConnectError(msg, request=request)


def test_connection_refused_names_the_address() -> None:
    expected = r"cannot reach Keystead at https://kms\.test:8200: \[Errno 111\]"
    with (
        Client(ADDRESS, transport=httpx.MockTransport(_refuse)) as client,
        pytest.raises(TransportError, match=expected),
    ):
        client.sys.seal_status()


def test_tls_failure_hints_at_the_ca() -> None:
    with (
        Client(ADDRESS, transport=httpx.MockTransport(_bad_certificate)) as client,
        pytest.raises(TransportError, match="KEYSTEAD_CACERT") as caught,
    ):
        client.sys.health()
    assert caught.value.address == ADDRESS
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.anyio
async def test_async_transport_error() -> None:
    async with AsyncClient(ADDRESS, transport=httpx.MockTransport(_refuse)) as client:
        with pytest.raises(TransportError, match="Connection refused"):
            await client.keys.list()


# --- error mapping ---------------------------------------------------------------------------

ERROR_CODES = [
    (401, "Unauthenticated", Unauthenticated),
    (403, "PermissionDenied", PermissionDenied),
    (404, "KeyNotFound", NotFound),
    (404, "KeyVersionNotFound", NotFound),
    (404, "RouteNotFound", NotFound),
    (405, "MethodNotAllowed", NotFound),
    (409, "AlreadyInitialized", Conflict),
    (409, "KeyAlreadyExists", Conflict),
    (409, "InvalidStateTransition", Conflict),
    (409, "KeyStateForbidsOperation", Conflict),
    (400, "ValidationFailed", ValidationFailed),
    (400, "MalformedRequest", ValidationFailed),
    (413, "PayloadTooLarge", ValidationFailed),
    (415, "UnsupportedMediaType", ValidationFailed),
    (400, "InvalidUnsealShare", ValidationFailed),
    (400, "InvalidCiphertext", InvalidCiphertext),
    (400, "InvalidUnsealKey", InvalidUnsealKey),
    (503, "Sealed", Sealed),
    (503, "NotInitialized", Sealed),
    (500, "InternalError", ServerError),
    (503, "BackendUnavailable", ServerError),
    (503, "StorageUnavailable", ServerError),
    (409, "SomeFutureConflict", Conflict),
    (404, "SomeFutureThing", NotFound),
    (418, "Teapot", KeysteadAPIError),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERROR_CODES)
def test_problem_codes_map_to_exceptions(
    status: int, code: str, cls: type[KeysteadAPIError]
) -> None:
    with sync_client(problem(status, code)) as client, pytest.raises(KeysteadAPIError) as caught:
        client.keys.get("orders")
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.detail, error.request_id) == (
        status,
        code,
        "the detail",
        "req-1",
    )
    assert str(error) == f"{code} ({status}): the detail [request_id=req-1]"
    assert code in repr(error)


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code", "cls"), ERROR_CODES)
async def test_async_problem_codes_map_to_exceptions(
    status: int, code: str, cls: type[KeysteadAPIError]
) -> None:
    async with async_client(problem(status, code)) as client:
        with pytest.raises(cls) as caught:
            await client.sys.unseal(SHARES[0])
    assert type(caught.value) is cls


def test_invalid_unseal_key_message() -> None:
    server = problem(400, "InvalidUnsealKey", "the shares given do not rebuild", "abc")
    with sync_client(server) as client, pytest.raises(InvalidUnsealKey) as caught:
        client.sys.unseal(SHARES[1])
    assert (
        str(caught.value)
        == "InvalidUnsealKey (400): the shares given do not rebuild [request_id=abc]"
    )


@pytest.mark.parametrize(
    ("status", "cls", "reason"),
    [
        (502, ServerError, "Bad Gateway"),
        (503, ServerError, "Service Unavailable"),
        (401, Unauthenticated, "Unauthorized"),
        (404, NotFound, "Not Found"),
        (400, ValidationFailed, "Bad Request"),
        (418, KeysteadAPIError, "I'm a teapot"),
    ],
)
def test_non_json_error_bodies(status: int, cls: type[KeysteadAPIError], reason: str) -> None:
    server = Server(
        status=status,
        raw=b"<html><body>upstream says no</body></html>",
        content_type="text/html",
        headers={"x-request-id": "from-header"},
    )
    with sync_client(server) as client, pytest.raises(KeysteadAPIError) as caught:
        client.keys.list()
    error = caught.value
    assert type(error) is cls
    assert (error.code, error.detail, error.request_id) == ("HTTPError", reason, "from-header")
    assert "html" not in str(error)


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b"\xff\xfe", b'{"code": 7, "detail": null}'])
def test_odd_error_bodies_fall_back(raw: bytes) -> None:
    response = httpx.Response(500, content=raw, headers={"content-type": PROBLEM})
    error = error_from_response(response)
    assert type(error) is ServerError
    assert (error.code, error.detail, error.request_id) == (
        "HTTPError",
        "Internal Server Error",
        "",
    )
    assert str(error) == "HTTPError (500): Internal Server Error"


def test_error_message_never_contains_the_request_body() -> None:
    with (
        sync_client(problem(400, "ValidationFailed")) as client,
        pytest.raises(ValidationFailed) as caught,
    ):
        client.keys.encrypt("orders", PLAINTEXT, context={"tenant": "a"})
    text = str(caught.value) + repr(caught.value)
    assert b64(PLAINTEXT) not in text
    assert PLAINTEXT.decode() not in text
    assert TOKEN not in text


def test_unexpected_answer_shape_is_a_server_error() -> None:
    server = Server(body={"plaintext": "!!not base64!!", "key_id": "k", "version": 1})
    with sync_client(server) as client, pytest.raises(ServerError) as caught:
        client.keys.decrypt(CIPHERTEXT)
    assert caught.value.code == "InvalidResponse"
    assert "not base64" not in str(caught.value)


@pytest.mark.parametrize("body", [[1], {"term": "4"}, {"term": True}, {}])
def test_bad_term_is_a_server_error(body: object) -> None:
    with (
        sync_client(Server(body=body)) as client,
        pytest.raises(ServerError, match="InvalidResponse"),
    ):
        client.sys.rotate_keyring()


def test_non_json_success_is_a_server_error() -> None:
    server = Server(raw=b"<html>", content_type="text/html")
    with sync_client(server) as client, pytest.raises(ServerError, match="InvalidResponse"):
        client.sys.seal_status()


# --- health ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "initialized", "sealed"), [(200, True, False), (503, True, True), (501, False, True)]
)
def test_health_statuses_are_answers(status: int, initialized: bool, sealed: bool) -> None:
    body = {**HEALTH, "initialized": initialized, "sealed": sealed}
    with sync_client(Server(status=status, body=body)) as client:
        health = client.sys.health()
    assert (health.status_code, health.initialized, health.sealed) == (status, initialized, sealed)


@pytest.mark.anyio
async def test_async_health_when_sealed() -> None:
    async with async_client(Server(status=503, body={**HEALTH, "sealed": True})) as client:
        health = await client.sys.health()
    assert health.status_code == 503
    assert health.sealed


def test_health_problem_is_still_an_error() -> None:
    with sync_client(problem(503, "StorageUnavailable")) as client, pytest.raises(ServerError):
        client.sys.health()


def test_health_other_error_status_raises() -> None:
    server = Server(status=502, raw=b"bad gateway", content_type="text/plain")
    with sync_client(server) as client, pytest.raises(ServerError):
        client.sys.health()


def test_503_outside_health_raises() -> None:
    with sync_client(Server(status=503, body=SEAL_STATUS)) as client, pytest.raises(ServerError):
        client.sys.seal_status()


# --- reprs and secrets ----------------------------------------------------------------------


def test_client_repr_masks_the_token() -> None:
    server = Server()
    with sync_client(server) as client, Client(ADDRESS, transport=server.transport()) as anonymous:
        texts = [repr(client), str(client), repr(async_client(server))]
        assert "token=None" in repr(anonymous)
    for text in texts:
        assert TOKEN not in text
        assert "**********" in text
        assert ADDRESS in text


def test_init_result_repr_hides_shares_and_token() -> None:
    result = InitResult.model_validate(
        {"shares": [b64(s) for s in SHARES], "root_token": TOKEN, "threshold": 2}
    )
    for text in (repr(result), str(result)):
        assert TOKEN not in text
        for share in SHARES:
            assert repr(share) not in text
            assert b64(share) not in text
        assert "threshold=2" in text
    assert TOKEN not in result.model_dump_json()


def test_decrypted_repr_hides_the_plaintext() -> None:
    result = Decrypted(plaintext=PLAINTEXT, key_id="k", version=1)
    for text in (repr(result), str(result)):
        assert "attack" not in text
        assert b64(PLAINTEXT) not in text
    assert "key_id='k'" in repr(result)


def test_bytes_serialise_as_base64() -> None:
    encrypted = Encrypted(ciphertext=CIPHERTEXT, key_id="k", version=1)
    assert json.loads(encrypted.model_dump_json())["ciphertext"] == b64(CIPHERTEXT)
    assert Encrypted.model_validate_json(encrypted.model_dump_json()) == encrypted


def test_models_are_frozen() -> None:
    status = SealStatus(**SEAL_STATUS)
    with pytest.raises(ValueError, match="frozen"):
        status.sealed = False  # type: ignore[misc]


def test_models_ignore_new_fields() -> None:
    assert SealStatus.model_validate({**SEAL_STATUS, "new_field": 1}) == SealStatus(**SEAL_STATUS)


def test_public_api() -> None:
    for name in keystead_sdk.__all__:
        assert hasattr(keystead_sdk, name), name
    assert issubclass(KeysteadAPIError, Exception)
    assert issubclass(ConfigurationError, ValueError)


def test_close_without_context_manager() -> None:
    client = sync_client(Server())
    client.close()
    with pytest.raises(RuntimeError):
        client.sys.seal_status()


@pytest.mark.anyio
async def test_async_close_without_context_manager() -> None:
    client = async_client(Server())
    await client.close()
    with pytest.raises(RuntimeError):
        await client.sys.seal_status()
