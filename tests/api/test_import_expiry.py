"""Imported material expiry (valid_to) and the removal of spent import parameters.

At a version's ``valid_to`` the scheduler erases its material and marks it DESTROYED, as a
scheduled version destruction does; a key left with no material is DESTROYED too. The
scheduler also deletes import parameters that were used or have expired. Everything runs on
the test server's FakeClock: no sleeps.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from starlette.testclient import TestClient

from byok_support import imported, params, send, send_with
from conftest import FakeClock, b64
from identity_support import Server, running
from keystead.api.app import create_app
from keystead.config import Settings, load_settings
from keystead.services import key_cache
from keystead.services.container import build_services
from keystead.services.scheduler import SchedulerReport

START = "2026-11-28T12:00:00Z"  # the FakeClock's start
DAY = timedelta(days=1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "d", insecure_http=True)


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with running(settings) as started:
        yield started


@pytest.fixture
def admin(server: Server) -> dict[str, str]:
    return server.user_with("kim", ["key-admin"])


def _scheduler(server: Server) -> SchedulerReport:
    return server.client.portal.call(server.services.scheduler.run_once)  # type: ignore[union-attr]


def _in(days: int) -> str:
    return (FakeClock().now + days * DAY).isoformat()


def _encrypt(server: Server, name: str):
    return server.as_root("POST", f"/v1/keys/{name}/encrypt", {"plaintext": b64(b"kept")})


def _decrypt(server: Server, ciphertext: str):
    return server.as_root("POST", "/v1/decrypt", {"ciphertext": ciphertext})


def _versions(server: Server, name: str) -> list[dict]:
    return server.as_root("GET", f"/v1/keys/{name}/versions").json()["versions"]


def _materials(settings: Settings, key_id: str) -> list[tuple[int, bool]]:
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        rows = db.execute(
            "SELECT version, material_wrapped IS NOT NULL FROM key_versions WHERE key_id = ?"
            " ORDER BY version",
            (key_id,),
        ).fetchall()
    return [(version, bool(held)) for version, held in rows]


# --- valid_to on the way in --------------------------------------------------------------------


def test_valid_to_is_kept_per_version_and_listed(server: Server, admin: dict[str, str]) -> None:
    imported(server, admin, "AES_256_GCM", os.urandom(32), name="dated", valid_to=_in(10))
    imported(server, admin, "AES_256_GCM", os.urandom(32), key="dated")
    listed = [(v["version"], v["valid_to"]) for v in _versions(server, "dated")]
    assert listed == [(1, "2026-12-08T12:00:00Z"), (2, None)]


@pytest.mark.parametrize(
    ("valid_to", "says"),
    [
        ("2026-11-28T11:59:59Z", "must be in the future"),
        (START, "must be in the future"),
        ("2026-12-01T00:00:00", "timezone"),  # naive: refused by the schema
        ("next week", "valid_to"),
    ],
)
def test_a_valid_to_not_ahead_is_refused(
    server: Server, admin: dict[str, str], valid_to: str, says: str
) -> None:
    refused = send(server, admin, "AES_256_GCM", os.urandom(32), name="late", valid_to=valid_to)
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")
    assert says in refused.json()["detail"]
    assert server.as_root("GET", "/v1/keys/late").status_code == 404


def test_a_past_valid_to_is_refused_for_a_version_too(
    server: Server, admin: dict[str, str]
) -> None:
    imported(server, admin, "AES_256_GCM", os.urandom(32), name="later")
    refused = send(server, admin, "AES_256_GCM", os.urandom(32), key="later",
                   valid_to="2026-11-01T00:00:00+00:00")  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")
    assert server.as_root("GET", "/v1/keys/later").json()["primary_version"] == 1


# --- the scheduler erases expired material -----------------------------------------------------


def test_the_only_version_expires_and_the_key_is_destroyed(
    server: Server, admin: dict[str, str], settings: Settings
) -> None:
    key = imported(server, admin, "AES_256_GCM", os.urandom(32), name="short", valid_to=_in(2))
    blob = _encrypt(server, "short").json()["ciphertext"]
    server.clock.advance(2 * DAY - timedelta(seconds=1))
    assert _scheduler(server).expired_versions == []
    assert _decrypt(server, blob).status_code == 200
    server.clock.advance(timedelta(seconds=1))
    report = _scheduler(server)
    assert [(str(k), v) for k, v in report.expired_versions] == [(key["id"], 1)]
    assert report.failed == []
    described = server.as_root("GET", "/v1/keys/short").json()
    assert described["state"] == "DESTROYED"
    (version,) = _versions(server, "short")
    assert (version["state"], version["destroyed_at"]) == ("DESTROYED", "2026-11-30T12:00:00Z")
    assert _materials(settings, key["id"]) == [(1, False)]
    for refused in (_decrypt(server, blob), _encrypt(server, "short")):
        assert (refused.status_code, refused.json()["code"]) == (409, "KeyDestroyed")
    assert _scheduler(server).expired_versions == []  # nothing left to erase


def test_an_old_version_expires_and_the_key_goes_on(
    server: Server, admin: dict[str, str], settings: Settings
) -> None:
    key = imported(server, admin, "AES_256_GCM", os.urandom(32), name="rolling", valid_to=_in(5))
    old = _encrypt(server, "rolling").json()["ciphertext"]
    imported(server, admin, "AES_256_GCM", os.urandom(32), key="rolling")
    new = _encrypt(server, "rolling").json()
    assert new["version"] == 2
    server.clock.advance(5 * DAY)
    assert [v for _, v in _scheduler(server).expired_versions] == [1]
    assert server.as_root("GET", "/v1/keys/rolling").json()["state"] == "ACTIVE"
    assert [v["state"] for v in _versions(server, "rolling")] == ["DESTROYED", "ACTIVE"]
    gone = _decrypt(server, old)
    assert (gone.status_code, gone.json()["code"]) == (409, "KeyDestroyed")
    opened = _decrypt(server, new["ciphertext"])
    assert base64.b64decode(opened.json()["plaintext"]) == b"kept"
    assert _encrypt(server, "rolling").json()["version"] == 2
    assert _materials(settings, key["id"]) == [(1, False), (2, True)]


def test_an_expired_primary_protects_nothing_until_a_new_version_is_imported(
    server: Server, admin: dict[str, str]
) -> None:
    imported(server, admin, "AES_256_GCM", os.urandom(32), name="renewed")
    old = _encrypt(server, "renewed").json()["ciphertext"]
    imported(server, admin, "AES_256_GCM", os.urandom(32), key="renewed", valid_to=_in(1))
    server.clock.advance(DAY)
    assert [v for _, v in _scheduler(server).expired_versions] == [2]
    # Version 1 still holds material, so the key stays ACTIVE and still decrypts with it.
    assert server.as_root("GET", "/v1/keys/renewed").json()["state"] == "ACTIVE"
    assert _decrypt(server, old).status_code == 200
    refused = _encrypt(server, "renewed")
    assert (refused.status_code, refused.json()["code"]) == (409, "KeyDestroyed")
    # The root token never expires; the key-admin's session may have by now.
    imported(server, server.root, "AES_256_GCM", os.urandom(32), key="renewed")
    assert _encrypt(server, "renewed").json()["version"] == 3


def test_expired_material_of_a_compromised_key_is_destroyed_compromised(
    server: Server, admin: dict[str, str]
) -> None:
    imported(server, admin, "HMAC_SHA256", os.urandom(32), name="leaked", valid_to=_in(3))
    revoked = server.client.post(
        "/v1/keys/leaked/revoke", json={"reason": "KEY_COMPROMISE"}, headers=admin
    )
    assert revoked.json()["state"] == "COMPROMISED"
    server.clock.advance(3 * DAY)
    assert len(_scheduler(server).expired_versions) == 1
    assert server.as_root("GET", "/v1/keys/leaked").json()["state"] == "DESTROYED_COMPROMISED"
    assert [v["state"] for v in _versions(server, "leaked")] == ["DESTROYED_COMPROMISED"]


def test_a_key_destroyed_first_leaves_no_expiry_to_do(
    server: Server, admin: dict[str, str]
) -> None:
    imported(server, admin, "AES_256_GCM", os.urandom(32), name="both-ends", valid_to=_in(2))
    server.client.post("/v1/keys/both-ends/deactivate", headers=admin)
    server.client.post("/v1/keys/both-ends/schedule-destruction", json={"pending_days": 1},
                       headers=admin)  # fmt: skip
    server.clock.advance(2 * DAY)
    report = _scheduler(server)
    assert (len(report.destroyed), report.expired_versions, report.failed) == (1, [], [])
    assert server.as_root("GET", "/v1/keys/both-ends").json()["state"] == "DESTROYED"


# --- spent import parameters are removed -------------------------------------------------------


def _params_rows(settings: Settings) -> int:
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        ((count,),) = db.execute("SELECT count(*) FROM import_params").fetchall()
    return int(count)


def test_used_and_expired_import_params_are_deleted(server: Server, settings: Settings) -> None:
    root = server.root  # sessions expire within the hours this test spans; root does not
    imported(server, root, "AES_256_GCM", os.urandom(32), name="spent")  # used at once
    stale = params(server, root, "AES_256_GCM")
    server.clock.advance(timedelta(hours=12))
    live = params(server, root, "AES_256_GCM")
    server.clock.advance(timedelta(hours=12))  # stale is 24 h old: expired; live is not
    assert _params_rows(settings) == 3
    assert _scheduler(server).import_params_removed == 2
    assert _params_rows(settings) == 1
    assert _scheduler(server).import_params_removed == 0
    late = send_with(server, root, stale, os.urandom(32), name="from-stale")
    assert (late.status_code, late.json()["code"]) == (400, "ImportTokenInvalid")
    assert send_with(server, root, live, os.urandom(32), name="from-live").status_code == 201
    assert _scheduler(server).import_params_removed == 1
    assert _params_rows(settings) == 0


# --- another node sharing the database ---------------------------------------------------------


def test_another_node_stops_using_an_expired_primary_within_its_cache_time(
    server: Server, admin: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported(server, admin, "AES_256_GCM", os.urandom(32), name="shared")
    imported(server, admin, "AES_256_GCM", os.urandom(32), key="shared", valid_to=_in(1))
    other = build_services(settings, clock=server.clock)
    with TestClient(create_app(settings, other), base_url="https://b") as node_b:
        assert node_b.post("/v1/sys/unseal", json={"share": server.shares[0]}).is_success

        def encrypt_on_b() -> httpx.Response:
            body = {"plaintext": b64(b"x")}
            return node_b.post("/v1/keys/shared/encrypt", json=body, headers=server.root)

        assert encrypt_on_b().json()["version"] == 2  # node b now caches version 2's material
        server.clock.advance(DAY)
        assert [v for _, v in _scheduler(server).expired_versions] == [2]
        # Past node b's cache time, it reads the key again, finds it changed, and wipes what
        # it had unwrapped: version 2 is gone there too.
        later = time.monotonic() + 60
        monkeypatch.setattr(key_cache, "time", SimpleNamespace(monotonic=lambda: later))
        refused = encrypt_on_b()
        assert (refused.status_code, refused.json()["code"]) == (409, "KeyDestroyed")
        node_b.portal.call(other.close)  # type: ignore[union-attr]
