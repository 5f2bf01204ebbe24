"""The identity commands through CliRunner, with the SDK client on an httpx.MockTransport.

``login``/``logout`` and the saved token under a temporary ``$HOME``; ``user``, ``totp``,
``role``, ``policy``, ``grant``, ``token``, ``operator generate-root|revoke-root``: the
requests they make, the tables and JSON they print, and their exit codes. No password,
code or token may show up where it should not.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest

from cli_harness import (
    ADDRESS,
    CliHarness,
    FakeServer,
    mode,
    plain_terminal,  # noqa: F401  (an autouse fixture)
    problem,
    run,
    table_lines,
)
from keystead.cli import client as cli_client
from keystead.cli import prompts, token_store
from keystead_sdk import Client

TOKEN = "kst_cli-caller-token-never-print"
NEW_TOKEN = "kst_new-session-token-from-login"
ENV_TOKEN = "kst_from-the-environment"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "an0ther-l0ng-passphrase"
CODE = "123456"
SECRET = "JBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/Keystead:alice?secret={SECRET}&issuer=Keystead"
RECOVERY = [f"rc{n:02d}-abcd-efgh" for n in range(10)]
SHARE = b"\x42" * 33
ROOT_TOKEN = "kst_root_regenerated"
WHEN = "2030-01-02T03:04:05Z"

CLI = CliHarness(TOKEN, never_print=(PASSWORD, NEW_PASSWORD))
server = CLI.server_fixture()
assert_clean_exit = CLI.assert_clean_exit

ISSUED = {"token": NEW_TOKEN, "id": "tok_9", "expires_at": WHEN,
          "max_expires_at": "2030-02-01T00:00:00Z", "roles": ["key-user", "auditor"]}  # fmt: skip
USER = {
    "username": "alice",
    "kind": "user",
    "roles": ["key-user"],
    "disabled": False,
    "totp_enabled": True,
    "key_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "created_at": "2025-01-02T03:04:05Z",
    "updated_at": "2025-01-03T03:04:05Z",
}
TOKEN_INFO = {"id": "tok_9", "kind": "api", "username": "svc-orders", "description": "orders",
              "roles": ["key-user"], "created_at": "2025-01-02T03:04:05Z", "expires_at": WHEN,
              "max_expires_at": None, "created_by": "alice"}  # fmt: skip
STATEMENTS = [{"effect": "allow", "actions": ["keys.encrypt"], "keys": ["orders-*"]}]
POLICY = {"name": "orders-use", "description": "old text", "builtin": False,
          "statements": STATEMENTS}  # fmt: skip
ROLE = {"name": "orders", "description": "old text", "builtin": False, "policies": ["orders-use"]}
GRANT = {"id": "g_1", "key_id": USER["key_id"], "principal": "bob",
         "operations": ["encrypt", "decrypt"], "created_by": "alice",
         "created_at": "2025-01-02T03:04:05Z"}  # fmt: skip
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI believe stdin is a terminal, so that it prompts without echo."""
    monkeypatch.setattr(prompts, "stdin_is_terminal", lambda: True)


def token_file() -> Path:
    return Path(os.environ["HOME"]) / ".keystead" / "token"


# --- login -------------------------------------------------------------------------------------


