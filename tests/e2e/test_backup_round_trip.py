"""Issue 6, must-show 1: 1,000 keys of mixed specs with 3 versions each, backed up on one
``keystead server`` process and restored into a second one initialised with other shares:
every ciphertext, MAC and signature made on the first checks out on the second.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from server_process import ServerProcess
from server_process import production_server as make_production_server

pytestmark = pytest.mark.e2e

KEYS = 1000
VERSIONS = 3
PASSPHRASE = "the offsite backup passphrase of 2026"
CONTEXT = {"tenant": "acme"}
# Cheap and dear specs alike; RSA key generation is slow, so it is one key in fifty.
SPECS = (
    "AES_256_GCM", "AES_128_GCM", "CHACHA20_POLY1305", "AES_256_SIV", "HMAC_SHA256",
    "HMAC_SHA512", "ED25519", "EC_P256", "EC_SECP256K1", "ML_DSA_44",
)  # fmt: skip
SIGNING = {"ED25519", "EC_P256", "EC_SECP256K1", "ML_DSA_44", "RSA_2048"}
MACS = {"HMAC_SHA256", "HMAC_SHA512"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Made:
    """What the first server produced with one version of one key."""

    name: str
    spec: str
    version: int
    message: bytes
    artifact: str


def _spec(index: int) -> str:
    return "RSA_2048" if index % 50 == 0 else SPECS[index % len(SPECS)]


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _use(client: httpx.Client, name: str, spec: str, message: bytes) -> str:
    signed = {"message": _b64(message)}
    if spec in SIGNING:
        return _ok(client.post(f"/v1/keys/{name}/sign", json=signed))["signature"]
    if spec in MACS:
        return _ok(client.post(f"/v1/keys/{name}/mac", json=signed))["mac"]
    body = {"plaintext": _b64(message), "context": CONTEXT}
    return _ok(client.post(f"/v1/keys/{name}/encrypt", json=body))["ciphertext"]


def _make_key(client: httpx.Client, index: int) -> list[Made]:
    name, spec = f"key-{index:04d}", _spec(index)
    body = {"name": name, "spec": spec}
    if spec == "RSA_2048":
        body["usage"] = "SIGN_VERIFY"
    _ok(client.post("/v1/keys", json=body), 201)
    made = []
    for version in range(1, VERSIONS + 1):
        if version > 1:
            _ok(client.post(f"/v1/keys/{name}/rotate"))
        message = f"{name} v{version}".encode()
        made.append(Made(name, spec, version, message, _use(client, name, spec, message)))
    return made


def _checks_out(client: httpx.Client, made: Made) -> bool:
    message = _b64(made.message)
    if made.spec in SIGNING:
        body = {"message": message, "signature": made.artifact, "version": made.version}
        return bool(_ok(client.post(f"/v1/keys/{made.name}/verify", json=body))["valid"])
    if made.spec in MACS:
        body = {"message": message, "mac": made.artifact, "version": made.version}
        return bool(_ok(client.post(f"/v1/keys/{made.name}/mac/verify", json=body))["valid"])
    opened = _ok(client.post("/v1/decrypt", json={"ciphertext": made.artifact, "context": CONTEXT}))
    return (base64.b64decode(opened["plaintext"]), opened["version"]) == (
        made.message, made.version,
    )  # fmt: skip


def _initialised(server: ServerProcess) -> tuple[str, list[str]]:
    with server.client() as client:
        init = _ok(client.post("/v1/sys/init", json={"shares": 5, "threshold": 3}))
        for share in init["shares"][:3]:
            _ok(client.post("/v1/sys/unseal", json={"share": share}))
    return init["root_token"], init["shares"]


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    first, second = make_production_server(tmp_path / "a"), make_production_server(tmp_path / "b")
    first.start()
    second.start()
    yield first, second
    first.stop()
    second.stop()


def _client(server: ServerProcess, token: str) -> httpx.Client:
    client = server.client(token)
    client.timeout = httpx.Timeout(120)
    return client


def test_a_thousand_keys_restore_into_a_server_with_other_shares(
    two_servers: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    first, second = two_servers
    first_token, first_shares = _initialised(first)
    second_token, second_shares = _initialised(second)
    assert set(first_shares).isdisjoint(second_shares)
    archive = tmp_path / "keystead.backup"

    with _client(first, first_token) as source, ThreadPoolExecutor(8) as pool:
        made = [m for ms in pool.map(lambda i: _make_key(source, i), range(KEYS)) for m in ms]
        with source.stream("POST", "/v1/backups", json={"passphrase": PASSPHRASE}) as response:
            assert response.status_code == 200
            assert response.headers["keystead-backup-keys"] == str(KEYS)
            with archive.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
    assert len(made) == KEYS * VERSIONS

    with _client(second, second_token) as target, ThreadPoolExecutor(8) as pool:
        with archive.open("rb") as body:
            headers = {"keystead-backup-passphrase": _b64(PASSPHRASE.encode())}
            report = _ok(target.post("/v1/backups/restore", content=body, headers=headers))
        assert (report["keys_in_backup"], len(report["restored"])) == (KEYS, KEYS)
        results = list(pool.map(lambda m: _checks_out(target, m), made))
    assert results.count(True) == KEYS * VERSIONS
    specs = {m.spec for m in made}
    assert specs == {*SPECS, "RSA_2048"}
