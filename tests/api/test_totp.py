"""TOTP second factor (issue 4, must-show 3): enrol, confirm, single-use codes, recovery codes,
lockout, disable and an administrator's reset. Codes are computed with pyotp at the FakeClock.
"""

from __future__ import annotations

import base64
import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
import pytest

from identity_support import PASSWORD, Server, running
from keystead.config import Settings

STEP = timedelta(seconds=30)
WRONG = "not the password, clearly"


def answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def code(server: Server, secret: str, steps: int = 0) -> str:
    """The code of the step ``steps`` away from the server's current time."""
    return pyotp.TOTP(secret).at(server.clock.now + steps * STEP)


def wrong_code(server: Server, secret: str) -> str:
    """A six-digit code that no step the server accepts now has."""
    valid = {code(server, secret, steps) for steps in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def enrol(server: Server, headers: dict[str, str]) -> str:
    started = server.client.post(
        "/v1/auth/totp/enroll", json={"password": PASSWORD}, headers=headers
    )
    assert started.status_code == 200, started.text
    body = started.json()
    secret = body["secret"]
    assert body["otpauth_uri"].startswith("otpauth://totp/Keystead:alice?")
    assert f"secret={secret}" in body["otpauth_uri"]
    return secret


def confirm(server: Server, headers: dict[str, str], totp: str) -> httpx.Response:
    return server.client.post("/v1/auth/totp/confirm", json={"code": totp}, headers=headers)


def totp_enabled(server: Server, name: str = "alice") -> bool:
    return server.as_root("GET", f"/v1/users/{name}").json()["totp_enabled"]


def enrolled(server: Server) -> tuple[str, list[str]]:
    """Alice with TOTP on: her secret and recovery codes; the clock one step past the
    confirmation, so that no code of the current step is used yet."""
    session = server.user_with("alice", [])
    secret = enrol(server, session)
    confirmed = confirm(server, session, code(server, secret))
    assert confirmed.status_code == 200, confirmed.text
    server.clock.advance(STEP)
    return secret, confirmed.json()["recovery_codes"]


def signed_in(server: Server, secret: str) -> dict[str, str]:
    """A session of alice, opened with the current step's code."""
    response = server.login("alice", totp=code(server, secret))
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['token']}"}


def test_confirming_enrolment_turns_totp_on_and_gives_ten_recovery_codes(
    settings: Settings,
) -> None:
    with running(settings) as server:
        session = server.user_with("alice", [])
        secret = enrol(server, session)
        assert not totp_enabled(server)
        # Enrolled but not confirmed: the password alone still logs in.
        assert server.login("alice").status_code == 200
        confirmed = confirm(server, session, code(server, secret))
        assert confirmed.status_code == 200, confirmed.text
        codes = confirmed.json()["recovery_codes"]
        assert len(codes) == len(set(codes)) == 10
        assert totp_enabled(server)
        # The code that confirmed is used: it cannot open a login afterwards.
        replay = server.login("alice", totp=code(server, secret))
        assert answer(replay) == (401, "TotpRequired")
        again = server.client.post(
            "/v1/auth/totp/enroll", json={"password": PASSWORD}, headers=session
        )
        assert answer(again) == (409, "Conflict")


def test_login_needs_a_current_code_and_each_code_works_once(settings: Settings) -> None:
    with running(settings) as server:
        secret, _ = enrolled(server)
        bare = server.login("alice")
        assert answer(bare) == (401, "TotpRequired")
        assert bare.headers["www-authenticate"] == 'Bearer realm="keystead"'

        now = code(server, secret)
        ok = server.login("alice", totp=now)
        assert ok.status_code == 200, ok.text
        assert ok.json()["token"].startswith("kst_s_")

        replay = server.login("alice", totp=now)
        assert answer(replay) == (401, "TotpRequired")
        assert "used already" in replay.json()["detail"]

        # The next step's code is accepted (clocks drift) -- once.
        ahead = code(server, secret, 1)
        assert server.login("alice", totp=ahead).status_code == 200
        assert answer(server.login("alice", totp=ahead)) == (401, "TotpRequired")
        # Now that a later step is used, the current one is spent too.
        assert answer(server.login("alice", totp=code(server, secret))) == (401, "TotpRequired")
        # Two steps ahead is too far; the current step, later than any used, is fine.
        server.clock.advance(2 * STEP)
        far = server.login("alice", totp=code(server, secret, 2))
        assert answer(far) == (401, "TotpRequired")
        server.clock.advance(timedelta(seconds=1))  # the third failure in a row costs 1 s
        assert server.login("alice", totp=code(server, secret)).status_code == 200


