"""``keystead operator`` through CliRunner, with the SDK client on an httpx.MockTransport."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from keystead.cli import client as cli_client
from keystead.cli import operator
from keystead.cli.main import app
from keystead_sdk import Client, ConfigurationError, KeysteadSDKError

ADDRESS = "https://kms.test:8200"
TOKEN = "kst_root_never-print-me"
SHARES = [b"\x11" * 33, b"\x22" * 33, b"\x33" * 33]
ROOT_TOKEN = "kst_root_the-one-from-init"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal_status(*, sealed: bool, progress: int = 0, initialized: bool = True) -> dict[str, object]:
    return {
        "initialized": initialized,
        "sealed": sealed,
        "type": "shamir",
        "shares": 3,
        "threshold": 2,
        "progress": progress,
        "version": "0.1.0",
    }


def problem(status: int, code: str, detail: str = "the detail") -> httpx.Response:
    body = {
        "type": f"urn:keystead:error:{code}",
        "title": "Title",
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": "req-42",
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@dataclass
class FakeServer:
    """Answers each request with the handler's response, and keeps the requests."""

    handler: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def last_json(self) -> object:
        return json.loads(self.requests[-1].content)


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "KEYSTEAD_ADDR", "KEYSTEAD_TOKEN", "KEYSTEAD_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeServer]:
    """Route the CLI's SDK client to a fake server answering with ``handler`` or ``json``."""

    def install(
        handler: Callable[[httpx.Request], httpx.Response] | None = None,
        *,
        json_body: object = None,
        status: int = 200,
    ) -> FakeServer:
        def canned(_: httpx.Request) -> httpx.Response:
            return httpx.Response(status, json=json_body)

        server = FakeServer(handler or canned)

        def make_client() -> Client:
            return Client(ADDRESS, token=TOKEN, transport=httpx.MockTransport(server))

        monkeypatch.setattr(cli_client, "make_client", make_client)
        return server

    return install


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["operator", *args], input=stdin)


