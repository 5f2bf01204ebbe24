"""A real `keystead server` process in production mode over TLS (issue 2, must-show 1 and 2)."""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import KEYSTEAD, ServerProcess, free_port
from server_process import production_server as make_production_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A production-mode server: its own TLS files, no dev shortcuts, sealed at start."""
    server = make_production_server(tmp_path)
    yield server
    server.stop()


def unseal(client: httpx.Client, shares: list[str], indexes: list[int]) -> dict:
    body: dict = {}
    for index in indexes:
        response = client.post("/v1/sys/unseal", json={"share": shares[index - 1]})
        assert response.status_code == 200, response.text
        body = response.json()
    return body


def test_restart_needs_a_new_quorum_and_keeps_secrets(production_server: ServerProcess) -> None:
    production_server.start()
    with production_server.client() as client:
        assert client.get("/v1/sys/health").status_code == 501
        init = client.post("/v1/sys/init", json={"shares": 5, "threshold": 3}).json()
        shares, token = init["shares"], init["root_token"]
        assert client.get("/v1/sys/health").status_code == 503
        assert unseal(client, shares, [1, 3])["sealed"] is True
        assert unseal(client, shares, [5])["sealed"] is False
        auth = {"authorization": f"Bearer {token}"}
        created = client.post(
            "/v1/keys", json={"name": "ledger", "spec": "AES_256_GCM"}, headers=auth
        )
        assert created.status_code == 201, created.text
        secret = base64.b64encode(b"the launch codes are 0000").decode()
        encrypted = client.post(
            "/v1/keys/ledger/encrypt", json={"plaintext": secret, "context": {"app": "e2e"}},
            headers=auth,
        ).json()  # fmt: skip

    assert production_server.stop() == 0
    assert "Keystead stopped." in production_server.log.read_text()
    production_server.start()

    with production_server.client() as client:
        status = client.get("/v1/sys/seal-status").json()
        assert status["initialized"] is True
        assert status["sealed"] is True
        auth = {"authorization": f"Bearer {token}"}
        sealed = client.post(
            "/v1/decrypt", json={"ciphertext": encrypted["ciphertext"]}, headers=auth
        )
        assert sealed.status_code == 503
        assert sealed.json()["code"] == "Sealed"
        assert unseal(client, shares, [2, 4, 5])["sealed"] is False
        decrypted = client.post(
            "/v1/decrypt",
            json={"ciphertext": encrypted["ciphertext"], "context": {"app": "e2e"}},
            headers=auth,
        )
        assert decrypted.status_code == 200, decrypted.text
        assert decrypted.json()["plaintext"] == secret


def test_tls_below_1_2_and_plain_http_are_refused(production_server: ServerProcess) -> None:
    production_server.start()
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(production_server.ca_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are deprecated: good
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{production_server.address}/v1/sys/health", verify=old)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{production_server.port}/v1/sys/health")
    untrusted = ssl.create_default_context()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{production_server.address}/v1/sys/health", verify=untrusted)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KEYSTEAD, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (["--listen", "127.0.0.1:99999"], "listen"),
        (["--listen", "nohost"], "listen"),
        (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"], "tls_cert"),
        ([], "tls_cert"),
        (["--insecure-http", "--listen", "0.0.0.0:8200"], "insecure_http"),
        (["--config", "/nonexistent.toml"], "config"),
        (["--database-url", "mysql://x/y", "--insecure-http"], "database_url"),
        (
            ["--database-url", "postgresql://nobody@127.0.0.1:1/x", "--insecure-http"],
            "database_url",
        ),
        (["--data-dir", "/proc/keystead", "--insecure-http"], "data_dir"),
        (["--workers", "2", "--insecure-http"], "workers"),
    ],
)
def test_bad_settings_stop_the_server_naming_the_setting(
    tmp_path: Path, args: list[str], setting: str
) -> None:
    result = run_cli("server", "--data-dir", str(tmp_path / "d"), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{setting}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_dev_mode_prints_address_ca_and_token(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(
        args=["--dev", "--data-dir", str(tmp_path / "dev"), "--listen", f"127.0.0.1:{port}"],
        port=port, ca_file=tmp_path / "dev" / "tls" / "ca.pem", log=tmp_path / "dev.log",
    )  # fmt: skip
    try:
        server.start()
        lines = server.log.read_text().splitlines()
        assert f"Address: https://127.0.0.1:{port}" in lines
        assert f"CA certificate: {(tmp_path / 'dev' / 'tls' / 'ca.pem').resolve()}" in lines
        token = next(line for line in lines if line.startswith("Root token: ")).split(": ")[1]
        assert any("dev mode is NOT for production" in line for line in lines)
        with server.client(token) as client:
            assert client.get("/v1/sys/health").status_code == 200
            assert client.get("/v1/keys").status_code == 200
        assert server.stop() == 0
        server.start()
        with server.client(token) as client:
            assert client.get("/v1/sys/health").status_code == 200
    finally:
        server.stop()


def test_the_module_entry_point_is_the_console_script() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "server" in result.stdout
    assert sys.executable


def test_dev_server_with_two_workers_shares_one_database(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(
        args=["--dev", "--workers", "2", "--data-dir", str(tmp_path / "dev"),
              "--listen", f"127.0.0.1:{port}"],
        port=port, ca_file=tmp_path / "dev" / "tls" / "ca.pem", log=tmp_path / "workers.log",
    )  # fmt: skip
    try:
        server.start()
        lines = server.log.read_text().splitlines()
        token = next(line for line in lines if line.startswith("Root token: ")).split(": ")[1]
        assert any("with 2 workers" in line for line in lines)
        blobs = []
        for number in range(6):
            with server.client(token) as client:  # new connections: spread over the workers
                if number == 0:
                    client.post("/v1/keys", json={"name": "shared", "spec": "AES_256_GCM"})
                body = {"plaintext": base64.b64encode(f"n{number}".encode()).decode()}
                blobs.append(client.post("/v1/keys/shared/encrypt", json=body).json())
        for number, blob in enumerate(blobs):
            with server.client(token) as client:
                opened = client.post("/v1/decrypt", json={"ciphertext": blob["ciphertext"]})
                assert base64.b64decode(opened.json()["plaintext"]) == f"n{number}".encode()
    finally:
        server.stop()
