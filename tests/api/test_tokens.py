"""Bearer tokens (issue 4, must-show 5): expiry, renewal, revocation, tampering, API tokens,
and nothing usable at rest.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import b64
from identity_support import PASSWORD, Server, running
from keystead.config import Settings
from keystead.errors import Unauthenticated

SESSION_TTL = timedelta(seconds=3600)  # session_ttl_seconds
SESSION_MAX = timedelta(seconds=86400)  # session_max_ttl_seconds
CACHE = timedelta(seconds=11)  # past the 10 s a resolved token is trusted without a read
PHC = re.compile(r"\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def whoami(server: Server, headers: dict[str, str]) -> httpx.Response:
    return server.client.get("/v1/auth/whoami", headers=headers)


def mint(server: Server, headers: dict[str, str], **body: object) -> httpx.Response:
    return server.client.post("/v1/auth/tokens", json=body, headers=headers)


def encrypt(server: Server, headers: dict[str, str]) -> httpx.Response:
    body = {"plaintext": b64(b"payroll")}
    return server.client.post("/v1/keys/k/encrypt", json=body, headers=headers)


def with_key(server: Server, *grantees: str) -> None:
    """A key ``k`` whose encrypt is granted to each of ``grantees``."""
    created = server.as_root("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"})
    assert created.status_code == 201, created.text
    for name in grantees:
        grant = {"principal": name, "operations": ["encrypt"]}
        assert server.as_root("POST", "/v1/keys/k/grants", grant).status_code == 201


# --- Expiry and renewal ------------------------------------------------------------------------


def test_a_session_expires_after_its_lifetime(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        login = server.login("alice").json()
        headers = bearer(login["token"])
        assert when(login["expires_at"]) == server.clock.now + SESSION_TTL
        server.clock.advance(SESSION_TTL - timedelta(seconds=1))
        assert whoami(server, headers).status_code == 200  # and now it is cached
        server.clock.advance(timedelta(seconds=1))
        assert answer(whoami(server, headers)) == (401, "Unauthenticated")
        assert answer(server.client.post("/v1/auth/renew", headers=headers)) == (
            401, "Unauthenticated",
        )  # fmt: skip


def test_renewal_extends_a_session_but_never_past_its_maximum(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        login = server.login("alice").json()
        headers = bearer(login["token"])
        ceiling = when(login["max_expires_at"])
        assert ceiling == server.clock.now + SESSION_MAX
        for _ in range(40):
            server.clock.advance(timedelta(minutes=50))
            renewed = server.client.post("/v1/auth/renew", headers=headers)
            assert renewed.status_code == 200, renewed.text
            body = renewed.json()
            assert when(body["max_expires_at"]) == ceiling
            if server.clock.now + SESSION_TTL < ceiling:
                assert when(body["expires_at"]) == server.clock.now + SESSION_TTL
                continue
            assert when(body["expires_at"]) == ceiling
            break
        else:
            pytest.fail("the renewals never reached the maximum")
        # Past 50 minutes of life: a renewal did extend it beyond the first hour.
        assert server.clock.now > when(login["expires_at"])
        assert whoami(server, headers).json()["expires_at"] == body["expires_at"]

        server.clock.advance(timedelta(minutes=5))
        again = server.client.post("/v1/auth/renew", headers=headers).json()
        assert when(again["expires_at"]) == ceiling
        server.clock.now = ceiling - timedelta(seconds=1)
        assert whoami(server, headers).status_code == 200
        server.clock.now = ceiling
        assert answer(whoami(server, headers)) == (401, "Unauthenticated")
        refused = server.client.post("/v1/auth/renew", headers=headers)
        assert answer(refused) == (401, "Unauthenticated")


def test_an_api_token_keeps_the_lifetime_it_was_given(settings: Settings) -> None:
    with running(settings) as server:
        session = server.user_with("alice", [])
        minted = mint(server, session, ttl_seconds=600).json()
        headers = bearer(minted["token"])
        assert when(minted["expires_at"]) == server.clock.now + timedelta(seconds=600)
        assert answer(server.client.post("/v1/auth/renew", headers=headers)) == (
            400, "UnsupportedOperation",
        )  # fmt: skip
        server.clock.advance(timedelta(seconds=599))
        assert whoami(server, headers).status_code == 200
        server.clock.advance(timedelta(seconds=1))
        assert answer(whoami(server, headers)) == (401, "Unauthenticated")


# --- Revocation --------------------------------------------------------------------------------


def test_logout_revokes_the_calling_token_only(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        first, second = server.token_of("alice"), server.token_of("alice")
        assert whoami(server, first).status_code == 200  # resolved and cached
        assert server.client.post("/v1/auth/logout", headers=first).status_code == 204
        assert answer(whoami(server, first)) == (401, "Unauthenticated")
        assert whoami(server, second).status_code == 200
        server.clock.advance(CACHE)
        assert answer(whoami(server, first)) == (401, "Unauthenticated")


def test_revoking_an_api_token_by_id(settings: Settings) -> None:
    with running(settings) as server:
        alice = server.user_with("alice", [])
        bob = server.user_with("bob", [])
        admin = server.user_with("ada", ["admin"])
        own = mint(server, alice).json()
        assert whoami(server, bearer(own["token"])).status_code == 200

        # Another user, not an administrator, cannot revoke it, nor learn that it exists.
        refused = server.client.delete(f"/v1/auth/tokens/{own['id']}", headers=bob)
        assert answer(refused) == (404, "TokenNotFound")
        missing = server.client.delete("/v1/auth/tokens/no-such-token", headers=bob)
        assert missing.json() | {"request_id": ""} == refused.json() | {"request_id": ""}
        assert whoami(server, bearer(own["token"])).status_code == 200

        revoked = server.client.delete(f"/v1/auth/tokens/{own['id']}", headers=alice)
        assert revoked.status_code == 204
        assert answer(whoami(server, bearer(own["token"]))) == (401, "Unauthenticated")
        again = server.client.delete(f"/v1/auth/tokens/{own['id']}", headers=alice)
        assert answer(again) == (404, "TokenNotFound")
        assert whoami(server, alice).status_code == 200  # her session is untouched

        # An administrator may revoke anyone's.
        other = mint(server, alice).json()
        by_admin = server.client.delete(f"/v1/auth/tokens/{other['id']}", headers=admin)
        assert by_admin.status_code == 204
        assert answer(whoami(server, bearer(other["token"]))) == (401, "Unauthenticated")


# --- Tampering ---------------------------------------------------------------------------------


def altered(token: str, position: int) -> str:
    char = token[position]
    replacement = "B" if char == "A" else "A"
    return token[:position] + replacement + token[position + 1 :]


@pytest.mark.parametrize("kind", ["session", "api"])
def test_an_altered_token_is_refused(settings: Settings, kind: str) -> None:
    with running(settings) as server:
        session = server.user_with("alice", [])
        token = session["authorization"].removeprefix("Bearer ")
        if kind == "api":
            token = mint(server, session).json()["token"]
        prefix = "kst_s_" if kind == "session" else "kst_a_"
        assert token.startswith(prefix)
        assert whoami(server, bearer(token)).status_code == 200
        end = len(token) - 1
        positions = [0, 3, 4, len(prefix), len(prefix) + 1, len(token) // 2, end - 1, end]
        for position in positions:
            forged = altered(token, position)
            assert forged != token
            assert answer(whoami(server, bearer(forged))) == (401, "Unauthenticated"), position
        for forged in (token[:-1], token + "A", token.upper(), token[len(prefix) :]):
            assert answer(whoami(server, bearer(forged))) == (401, "Unauthenticated")
        assert whoami(server, bearer(token)).json()["name"] == "alice"


# --- API tokens --------------------------------------------------------------------------------


def test_an_api_token_carries_a_subset_of_its_creators_roles(settings: Settings) -> None:
    with running(settings) as server:
        with_key(server, "alice")
        session = server.user_with("alice", ["key-user", "auditor"])
        everything = mint(server, session).json()
        assert sorted(everything["roles"]) == ["auditor", "key-user"]
        narrow = mint(server, session, roles=["auditor"], description="reports").json()
        assert narrow["roles"] == ["auditor"]
        assert whoami(server, bearer(narrow["token"])).json()["roles"] == ["auditor"]
        # Alice may encrypt; her auditor-only token may not.
        assert encrypt(server, session).status_code == 200
        assert encrypt(server, bearer(everything["token"])).status_code == 200
        assert answer(encrypt(server, bearer(narrow["token"]))) == (403, "PermissionDenied")

        too_much = mint(server, session, roles=["key-user", "admin"])
        assert answer(too_much) == (400, "ValidationFailed")
        assert "admin" in too_much.json()["detail"]
        # A token minting a token: the ceiling is that token's roles, not the user's.
        escalate = mint(server, bearer(narrow["token"]), roles=["key-user"])
        assert answer(escalate) == (400, "ValidationFailed")
        assert mint(server, bearer(narrow["token"])).json()["roles"] == ["auditor"]


def test_an_admin_mints_api_tokens_for_service_accounts_only(settings: Settings) -> None:
    with running(settings) as server:
        with_key(server, "robot")
        server.add_user("robot", ["key-user"], password=None, kind="service")
        admin = server.user_with("ada", ["admin"])
        alice = server.user_with("alice", ["key-user"])

        minted = mint(server, admin, username="robot", description="ci")
        assert minted.status_code == 201, minted.text
        robot = bearer(minted.json()["token"])
        assert minted.json()["roles"] == ["key-user"]
        me = whoami(server, robot).json()
        assert (me["name"], me["kind"], me["roles"]) == ("robot", "api", ["key-user"])
        assert encrypt(server, robot).status_code == 200
        listed = server.client.get("/v1/auth/tokens?username=robot", headers=admin).json()
        assert [(t["username"], t["created_by"]) for t in listed["tokens"]] == [("robot", "ada")]

        for_a_person = mint(server, admin, username="alice")
        assert answer(for_a_person) == (403, "PermissionDenied")
        not_an_admin = mint(server, alice, username="robot")
        assert answer(not_an_admin) == (403, "PermissionDenied")
        beyond = mint(server, admin, username="robot", roles=["admin"])
        assert answer(beyond) == (400, "ValidationFailed")


def test_listing_tokens_shows_metadata_and_never_a_value(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        server.add_user("bob", [])
        values = [server.login("alice").json()["token"]]
        alice = bearer(values[0])
        values.append(mint(server, alice, description="backup job").json()["token"])
        values.append(server.login("bob").json()["token"])
        admin = server.user_with("ada", ["admin"])
        values.append(admin["authorization"].removeprefix("Bearer "))
        values.append(server.root["authorization"].removeprefix("Bearer "))

        own = server.client.get("/v1/auth/tokens", headers=alice)
        assert own.status_code == 200
        tokens = own.json()["tokens"]
        assert sorted(t["kind"] for t in tokens) == ["api", "session"]
        assert {t["username"] for t in tokens} == {"alice"}
        assert "backup job" in {t["description"] for t in tokens}
        everyone = server.client.get("/v1/auth/tokens?all=true", headers=admin)
        assert everyone.status_code == 200
        listed = {t["username"] for t in everyone.json()["tokens"]}
        assert listed == {"alice", "bob", "ada", None}  # None: the root token
        for listing in (own, everyone):
            assert all("token" not in t for t in listing.json()["tokens"])
            for value in values:
                secret = value.split("_", 2)[2]
                assert secret not in listing.text

        assert answer(server.client.get("/v1/auth/tokens?all=true", headers=alice)) == (
            403, "PermissionDenied",
        )  # fmt: skip
        others = server.client.get("/v1/auth/tokens?username=bob", headers=alice)
        assert answer(others) == (403, "PermissionDenied")


def test_changing_a_users_roles_changes_what_their_tokens_may_do(settings: Settings) -> None:
    with running(settings) as server:
        with_key(server, "alice")
        session = server.user_with("alice", ["key-user"])
        api = bearer(mint(server, session).json()["token"])
        assert encrypt(server, api).status_code == 200
        assert encrypt(server, session).status_code == 200

        patched = server.as_root("PATCH", "/v1/users/alice", {"roles": []})
        assert patched.json()["roles"] == []
        for headers in (api, session):
            assert answer(encrypt(server, headers)) == (403, "PermissionDenied")
        server.clock.advance(CACHE)
        for headers in (api, session):
            assert answer(encrypt(server, headers)) == (403, "PermissionDenied")
        assert whoami(server, api).json()["roles"] == []

        server.as_root("PATCH", "/v1/users/alice", {"roles": ["key-user"]})
        assert encrypt(server, api).status_code == 200


def test_disabling_a_user_refuses_their_tokens_at_once(settings: Settings) -> None:
    with running(settings) as server:
        session = server.user_with("alice", ["key-user"])
        api = bearer(mint(server, session).json()["token"])
        bob = server.user_with("bob", [])
        for headers in (session, api):
            assert whoami(server, headers).status_code == 200  # resolved and cached
        assert server.as_root("POST", "/v1/users/alice/disable").status_code == 200
        for headers in (session, api):
            assert answer(whoami(server, headers)) == (401, "Unauthenticated")
        assert whoami(server, bob).status_code == 200


# --- At rest -----------------------------------------------------------------------------------


def encodings(secret: bytes) -> list[bytes]:
    """Every form a secret could take in a database file."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def raw_sqlite_bytes(data_dir: Path) -> bytes:
    files = [p for p in sorted(data_dir.glob("keystead.db*")) if p.is_file()]
    assert data_dir / "keystead.db" in files
    return b"".join(path.read_bytes() for path in files)