def test_login_saves_a_private_token_and_never_prints_it(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/login", ISSUED)
    result = run("login", "alice", stdin=f"{PASSWORD}\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"username": "alice", "password": PASSWORD}
    assert "authorization" not in server.last.headers
    assert token_file().read_text() == f"{NEW_TOKEN}\n"
    assert mode(token_file()) == 0o600
    assert mode(token_file().parent) == 0o700
    assert NEW_TOKEN not in result.output
    assert "Logged in as alice (roles: key-user, auditor)" in result.stdout
    assert "expires at 2030-01-02 03:04:05Z" in result.stdout
    assert str(token_file()) in result.stdout
    assert server.used_saved == [False]  # a stale saved token cannot get in the way


def test_login_replaces_an_unusable_saved_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ISSUED)

    real = cli_client.make_client

    def make_client(token: str | None = None, *, use_saved: bool = True) -> Client:
        with real(token, use_saved=use_saved):  # the real one must not read the bad file
            pass
        return Client(ADDRESS, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(cli_client, "make_client", make_client)
    token_store.save("kst_old")
    token_file().chmod(0o644)
    result = run("login", "alice", stdin=PASSWORD)
    assert_clean_exit(result, 0)
    assert len(seen) == 1
    assert mode(token_file()) == 0o600
    assert token_file().read_text() == f"{NEW_TOKEN}\n"


@pytest.mark.usefixtures("terminal")
def test_login_asks_for_the_totp_code_after_totp_required(server: FakeServer) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json=ISSUED) if "totp" in body else problem(401, "TotpRequired")

    server.on("POST", "/v1/auth/login", answer)
    result = run("login", "alice", stdin=f"{PASSWORD}\n{CODE}\n")
    assert_clean_exit(result, 0)
    assert [server.body(0), server.body(1)] == [
        {"username": "alice", "password": PASSWORD},
        {"username": "alice", "password": PASSWORD, "totp": CODE},
    ]
    assert "Password:" in result.stdout
    assert "TOTP code:" in result.stdout
    assert CODE not in result.stdout  # no echo
    assert token_file().read_text().strip() == NEW_TOKEN


@pytest.mark.usefixtures("terminal")
def test_login_prompts_for_the_username_and_reads_a_recovery_code(server: FakeServer) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if "recovery_code" in body:
            return httpx.Response(200, json=ISSUED)
        return problem(401, "TotpRequired")

    server.on("POST", "/v1/auth/login", answer)
    result = run("login", "--recovery-code", stdin=f"alice\n{PASSWORD}\n{RECOVERY[0]}\n")
    assert_clean_exit(result, 0)
    assert server.body()["recovery_code"] == RECOVERY[0]  # type: ignore[index]
    assert server.body()["username"] == "alice"  # type: ignore[index]
    assert "Recovery code:" in result.stdout


def test_login_with_files_sends_the_code_at_once(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/auth/login", ISSUED)
    (tmp_path / "pw").write_text(f"{PASSWORD}\nignored second line\n")
    (tmp_path / "code").write_text(" 123 456 \n")
    result = run("login", "alice", "--password-file", str(tmp_path / "pw"),
                 "--totp-file", str(tmp_path / "code"))  # fmt: skip
    assert_clean_exit(result, 0)
    assert len(server.requests) == 1
    assert server.body() == {"username": "alice", "password": PASSWORD, "totp": CODE}


def test_a_refused_totp_code_is_not_asked_again(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/auth/login", lambda _: problem(401, "TotpRequired", "wrong code"))
    (tmp_path / "code").write_text("000000\n")
    result = run("login", "alice", "--totp-file", str(tmp_path / "code"), stdin=PASSWORD)
    assert_clean_exit(result, 4)
    assert len(server.requests) == 1
    assert result.stderr.strip() == "Error: TotpRequired: wrong code [request_id=req-5]"
    assert not token_file().exists()


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "InvalidCredentials"), (429, "TooManyAttempts"), (503, "Sealed")],
)
def test_login_failures_save_nothing(server: FakeServer, status: int, code: str) -> None:
    server.on("POST", "/v1/auth/login", lambda _: problem(status, code))
    result = run("login", "alice", stdin=f"{PASSWORD}\n")
    assert_clean_exit(result, 7 if code == "Sealed" else 4)
    assert result.stderr.startswith(f"Error: {code}: the detail")
    assert not token_file().exists()


