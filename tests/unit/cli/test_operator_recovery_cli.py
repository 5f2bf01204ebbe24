"""``keystead operator init --recovery-shares`` and ``status`` with the pkcs11 seal's fields."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from typer.testing import CliRunner, Result

from keystead.cli import client as cli_client
from keystead.cli.main import app
from keystead_sdk import Client

ADDRESS = "https://kms.test:8200"
SHARES = [b"\x41" * 33, b"\x42" * 33, b"\x43" * 33]
ROOT_TOKEN = "kst_root_from-a-pkcs11-init"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "KEYSTEAD_ADDR", "KEYSTEAD_TOKEN", "KEYSTEAD_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def serve(monkeypatch: pytest.MonkeyPatch, status: int, body: object) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    def make_client() -> Client:
        return Client(ADDRESS, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(cli_client, "make_client", make_client)
    return seen


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["operator", *args])


INIT = {
    "shares": [], "root_token": ROOT_TOKEN, "threshold": 2,
    "recovery_shares": [b64(s) for s in SHARES], "recovery_threshold": 2,
}  # fmt: skip


def test_init_with_recovery_shares_prints_them(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = serve(monkeypatch, 200, INIT)
    result = run("init", "--recovery-shares", "3", "--recovery-threshold", "2")
    assert result.exit_code == 0, result.output
    assert json.loads(seen[-1].content) == {"recovery_shares": 3, "recovery_threshold": 2}
    for number, share in enumerate(SHARES, start=1):
        assert f"Recovery share {number}: {b64(share)}" in result.stdout
    assert f"Root token: {ROOT_TOKEN}" in result.stdout
    assert "The server is unsealed" in result.stdout
    assert "Unseal share" not in result.stdout


def test_init_with_recovery_shares_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = serve(monkeypatch, 200, INIT)
    result = run("init", "--recovery-threshold", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(seen[-1].content) == {"recovery_shares": 5, "recovery_threshold": 2}
    assert json.loads(result.stdout) == {
        "recovery_shares": [b64(s) for s in SHARES], "root_token": ROOT_TOKEN,
        "recovery_threshold": 2,
    }  # fmt: skip


def test_init_refused_by_a_shamir_server(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = {
        "type": "urn:keystead:error:ValidationFailed", "title": "Bad Request", "status": 400,
        "detail": "recovery_shares: only the pkcs11 seal makes recovery shares",
        "code": "ValidationFailed", "request_id": "r1",
    }  # fmt: skip
    serve(monkeypatch, 400, problem)
    result = run("init", "--recovery-shares", "3")
    assert result.exit_code == 3
    assert "Error: ValidationFailed: recovery_shares" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bad", [{"shares": []}, {**INIT, "recovery_shares": ["not base64!"]}])
def test_an_odd_init_answer_is_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, bad: dict
) -> None:
    serve(monkeypatch, 200, bad)
    result = run("init", "--recovery-shares", "3")
    assert result.exit_code == 1
    assert "InvalidResponse" in result.stderr
    assert "Traceback" not in result.output


STATUS = {
    "initialized": True, "sealed": True, "type": "pkcs11", "shares": 3, "threshold": 2,
    "progress": 0, "version": "0.1.0", "recovery_seal": True,
    "seal_error": "no token with the label set in pkcs11_token_label is present",
}  # fmt: skip


def test_status_shows_the_seal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, 200, STATUS)
    result = run("status")
    assert result.exit_code == 2
    rows = {" ".join(line.strip("│┃ ").split()) for line in result.stdout.splitlines()}
    assert "Recovery seal │ true" in rows
    assert any(row.startswith("Seal error │ no token with the label") for row in rows), rows
    assert not any(row.startswith("Seal migration") for row in rows)


def test_status_json_keeps_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, 200, {**STATUS, "migration": True})
    result = run("status", "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {**STATUS, "migration": True}
