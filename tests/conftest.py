"""Shared fixtures: settings in a temporary data directory, an app, a client, a PostgreSQL DB."""

from __future__ import annotations

import base64
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import structlog
from starlette.testclient import TestClient

from hsm_support import SoftHSM, create_softhsm
from keystead.api.app import create_app
from keystead.config import Settings, load_settings
from keystead.logs import configure_logging
from seal_support import SealUnderTest

POSTGRES_ENV = "KEYSTEAD_TEST_POSTGRES_URL"


class FakeClock:
    """A clock the test moves: schedulers, expiries and lockouts without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def configured_logging() -> Iterator[Callable[[str, str], None]]:
    """Configure the real log chain inside a test, and undo it afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog.reset_defaults()
    yield configure_logging
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", insecure_http=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of an app that owns its services (built, migrated and closed by lifespan)."""
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


@dataclass(frozen=True)
class Initialized:
    client: TestClient
    shares: list[str]
    root_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.root_token}"}

    def unseal(self, *indexes: int) -> dict[str, object]:
        body: dict[str, object] = {}
        for index in indexes:
            response = self.client.post("/v1/sys/unseal", json={"share": self.shares[index]})
            assert response.status_code == 200, response.text
            body = response.json()
        return body


@pytest.fixture
def initialized(client: TestClient) -> Initialized:
    """A server initialised with 5 shares, threshold 3, still sealed."""
    response = client.post("/v1/sys/init", json={"shares": 5, "threshold": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    return Initialized(client, body["shares"], body["root_token"])


@pytest.fixture
def unsealed(initialized: Initialized) -> Initialized:
    initialized.unseal(0, 1, 2)
    return initialized


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.fail(
            f"{POSTGRES_ENV} is not set: run the tests with `make test`, which starts PostgreSQL"
        )
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"keystead_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_admin_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each kind the storage runs on (the conformance suites, STYLE.md C27)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keystead.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHSM:
    """SoftHSM2 in a temporary directory with one fresh token; this process points at it.

    The library reads SOFTHSM2_CONF when it is initialised: the seal re-initialises it once
    when a token label is not found, which is how a token made here becomes visible.
    """
    hsm = create_softhsm(tmp_path / "softhsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.conf))
    return hsm


@pytest.fixture(params=["shamir", pytest.param("pkcs11", marks=pytest.mark.hsm)])
def seal(request: pytest.FixtureRequest) -> SealUnderTest:
    """Each seal a conformance suite runs against (STYLE.md C27, issue 7 must-show 3)."""
    if request.param == "shamir":
        return SealUnderTest("shamir")
    return SealUnderTest("pkcs11", request.getfixturevalue("softhsm"))
