"""Shared set-up for the identity tests: a server on a fake clock, users, logins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from starlette.testclient import TestClient

from conftest import FakeClock
from keystead.api.app import create_app
from keystead.config import Settings
from keystead.services.container import Services, build_services

PASSWORD = "correct horse battery staple"


@dataclass
class Server:
    client: TestClient
    services: Services
    clock: FakeClock
    root: dict[str, str]
    shares: list[str]

    def as_root(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        return self.client.request(method, path, json=body, headers=self.root)

    def add_user(
        self, name: str, roles: list[str], password: str | None = PASSWORD, kind: str = "user"
    ) -> dict:
        body: dict[str, object] = {"username": name, "roles": roles, "kind": kind}
        if password is not None:
            body["password"] = password
        response = self.as_root("POST", "/v1/users", body)
        assert response.status_code == 201, response.text
        return response.json()

    def login(self, name: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
        body = {"username": name, "password": password, **extra}
        return self.client.post("/v1/auth/login", json=body)

    def token_of(self, name: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.login(name, password)
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['token']}"}

    def user_with(self, name: str, roles: list[str]) -> dict[str, str]:
        self.add_user(name, roles)
        return self.token_of(name)


@contextmanager
def running(settings: Settings, shares: int = 1, threshold: int = 1) -> Iterator[Server]:
    """An initialised, unsealed server whose services run on a fake clock."""
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    with TestClient(create_app(settings, services), base_url="https://t") as client:
        init = client.post("/v1/sys/init", json={"shares": shares, "threshold": threshold})
        body = init.json()
        for share in body["shares"][:threshold]:
            client.post("/v1/sys/unseal", json={"share": share})
        root = {"authorization": f"Bearer {body['root_token']}"}
        try:
            yield Server(client, services, clock, root, body["shares"])
        finally:
            client.portal.call(services.close)  # type: ignore[union-attr]


def forwarding_transport(server: Server) -> httpx.MockTransport:
    """A transport that hands each request to the in-process server (for SDK clients)."""
    return forward_to(server.client)


def forward_to(client: TestClient) -> httpx.MockTransport:
    """A transport that hands each request to an in-process app through its test client."""

    def forward(request: httpx.Request) -> httpx.Response:
        answer = client.request(
            request.method, request.url.raw_path.decode(), content=request.read(),
            headers=dict(request.headers),
        )  # fmt: skip
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx.MockTransport(forward)
