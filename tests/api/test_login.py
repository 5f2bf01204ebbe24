"""Password login (issue 4, must-show 3 and 4): throttling, lockout, no user enumeration, rules.

Every wait is on the server's FakeClock: the tests advance it by what Retry-After says.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import argon2
import httpx
import pytest
from starlette.testclient import TestClient

from conftest import FakeClock
from identity_support import PASSWORD, Server, running
from keystead.api.app import create_app
from keystead.config import Settings, load_settings
from keystead.crypto.passwords import is_common
from keystead.services.container import build_services
from keystead.services.login import LoginAttempt

WRONG = "not the password, clearly"
MAX_DELAY = 60  # login_max_delay_seconds
LOCKOUT = 900  # lockout_seconds
THRESHOLD = 10  # lockout_threshold
# The doubling delays from the 3rd failure on (1 s, 2 s, ... capped at 60 s), then the lock.
DELAYS = [1, 2, 4, 8, 16, 32, 60]
ARGON2_DEFAULT = "$argon2id$v=19$m=19456,t=2,p=1"


def without_request_id(response: httpx.Response) -> dict:
    body = response.json()
    assert body.pop("request_id") == response.headers["x-request-id"]
    return body


def answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def hammer(server: Server, name: str, password: str = WRONG, attempts: int = 20) -> list[tuple]:
    """Log in ``attempts`` times, waiting out each delay (not a lockout) as Retry-After says.

    Returns (status, body without request_id, Retry-After or None) for each answer.
    """
    seen = []
    for _ in range(attempts):
        response = server.login(name, password)
        retry = response.headers.get("retry-after")
        seen.append((response.status_code, without_request_id(response), retry))
        if response.status_code == 429:
            assert retry is not None, "a 429 must say how long to wait"
            if int(retry) <= MAX_DELAY:
                server.clock.advance(timedelta(seconds=int(retry)))
    return seen


def refusals(seen: list[tuple]) -> list[int]:
    return [int(retry) for status, _, retry in seen if status == 429]


@pytest.fixture
def argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Argon2 verification the server runs, by the hash it checks against."""
    calls: list[str] = []
    original = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 - argon2's own parameter name
        calls.append(hash if isinstance(hash, str) else hash.decode())
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    return calls


def parameters(phc: str) -> str:
    """The algorithm, version and cost of a PHC string, without its salt and hash."""
    return phc.rsplit("$", 2)[0]


# --- Must-show 3: twenty wrong passwords in a row lock the account -------------------------


