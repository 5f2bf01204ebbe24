"""Policies, roles and grants through the API: deny wins, key-name globs, read-only built-ins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import b64
from identity_support import Server, running
from keystead.config import Settings


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with running(settings) as started:
        yield started


def _policy(server: Server, name: str, *statements: dict) -> None:
    response = server.as_root("POST", "/v1/policies", {"name": name, "statements": statements})
    assert response.status_code == 201, response.text


def _role(server: Server, name: str, *policies: str) -> None:
    response = server.as_root("POST", "/v1/roles", {"name": name, "policies": list(policies)})
    assert response.status_code == 201, response.text


def _encrypt(server: Server, caller: dict[str, str], key: str) -> int:
    response = server.client.post(
        f"/v1/keys/{key}/encrypt", json={"plaintext": b64(b"x")}, headers=caller
    )
    return response.status_code


def test_a_deny_overrides_an_allow_from_another_role(server: Server) -> None:
    for name in ("team-a", "team-b", "team-secret", "other"):
        server.as_root("POST", "/v1/keys", {"name": name, "spec": "AES_256_GCM"})
    _policy(
        server, "team-use", {"effect": "allow", "actions": ["keys.encrypt"], "keys": ["team-*"]}
    )
    _policy(server, "no-secrets", {"effect": "deny", "actions": ["keys.*"], "keys": ["*-secret"]})
    _role(server, "team", "team-use")
    _role(server, "careful", "no-secrets")
    only_allow = server.user_with("ann", ["team"])
    both = server.user_with("ben", ["team", "careful"])
    assert [_encrypt(server, only_allow, k) for k in ("team-a", "team-secret", "other")] == [
        200, 200, 403,
    ]  # fmt: skip
    assert [_encrypt(server, both, k) for k in ("team-a", "team-b", "team-secret")] == [
        200, 200, 403,
    ]  # fmt: skip
    # The deny also beats a grant and ownership-free key-user rights.
    server.as_root("PATCH", "/v1/users/ben", {"roles": ["team", "careful", "key-user"]})
    server.as_root("POST", "/v1/keys/team-secret/grants",
                   {"principal": "ben", "operations": ["encrypt"]})  # fmt: skip
    ben_again = server.token_of("ben")
    assert _encrypt(server, ben_again, "team-secret") == 403


def test_a_refused_caller_cannot_tell_a_missing_key_from_a_forbidden_one(server: Server) -> None:
    _policy(server, "team-use", {"effect": "allow", "actions": ["keys.*"], "keys": ["team-*"]})
    _role(server, "team", "team-use")
    ann = server.user_with("ann", ["team"])
    server.as_root("POST", "/v1/keys", {"name": "hidden", "spec": "AES_256_GCM"})
    missing = server.client.get("/v1/keys/no-such-key", headers=ann)
    forbidden = server.client.get("/v1/keys/hidden", headers=ann)
    assert (missing.status_code, forbidden.status_code) == (403, 403)
    assert missing.json()["detail"] == forbidden.json()["detail"]
    # Within its own globs, the caller does learn that a key is missing.
    assert server.client.get("/v1/keys/team-nothing", headers=ann).status_code == 404


def test_a_grant_gives_exactly_its_operations_and_revoking_it_takes_them(server: Server) -> None:
    server.as_root("POST", "/v1/keys", {"name": "orders", "spec": "AES_256_GCM"})
    bob = server.user_with("bob", ["key-user"])
    grant = server.as_root(
        "POST", "/v1/keys/orders/grants", {"principal": "bob", "operations": ["encrypt"]}
    ).json()
    encrypted = server.client.post(
        "/v1/keys/orders/encrypt", json={"plaintext": b64(b"x")}, headers=bob
    )
    assert encrypted.status_code == 200
    decrypted = server.client.post(
        "/v1/decrypt", json={"ciphertext": encrypted.json()["ciphertext"]}, headers=bob
    )
    assert decrypted.status_code == 403
    listed = server.as_root("GET", "/v1/keys/orders/grants").json()["grants"]
    assert [(g["principal"], g["operations"]) for g in listed] == [("bob", ["encrypt"])]
    revoked = server.as_root("DELETE", f"/v1/keys/orders/grants/{grant['id']}")
    assert revoked.status_code == 204
    assert _encrypt(server, bob, "orders") == 403
    again = server.as_root("DELETE", f"/v1/keys/orders/grants/{grant['id']}")
    assert (again.status_code, again.json()["code"]) == (404, "GrantNotFound")


def test_data_key_with_plaintext_and_wrapped_only_are_separate_actions(server: Server) -> None:
    server.as_root("POST", "/v1/keys", {"name": "envelopes", "spec": "AES_256_GCM"})
    bob = server.user_with("bob", ["key-user"])
    server.as_root("POST", "/v1/keys/envelopes/grants",
                   {"principal": "bob", "operations": ["data_key_wrapped"]})  # fmt: skip

    def data_key(plaintext: bool) -> int:
        body = {"spec": "AES_256", "plaintext": plaintext}
        return server.client.post("/v1/keys/envelopes/data-key", json=body, headers=bob).status_code

    assert (data_key(plaintext=False), data_key(plaintext=True)) == (200, 403)


def test_a_key_owner_with_key_user_uses_and_grants_its_key(server: Server) -> None:
    _policy(server, "make-keys", {"effect": "allow", "actions": ["keys.create"], "keys": ["app-*"]})
    _role(server, "maker", "make-keys")
    dev = server.user_with("dev", ["maker", "key-user"])
    made = server.client.post(
        "/v1/keys", json={"name": "app-1", "spec": "AES_256_GCM"}, headers=dev
    )
    assert made.status_code == 201, made.text
    refused = server.client.post(
        "/v1/keys", json={"name": "infra-1", "spec": "AES_256_GCM"}, headers=dev
    )
    assert refused.status_code == 403
    assert _encrypt(server, dev, "app-1") == 200
    server.add_user("peer", ["key-user"])
    granted = server.client.post(
        "/v1/keys/app-1/grants", json={"principal": "peer", "operations": ["encrypt"]},
        headers=dev,
    )  # fmt: skip
    assert granted.status_code == 201
    assert _encrypt(server, server.token_of("peer"), "app-1") == 200
    # Lifecycle stays with the key-admin.
    assert server.client.post("/v1/keys/app-1/rotate", headers=dev).status_code == 403


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"name": "p", "statements": [{"effect": "allow", "actions": ["keys.encrpyt"]}]},
         "ValidationFailed", "matches no action"),
        ({"name": "p", "statements": [{"effect": "allow", "actions": ["*"], "keys": ["a b"]}]},
         "ValidationFailed", "key glob"),
        ({"name": "p", "statements": [{"effect": "maybe", "actions": ["*"]}]},
         "ValidationFailed", "effect"),
        ({"name": "p", "statements": []}, "ValidationFailed", "statements"),
        ({"name": "Bad Name", "statements": [{"effect": "allow", "actions": ["*"]}]},
         "ValidationFailed", "name"),
        ({"name": "admin", "statements": [{"effect": "allow", "actions": ["*"]}]},
         "PolicyAlreadyExists", "exists"),
    ],
)  # fmt: skip
def test_bad_policies_get_a_clear_4xx(server: Server, body: dict, code: str, says: str) -> None:
    response = server.as_root("POST", "/v1/policies", body)
    assert response.status_code in {400, 409}, response.text
    assert response.json()["code"] == code
    assert says in response.json()["detail"]


def test_builtin_roles_and_policies_are_read_only(server: Server) -> None:
    statements = [{"effect": "allow", "actions": ["*"]}]
    changed = server.as_root("PUT", "/v1/policies/key-user",
                             {"name": "key-user", "statements": statements})  # fmt: skip
    assert (changed.status_code, changed.json()["code"]) == (409, "BuiltinReadOnly")
    assert server.as_root("DELETE", "/v1/roles/admin").json()["code"] == "BuiltinReadOnly"
    roles = {r["name"]: r for r in server.as_root("GET", "/v1/roles").json()["roles"]}
    assert {n for n, r in roles.items() if r["builtin"]} == {
        "admin", "key-admin", "key-user", "auditor",
    }  # fmt: skip
    unknown = server.as_root("POST", "/v1/roles", {"name": "r", "policies": ["nope"]})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "ValidationFailed")
    body = {"username": "x1", "password": "long enough passphrase", "roles": ["nope"]}
    user = server.as_root("POST", "/v1/users", body)
    assert (user.status_code, user.json()["code"]) == (400, "ValidationFailed")


def test_a_policy_in_use_cannot_be_deleted_and_a_deleted_role_gives_nothing(
    server: Server,
) -> None:
    server.as_root("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"})
    _policy(server, "use-k", {"effect": "allow", "actions": ["keys.encrypt"], "keys": ["k"]})
    _role(server, "k-users", "use-k")
    ann = server.user_with("ann", ["k-users"])
    assert _encrypt(server, ann, "k") == 200
    in_use = server.as_root("DELETE", "/v1/policies/use-k")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "Conflict")
    assert server.as_root("DELETE", "/v1/roles/k-users").status_code == 204
    assert _encrypt(server, ann, "k") == 403
    assert server.as_root("DELETE", "/v1/policies/use-k").status_code == 204
    gone = server.as_root("GET", "/v1/policies/use-k")
    assert (gone.status_code, gone.json()["code"]) == (404, "PolicyNotFound")


def test_users_read_their_own_record_and_nobody_elses(server: Server) -> None:
    alice = server.user_with("alice", ["key-user"])
    server.add_user("bob", ["key-user"])
    own = server.client.get("/v1/users/alice", headers=alice)
    assert (own.status_code, own.json()["username"]) == (200, "alice")
    other = server.client.get("/v1/users/bob", headers=alice)
    assert (other.status_code, other.json()["code"]) == (403, "PermissionDenied")
    assert server.client.get("/v1/users/nobody", headers=alice).status_code == 403
