"""Shared set-up for the CLI unit tests: a routing fake server, CliRunner, and the checks.

A test module builds one :class:`CliHarness` with its caller token and the secrets that must
never be printed, and takes ``server`` and ``assert_clean_exit`` from it; the autouse
``plain_terminal`` fixture is imported by name into those modules, so it applies there only.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from keystead.cli import client as cli_client
from keystead.cli.main import app
from keystead_sdk import Client

ADDRESS = "https://kms.test:8200"
PROBLEM = "application/problem+json"

Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, code: str, detail: str = "the detail") -> httpx.Response:
    body = {"type": "about:blank", "title": "T", "status": status, "detail": detail,
            "code": code, "request_id": "req-5"}  # fmt: skip
    return httpx.Response(status, json=body, headers={"content-type": PROBLEM})


@dataclass
class FakeServer:
    """Routes (method, path) to handlers, keeps the requests and the token each client had."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)
    used_saved: list[bool] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.split(b"?")[0].decode()
        handler = self.routes.get((request.method, path))
        if handler is None:
            return problem(404, "RouteNotFound", f"{request.method} {path}")
        return handler(request)

    def on(self, method: str, path: str, answer: object = None, *, status: int = 200) -> None:
        """Answer ``answer`` as JSON (no body for ``None``), or call it when it is a handler."""

        def canned(_: httpx.Request) -> httpx.Response:
            return (
                httpx.Response(status, json=answer)
                if answer is not None
                else (httpx.Response(status))
            )

        self.routes[(method, path)] = answer if callable(answer) else canned

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> object:
        return json.loads(self.requests[index].content)

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(self.requests[index].url.params)

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.raw_path.decode()) for r in self.requests]


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FORCE_COLOR", "KEYSTEAD_ADDR", "KEYSTEAD_TOKEN", "KEYSTEAD_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()


@dataclass(frozen=True)
class CliHarness:
    """One test module's caller token, and the secrets its commands must never print."""

    token: str
    never_print: tuple[str, ...] = ()

    def server_fixture(self) -> Callable[[pytest.MonkeyPatch], FakeServer]:
        """The ``server`` fixture: ``make_client`` gives a client on a fresh :class:`FakeServer`."""

        @pytest.fixture(name="server")
        def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
            fake = FakeServer()

            def make_client(token: str | None = None, *, use_saved: bool = True) -> Client:
                fake.tokens.append(token)
                fake.used_saved.append(use_saved)
                transport = httpx.MockTransport(fake)
                return Client(ADDRESS, token=token or self.token, transport=transport)

            monkeypatch.setattr(cli_client, "make_client", make_client)
            return fake

        return server

    def assert_clean_exit(self, result: Result, code: int) -> None:
        assert result.exit_code == code, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.output
        for secret in (self.token, *self.never_print):
            assert secret not in result.output


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def table_lines(text: str, *, drop_inner: bool = False) -> set[str]:
    """The lines of a table, without the border; ``drop_inner`` blanks the column rules too."""
    if drop_inner:
        text = text.translate(str.maketrans("│┃", "  "))
    return {" ".join(line.strip("│┃ ").split()) for line in text.splitlines()}


def mode(path: Path) -> int:
    """The permission bits of ``path`` itself (a symlink is not followed)."""
    return stat.S_IMODE(path.lstat().st_mode)
