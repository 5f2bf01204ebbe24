"""The root token: revoked once an admin exists; a new one only with a quorum of shares."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from identity_support import Server, running
from keystead.config import Settings, load_settings


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with running(settings, shares=5, threshold=3) as started:
        yield started


def _generate(server: Server, share: str) -> dict:
    response = server.client.post("/v1/sys/generate-root", json={"share": share})
    assert response.status_code == 200, response.text
    return response.json()


def test_root_is_revoked_only_once_an_enabled_admin_exists(server: Server) -> None:
    refused = server.as_root("POST", "/v1/sys/revoke-root")
    assert (refused.status_code, refused.json()["code"]) == (409, "NoAdmin")
    server.add_user("boss", ["admin"])
    server.as_root("POST", "/v1/users/boss/disable")
    still = server.as_root("POST", "/v1/sys/revoke-root")
    assert (still.status_code, still.json()["code"]) == (409, "NoAdmin")
    server.as_root("POST", "/v1/users/boss/enable")
    boss = server.token_of("boss")
    key_admin = server.user_with("keeper", ["key-admin"])
    assert server.client.post("/v1/sys/revoke-root", headers=key_admin).status_code == 403
    revoked = server.client.post("/v1/sys/revoke-root", headers=boss)
    assert revoked.json() == {"revoked": 1}
    response = server.as_root("GET", "/v1/keys")
    assert (response.status_code, response.json()["code"]) == (401, "Unauthenticated")
    assert server.client.get("/v1/users", headers=boss).status_code == 200


def test_a_quorum_of_shares_makes_a_new_root_token(server: Server) -> None:
    server.add_user("boss", ["admin"])
    server.as_root("POST", "/v1/sys/revoke-root")
    assert _generate(server, server.shares[4]) == {
        "progress": 1,
        "threshold": 3,
        "root_token": None,
    }
    assert _generate(server, server.shares[0])["progress"] == 2
    done = _generate(server, server.shares[2])
    assert done["root_token"].startswith("kst_root_")
    fresh = {"authorization": f"Bearer {done['root_token']}"}
    assert server.client.get("/v1/keys", headers=fresh).status_code == 200


def test_foreign_or_repeated_shares_make_no_root_token(server: Server, tmp_path) -> None:
    other_settings = load_settings(data_dir=tmp_path / "other", insecure_http=True)
    with running(other_settings, shares=5, threshold=3) as other:
        foreign = other.shares[:1]
    _generate(server, server.shares[0])
    again = server.client.post("/v1/sys/generate-root", json={"share": server.shares[0]})
    assert (again.status_code, again.json()["code"]) == (400, "InvalidUnsealShare")
    _generate(server, server.shares[1])
    wrong = server.client.post("/v1/sys/generate-root", json={"share": foreign[0]})
    assert (wrong.status_code, wrong.json()["code"]) == (400, "InvalidUnsealKey")
    assert "root_token" not in wrong.text
    # Progress was reset: two more good shares are not enough.
    assert _generate(server, server.shares[3])["progress"] == 1
    assert _generate(server, server.shares[4])["progress"] == 2
    reset = server.client.post("/v1/sys/generate-root", json={"reset": True}).json()
    assert reset == {"progress": 0, "threshold": 3, "root_token": None}


def test_a_flipped_bit_in_a_share_is_refused(server: Server) -> None:
    raw = bytearray(base64.b64decode(server.shares[2]))
    raw[5] ^= 0x10
    _generate(server, server.shares[0])
    _generate(server, server.shares[1])
    bad = server.client.post(
        "/v1/sys/generate-root", json={"share": base64.b64encode(raw).decode()}
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidUnsealKey")


def test_generate_root_needs_an_unsealed_server(server: Server) -> None:
    server.as_root("POST", "/v1/sys/seal")
    response = server.client.post("/v1/sys/generate-root", json={"share": server.shares[0]})
    assert (response.status_code, response.json()["code"]) == (503, "Sealed")


def test_registration_is_off_unless_configured(server: Server, tmp_path) -> None:
    body = {"username": "newbie", "password": "a long enough passphrase"}
    closed = server.client.post("/v1/auth/register", json=body)
    assert (closed.status_code, closed.json()["code"]) == (403, "RegistrationClosed")
    settings = load_settings(
        data_dir=tmp_path / "open", insecure_http=True, allow_registration=True
    )
    with running(settings) as open_server:
        made = open_server.client.post("/v1/auth/register", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["roles"] == ["key-user"]
        assert made.json()["key_id"]
        taken = open_server.client.post("/v1/auth/register", json=body)
        assert (taken.status_code, taken.json()["code"]) == (409, "UserAlreadyExists")
        assert open_server.login("newbie", body["password"]).status_code == 200