def test_a_wrong_password_with_a_right_code_says_nothing_about_totp(settings: Settings) -> None:
    with running(settings) as server:
        secret, _ = enrolled(server)
        current = code(server, secret)
        assert answer(server.login("alice", WRONG, totp=current)) == (401, "InvalidCredentials")
        assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
        # The code was not spent on the failed password.
        assert server.login("alice", totp=current).status_code == 200


def test_a_recovery_code_works_once(settings: Settings) -> None:
    with running(settings) as server:
        _, codes = enrolled(server)
        first = server.login("alice", recovery_code=codes[0])
        assert first.status_code == 200, first.text
        reused = server.login("alice", recovery_code=codes[0])
        assert answer(reused) == (401, "TotpRequired")
        assert server.login("alice", recovery_code=codes[1]).status_code == 200
        made_up = server.login("alice", recovery_code="aaaa-bbbb-cccc-dddd")
        assert answer(made_up) == (401, "TotpRequired")


def test_wrong_codes_count_towards_the_lockout(settings: Settings) -> None:
    with running(settings) as server:
        secret, codes = enrolled(server)
        failures = 0
        retry = 0
        for _ in range(30):
            response = server.login("alice", totp=wrong_code(server, secret))
            if response.status_code == 401:
                assert response.json()["code"] == "TotpRequired"
                failures += 1
                continue
            assert answer(response) == (429, "TooManyAttempts")
            retry = int(response.headers["retry-after"])
            if retry > 60:
                break
            server.clock.advance(timedelta(seconds=retry))
        assert (failures, retry) == (10, 900)
        # Locked: neither a right code nor a recovery code gets in.
        locked = server.login("alice", totp=code(server, secret))
        assert answer(locked) == (429, "TooManyAttempts")
        assert answer(server.login("alice", recovery_code=codes[0])) == (429, "TooManyAttempts")
        server.clock.advance(timedelta(seconds=900))
        assert server.login("alice", totp=code(server, secret)).status_code == 200


def test_a_wrong_confirmation_code_leaves_totp_off(settings: Settings) -> None:
    with running(settings) as server:
        session = server.user_with("alice", [])
        secret = enrol(server, session)
        refused = confirm(server, session, wrong_code(server, secret))
        assert answer(refused) == (400, "ValidationFailed")
        assert "recovery_codes" not in refused.json()
        assert not totp_enabled(server)
        assert server.login("alice").status_code == 200
        # The enrolment is still waiting: a right code then confirms it.
        assert confirm(server, session, code(server, secret)).status_code == 200
        assert totp_enabled(server)


def disable_with(server: Server, headers: dict[str, str], totp: str) -> httpx.Response:
    return server.client.post("/v1/auth/totp/disable", json={"code": totp}, headers=headers)


def test_disabling_totp_needs_a_valid_code(settings: Settings) -> None:
    with running(settings) as server:
        secret, _ = enrolled(server)
        session = signed_in(server, secret)

        def disable(totp: str) -> httpx.Response:
            return disable_with(server, session, totp)

        assert answer(disable(wrong_code(server, secret))) == (400, "ValidationFailed")
        assert answer(disable(code(server, secret))) == (400, "ValidationFailed")  # used already
        assert totp_enabled(server)
        assert answer(server.login("alice")) == (401, "TotpRequired")

        server.clock.advance(STEP)
        assert disable(code(server, secret)).status_code == 204
        assert not totp_enabled(server)
        assert server.login("alice").status_code == 200
        assert answer(disable(code(server, secret, 1))) == (409, "Conflict")