def assert_clean_exit(result: Result, code: int) -> None:
    """The exit code is ``code``, and no traceback or token was printed."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert TOKEN not in result.output


# --- init -----------------------------------------------------------------------------------


def init_answer(_: httpx.Request) -> httpx.Response:
    body = {"shares": [b64(s) for s in SHARES], "root_token": ROOT_TOKEN, "threshold": 2}
    return httpx.Response(200, json=body)


def test_init_prints_shares_and_root_token_in_a_panel(serve: Callable[..., FakeServer]) -> None:
    server = serve(init_answer)
    result = run("init", "--shares", "3", "--threshold", "2")
    assert_clean_exit(result, 0)
    assert server.last_json == {"shares": 3, "threshold": 2}
    for number, share in enumerate(SHARES, start=1):
        assert f"Unseal share {number}: {b64(share)}" in result.stdout
    assert f"Root token: {ROOT_TOKEN}" in result.stdout
    assert "shown once" in result.stdout
    assert "Keystead initialised" in result.stdout


def test_init_default_shares_and_threshold(serve: Callable[..., FakeServer]) -> None:
    server = serve(init_answer)
    assert_clean_exit(run("init"), 0)
    assert server.last_json == {"shares": 5, "threshold": 3}


def test_init_json_for_scripts(serve: Callable[..., FakeServer]) -> None:
    serve(init_answer)
    result = run("init", "--shares", "3", "--threshold", "2", "--format", "json")
    assert_clean_exit(result, 0)
    assert json.loads(result.stdout) == {
        "shares": [b64(s) for s in SHARES],
        "root_token": ROOT_TOKEN,
        "threshold": 2,
    }


def test_init_twice_is_a_conflict(serve: Callable[..., FakeServer]) -> None:
    serve(lambda _: problem(409, "AlreadyInitialized", "the server is already initialised"))
    result = run("init", "--shares", "1", "--threshold", "1")
    assert_clean_exit(result, 6)
    assert "Error: AlreadyInitialized: the server is already initialised" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--shares", "0"], ["--threshold", "256"]])
def test_init_rejects_out_of_range_counts(
    serve: Callable[..., FakeServer], args: list[str]
) -> None:
    server = serve(init_answer)
    assert run("init", *args).exit_code == 2
    assert server.requests == []


# --- unseal ---------------------------------------------------------------------------------


def test_unseal_reads_the_share_from_stdin(serve: Callable[..., FakeServer]) -> None:
    server = serve(json_body=seal_status(sealed=True, progress=1))
    result = run("unseal", stdin=b64(SHARES[0]) + "\n")
    assert_clean_exit(result, 0)
    assert server.last_json == {"share": b64(SHARES[0])}
    assert result.stdout.strip() == "Unseal progress: 1/2"
    assert b64(SHARES[0]) not in result.output
    assert "Warning" not in result.stderr


def test_unseal_completes(serve: Callable[..., FakeServer]) -> None:
    serve(json_body=seal_status(sealed=False, progress=0))
    result = run("unseal", stdin=b64(SHARES[1]))
    assert_clean_exit(result, 0)
    assert result.stdout.strip() == "Unsealed."


def test_unseal_prompts_without_echo_on_a_terminal(
    serve: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operator, "_stdin_is_terminal", lambda: True)
    server = serve(json_body=seal_status(sealed=True, progress=1))
    result = run("unseal", stdin=b64(SHARES[2]) + "\n")
    assert_clean_exit(result, 0)
    assert server.last_json == {"share": b64(SHARES[2])}
    assert "Unseal share" in result.stdout
    assert b64(SHARES[2]) not in result.output


def test_unseal_share_as_argument_warns(serve: Callable[..., FakeServer]) -> None:
    server = serve(json_body=seal_status(sealed=True, progress=1))
    result = run("unseal", b64(SHARES[0]))
    assert_clean_exit(result, 0)
    assert server.last_json == {"share": b64(SHARES[0])}
    assert "Warning:" in result.stderr
    assert "visible to other users" in result.stderr
    assert b64(SHARES[0]) not in result.output


def test_unseal_reset(serve: Callable[..., FakeServer]) -> None:
    server = serve(json_body=seal_status(sealed=True, progress=0))
    result = run("unseal", "--reset")
    assert_clean_exit(result, 0)
    assert server.last_json == {"reset": True}
    assert result.stdout.strip() == "Unseal progress: 0/2"


def test_unseal_reset_with_a_share_is_a_usage_error(serve: Callable[..., FakeServer]) -> None:
    server = serve(json_body=seal_status(sealed=True))
    result = run("unseal", "--reset", b64(SHARES[0]))
    assert result.exit_code == 2
    assert server.requests == []


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "no unseal share given"), ("   \n", "no unseal share given"),
     ("not*base64!\n", "the share is not standard base64"),
     ("AQ\u00e9base64!\n", "the share is not standard base64")],
)  # fmt: skip
def test_unseal_bad_input_never_reaches_the_server(
    serve: Callable[..., FakeServer], stdin: str, message: str
) -> None:
    server = serve(json_body=seal_status(sealed=True))
    result = run("unseal", stdin=stdin)
    assert_clean_exit(result, 3)
    assert f"Error: InvalidUnsealShare: {message}" in result.stderr
    assert "base64!" not in result.output
    assert server.requests == []


def test_unseal_wrong_share_maps_to_exit_3(serve: Callable[..., FakeServer]) -> None:
    detail = "the shares given do not rebuild this server's root key; unseal progress was reset"
    serve(lambda _: problem(400, "InvalidUnsealKey", detail))
    result = run("unseal", stdin=b64(SHARES[0]))
    assert_clean_exit(result, 3)
    assert result.stderr.strip() == f"Error: InvalidUnsealKey: {detail} [request_id=req-42]"
    assert result.stdout == ""


# --- seal, status, rotate-keyring ------------------------------------------------------------


def test_seal(serve: Callable[..., FakeServer]) -> None:
    server = serve(json_body=seal_status(sealed=True))
    result = run("seal")
    assert_clean_exit(result, 0)
    assert result.stdout.strip() == "Sealed."
    request = server.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/v1/sys/seal")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "sealed", "initialized", "exit_code"),
    [(seal_status(sealed=False), False, True, 0),
     (seal_status(sealed=True, progress=1), True, True, 2),
     (seal_status(sealed=True, initialized=False), True, False, 2)],
)  # fmt: skip
def test_status_table_and_exit_code(
    serve: Callable[..., FakeServer],
    status: dict[str, object],
    sealed: bool,
    initialized: bool,
    exit_code: int,
) -> None:
    server = serve(json_body=status)
    result = run("status")
    assert_clean_exit(result, exit_code)
    assert server.requests[-1].url.path == "/v1/sys/seal-status"
    lines = {" ".join(line.strip("│┃ ").split()) for line in result.stdout.splitlines()}
    assert any(line.startswith(f"Sealed │ {str(sealed).lower()}") for line in lines), lines
    assert any(line.startswith(f"Initialized │ {str(initialized).lower()}") for line in lines), (
        lines
    )
    assert "Seal status" in result.stdout
    assert ADDRESS in result.stdout


def test_status_json(serve: Callable[..., FakeServer]) -> None:
    serve(json_body=seal_status(sealed=True, progress=1))
    result = run("status", "--format", "json")
    assert_clean_exit(result, 2)
    assert json.loads(result.stdout) == seal_status(sealed=True, progress=1)


def test_rotate_keyring(serve: Callable[..., FakeServer]) -> None:
    server = serve(json_body={"term": 7})
    result = run("rotate-keyring")
    assert_clean_exit(result, 0)
    assert server.requests[-1].url.path == "/v1/sys/rotate-keyring"
    assert "7" in result.stdout


# --- errors and exit codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (401, "Unauthenticated", 4),
        (403, "PermissionDenied", 4),
        (400, "ValidationFailed", 3),
        (413, "PayloadTooLarge", 3),
        (400, "InvalidCiphertext", 3),
        (404, "RouteNotFound", 5),
        (409, "KeyStateForbidsOperation", 6),
        (503, "Sealed", 7),
        (503, "NotInitialized", 7),
        (500, "InternalError", 1),
        (503, "StorageUnavailable", 1),
    ],
)
@pytest.mark.parametrize("command", ["seal", "status", "rotate-keyring"])
def test_api_errors_print_one_line_and_exit_with_the_family_code(
    serve: Callable[..., FakeServer], command: str, status: int, code: str, exit_code: int
) -> None:
    serve(lambda _: problem(status, code, "it [went] wrong"))
    result = run(command)
    assert_clean_exit(result, exit_code)
    assert result.stderr.strip() == f"Error: {code}: it [went] wrong [request_id=req-42]"
    assert result.stdout == ""


def test_non_json_error_body(serve: Callable[..., FakeServer]) -> None:
    serve(lambda _: httpx.Response(502, text="<html>bad gateway</html>"))
    result = run("seal")
    assert_clean_exit(result, 1)
    assert result.stderr.strip() == "Error: HTTPError: Bad Gateway"


def test_unreachable_server_exits_8(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        msg = "[Errno 111] Connection refused"
        raise httpx.ConnectError(msg, request=request)

    monkeypatch.setattr(
        cli_client,
        "make_client",
        lambda: Client(ADDRESS, token=TOKEN, transport=httpx.MockTransport(refuse)),
    )
    result = run("status")
    assert_clean_exit(result, 8)
    assert result.stderr.startswith(f"Error: TransportError: cannot reach Keystead at {ADDRESS}")


def test_missing_ca_file_exits_9(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    monkeypatch.setenv("KEYSTEAD_CACERT", str(missing))
    result = run("status")
    assert_clean_exit(result, 9)
    assert "Error: ConfigurationError: CA certificate file not found" in result.stderr
    assert str(missing) in result.stderr.replace("\n", "")


def test_make_client_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTEAD_ADDR", "https://env.test:8300")
    monkeypatch.setenv("KEYSTEAD_TOKEN", TOKEN)
    with cli_client.make_client() as client:
        assert client.address == "https://env.test:8300"
        assert TOKEN not in repr(client)
        assert "**********" in repr(client)


def test_exit_code_of_an_unknown_sdk_error() -> None:
    assert cli_client.exit_code_for(KeysteadSDKError("?")) == cli_client.ExitCode.ERROR


def test_api_errors_works_as_a_decorator() -> None:
    @cli_client.api_errors()
    def boom() -> None:
        msg = "bad"
        raise ConfigurationError(msg)

    runner_app = typer.Typer()
    runner_app.command()(boom)
    result = CliRunner().invoke(runner_app, [])
    assert_clean_exit(result, 9)
    assert result.stderr.strip() == "Error: ConfigurationError: bad"
