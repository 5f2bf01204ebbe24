"""Shared set-up for the SDK unit tests: a canned server, clients, and the per-method table.

Each SDK test module lists its methods as :class:`Case` rows and gets the sync and async
tests from :meth:`Harness.method_tests`; the env-cleaning and anyio fixtures are imported by
name into those modules, so they apply there only.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from keystead_sdk import AsyncClient, Client

ADDRESS = "https://kms.test:8200"
PROBLEM = "application/problem+json"

ApiClasses = Iterable[tuple[str, type, type]]  # (namespace, sync API class, async API class)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEYSTEAD_ADDR", "KEYSTEAD_TOKEN", "KEYSTEAD_CACERT"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Server:
    """A canned server: one answer for every request, and a record of the requests.

    The answer's content is ``raw`` when given, else ``body`` as JSON (nothing for ``None``).
    """

    status: int = 200
    body: object = None
    content_type: str = "application/json"
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.raw is not None:
            content = self.raw
        else:
            content = b"" if self.body is None else json.dumps(self.body).encode()
        headers = {"content-type": self.content_type, **self.headers}
        return httpx.Response(self.status, content=content, headers=headers)

    @property
    def last(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def problem(
    status: int,
    code: str,
    detail: str = "the detail",
    request_id: str = "req-1",
    *,
    headers: dict[str, str] | None = None,
    error_type: str | None = None,
    title: str = "Title",
) -> Server:
    """A server that answers every request with one problem+json error."""
    body = {
        "type": error_type or f"urn:keystead:error:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    return Server(status=status, body=body, content_type=PROBLEM, headers=headers or {})


def request_json(request: httpx.Request) -> object:
    return json.loads(request.content) if request.content else None


@dataclass(frozen=True)
class Case:
    """One SDK method: how to call it, the request it must make, and the answer it parses."""

    method: str  # "sys.init", "keys.rotate", or "random" for the client's own method
    args: tuple[object, ...]
    kwargs: dict[str, object]
    http_method: str
    raw_path: str
    body: object
    answer: object
    check: Callable[[Any], None]
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False  # the request must carry no token (login, register)


def bound(client: Client | AsyncClient, dotted: str) -> Callable[..., Any]:
    target: object = client
    for part in dotted.split("."):
        target = getattr(target, part)
    assert callable(target)
    return target


@dataclass(frozen=True)
class Harness:
    """The clients of one test module, built with its caller token, and the checks using it."""

    token: str

    def sync_client(self, server: Server, **kwargs: Any) -> Client:
        kwargs.setdefault("token", self.token)
        return Client(ADDRESS, transport=server.transport(), **kwargs)

    def async_client(self, server: Server, **kwargs: Any) -> AsyncClient:
        kwargs.setdefault("token", self.token)
        return AsyncClient(ADDRESS, transport=server.transport(), **kwargs)

    def check_request(self, server: Server, case: Case) -> None:
        request = server.last
        assert request.method == case.http_method
        assert request.url.raw_path.split(b"?")[0].decode() == case.raw_path
        assert dict(request.url.params) == case.query
        assert request_json(request) == case.body
        if case.anonymous:
            assert "authorization" not in request.headers
        else:
            assert request.headers["authorization"] == f"Bearer {self.token}"
        if case.body is not None:
            assert request.headers["content-type"] == "application/json"

    def method_tests(
        self, cases: Sequence[Case]
    ) -> tuple[Callable[[Case], None], Callable[[Case], Awaitable[None]]]:
        """``test_sync_method`` and ``test_async_method``, one test a case, for a module."""
        ids = [f"{case.method}-{index}" for index, case in enumerate(cases)]

        @pytest.mark.parametrize("case", cases, ids=ids)
        def test_sync_method(case: Case) -> None:
            server = Server(status=case.status, body=case.answer)
            with self.sync_client(server) as client:
                result = bound(client, case.method)(*case.args, **case.kwargs)
            self.check_request(server, case)
            case.check(result)

        @pytest.mark.anyio
        @pytest.mark.parametrize("case", cases, ids=ids)
        async def test_async_method(case: Case) -> None:
            server = Server(status=case.status, body=case.answer)
            async with self.async_client(server) as client:
                result = await bound(client, case.method)(*case.args, **case.kwargs)
            self.check_request(server, case)
            case.check(result)

        return test_sync_method, test_async_method


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: function
        for name, function in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def assert_methods_covered(cases: Iterable[Case], api_classes: ApiClasses) -> set[str]:
    """Every public method of the API classes has a case; returns the methods covered."""
    covered = {case.method for case in cases}
    for namespace, sync_cls, async_cls in api_classes:
        for cls in (sync_cls, async_cls):
            names = {f"{namespace}.{name}" for name in public_methods(cls)}
            assert names <= covered, names - covered
    return covered


def assert_async_mirrors_sync(api_classes: ApiClasses) -> None:
    """Each async API class has the sync class's methods, same signatures, as coroutines."""
    for _, sync_cls, async_cls in api_classes:
        sync_methods, async_methods = public_methods(sync_cls), public_methods(async_cls)
        assert set(sync_methods) == set(async_methods)
        for name, function in sync_methods.items():
            mirror = async_methods[name]
            assert inspect.signature(mirror) == inspect.signature(function), name
            assert inspect.iscoroutinefunction(mirror), name
