"""Passwords, tokens, TOTP secrets and codes never reach logs, reprs or error messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from identity_support import running
from keystead.config import Settings
from keystead.crypto.passwords import Argon2Parameters, PasswordHasher
from keystead.domain.identity import TokenInfo, User, UserKind
from keystead.services.login import LoginAttempt
from keystead.services.tokens import IssuedToken
from keystead.storage.identity_repository import StoredUser

PASSWORD = "a long passphrase nobody may see"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_no_identity_secret_reaches_the_server_log_or_an_answer(
    settings: Settings, capfd, configured_logging
) -> None:
    configured_logging("debug", "json")
    with running(settings) as server:
        server.add_user("alice", ["key-user"], password=PASSWORD)
        token = server.login("alice", PASSWORD).json()["token"]
        alice = {"authorization": f"Bearer {token}"}
        enrolled = server.client.post(
            "/v1/auth/totp/enroll", json={"password": PASSWORD}, headers=alice
        ).json()
        code = pyotp.TOTP(enrolled["secret"]).at(server.clock.now)
        confirmed = server.client.post("/v1/auth/totp/confirm", json={"code": code}, headers=alice)
        recovery = confirmed.json()["recovery_codes"]
        server.clock.advance(timedelta(seconds=30))  # the next TOTP step
        next_code = pyotp.TOTP(enrolled["secret"]).at(server.clock.now)
        second = server.login("alice", PASSWORD, totp=next_code).json()["token"]
        api = server.client.post("/v1/auth/tokens", json={}, headers=alice).json()["token"]
        answers = [
            server.login("alice", PASSWORD + "x").text,
            server.login("alice", PASSWORD, recovery_code=recovery[0]).text,
            server.client.post("/v1/auth/password", headers=alice,
                               json={"current_password": PASSWORD, "new_password": "short"}).text,
            server.as_root("POST", "/v1/users",
                           {"username": "bob", "password": "q1w2e3r4t5y6", "roles": []}).text,
        ]  # fmt: skip
    out, err = capfd.readouterr()
    logged = out + err
    assert '"route": "/v1/auth/login"' in logged
    secrets = [PASSWORD, token, second, api, enrolled["secret"], code, next_code, *recovery]
    for secret in secrets:
        assert secret not in logged
    for answer in answers:
        for secret in [*secrets, "q1w2e3r4t5y6", "short"]:
            assert f'"{secret}' not in answer
            assert f'{secret}"' not in answer


def test_reprs_hide_passwords_hashes_tokens_and_totp_secrets() -> None:
    attempt = LoginAttempt("alice", PASSWORD, "127.0.0.1", totp="123456", recovery_code="rc-1")
    assert PASSWORD not in repr(attempt)
    assert "123456" not in repr(attempt)
    assert "rc-1" not in repr(attempt)
    hasher = PasswordHasher(Argon2Parameters(memory_kib=8 * 1024, time_cost=1))
    digest = hasher.hash(PASSWORD)
    assert "$argon2id$" not in repr(hasher)  # not even the decoy hash
    user = User(
        id="u", username="alice", kind=UserKind.USER, roles=(), disabled=False, key_id=None,
        totp_enabled=True, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    stored = StoredUser(user, digest, b"wrapped-totp", 7, ("hash-of-a-code",))
    for hidden in (digest, "wrapped-totp", "hash-of-a-code"):
        assert hidden not in repr(stored)
    info = TokenInfo(
        id="t", kind="session", username="alice", description="", roles=(), created_at=NOW,
        expires_at=None, max_expires_at=None, created_by="alice", revoked=False,
    )  # fmt: skip
    issued = IssuedToken("kst_s_the-token-value", info)
    assert "the-token-value" not in repr(issued)
    assert "alice" in repr(issued)
