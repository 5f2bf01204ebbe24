"""Authentication, problem+json errors, body limits, request ids, metrics, OpenAPI (issue 2)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from conftest import Initialized, b64
from keystead.api.app import create_app, endpoint_table, endpoints_of
from keystead.api.metrics import Metrics
from keystead.config import Settings, load_settings

PROTECTED = sorted(
    (e.method, re.sub(r"{\w+}", "anything", e.path)) for e in endpoint_table(Metrics()) if e.auth
)
# Login, registration and generate-root take the caller's proof in the body
# (a password, a new password, unseal shares) instead of a token.
PUBLIC = {
    "/v1/sys/init", "/v1/sys/unseal", "/v1/sys/seal-status", "/v1/sys/health",
    "/v1/auth/login", "/v1/auth/register", "/v1/sys/generate-root",
}  # fmt: skip


def test_only_the_documented_endpoints_are_public(client: TestClient) -> None:
    table = endpoints_of(client.app)  # type: ignore[arg-type]
    assert {e.path for e in table if not e.auth} == PUBLIC
    assert len(PROTECTED) == len(table) - len(PUBLIC)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic cm9vdDpyb290",
        "Bearer kst_root_wrong-token-value",
        "Bearer kst_",
        "Bearer not-a-keystead-token",
        "bearer kst_root_" + "A" * 43,
    ],
)
def test_missing_or_wrong_tokens_get_401(
    unsealed: Initialized, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    response = unsealed.client.request(method, path, headers=headers, json={})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "Unauthenticated"
    assert response.headers["www-authenticate"] == 'Bearer realm="keystead"'


def test_an_altered_root_token_is_refused(unsealed: Initialized) -> None:
    token = unsealed.root_token
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = unsealed.client.get("/v1/keys", headers={"authorization": f"Bearer {altered}"})
    assert response.status_code == 401
    assert unsealed.client.get("/v1/keys", headers=unsealed.auth).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/keys", None),
        ("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"}),
        ("GET", "/v1/keys/k", None),
        ("POST", "/v1/keys/k/encrypt", {"plaintext": "eA=="}),
        ("POST", "/v1/decrypt", {"ciphertext": "eA=="}),
        ("POST", "/v1/sys/rotate-keyring", None),
    ],
)
def test_key_requests_while_sealed_get_503_sealed(
    initialized: Initialized, method: str, path: str, body: dict | None
) -> None:
    for headers in ({}, initialized.auth):
        response = initialized.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "Sealed"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "MalformedRequest"),
        (b"[]", "ValidationFailed"),
        (b'"string"', "ValidationFailed"),
        (b'{"name": 5, "spec": "AES_256_GCM"}', "ValidationFailed"),
        (b'{"name": "k", "spec": "ROT13"}', "ValidationFailed"),
        (b'{"name": "k", "spec": "AES_256_GCM", "admin": true}', "ValidationFailed"),
        (b'{"name": "", "spec": "AES_256_GCM"}', "ValidationFailed"),
        (b'{"name": "has space", "spec": "AES_256_GCM"}', "ValidationFailed"),
        (b'{"name": "00000000-0000-0000-0000-000000000000", "spec": "AES_256_GCM"}',
         "ValidationFailed"),
        (b"\xff\xfe\x00", "MalformedRequest"),
        (b'{"name": "k", "spec": "AES_256_GCM", "usage": "SIGN_VERIFY"}', "ValidationFailed"),
    ],
)  # fmt: skip
def test_malformed_bodies_get_400_problems(
    unsealed: Initialized, content: bytes, code: str
) -> None:
    response = unsealed.client.post(
        "/v1/keys", content=content, headers={**unsealed.auth, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_bodies_over_the_limit_get_413(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path, insecure_http=True, max_request_bytes=2048)
    with TestClient(create_app(settings), base_url="https://t") as client:
        too_big = {"shares": 1, "threshold": 1, "pad": "x" * 4096}
        response = client.post("/v1/sys/init", json=too_big)
        assert response.status_code == 413
        assert response.json()["code"] == "PayloadTooLarge"

        def chunks():
            yield b'{"shares": 1, "threshold": 1, "pad": "'
            for _ in range(10):
                yield b"x" * 512
            yield b'"}'

        streamed = client.post("/v1/sys/init", content=chunks())
        assert streamed.status_code == 413
        assert client.get("/v1/sys/seal-status").json()["initialized"] is False


def test_key_operations_answer_with_their_own_codes(unsealed: Initialized) -> None:
    client, auth = unsealed.client, unsealed.auth
    assert client.post(
        "/v1/keys", json={"name": "k", "spec": "AES_256_GCM"}, headers=auth
    ).is_success
    duplicate = client.post("/v1/keys", json={"name": "k", "spec": "AES_256_GCM"}, headers=auth)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "KeyAlreadyExists")
    missing = client.get("/v1/keys/nope", headers=auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "KeyNotFound")
    garbage = client.post("/v1/decrypt", json={"ciphertext": b64(b"KS" + bytes(40))}, headers=auth)
    assert (garbage.status_code, garbage.json()["code"]) == (400, "InvalidCiphertext")
    huge = client.post("/v1/keys/k/encrypt", json={"plaintext": b64(bytes(70000))}, headers=auth)
    assert (huge.status_code, huge.json()["code"]) == (400, "ValidationFailed")
    bad_limit = client.get("/v1/keys?limit=0", headers=auth)
    assert (bad_limit.status_code, bad_limit.json()["code"]) == (400, "ValidationFailed")


def test_unknown_routes_and_methods_get_problems(client: TestClient) -> None:
    missing = client.get("/v1/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, "RouteNotFound")
    wrong_method = client.delete("/v1/sys/health")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "MethodNotAllowed")


def test_request_ids_are_echoed_when_safe_and_made_otherwise(client: TestClient) -> None:
    given = client.get("/v1/sys/seal-status", headers={"x-request-id": "trace-42.a_b"})
    assert given.headers["x-request-id"] == "trace-42.a_b"
    unsafe = client.get("/v1/nowhere", headers={"x-request-id": 'bad id\twith"quotes'})
    assert unsafe.headers["x-request-id"] != 'bad id\twith"quotes'
    assert unsafe.json()["request_id"] == unsafe.headers["x-request-id"]
    assert len(unsafe.headers["x-request-id"]) == 32


def test_metrics_count_requests_by_route_template(unsealed: Initialized) -> None:
    client, auth = unsealed.client, unsealed.auth
    client.post("/v1/keys", json={"name": "m", "spec": "AES_256_GCM"}, headers=auth)
    client.get("/v1/keys/m", headers=auth)
    client.get("/v1/keys/missing", headers=auth)
    text = client.get("/metrics", headers=auth).text
    assert (
        'keystead_http_requests_total{method="GET",route="/v1/keys/{key}",status="200"} 1.0' in text
    )
    assert (
        'keystead_http_requests_total{method="GET",route="/v1/keys/{key}",status="404"} 1.0' in text
    )
    assert 'route="/v1/keys/m"' not in text
    assert "keystead_http_request_duration_seconds_bucket" in text


def test_openapi_document_covers_the_route_table(unsealed: Initialized) -> None:
    document = unsealed.client.get("/v1/openapi.json", headers=unsealed.auth).json()
    assert document["openapi"] == "3.1.0"
    table = endpoints_of(unsealed.client.app)  # type: ignore[arg-type]
    for endpoint in table:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        assert operation["operationId"] == endpoint.action
        assert ("security" in operation) == endpoint.auth
    create = document["paths"]["/v1/keys"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "spec"}
    assert "Problem" in document["components"]["schemas"]


def test_no_secret_reaches_the_server_log(settings: Settings, capfd, configured_logging) -> None:
    configured_logging("debug", "json")
    with TestClient(create_app(settings), base_url="https://t") as client:
        init = client.post("/v1/sys/init", json={"shares": 2, "threshold": 2}).json()
        for share in init["shares"]:
            client.post("/v1/sys/unseal", json={"share": share})
        auth = {"authorization": f"Bearer {init['root_token']}"}
        client.post("/v1/keys", json={"name": "logs", "spec": "AES_256_GCM"}, headers=auth)
        secret = b64(b"do not log me")
        encrypted = client.post(
            "/v1/keys/logs/encrypt", json={"plaintext": secret}, headers=auth
        ).json()
        client.post("/v1/decrypt", json={"ciphertext": encrypted["ciphertext"]}, headers=auth)
    out, err = capfd.readouterr()
    logged = out + err
    assert '"route": "/v1/keys/{key}/encrypt"' in logged
    for value in [init["root_token"], *init["shares"], secret, encrypted["ciphertext"]]:
        assert value not in logged


def test_a_key_user_without_grants_is_refused_on_every_key_route(
    unsealed: Initialized,
) -> None:
    """A valid key-user token that owns no key and holds no grant: 403, and nothing leaks."""
    from keystead.crypto.hashing import token_digest
    from keystead.services.clock import utc_now
    from keystead.storage.repositories import StoredToken

    client = unsealed.client
    client.post("/v1/keys", json={"name": "anything", "spec": "AES_256_GCM"}, headers=unsealed.auth)
    services = client.app.state.services  # type: ignore[attr-defined]

    async def add_service_token() -> None:
        async with services.system._database.unit_of_work() as uow:
            stored = StoredToken(
                id="svc-1", kind="api", display_name="ci", roles=("key-user",), expires_at=None
            )
            await uow.tokens.add(stored, token_digest("kst_service_token"), utc_now())

    client.portal.call(add_service_token)  # type: ignore[union-attr]
    service = {"authorization": "Bearer kst_service_token"}
    key_routes = [(m, p) for m, p in PROTECTED if p.startswith("/v1/keys") or p == "/v1/decrypt"]
    assert len(key_routes) > 30
    refused = 0
    for method, path in key_routes:
        response = client.request(method, path.replace("{version}", "1"), json={}, headers=service)
        if response.status_code == 400:  # the body is checked before the service is called
            continue
        assert (response.status_code, response.json()["code"]) == (403, "PermissionDenied"), path
        refused += 1
    assert refused >= 15  # the rest refused their empty body first (400), never a 2xx
    for missing in ("/v1/keys/no-such-key", "/v1/keys/no-such-key/versions"):
        response = client.get(missing, headers=service)
        assert response.status_code == 403, "a refused caller must not learn which keys exist"


@pytest.mark.parametrize("path", ["/v1/keys", "/v1/users", "/v1/audit"])
@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "\u00b2", "1e3", ""])
def test_a_bad_page_limit_is_a_400_on_every_list(
    unsealed: Initialized, path: str, limit: str
) -> None:
    response = unsealed.client.get(path, params={"limit": limit}, headers=unsealed.auth)
    assert (response.status_code, response.json()["code"]) == (400, "ValidationFailed")
    assert "limit must be a whole number from 1 to 1000" in response.json()["detail"]