def test_wrong_codes_to_disable_totp_count_towards_the_lockout(settings: Settings) -> None:
    """A stolen session must not be an unthrottled way of guessing codes to turn TOTP off."""
    with running(settings) as server:
        secret, _ = enrolled(server)
        session = signed_in(server, secret)
        server.clock.advance(STEP)
        for _ in range(3):
            wrong = disable_with(server, session, wrong_code(server, secret))
            assert answer(wrong) == (400, "ValidationFailed")
        waiting = disable_with(server, session, code(server, secret))
        assert answer(waiting) == (429, "TooManyAttempts")
        assert waiting.headers["retry-after"] == "1"
        assert totp_enabled(server)
        # The same count as logins: they wait too.
        assert answer(server.login("alice", totp=code(server, secret))) == (429, "TooManyAttempts")
        server.clock.advance(timedelta(seconds=1))
        assert disable_with(server, session, code(server, secret)).status_code == 204
        assert not totp_enabled(server)


def test_an_administrator_resets_a_users_totp(settings: Settings) -> None:
    with running(settings) as server:
        secret, _ = enrolled(server)
        alice = signed_in(server, secret)
        by_herself = server.client.post("/v1/users/alice/reset-totp", headers=alice)
        assert answer(by_herself) == (403, "PermissionDenied")
        assert totp_enabled(server)

        admin = server.user_with("ada", ["admin"])
        reset = server.client.post("/v1/users/alice/reset-totp", headers=admin)
        assert reset.status_code == 200, reset.text
        assert reset.json()["totp_enabled"] is False
        assert server.login("alice").status_code == 200
        # The old secret is gone: enrolling again gives a new one.
        assert enrol(server, alice) != secret


def test_the_totp_secret_and_recovery_codes_are_not_stored_in_the_clear(
    settings: Settings,
) -> None:
    with running(settings) as server:
        secret, codes = enrolled(server)
        running_blob = raw_sqlite_bytes(settings.data_dir)
    stopped_blob = raw_sqlite_bytes(settings.data_dir)
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    assert len(raw) == 20
    forms = [secret.encode(), secret.lower().encode(), raw, raw.hex().encode(),
             base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")]  # fmt: skip
    forms += [c.encode() for c in codes] + [c.replace("-", "").encode() for c in codes]
    for blob in (running_blob, stopped_blob):
        for form in forms:
            assert form not in blob
    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        wrapped, confirmed = connection.execute(
            "SELECT totp_secret_wrapped, totp_confirmed FROM users WHERE username = 'alice'"
        ).fetchone()
    assert confirmed
    assert isinstance(wrapped, bytes)
    assert len(wrapped) > len(raw)  # a ciphertext with its nonce and tag, not the secret


def raw_sqlite_bytes(data_dir: Path) -> bytes:
    files = [p for p in sorted(data_dir.glob("keystead.db*")) if p.is_file()]
    assert data_dir / "keystead.db" in files
    return b"".join(path.read_bytes() for path in files)


@pytest.mark.parametrize("field", ["totp", "recovery_code"])
def test_a_user_without_totp_is_not_bothered_by_a_code(settings: Settings, field: str) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        assert server.login("alice", PASSWORD, **{field: "123456"}).status_code == 200


def test_enrolling_needs_the_password_again_and_a_wrong_one_counts(settings: Settings) -> None:
    with running(settings) as server:
        session = server.user_with("alice", ["key-user"])
        for _ in range(2):
            wrong = server.client.post(
                "/v1/auth/totp/enroll", json={"password": "not her password"}, headers=session
            )
            assert answer(wrong) == (401, "InvalidCredentials")
            assert "secret" not in wrong.json()
        assert not totp_enabled(server)
        for _ in range(8):  # failures 3 to 10, each after its growing wait
            server.clock.advance(timedelta(minutes=2))
            guess = server.client.post(
                "/v1/auth/totp/enroll", json={"password": "still not it"}, headers=session
            )
            assert answer(guess) == (401, "InvalidCredentials")
        # The guesses with her token count towards her name's lockout, as logins would.
        server.clock.advance(timedelta(minutes=2))
        locked = server.client.post(
            "/v1/auth/totp/enroll", json={"password": PASSWORD}, headers=session
        )
        assert answer(locked) == (429, "TooManyAttempts")
        assert answer(server.login("alice")) == (429, "TooManyAttempts")