def assert_absent(blob: bytes, secrets: dict[str, bytes]) -> None:
    for label, secret in secrets.items():
        for form in encodings(secret):
            assert form not in blob, f"{label} found at rest"


def token_secrets(label: str, value: str) -> dict[str, bytes]:
    random_part = value.split("_", 2)[2]
    raw = base64.urlsafe_b64decode(random_part + "=" * (-len(random_part) % 4))
    assert len(raw) == 32
    return {label: value.encode(), f"{label} (random part)": random_part.encode(),
            f"{label} (raw bytes)": raw}  # fmt: skip


def test_the_database_holds_no_password_and_no_token_in_a_usable_form(
    settings: Settings,
) -> None:
    passwords = {"alice": PASSWORD, "bob": "bobs own passphrase"}
    changed = "bobs second passphrase"
    secrets: dict[str, bytes] = {}
    issued: list[str] = []
    with running(settings) as server:
        issued.append(server.root["authorization"].removeprefix("Bearer "))
        server.add_user("alice", ["key-user"])
        server.add_user("bob", [], password=passwords["bob"])
        server.add_user("robot", ["key-user"], password=None, kind="service")
        server.add_user("ada", ["admin"], password="ada administers this")
        alice = server.login("alice").json()["token"]
        bob = server.login("bob", passwords["bob"]).json()["token"]
        admin = server.login("ada", "ada administers this").json()["token"]
        api = mint(server, bearer(alice), description="alice's job").json()["token"]
        robot = mint(server, bearer(admin), username="robot").json()["token"]
        body = {"current_password": passwords["bob"], "new_password": changed}
        changing = server.client.post("/v1/auth/password", json=body, headers=bearer(bob))
        assert changing.status_code == 204
        bob_again = server.login("bob", changed).json()["token"]
        issued += [alice, bob, admin, api, robot, bob_again]
        for index, value in enumerate(issued):
            secrets.update(token_secrets(f"token {index}", value))
        for name, password in [*passwords.items(), ("bob (changed)", changed)]:
            secrets[f"password of {name}"] = password.encode()
        secrets["password of ada"] = b"ada administers this"

        running_blob = raw_sqlite_bytes(settings.data_dir)
        assert_absent(running_blob, secrets)
    stopped_blob = raw_sqlite_bytes(settings.data_dir)
    assert_absent(stopped_blob, secrets)
    # The scan is not vacuous: the rows it searched are in those bytes.
    assert b"alice's job" in stopped_blob
    assert b"$argon2id$v=19$m=19456,t=2,p=1$" in stopped_blob

    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        hashes = dict(connection.execute("SELECT username, password_hash FROM users"))
        token_hashes = [row[0] for row in connection.execute("SELECT token_hash FROM tokens")]
    assert hashes["robot"] is None
    assert {name for name, h in hashes.items() if h is not None} == {"alice", "bob", "ada"}
    for name in ("alice", "bob", "ada"):
        assert PHC.fullmatch(hashes[name]), hashes[name]
    assert len(set(hashes.values())) == len(hashes)  # each with its own salt
    assert len(token_hashes) == len(issued)
    assert all(isinstance(h, bytes) and len(h) == 32 for h in token_hashes)
    assert {hashlib.sha256(v.encode()).digest() for v in issued} == set(token_hashes)


def test_a_client_certificate_of_a_disabled_or_unknown_user_is_refused(settings: Settings) -> None:
    """Mutual TLS maps a verified CN to a user; that user must exist and be enabled."""
    with running(settings) as server:
        server.add_user("carol", ["key-user"])
        tokens = server.services.tokens
        call = server.client.portal.call  # type: ignore[union-attr]
        principal = call(tokens.authenticate_certificate, "carol")
        assert (principal.display_name, principal.kind, principal.roles) == (
            "carol", "certificate", ("key-user",),
        )  # fmt: skip
        server.as_root("POST", "/v1/users/carol/disable")
        with pytest.raises(Unauthenticated):
            call(tokens.authenticate_certificate, "carol")
        with pytest.raises(Unauthenticated):
            call(tokens.authenticate_certificate, "nobody")
