"""The identity tables behave the same on SQLite and PostgreSQL (STYLE.md C27).

One workflow through the API: users, a failed and a good login, throttling counters, TOTP
steps, API tokens, policies, roles, grants, revocation; then the raw PostgreSQL dump holds
no password and no token.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pyotp

from conftest import b64
from identity_support import PASSWORD, running
from keystead.config import load_settings


def test_the_identity_workflow_on_each_database(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d", insecure_http=True, database_url=database_url)
    with running(settings) as server:
        server.add_user("alice", ["key-user"])
        server.add_user("svc", ["key-user"], password=None, kind="service")
        assert server.login("alice", "wrong password here").status_code == 401
        assert server.login("alice", "wrong password here").status_code == 401
        alice = server.token_of("alice")
        # TOTP: a step is used once, also on this database.
        secret = server.client.post(
            "/v1/auth/totp/enroll", json={"password": PASSWORD}, headers=alice
        ).json()["secret"]
        code = pyotp.TOTP(secret).at(server.clock.now)
        assert (
            server.client.post(
                "/v1/auth/totp/confirm", json={"code": code}, headers=alice
            ).status_code
            == 200
        )
        server.clock.advance(timedelta(seconds=30))
        later = pyotp.TOTP(secret).at(server.clock.now)
        assert server.login("alice", totp=later).status_code == 200
        assert server.login("alice", totp=later).json()["code"] == "TotpRequired"
        # Policies, roles, grants, API tokens.
        server.as_root("POST", "/v1/policies", {
            "name": "deny-secret", "statements": [{"effect": "deny", "actions": ["keys.*"],
                                                   "keys": ["secret-*"]}],
        })  # fmt: skip
        server.as_root("POST", "/v1/roles", {"name": "careful", "policies": ["deny-secret"]})
        server.as_root("PATCH", "/v1/users/svc", {"roles": ["key-user", "careful"]})
        for name in ("orders", "secret-1"):
            server.as_root("POST", "/v1/keys", {"name": name, "spec": "AES_256_GCM"})
            grant = {"principal": "svc", "operations": ["encrypt"]}
            assert server.as_root("POST", f"/v1/keys/{name}/grants", grant).status_code == 201
        minted = server.as_root("POST", "/v1/auth/tokens", {"username": "svc"}).json()
        svc = {"authorization": f"Bearer {minted['token']}"}
        body = {"plaintext": b64(b"x")}
        assert (
            server.client.post("/v1/keys/orders/encrypt", json=body, headers=svc).status_code == 200
        )
        assert (
            server.client.post("/v1/keys/secret-1/encrypt", json=body, headers=svc).status_code
            == 403
        )
        assert server.as_root("DELETE", f"/v1/auth/tokens/{minted['id']}").status_code == 204
        assert server.client.get("/v1/auth/whoami", headers=svc).status_code == 401
        if database_url.startswith("postgresql"):
            dump = subprocess.run(
                ["pg_dump", "--inserts", database_url], capture_output=True, check=True
            ).stdout
            for secret_text in (PASSWORD, minted["token"], alice["authorization"][7:], secret):
                assert secret_text.encode() not in dump
            assert b"$argon2id$v=19$m=19456,t=2,p=1$" in dump
