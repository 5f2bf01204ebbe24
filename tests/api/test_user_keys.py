"""Issue 4, must-show 2: each user's own key pair is theirs alone (the seed's step 2).

A user cannot sign with another user's key, nor reach it by any endpoint; the owner's
signatures verify with the published public key using the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from conftest import b64
from identity_support import Server, running
from keystead.api.app import endpoint_table
from keystead.api.metrics import Metrics
from keystead.config import Settings, load_settings

MESSAGE = b'{"order":"buy 1 BTC at 42000","nonce":7}'


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with running(settings) as started:
        yield started


def _verify(public_pem: str, signature: bytes, message: bytes) -> None:
    public = serialization.load_pem_public_key(public_pem.encode())
    if isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, message)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("spec", "curve"),
    [("EC_SECP256K1", "secp256k1"), ("EC_P256", "secp256r1"), ("ED25519", None)],
)
def test_the_owners_signature_verifies_with_the_published_key(
    tmp_path, spec: str, curve: str | None
) -> None:
    settings = load_settings(data_dir=tmp_path / "d", insecure_http=True, user_key_spec=spec)
    with running(settings) as server:
        created = server.add_user("alice", ["key-user"])
        alice = server.token_of("alice")
        bob = server.user_with("bob", ["key-user"])
        published = server.client.get("/v1/users/alice/public-key", headers=bob)
        assert published.status_code == 200, published.text
        body = published.json()
        assert (body["key_id"], body["spec"], body["version"]) == (created["key_id"], spec, 1)
        public = serialization.load_pem_public_key(body["public_key"].encode())
        if curve is not None:
            assert isinstance(public, ec.EllipticCurvePublicKey)
            assert public.curve.name == curve
        signed = server.client.post(
            "/v1/keys/user:alice/sign", json={"message": b64(MESSAGE)}, headers=alice
        )
        assert signed.status_code == 200, signed.text
        signature = base64.b64decode(signed.json()["signature"])
        _verify(body["public_key"], signature, MESSAGE)
        with pytest.raises(InvalidSignature):
            _verify(body["public_key"], signature, MESSAGE.replace(b"42000", b"42001"))


def test_a_user_cannot_sign_with_another_users_key(server: Server) -> None:
    server.add_user("alice", ["key-user"])
    bob = server.user_with("bob", ["key-user"])
    for path, body in [
        ("/v1/keys/user:alice/sign", {"message": b64(MESSAGE)}),
        ("/v1/keys/user:alice/sign/batch", {"items": [{"message": b64(MESSAGE)}] * 2}),
    ]:
        response = server.client.post(path, json=body, headers=bob)
        assert (response.status_code, response.json()["code"]) == (403, "PermissionDenied")
    # Neither the operators nor a policy allowing everything can sign with it.
    server.as_root("POST", "/v1/policies", {
        "name": "everything", "statements": [{"effect": "allow", "actions": ["*"]}],
    })  # fmt: skip
    server.as_root("POST", "/v1/roles", {"name": "everything", "policies": ["everything"]})
    mallory = server.user_with("mallory", ["everything", "key-user"])
    key_admin = server.user_with("keeper", ["key-admin", "key-user"])
    for caller in (server.root, mallory, key_admin):
        response = server.client.post(
            "/v1/keys/user:alice/sign", json={"message": b64(MESSAGE)}, headers=caller
        )
        assert (response.status_code, response.json()["code"]) == (403, "PermissionDenied")


def test_no_endpoint_reaches_another_users_key(server: Server) -> None:
    server.add_user("alice", ["key-user"])
    bob = server.user_with("bob", ["key-user"])
    alice = server.token_of("alice")
    signature = server.client.post(
        "/v1/keys/user:alice/sign", json={"message": b64(MESSAGE)}, headers=alice
    ).json()["signature"]
    key_routes = [e for e in endpoint_table(Metrics()) if "{key}" in e.path]
    assert len(key_routes) > 30
    body = {"message": b64(MESSAGE), "signature": signature, "plaintext": b64(b"x")}
    for endpoint in key_routes:
        path = re.sub(r"{(\w+)}", lambda m: {"key": "user:alice"}.get(m.group(1), "1"),
                      endpoint.path)  # fmt: skip
        response = server.client.request(endpoint.method, path, json=body, headers=bob)
        assert response.status_code in {400, 403}, (endpoint.action, response.text)
        assert signature not in response.text
        if response.status_code == 400:  # the body did not fit this endpoint's schema
            assert response.json()["code"] == "ValidationFailed", endpoint.action
    # Reading the public half is what the user's own public-key endpoint is for.
    assert server.client.get("/v1/users/alice/public-key", headers=bob).status_code == 200


def test_a_users_own_key_cannot_be_granted_away(server: Server) -> None:
    server.add_user("alice", ["key-user"])
    alice = server.token_of("alice")
    server.add_user("bob", ["key-user"])
    grant = {"principal": "bob", "operations": ["sign"]}
    for caller in (alice, server.root):
        response = server.client.post("/v1/keys/user:alice/grants", json=grant, headers=caller)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "UnsupportedOperation"


def test_nobody_can_create_a_key_in_the_users_namespace(server: Server) -> None:
    response = server.as_root("POST", "/v1/keys", {"name": "user:eve", "spec": "EC_P256"})
    assert (response.status_code, response.json()["code"]) == (403, "PermissionDenied")
    assert "reserved" in response.json()["detail"]


def test_a_deleted_users_key_still_verifies_but_signs_nothing(server: Server) -> None:
    created = server.add_user("alice", ["key-user"])
    alice = server.token_of("alice")
    signature = server.client.post(
        "/v1/keys/user:alice/sign", json={"message": b64(MESSAGE)}, headers=alice
    ).json()["signature"]
    server.add_user("admin1", ["admin"])
    admin = server.token_of("admin1")
    assert server.client.delete("/v1/users/alice", headers=admin).status_code == 204
    assert server.client.get("/v1/auth/whoami", headers=alice).status_code == 401
    key = server.as_root("GET", f"/v1/keys/{created['key_id']}").json()
    assert key["state"] == "DEACTIVATED"
    verified = server.as_root(
        "POST", "/v1/keys/user:alice/verify",
        {"message": b64(MESSAGE), "signature": signature},
    )  # fmt: skip
    assert verified.json() == {"valid": True}
    assert server.client.get("/v1/users/alice/public-key", headers=admin).status_code == 404


def test_every_user_gets_a_key_and_service_accounts_too(server: Server) -> None:
    person = server.add_user("carol", ["key-user"])
    service = server.add_user("exchange", ["key-user"], password=None, kind="service")
    for made in (person, service):
        key = server.as_root("GET", f"/v1/keys/{made['key_id']}").json()
        assert key["owner"] == made["username"]
        assert key["name"] == f"user:{made['username']}"
        assert (key["usage"], key["exportable"]) == ("SIGN_VERIFY", False)


def test_the_published_key_names_each_version_and_its_state(server: Server) -> None:
    """What a verifier such as the exchange needs: each version, and whether it still counts."""
    created = server.add_user("alice", ["key-user"])
    bob = server.user_with("bob", ["key-user"])
    key_id = created["key_id"]
    first = server.client.get("/v1/users/alice/public-key", headers=bob).json()
    assert (first["version"], first["primary_version"]) == (1, 1)
    assert (first["key_state"], first["version_state"]) == ("ACTIVE", "ACTIVE")
    assert server.as_root("POST", f"/v1/keys/{key_id}/rotate").status_code == 200
    old = server.client.get("/v1/users/alice/public-key?version=1", headers=bob).json()
    new = server.client.get("/v1/users/alice/public-key", headers=bob).json()
    assert old["public_key"] == first["public_key"] != new["public_key"]
    assert (old["version"], old["primary_version"], new["version"]) == (1, 2, 2)
    server.as_root("POST", f"/v1/keys/{key_id}/revoke", {"reason": "KEY_COMPROMISE"})
    revoked = server.client.get("/v1/users/alice/public-key?version=2", headers=bob).json()
    assert revoked["key_state"] == "COMPROMISED"  # the key's state rules over its versions'
    server.as_root("POST", f"/v1/keys/{key_id}/versions/1/revoke", {"reason": "KEY_COMPROMISE"})
    old = server.client.get("/v1/users/alice/public-key?version=1", headers=bob).json()
    assert old["version_state"] == "COMPROMISED"
    for query, status, code in [
        ("version=3", 404, "KeyVersionNotFound"),
        ("version=0", 400, "ValidationFailed"),
        ("version=two", 400, "ValidationFailed"),
    ]:
        answer = server.client.get(f"/v1/users/alice/public-key?{query}", headers=bob)
        assert (answer.status_code, answer.json()["code"]) == (status, code), query
