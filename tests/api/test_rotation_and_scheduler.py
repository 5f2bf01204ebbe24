"""Versions, rotation, min_decryption_version, re-encryption and the scheduler (issue 3, 4-5).

The scheduler runs on an injectable clock: no sleeps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from conftest import FakeClock, b64
from keystead.api.app import create_app
from keystead.config import Settings
from keystead.services.container import Services, build_services


@dataclass
class Server:
    client: TestClient
    services: Services
    clock: FakeClock
    auth: dict[str, str]

    def post(self, path: str, body: dict | None = None):
        return self.client.post(path, json=body or {}, headers=self.auth)

    def get(self, path: str):
        return self.client.get(path, headers=self.auth)

    def run_scheduler(self):
        return self.client.portal.call(self.services.scheduler.run_once)  # type: ignore[union-attr]


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    with TestClient(create_app(settings, services), base_url="https://t") as client:
        init = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        client.post("/v1/sys/unseal", json={"share": init["shares"][0]})
        auth = {"authorization": f"Bearer {init['root_token']}"}
        yield Server(client, services, clock, auth)
        client.portal.call(services.close)  # type: ignore[union-attr]


def test_five_versions_all_decrypt_after_four_rotations(server: Server) -> None:
    server.post("/v1/keys", {"name": "docs", "spec": "AES_256_GCM"})
    made = []
    for version in range(1, 6):
        encrypted = server.post("/v1/keys/docs/encrypt", {"plaintext": b64(f"v{version}".encode())})
        assert encrypted.json()["version"] == version
        made.append(encrypted.json()["ciphertext"])
        if version < 5:
            assert server.post("/v1/keys/docs/rotate").json()["primary_version"] == version + 1
    for version, ciphertext in enumerate(made, start=1):
        opened = server.post("/v1/decrypt", {"ciphertext": ciphertext}).json()
        assert (opened["version"], opened["plaintext"]) == (version, b64(f"v{version}".encode()))
    versions = server.get("/v1/keys/docs/versions").json()["versions"]
    assert [(v["version"], v["primary"]) for v in versions] == [(n, n == 5) for n in range(1, 6)]


def test_min_decryption_version_and_reencrypt(server: Server) -> None:
    server.post("/v1/keys", {"name": "old", "spec": "CHACHA20_POLY1305"})
    blobs = {}
    for version in range(1, 6):
        blobs[version] = server.post(
            "/v1/keys/old/encrypt", {"plaintext": b64(b"data"), "context": {"t": "1"}}
        ).json()["ciphertext"]
        if version < 5:
            server.post("/v1/keys/old/rotate")
    updated = server.client.patch(
        "/v1/keys/old", json={"min_decryption_version": 3}, headers=server.auth
    )
    assert updated.json()["min_decryption_version"] == 3
    for version in (1, 2):
        refused = server.post("/v1/decrypt", {"ciphertext": blobs[version], "context": {"t": "1"}})
        assert (refused.status_code, refused.json()["code"]) == (400, "KeyVersionTooOld")
        assert "min_decryption_version (3)" in refused.json()["detail"]
    moved = server.post(
        "/v1/keys/old/reencrypt", {"ciphertext": blobs[3], "context": {"t": "1"}}
    ).json()
    assert moved["version"] == 5
    assert "plaintext" not in moved
    back = server.post("/v1/decrypt", {"ciphertext": moved["ciphertext"], "context": {"t": "1"}})
    assert back.json()["plaintext"] == b64(b"data")
    too_high = server.client.patch(
        "/v1/keys/old", json={"min_decryption_version": 6}, headers=server.auth
    )
    assert (too_high.status_code, too_high.json()["code"]) == (400, "ValidationFailed")


def test_reencrypt_to_another_key(server: Server) -> None:
    server.post("/v1/keys", {"name": "from", "spec": "AES_128_GCM"})
    server.post("/v1/keys", {"name": "to", "spec": "AES_256_SIV"})
    blob = server.post("/v1/keys/from/encrypt", {"plaintext": b64(b"move me")}).json()
    moved = server.post(
        "/v1/keys/from/reencrypt", {"ciphertext": blob["ciphertext"], "destination_key": "to"}
    ).json()
    to_id = server.get("/v1/keys/to").json()["id"]
    assert moved["key_id"] == to_id
    assert server.post("/v1/decrypt", {"ciphertext": moved["ciphertext"]}).json()["plaintext"] == (
        b64(b"move me")
    )
    # The path names the source key: a ciphertext of another key is refused.
    wrong = server.post(
        "/v1/keys/to/reencrypt", {"ciphertext": blob["ciphertext"], "destination_key": "to"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (400, "InvalidCiphertext")


def test_old_signatures_verify_with_their_version(server: Server) -> None:
    server.post("/v1/keys", {"name": "signer", "spec": "EC_SECP256K1"})
    message = b64(b"order #1")
    old = server.post("/v1/keys/signer/sign", {"message": message}).json()
    server.post("/v1/keys/signer/rotate")
    new = server.post("/v1/keys/signer/sign", {"message": message}).json()
    assert (old["version"], new["version"]) == (1, 2)
    check = {"message": message, "signature": old["signature"]}
    assert server.post("/v1/keys/signer/verify", {**check, "version": 1}).json() == {"valid": True}
    assert server.post("/v1/keys/signer/verify", check).json() == {"valid": False}
    pem1 = server.get("/v1/keys/signer/public-key?version=1").json()["public_key"]
    pem2 = server.get("/v1/keys/signer/public-key").json()["public_key"]
    assert pem1 != pem2


def test_scheduler_rotates_on_the_period(server: Server) -> None:
    created = server.post(
        "/v1/keys", {"name": "hourly", "spec": "AES_256_GCM", "rotation_period_seconds": 3600}
    ).json()
    assert created["next_rotation_at"] == "2026-11-28T13:00:00Z"
    server.clock.advance(timedelta(minutes=59))
    assert server.run_scheduler().rotated == []
    server.clock.advance(timedelta(minutes=1))
    report = server.run_scheduler()
    assert [str(k) for k in report.rotated] == [created["id"]]
    described = server.get("/v1/keys/hourly").json()
    assert described["primary_version"] == 2
    assert described["next_rotation_at"] == "2026-11-28T14:00:00Z"
    assert server.run_scheduler().rotated == []


def test_scheduler_follows_activation_and_deactivation_dates(server: Server) -> None:
    start = "2026-11-29T12:00:00Z"
    end = "2026-12-29T12:00:00Z"
    server.post(
        "/v1/keys",
        {"name": "period", "spec": "ED25519", "activation_date": start, "deactivation_date": end},
    )
    assert server.get("/v1/keys/period").json()["state"] == "PRE_ACTIVE"
    server.clock.advance(timedelta(days=1))
    server.run_scheduler()
    assert server.get("/v1/keys/period").json()["state"] == "ACTIVE"
    signature = server.post("/v1/keys/period/sign", {"message": b64(b"m")}).json()["signature"]
    server.clock.advance(timedelta(days=30))
    server.run_scheduler()
    assert server.get("/v1/keys/period").json()["state"] == "DEACTIVATED"
    refused = server.post("/v1/keys/period/sign", {"message": b64(b"m")})
    assert refused.json()["code"] == "KeyStateForbidsOperation"
    verified = server.post("/v1/keys/period/verify", {"message": b64(b"m"), "signature": signature})
    assert verified.json() == {"valid": True}


def test_scheduler_destroys_after_the_waiting_period(server: Server, settings: Settings) -> None:
    server.post("/v1/keys", {"name": "doomed", "spec": "AES_256_GCM"})
    blob = server.post("/v1/keys/doomed/encrypt", {"plaintext": b64(b"bye")}).json()["ciphertext"]
    server.post("/v1/keys/doomed/rotate")
    server.post("/v1/keys/doomed/deactivate")
    server.post("/v1/keys/doomed/schedule-destruction", {"pending_days": 2})
    server.clock.advance(timedelta(days=2) - timedelta(seconds=1))
    assert server.run_scheduler().destroyed == []
    assert server.get("/v1/keys/doomed").json()["state"] == "DESTROY_PENDING"
    server.clock.advance(timedelta(seconds=1))
    assert len(server.run_scheduler().destroyed) == 1
    assert server.get("/v1/keys/doomed").json()["state"] == "DESTROYED"
    refused = server.post("/v1/decrypt", {"ciphertext": blob})
    assert (refused.status_code, refused.json()["code"]) == (409, "KeyDestroyed")
    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        materials = connection.execute(
            "SELECT material_wrapped FROM key_versions v JOIN keys k ON k.id = v.key_id"
            " WHERE k.name = 'doomed'"
        ).fetchall()
    assert materials == [(None,), (None,)]


def test_scheduler_does_nothing_while_sealed(server: Server) -> None:
    server.post("/v1/keys", {"name": "r", "spec": "AES_256_GCM", "rotation_period_seconds": 3600})
    server.post("/v1/sys/seal")
    server.clock.advance(timedelta(hours=2))
    assert server.run_scheduler().rotated == []


def test_a_version_rotates_before_it_passes_its_usage_limit(settings: Settings) -> None:
    from keystead.domain.specs import KeySpec

    clock = FakeClock()
    services = build_services(settings, clock=clock, usage_limits={KeySpec.AES_256_GCM: 5})
    with TestClient(create_app(settings, services), base_url="https://t") as client:
        init = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        client.post("/v1/sys/unseal", json={"share": init["shares"][0]})
        server = Server(client, services, clock, {"authorization": f"Bearer {init['root_token']}"})
        server.post("/v1/keys", {"name": "busy", "spec": "AES_256_GCM"})
        used = [
            server.post("/v1/keys/busy/encrypt", {"plaintext": b64(b"x")}).json()["version"]
            for _ in range(12)
        ]
        assert used == [1] * 5 + [2] * 5 + [3] * 2
        versions = server.get("/v1/keys/busy/versions").json()["versions"]
        assert [v["use_count"] for v in versions] == [5, 5, 5]  # v3 holds a reserved block
        assert all(v["last_used_at"] == "2026-11-28T12:00:00Z" for v in versions)
        client.portal.call(services.close)  # type: ignore[union-attr]


def test_one_version_is_retired_and_destroyed_on_its_own(
    server: Server, settings: Settings
) -> None:
    server.post("/v1/keys", {"name": "multi", "spec": "AES_256_GCM"})
    blobs = []
    for _ in range(3):
        blobs.append(server.post("/v1/keys/multi/encrypt", {"plaintext": b64(b"x")}).json())
        server.post("/v1/keys/multi/rotate")
    primary = server.post("/v1/keys/multi/versions/4/deactivate")
    assert (primary.status_code, primary.json()["code"]) == (409, "InvalidStateTransition")
    assert "rotate" in primary.json()["detail"]
    active_first = server.post(
        "/v1/keys/multi/versions/1/schedule-destruction", {"pending_days": 1}
    )
    assert active_first.json()["code"] == "InvalidStateTransition"
    assert server.post("/v1/keys/multi/versions/1/deactivate").json()["state"] == "DEACTIVATED"
    assert server.post("/v1/decrypt", {"ciphertext": blobs[0]["ciphertext"]}).status_code == 200
    revoked = server.post("/v1/keys/multi/versions/2/revoke").json()
    assert revoked["state"] == "COMPROMISED"
    refused = server.post("/v1/decrypt", {"ciphertext": blobs[1]["ciphertext"]})
    assert refused.json()["code"] == "KeyStateForbidsOperation"
    assert "version 2 is COMPROMISED" in refused.json()["detail"]
    scheduled = server.post("/v1/keys/multi/versions/1/schedule-destruction", {"pending_days": 3})
    assert scheduled.json()["state"] == "DESTROY_PENDING"
    cancelled = server.post("/v1/keys/multi/versions/1/cancel-destruction").json()
    assert (cancelled["state"], cancelled["destruction_date"]) == ("DEACTIVATED", None)
    server.post("/v1/keys/multi/versions/1/schedule-destruction", {"pending_days": 3})
    server.clock.advance(timedelta(days=3))
    report = server.run_scheduler()
    assert [version for _, version in report.destroyed_versions] == [1]
    gone = server.post("/v1/decrypt", {"ciphertext": blobs[0]["ciphertext"]})
    assert gone.json()["code"] == "KeyDestroyed"
    assert server.post("/v1/decrypt", {"ciphertext": blobs[2]["ciphertext"]}).status_code == 200
    states = [v["state"] for v in server.get("/v1/keys/multi/versions").json()["versions"]]
    assert states == ["DESTROYED", "COMPROMISED", "ACTIVE", "ACTIVE"]
    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        kept = connection.execute(
            "SELECT version, material_wrapped IS NULL FROM key_versions ORDER BY version"
        ).fetchall()
    assert kept == [(1, 1), (2, 0), (3, 0), (4, 0)]
    missing = server.post("/v1/keys/multi/versions/9/deactivate")
    assert missing.json()["code"] == "KeyVersionNotFound"
    bad = server.post("/v1/keys/multi/versions/zero/deactivate")
    assert bad.json()["code"] == "ValidationFailed"