def test_twenty_wrong_passwords_in_a_row_lock_the_account(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        seen = hammer(server, "alice")
        for status, body, retry in seen:
            if status == 401:
                assert (body["code"], retry) == ("InvalidCredentials", None)
            else:
                assert (status, body["code"]) == (429, "TooManyAttempts")
                assert body["detail"] == f"too many failed logins; try again in {retry} s"
        # The delay grows with each failure, then the lock holds without being waited out.
        assert refusals(seen) == [*DELAYS, LOCKOUT, LOCKOUT, LOCKOUT]
        assert [s for s, _, _ in seen].count(401) == THRESHOLD
        lock_ends = server.clock.now + timedelta(seconds=LOCKOUT)

        server.clock.advance(timedelta(seconds=60))
        still = server.login("alice", PASSWORD)
        assert answer(still) == (429, "TooManyAttempts")
        assert still.headers["retry-after"] == str(LOCKOUT - 60)

        server.clock.now = lock_ends - timedelta(seconds=1)
        last_second = server.login("alice", PASSWORD)
        assert answer(last_second) == (429, "TooManyAttempts")
        assert last_second.headers["retry-after"] == "1"

        server.clock.advance(timedelta(seconds=1))
        opened = server.login("alice", PASSWORD)
        assert opened.status_code == 200, opened.text
        whoami = server.client.get(
            "/v1/auth/whoami", headers={"authorization": f"Bearer {opened.json()['token']}"}
        )
        assert whoami.json()["name"] == "alice"
        # The success cleared the count: the next wrong password is an ordinary 401 again.
        assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")


def test_the_right_password_waits_out_a_delay_too_then_resets_the_count(
    settings: Settings,
) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        for _ in range(3):
            assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
        early = server.login("alice", PASSWORD)
        assert answer(early) == (429, "TooManyAttempts")
        assert early.headers["retry-after"] == "1"
        server.clock.advance(timedelta(seconds=1))
        assert server.login("alice", PASSWORD).status_code == 200
        # Counting starts again from nothing: two failures cost no delay.
        for _ in range(2):
            assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
        assert server.login("alice", PASSWORD).status_code == 200


def test_the_lockout_is_per_name(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        server.add_user("bob", [])
        hammer(server, "alice", attempts=17)
        assert answer(server.login("alice", PASSWORD)) == (429, "TooManyAttempts")
        assert server.login("bob", PASSWORD).status_code == 200


def side_by_side(server: Server, attempts: Sequence[LoginAttempt]) -> Counter[str]:
    """Send the attempts all at once, as parallel requests would; count the outcomes."""
    login = server.services.login.login

    async def all_at_once() -> list[object]:
        return await asyncio.gather(*(login(a) for a in attempts), return_exceptions=True)

    results = server.client.portal.call(all_at_once)  # type: ignore[union-attr]
    return Counter("ok" if hasattr(r, "value") else type(r).__name__ for r in results)


def test_wrong_passwords_sent_side_by_side_are_throttled_as_if_in_a_row(
    settings: Settings, argon2_verifications: list[str]
) -> None:
    """Parallel guesses must not all be checked against one stale counter."""
    with running(settings) as server:
        server.add_user("alice", [])
        argon2_verifications.clear()
        guesses = [LoginAttempt("alice", f"guess number {i}", "198.51.100.1") for i in range(20)]
        outcomes = side_by_side(server, guesses)
        assert outcomes == {"InvalidCredentials": 3, "TooManyAttempts": 17}
        assert len(argon2_verifications) == 3
        server.clock.advance(timedelta(seconds=1))
        # The count carried on from 3: the fourth failure asks for 2 s.
        assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
        assert server.login("alice", PASSWORD).headers["retry-after"] == "2"


def test_right_passwords_sent_side_by_side_all_log_in(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        logins = [LoginAttempt("alice", PASSWORD, "198.51.100.1") for _ in range(8)]
        assert side_by_side(server, logins) == {"ok": 8}


def test_names_tried_side_by_side_from_one_address_all_count_against_it(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", insecure_http=True, address_lockout_threshold=6
    )
    with running(settings) as server:
        server.add_user("alice", [])
        guesses = [LoginAttempt(f"guess-{i}", WRONG, "198.51.100.1") for i in range(6)]
        assert sum(side_by_side(server, guesses).values()) == 6
        locked = LoginAttempt("alice", PASSWORD, "198.51.100.1")
        assert side_by_side(server, [locked]) == {"TooManyAttempts": 1}
        elsewhere = LoginAttempt("alice", PASSWORD, "198.51.100.2")
        assert side_by_side(server, [elsewhere]) == {"ok": 1}


# --- Must-show 4: an unknown user cannot be told from a wrong password ---------------------


def test_unknown_user_and_wrong_password_get_the_same_answer_after_the_same_work(
    settings: Settings, argon2_verifications: list[str]
) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        argon2_verifications.clear()
        wrong = server.login("alice", WRONG)
        against_user = list(argon2_verifications)
        argon2_verifications.clear()
        unknown = server.login("nobody", WRONG)
        against_nobody = list(argon2_verifications)
        argon2_verifications.clear()
        assert server.login("alice", PASSWORD).status_code == 200
        against_right = list(argon2_verifications)

    assert answer(wrong) == answer(unknown) == (401, "InvalidCredentials")
    assert without_request_id(wrong) == without_request_id(unknown)
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert wrong.headers["www-authenticate"] == 'Bearer realm="keystead"'
    headers = [
        {k: v for k, v in r.headers.items() if k != "x-request-id"} for r in (wrong, unknown)
    ]
    assert headers[0] == headers[1]
    # Exactly one Argon2id verification each, at the same cost; the unknown name is checked
    # against a decoy hash, not skipped.
    assert len(against_user) == len(against_nobody) == len(against_right) == 1
    assert against_user == against_right
    assert parameters(against_user[0]) == parameters(against_nobody[0]) == ARGON2_DEFAULT
    assert against_nobody[0] != against_user[0]


def test_unknown_user_and_wrong_password_lock_out_alike(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        known = hammer(server, "alice")
        unknown = hammer(server, "nobody")
        assert refusals(unknown) == [*DELAYS, LOCKOUT, LOCKOUT, LOCKOUT]
        # Answer by answer the same: statuses, bodies (429 ones too) and Retry-After.
        assert unknown == known
        server.clock.advance(timedelta(seconds=60))
        assert answer(server.login("alice", PASSWORD)) == (429, "TooManyAttempts")
        assert answer(server.login("nobody", PASSWORD)) == (429, "TooManyAttempts")


def test_disabled_user_and_service_account_are_refused_like_an_unknown_user(
    settings: Settings, argon2_verifications: list[str]
) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        server.add_user("robot", ["key-user"], password=None, kind="service")
        assert server.login("alice", PASSWORD).status_code == 200
        assert server.as_root("POST", "/v1/users/alice/disable").json()["disabled"] is True
        answers = {}
        for name in ("alice", "robot", "nobody"):
            argon2_verifications.clear()
            answers[name] = server.login(name, PASSWORD)
            assert len(argon2_verifications) == 1, name
            assert parameters(argon2_verifications[0]) == ARGON2_DEFAULT
        server.as_root("POST", "/v1/users/alice/enable")
        assert server.login("alice", PASSWORD).status_code == 200

    bodies = {name: without_request_id(r) for name, r in answers.items()}
    assert {answer(r) for r in answers.values()} == {(401, "InvalidCredentials")}
    assert bodies["alice"] == bodies["robot"] == bodies["nobody"]
    assert {r.headers["www-authenticate"] for r in answers.values()} == {'Bearer realm="keystead"'}


# --- Per-address lockout ---------------------------------------------------------------------


def test_many_names_from_one_address_lock_that_address_out(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", insecure_http=True, address_lockout_threshold=6
    )
    with running(settings) as server:
        server.add_user("alice", [])
        seen = []
        for index in range(12):
            response = server.login(f"guess-{index}", WRONG)  # each name fails once only
            retry = response.headers.get("retry-after")
            seen.append((response.status_code, response.json()["code"], retry))
            if response.status_code == 429 and int(retry) <= MAX_DELAY:
                server.clock.advance(timedelta(seconds=int(retry)))
        failures = [s for s in seen if s[0] == 401]
        assert failures == [(401, "InvalidCredentials", None)] * 6
        assert seen[-1] == (429, "TooManyAttempts", str(LOCKOUT))
        # The address is locked: even the right password of a real user is refused from it ...
        refused = server.login("alice", PASSWORD)
        assert answer(refused) == (429, "TooManyAttempts")
        # ... but from another address the same user logs in.
        issued = server.client.portal.call(  # type: ignore[union-attr]
            server.services.login.login, LoginAttempt("alice", PASSWORD, "203.0.113.7")
        )
        assert issued.value.startswith("kst_s_")
        assert answer(server.login("alice", PASSWORD)) == (429, "TooManyAttempts")
        server.clock.advance(timedelta(seconds=LOCKOUT))
        assert server.login("alice", PASSWORD).status_code == 200


def test_a_few_failures_from_one_address_do_not_slow_other_names(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", insecure_http=True, address_lockout_threshold=6
    )
    with running(settings) as server:
        server.add_user("alice", [])
        for index in range(2):
            assert answer(server.login(f"guess-{index}", WRONG)) == (401, "InvalidCredentials")
        assert server.login("alice", PASSWORD).status_code == 200


# --- Password rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["", "x", "eleven char", "q1w2e3r4t5y6", "Q1W2E3R4T5Y6", "x" * 1025],
    ids=["empty", "one", "eleven", "common", "common-upper-case", "too-long"],
)
def test_a_weak_password_is_refused_at_user_creation(settings: Settings, password: str) -> None:
    with running(settings) as server:
        body = {"username": "alice", "password": password, "roles": []}
        response = server.as_root("POST", "/v1/users", body)
        expected = "ValidationFailed" if len(password) in {0, 1025} else "WeakPassword"
        assert answer(response) == (400, expected)
        assert server.as_root("GET", "/v1/users/alice").status_code == 404


def test_twelve_uncommon_characters_are_enough(settings: Settings) -> None:
    assert is_common("q1w2e3r4t5y6")
    with running(settings) as server:
        server.add_user("alice", [], password="twelve chars")
        assert server.login("alice", "twelve chars").status_code == 200


def test_changing_ones_password_needs_the_current_one_and_revokes_old_tokens(
    settings: Settings,
) -> None:
    new = "a brand new passphrase"
    with running(settings) as server:
        server.add_user("alice", ["key-user"])
        session = server.token_of("alice")
        api = server.client.post("/v1/auth/tokens", json={}, headers=session).json()["token"]
        api_headers = {"authorization": f"Bearer {api}"}

        def change(current: str, new_password: str) -> httpx.Response:
            body = {"current_password": current, "new_password": new_password}
            return server.client.post("/v1/auth/password", json=body, headers=session)

        assert answer(change(WRONG, new)) == (401, "InvalidCredentials")
        assert answer(change(PASSWORD, "short")) == (400, "WeakPassword")
        assert answer(change(PASSWORD, "q1w2e3r4t5y6")) == (400, "WeakPassword")
        # Nothing changed so far: the old password and the old tokens still work.
        assert server.client.get("/v1/auth/whoami", headers=session).status_code == 200
        assert server.client.get("/v1/auth/whoami", headers=api_headers).status_code == 200
        assert answer(server.login("alice", new)) == (401, "InvalidCredentials")

        assert change(PASSWORD, new).status_code == 204
        assert answer(server.login("alice", PASSWORD)) == (401, "InvalidCredentials")
        assert server.login("alice", new).status_code == 200
        for headers in (session, api_headers):
            gone = server.client.get("/v1/auth/whoami", headers=headers)
            assert answer(gone) == (401, "Unauthenticated")


def test_wrong_current_passwords_count_towards_the_lockout(settings: Settings) -> None:
    """A stolen session must not be an unthrottled way of guessing the password."""
    new = "a brand new passphrase"
    with running(settings) as server:
        server.add_user("alice", [])
        session = server.token_of("alice")

        def change(current: str) -> httpx.Response:
            body = {"current_password": current, "new_password": new}
            return server.client.post("/v1/auth/password", json=body, headers=session)

        for _ in range(3):
            assert answer(change(WRONG)) == (401, "InvalidCredentials")
        waiting = change(PASSWORD)
        assert answer(waiting) == (429, "TooManyAttempts")
        assert waiting.headers["retry-after"] == "1"
        # It is the name's one count: a login must wait as well.
        assert answer(server.login("alice", PASSWORD)) == (429, "TooManyAttempts")
        server.clock.advance(timedelta(seconds=1))
        assert change(PASSWORD).status_code == 204
        # The success cleared the count.
        for _ in range(2):
            assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
        assert server.login("alice", new).status_code == 200


def test_an_administrators_reset_follows_the_same_rules(settings: Settings) -> None:
    with running(settings) as server:
        server.add_user("alice", [])
        weak = server.as_root("POST", "/v1/users/alice/password", {"password": "q1w2e3r4t5y6"})
        assert answer(weak) == (400, "WeakPassword")
        assert server.login("alice", PASSWORD).status_code == 200


# --- Rehash when the Argon2 parameters change ------------------------------------------------


@contextmanager
def reopened(settings: Settings, root: dict[str, str], share: str) -> Iterator[Server]:
    """A second server on an existing data directory, unsealed with the one share."""
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    with TestClient(create_app(settings, services), base_url="https://t") as client:
        unsealed = client.post("/v1/sys/unseal", json={"share": share})
        assert unsealed.status_code == 200, unsealed.text
        assert unsealed.json()["sealed"] is False
        yield Server(client, services, clock, root, [share])
        client.portal.call(services.close)  # type: ignore[union-attr]


def stored_hash(settings: Settings, username: str) -> str:
    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        row = connection.execute(
            "SELECT password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
    assert row is not None
    return row[0]


def test_a_login_rehashes_a_password_stored_with_older_argon2_parameters(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = load_settings(data_dir=data_dir, insecure_http=True, argon2_time_cost=2)
    with running(first) as server:
        server.add_user("alice", [])
        server.add_user("bob", [])
        root, share = server.root, server.shares[0]
    old = stored_hash(first, "alice")
    assert old.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    second = load_settings(data_dir=data_dir, insecure_http=True, argon2_time_cost=3)
    with reopened(second, root, share) as server:
        assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
        assert stored_hash(second, "alice") == old, "a wrong password must not rehash"
        assert server.login("alice", PASSWORD).status_code == 200
        new = stored_hash(second, "alice")
        assert new.startswith("$argon2id$v=19$m=19456,t=3,p=1$")
        assert server.login("alice", PASSWORD).status_code == 200
        assert stored_hash(second, "alice") == new, "a current hash is left alone"
        assert answer(server.login("alice", WRONG)) == (401, "InvalidCredentials")
    # Only the user who logged in was rehashed, and the new hash holds the same password.
    assert stored_hash(second, "bob").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert argon2.PasswordHasher(time_cost=3).verify(new, PASSWORD)