def test_login_print_token_puts_the_token_alone_on_stdout(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/login", ISSUED)
    result = run("login", "alice", "--print-token", "--no-save", stdin=PASSWORD)
    assert_clean_exit(result, 0)
    assert result.stdout == f"{NEW_TOKEN}\n"
    assert "Logged in as alice" in result.stderr
    assert not token_file().exists()


def test_login_reads_the_username_from_stdin(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/login", ISSUED)
    result = run("login", stdin=f"alice\n{PASSWORD}\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"username": "alice", "password": PASSWORD}
    result = run("login", stdin="\n")
    assert_clean_exit(result, 3)
    assert result.stderr.strip() == "Error: ValidationFailed: no username given"
    assert len(server.requests) == 1


def test_login_empty_password_is_refused_before_sending(server: FakeServer) -> None:
    result = run("login", "alice", stdin="\n")
    assert_clean_exit(result, 3)
    assert result.stderr.strip() == "Error: ValidationFailed: no password given"
    assert server.requests == []


def test_login_makes_an_old_token_file_private_again(server: FakeServer) -> None:
    token_file().parent.mkdir(mode=0o755)
    token_file().write_text("old")
    token_file().chmod(0o644)
    server.on("POST", "/v1/auth/login", ISSUED)
    assert_clean_exit(run("login", "alice", stdin=PASSWORD), 0)
    assert (mode(token_file()), mode(token_file().parent)) == (0o600, 0o700)
    assert token_file().read_text() == f"{NEW_TOKEN}\n"


def test_login_refuses_to_write_through_a_symlink(server: FakeServer, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    token_file().parent.mkdir(mode=0o700)
    token_file().symlink_to(target)
    server.on("POST", "/v1/auth/login", ISSUED)
    result = run("login", "alice", stdin=PASSWORD)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: FileError: cannot save the token in")
    assert target.read_text() == "untouched"
    assert NEW_TOKEN not in result.output


def test_login_warns_when_the_environment_token_wins(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYSTEAD_TOKEN", ENV_TOKEN)
    server.on("POST", "/v1/auth/login", ISSUED)
    result = run("login", "alice", stdin=PASSWORD)
    assert_clean_exit(result, 0)
    assert "KEYSTEAD_TOKEN is set" in result.stderr
    assert ENV_TOKEN not in result.output


# --- the saved token in client commands ----------------------------------------------------


def test_make_client_reads_the_saved_token_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with cli_client.make_client() as client:
        assert client._settings.token is None
    token_store.save(NEW_TOKEN)
    with cli_client.make_client() as client:
        assert client._settings.token is not None
        assert client._settings.token.get_secret_value() == NEW_TOKEN
        assert NEW_TOKEN not in repr(client)
    monkeypatch.setenv("KEYSTEAD_TOKEN", ENV_TOKEN)
    with cli_client.make_client() as client:
        assert client._settings.token is not None
        assert client._settings.token.get_secret_value() == ENV_TOKEN
    with cli_client.make_client("explicit") as client:
        assert client._settings.token is not None
        assert client._settings.token.get_secret_value() == "explicit"


def test_a_token_file_others_can_read_is_refused() -> None:
    token_store.save(NEW_TOKEN)
    token_file().chmod(0o640)
    result = run("whoami")
    assert_clean_exit(result, 9)
    assert "may be read by other users" in result.stderr
    assert NEW_TOKEN not in result.output


def test_a_token_path_that_is_no_file_is_refused() -> None:
    token_file().mkdir(parents=True)
    result = run("whoami")
    assert_clean_exit(result, 9)
    assert "is not a regular file" in result.stderr


def test_a_symlinked_token_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "planted"
    target.write_text("kst_planted")
    target.chmod(0o600)
    token_file().parent.mkdir(mode=0o700)
    token_file().symlink_to(target)
    result = run("whoami")
    assert_clean_exit(result, 9)
    assert "cannot read the saved token" in result.stderr


# --- logout, whoami, register, passwd ---------------------------------------------------------


def test_logout_revokes_the_saved_token_and_removes_it(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYSTEAD_TOKEN", ENV_TOKEN)
    token_store.save(NEW_TOKEN)
    server.on("POST", "/v1/auth/logout", status=204)
    result = run("logout")
    assert_clean_exit(result, 0)
    assert server.calls() == [("POST", "/v1/auth/logout")]
    assert server.last.headers["authorization"] == f"Bearer {NEW_TOKEN}"
    assert not token_file().exists()
    assert "Logged out" in result.stdout
    assert NEW_TOKEN not in result.output


def test_logout_without_a_saved_token(server: FakeServer) -> None:
    result = run("logout")
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("Not logged in")
    assert server.requests == []


def test_logout_of_an_expired_token_still_removes_it(server: FakeServer) -> None:
    token_store.save(NEW_TOKEN)
    server.on("POST", "/v1/auth/logout", lambda _: problem(401, "Unauthenticated"))
    result = run("logout")
    assert_clean_exit(result, 0)
    assert "already expired or been revoked" in result.stderr
    assert not token_file().exists()


def test_logout_keeps_the_token_when_the_server_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        msg = "[Errno 111] Connection refused"
        raise httpx.ConnectError(msg, request=request)

    monkeypatch.setattr(
        cli_client,
        "make_client",
        lambda token=None: Client(ADDRESS, token=token, transport=httpx.MockTransport(refuse)),
    )
    token_store.save(NEW_TOKEN)
    result = run("logout")
    assert_clean_exit(result, 8)
    assert token_file().read_text().strip() == NEW_TOKEN


def test_whoami_table_and_json(server: FakeServer) -> None:
    me = {"name": "alice", "kind": "user", "token_id": "tok_9", "roles": ["key-user"],
          "expires_at": WHEN}  # fmt: skip
    server.on("GET", "/v1/auth/whoami", me)
    result = run("whoami")
    assert_clean_exit(result, 0)
    lines = table_lines(result.stdout)
    assert "Name │ alice" in lines
    assert "Roles │ key-user" in lines
    assert "Expires │ 2030-01-02 03:04:05Z" in lines
    result = run("whoami", "--format", "json")
    assert json.loads(result.stdout)["token_id"] == "tok_9"


@pytest.mark.usefixtures("terminal")
def test_register_is_anonymous_and_asks_twice(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/register", USER, status=201)
    result = run("register", "alice", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"username": "alice", "password": PASSWORD}
    assert "authorization" not in server.last.headers
    assert "Repeat for confirmation:" in result.stdout
    assert "Registered alice" in result.stdout
    assert server.used_saved == [False]


def test_register_closed_exits_4(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/register", lambda _: problem(403, "RegistrationClosed"))
    result = run("register", "alice", stdin=PASSWORD)
    assert_clean_exit(result, 4)
    assert result.stderr.startswith("Error: RegistrationClosed:")


@pytest.mark.usefixtures("terminal")
def test_passwd_prompts_and_sends_both(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/password", status=204)
    result = run("passwd", stdin=f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert "log in again" in result.stdout


def test_passwd_from_a_file_and_a_weak_password(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/auth/password", lambda _: problem(400, "WeakPassword", "too short"))
    (tmp_path / "pw").write_text(f"{PASSWORD}\n{NEW_PASSWORD}\n")
    result = run("passwd", "--password-file", str(tmp_path / "pw"))
    assert_clean_exit(result, 3)
    assert server.body() == {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    (tmp_path / "one").write_text(f"{PASSWORD}\n")
    assert_clean_exit(run("passwd", "--password-file", str(tmp_path / "one")), 3)


# --- user ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("terminal")
def test_user_create_asks_twice_without_echo(server: FakeServer) -> None:
    server.on("POST", "/v1/users", USER, status=201)
    result = run("user", "create", "alice", "--role", "key-user", "--role", "auditor",
                 stdin=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.body() == {"username": "alice", "password": PASSWORD,
                             "roles": ["key-user", "auditor"], "kind": "user"}  # fmt: skip
    assert "User alice" in result.stdout
    assert "Key ID │ 0f8fad5b-d9cb-469f-a165-70867728950e" in table_lines(result.stdout)


@pytest.mark.usefixtures("terminal")
def test_user_create_mismatched_passwords_ask_again(server: FakeServer) -> None:
    server.on("POST", "/v1/users", USER, status=201)
    stdin = f"{PASSWORD}\nsomething else\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    result = run("user", "create", "alice", stdin=stdin)
    assert_clean_exit(result, 0)
    assert "do not match" in result.stdout
    assert server.body()["password"] == NEW_PASSWORD  # type: ignore[index]


def test_user_create_service_account_has_no_password(server: FakeServer) -> None:
    server.on("POST", "/v1/users", {**USER, "kind": "service"}, status=201)
    result = run("user", "create", "svc-orders", "--service", "--format", "json")
    assert_clean_exit(result, 0)
    assert server.body() == {"username": "svc-orders", "roles": [], "kind": "service"}
    assert json.loads(result.stdout)["kind"] == "service"
    assert_clean_exit(run("user", "create", "svc", "--service", "--password-file", "f"), 2)


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [(409, "UserAlreadyExists", 6), (400, "WeakPassword", 3), (404, "RoleNotFound", 5),
     (403, "PermissionDenied", 4)],
)  # fmt: skip
def test_user_create_errors(server: FakeServer, status: int, code: str, exit_code: int) -> None:
    server.on("POST", "/v1/users", lambda _: problem(status, code))
    result = run("user", "create", "alice", stdin=PASSWORD)
    assert_clean_exit(result, exit_code)
    assert result.stderr.startswith(f"Error: {code}: the detail")


def test_user_list_pages(server: FakeServer) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") is None:
            return httpx.Response(200, json={"users": [USER], "next_cursor": "alice"})
        bob = {**USER, "username": "bob", "disabled": True}
        return httpx.Response(200, json={"users": [bob], "next_cursor": None})

    server.on("GET", "/v1/users", answer)
    result = run("user", "list", "--limit", "1")
    assert_clean_exit(result, 0)
    assert dict(server.last.url.params) == {"limit": "1"}
    assert any(line.startswith("alice │ user │ key-user") for line in table_lines(result.stdout))
    assert "--cursor alice" in result.stderr
    result = run("user", "list", "--all", "--format", "json")
    body = json.loads(result.stdout)
    assert [u["username"] for u in body["users"]] == ["alice", "bob"]
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("args", "method", "path", "body", "message"),
    [
        (("disable", "alice"), "POST", "/v1/users/alice/disable", {}, "User alice is disabled."),
        (("enable", "alice"), "POST", "/v1/users/alice/enable", {}, "User alice is enabled."),
        (("reset-totp", "alice"), "POST", "/v1/users/alice/reset-totp", {},
         "TOTP of alice is off."),
        (("set-roles", "alice", "--role", "admin", "--role", "key-user"), "PATCH",
         "/v1/users/alice", {"roles": ["admin", "key-user"]},
         "User alice now has the roles: admin, key-user."),
        (("set-roles", "alice", "--clear"), "PATCH", "/v1/users/alice", {"roles": []},
         "User alice now has the roles: admin, key-user."),
    ],
)  # fmt: skip
def test_user_state_changes(  # noqa: PLR0917 - the parametrized columns
    server: FakeServer, args: tuple[str, ...], method: str, path: str, body: object, message: str
) -> None:
    server.on(method, path, {**USER, "roles": ["admin", "key-user"]})
    result = run("user", *args)
    assert_clean_exit(result, 0)
    assert server.calls() == [(method, path)]
    assert server.body() == body
    assert result.stdout.strip() == message


def test_user_show_and_unknown_user(server: FakeServer) -> None:
    server.on("GET", "/v1/users/alice", USER)
    result = run("user", "show", "alice")
    assert_clean_exit(result, 0)
    assert "TOTP │ yes" in table_lines(result.stdout)
    server.on("GET", "/v1/users/nobody", lambda _: problem(404, "UserNotFound"))
    assert_clean_exit(run("user", "show", "nobody"), 5)


def test_user_set_roles_needs_roles_or_clear(server: FakeServer) -> None:
    assert_clean_exit(run("user", "set-roles", "alice"), 2)
    assert_clean_exit(run("user", "set-roles", "alice", "--clear", "--role", "x"), 2)
    assert server.requests == []


def test_user_delete_confirms(server: FakeServer) -> None:
    server.on("DELETE", "/v1/users/alice", status=204)
    result = run("user", "delete", "alice", stdin="n\n")
    assert_clean_exit(result, 1)
    assert server.requests == []
    result = run("user", "delete", "alice", "--yes")
    assert_clean_exit(result, 0)
    assert server.calls() == [("DELETE", "/v1/users/alice")]
    assert result.stdout.strip() == "Deleted user alice."


def test_user_reset_password(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/users/bob/password", status=204)
    (tmp_path / "pw").write_text(NEW_PASSWORD)
    result = run("user", "reset-password", "bob", "--password-file", str(tmp_path / "pw"))
    assert_clean_exit(result, 0)
    assert server.body() == {"password": NEW_PASSWORD}


def test_user_public_key(server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", "/v1/users/alice/public-key", {"username": "alice", "public_key": PEM,
              "key_id": USER["key_id"], "version": 1, "spec": "ED25519", "primary_version": 1,
              "key_state": "ACTIVE", "version_state": "ACTIVE"})  # fmt: skip
    result = run("user", "public-key", "alice")
    assert_clean_exit(result, 0)
    assert result.stdout == PEM
    assert_clean_exit(run("user", "public-key", "alice", "--out", str(tmp_path / "a.pem")), 0)
    assert (tmp_path / "a.pem").read_text() == PEM


# --- totp ------------------------------------------------------------------------------------


def test_totp_enroll_draws_a_qr_code(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/totp/enroll", {"otpauth_uri": URI, "secret": SECRET})
    result = run("totp", "enroll", stdin="my long password here\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"password": "my long password here"}
    assert "my long password here" not in result.stdout
    assert f"URI: {URI}" in result.stdout
    assert f"Secret: {SECRET}" in result.stdout
    assert "█" in result.stdout
    assert "keystead totp confirm" in result.stdout
    result = run("totp", "enroll", "--no-qr", stdin="my long password here\n")
    assert "█" not in result.stdout
    assert f"URI: {URI}" in result.stdout


@pytest.mark.usefixtures("terminal")
def test_totp_confirm_prints_the_recovery_codes_once(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/totp/confirm", {"recovery_codes": RECOVERY})
    result = run("totp", "confirm", stdin=f"{CODE}\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"code": CODE}
    for number, code in enumerate(RECOVERY, start=1):
        assert f"Recovery code {number}: {code}" in result.stdout
    assert "shown once" in result.stderr


def test_totp_disable_and_a_wrong_code(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/auth/totp/disable", status=204)
    (tmp_path / "code").write_text(f"{CODE}\n")
    result = run("totp", "disable", "--code-file", str(tmp_path / "code"))
    assert_clean_exit(result, 0)
    assert server.body() == {"code": CODE}
    server.on("POST", "/v1/auth/totp/disable", lambda _: problem(400, "ValidationFailed"))
    assert_clean_exit(run("totp", "disable", stdin="000000"), 3)


# --- role and policy ---------------------------------------------------------------------------


def test_role_create_list_show_delete(server: FakeServer) -> None:
    server.on("POST", "/v1/roles", ROLE, status=201)
    result = run("role", "create", "orders", "--policy", "orders-use", "--description", "d")
    assert_clean_exit(result, 0)
    assert server.body() == {"name": "orders", "description": "d", "policies": ["orders-use"]}
    assert "Policies │ orders-use" in table_lines(result.stdout)
    server.on("GET", "/v1/roles", {"roles": [ROLE, {**ROLE, "name": "admin", "builtin": True}]})
    result = run("role", "list")
    assert any(line.startswith("admin │ yes │ orders-use") for line in table_lines(result.stdout))
    assert json.loads(run("role", "list", "--format", "json").stdout)["roles"][1]["builtin"]
    server.on("GET", "/v1/roles/orders", ROLE)
    assert json.loads(run("role", "show", "orders", "--format", "json").stdout) == ROLE
    server.on("DELETE", "/v1/roles/orders", status=204)
    assert run("role", "delete", "orders").stdout.strip() == "Deleted role orders."


def test_role_update_keeps_the_description_unless_given(server: FakeServer) -> None:
    server.on("GET", "/v1/roles/orders", ROLE)
    server.on("PUT", "/v1/roles/orders", ROLE)
    assert_clean_exit(run("role", "update", "orders", "--policy", "a", "--policy", "b"), 0)
    assert server.calls() == [("GET", "/v1/roles/orders"), ("PUT", "/v1/roles/orders")]
    assert server.body() == {"name": "orders", "description": "old text", "policies": ["a", "b"]}
    server.requests.clear()
    assert_clean_exit(run("role", "update", "orders", "--policy", "a", "--description", ""), 0)
    assert server.calls() == [("PUT", "/v1/roles/orders")]
    assert server.body() == {"name": "orders", "description": "", "policies": ["a"]}


def test_builtin_role_is_read_only(server: FakeServer) -> None:
    server.on("DELETE", "/v1/roles/admin", lambda _: problem(409, "BuiltinReadOnly"))
    assert_clean_exit(run("role", "delete", "admin"), 6)
    assert_clean_exit(run("role", "create", "x"), 2)  # --policy is required


def test_policy_create_from_a_file(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/policies", POLICY, status=201)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"statements": STATEMENTS, "description": "from file"}))
    result = run("policy", "create", "orders-use", "--file", str(path))
    assert_clean_exit(result, 0)
    assert server.body() == {"name": "orders-use", "description": "from file",
                             "statements": STATEMENTS}  # fmt: skip
    assert "allow │ keys.encrypt │ orders-*" in table_lines(result.stdout)


def test_policy_create_shorthand(server: FakeServer) -> None:
    server.on("POST", "/v1/policies", POLICY, status=201)
    result = run("policy", "create", "p", "--allow", "keys.encrypt", "--allow", "keys.decrypt",
                 "--deny", "keys.sign", "--key", "orders-*", "--description", "d")  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.body() == {"name": "p", "description": "d", "statements": [
        {"effect": "allow", "actions": ["keys.encrypt", "keys.decrypt"], "keys": ["orders-*"]},
        {"effect": "deny", "actions": ["keys.sign"], "keys": ["orders-*"]},
    ]}  # fmt: skip
    assert_clean_exit(run("policy", "create", "p", "--deny", "keys.*"), 0)
    assert server.body()["statements"] == [  # type: ignore[index]
        {"effect": "deny", "actions": ["keys.*"], "keys": ["*"]}
    ]


@pytest.mark.parametrize(
    ("args", "content", "exit_code"),
    [
        ((), None, 2),
        (("--allow", "keys.*", "--file", "F"), "{}", 2),
        (("--file", "F", "--key", "k"), json.dumps({"statements": STATEMENTS}), 2),
        (("--file", "F"), "not json", 3),
        (("--file", "F"), json.dumps({"rules": []}), 3),
        (("--file", "F"), json.dumps({"statements": [{"actions": ["x"]}]}), 3),
    ],
)
def test_policy_bad_input(
    server: FakeServer, tmp_path: Path, args: tuple[str, ...], content: str | None, exit_code: int
) -> None:
    path = tmp_path / "policy.json"
    if content is not None:
        path.write_text(content)
    result = run("policy", "create", "p", *(str(path) if a == "F" else a for a in args))
    assert_clean_exit(result, exit_code)
    assert server.requests == []


def test_policy_update_list_show_delete(server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", "/v1/policies/orders-use", POLICY)
    server.on("PUT", "/v1/policies/orders-use", POLICY)
    (tmp_path / "p.json").write_text(json.dumps(STATEMENTS))
    assert_clean_exit(run("policy", "update", "orders-use", "--file", str(tmp_path / "p.json")), 0)
    assert server.calls()[-1] == ("PUT", "/v1/policies/orders-use")
    assert server.body() == {"name": "orders-use", "description": "old text",
                             "statements": STATEMENTS}  # fmt: skip
    server.on("GET", "/v1/policies", {"policies": [POLICY]})
    result = run("policy", "list")
    assert any(line.startswith("orders-use │ no │ 1") for line in table_lines(result.stdout))
    result = run("policy", "show", "orders-use", "--format", "json")
    assert json.loads(result.stdout)["statements"] == STATEMENTS
    server.on("DELETE", "/v1/policies/orders-use", lambda _: problem(404, "PolicyNotFound"))
    assert_clean_exit(run("policy", "delete", "orders-use"), 5)


# --- grant and token ---------------------------------------------------------------------------


def test_grant_create_list_revoke(server: FakeServer) -> None:
    server.on("POST", "/v1/keys/orders/grants", GRANT, status=201)
    result = run("grant", "create", "orders", "bob", "--op", "ENCRYPT", "--op", "decrypt")
    assert_clean_exit(result, 0)
    assert server.body() == {"principal": "bob", "operations": ["encrypt", "decrypt"]}
    assert result.stdout.strip() == "Granted encrypt, decrypt on orders to bob; grant ID: g_1"
    server.on("GET", "/v1/keys/orders/grants", {"grants": [GRANT]})
    result = run("grant", "list", "orders")
    assert "g_1 │ bob │ encrypt, decrypt │ alice │ 2025-01-02 03:04:05Z" in table_lines(
        result.stdout
    )
    result = run("grant", "list", "orders", "--format", "json")
    assert json.loads(result.stdout) == {"grants": [GRANT]}
    result = run("grant", "create", "orders", "bob", "--op", "encrypt", "--format", "json")
    assert json.loads(result.stdout)["id"] == "g_1"
    server.on("DELETE", "/v1/keys/orders/grants/g_1", status=204)
    assert_clean_exit(run("grant", "revoke", "orders", "g_1"), 0)
    server.on("DELETE", "/v1/keys/orders/grants/g_2", lambda _: problem(404, "GrantNotFound"))
    assert_clean_exit(run("grant", "revoke", "orders", "g_2"), 5)


def test_token_create_prints_the_token_once(server: FakeServer) -> None:
    server.on("POST", "/v1/auth/tokens", ISSUED, status=201)
    result = run("token", "create", "--for", "svc-orders", "--role", "key-user", "--ttl", "1h",
                 "--description", "orders")  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.body() == {"username": "svc-orders", "roles": ["key-user"],
                             "ttl_seconds": 3600, "description": "orders"}  # fmt: skip
    assert result.stdout.count(NEW_TOKEN) == 1
    assert f"Token: {NEW_TOKEN}" in result.stdout
    assert "shown once" in result.stderr
    result = run("token", "create", "--format", "json")
    assert server.body() == {"description": ""}
    assert json.loads(result.stdout)["token"] == NEW_TOKEN


@pytest.mark.parametrize(
    ("args", "query"),
    [((), {}), (("--all",), {"all": "true"}), (("--user", "bob"), {"username": "bob"})],
)
def test_token_list(server: FakeServer, args: tuple[str, ...], query: dict[str, str]) -> None:
    server.on("GET", "/v1/auth/tokens", {"tokens": [TOKEN_INFO]})
    result = run("token", "list", *args)
    assert_clean_exit(result, 0)
    assert dict(server.last.url.params) == query
    assert any(line.startswith("tok_9 │ api │ svc-orders") for line in table_lines(result.stdout))
    result = run("token", "list", *args, "--format", "json")
    assert json.loads(result.stdout)["tokens"][0]["id"] == "tok_9"
    assert NEW_TOKEN not in result.stdout


def test_token_list_both_filters_and_revoke_and_renew(server: FakeServer) -> None:
    assert_clean_exit(run("token", "list", "--all", "--user", "bob"), 2)
    server.on("DELETE", "/v1/auth/tokens/tok_9", status=204)
    assert run("token", "revoke", "tok_9").stdout.strip() == "Revoked token tok_9."
    server.on("DELETE", "/v1/auth/tokens/nope", lambda _: problem(404, "TokenNotFound"))
    assert_clean_exit(run("token", "revoke", "nope"), 5)
    server.on("POST", "/v1/auth/renew", TOKEN_INFO)
    result = run("token", "renew")
    assert result.stdout.strip() == "Token tok_9 now expires at 2030-01-02 03:04:05Z."


# --- operator generate-root and revoke-root ----------------------------------------------------


def test_generate_root_progress_then_the_token(server: FakeServer) -> None:
    answers = iter([{"progress": 1, "threshold": 2, "root_token": None},
                    {"progress": 2, "threshold": 2, "root_token": ROOT_TOKEN}])  # fmt: skip
    server.on("POST", "/v1/sys/generate-root", lambda _: httpx.Response(200, json=next(answers)))
    share = base64.b64encode(SHARE).decode()
    result = run("operator", "generate-root", stdin=f"{share}\n")
    assert_clean_exit(result, 0)
    assert server.body() == {"share": share}
    assert result.stdout.strip() == "Root generation progress: 1/2"
    result = run("operator", "generate-root", stdin=f"{share}\n")
    assert_clean_exit(result, 0)
    assert result.stdout.strip() == f"Root token: {ROOT_TOKEN}"
    assert "revoke-root" in result.stderr


def test_generate_root_reset_and_no_share_argument(server: FakeServer) -> None:
    server.on("POST", "/v1/sys/generate-root", {"progress": 0, "threshold": 2})
    assert_clean_exit(run("operator", "generate-root", "--reset"), 0)
    assert server.body() == {"reset": True}
    assert_clean_exit(run("operator", "generate-root", "c2hhcmU="), 2)
    assert_clean_exit(run("operator", "generate-root", stdin="not base64!\n"), 3)
    assert len(server.requests) == 1


def test_revoke_root(server: FakeServer) -> None:
    server.on("POST", "/v1/sys/revoke-root", {"revoked": 2})
    result = run("operator", "revoke-root")
    assert_clean_exit(result, 0)
    assert server.body() == {}
    assert result.stdout.strip() == "Revoked 2 root tokens."
    server.on("POST", "/v1/sys/revoke-root", lambda _: problem(409, "NoAdmin", "no admin"))
    result = run("operator", "revoke-root")
    assert_clean_exit(result, 6)
    assert result.stderr.strip() == "Error: NoAdmin: no admin [request_id=req-5]"
