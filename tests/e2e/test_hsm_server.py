"""Real `keystead server` processes with the pkcs11 seal on SoftHSM2 (issue 7, must-show 1)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import (
    KEYSTEAD,
    ServerProcess,
    hsm_server,
    production_server,
    wait_for_status,
)

from hsm_support import SoftHSM, create_softhsm

pytestmark = [pytest.mark.e2e, pytest.mark.hsm]

SECRET = base64.b64encode(b"wire transfer 0042, 1 000 000 EUR").decode()


def unsealed(status: dict) -> bool:
    return status["sealed"] is False


def failing(status: dict) -> bool:
    return status["sealed"] is True and bool(status.get("seal_error"))


@pytest.fixture
def hsm(tmp_path: Path) -> SoftHSM:
    return create_softhsm(tmp_path / "softhsm")


@pytest.fixture
def server(tmp_path: Path, hsm: SoftHSM) -> Iterator[ServerProcess]:
    process = hsm_server(tmp_path / "server", hsm.module, hsm.token_label, hsm.pin)
    process.env.update(hsm.env)
    yield process
    process.stop()


def operator(server: ServerProcess, *args: str, token: str = "", stdin: str = ""):
    env = {
        **os.environ, "KEYSTEAD_ADDR": server.address, "KEYSTEAD_CACERT": str(server.ca_file),
        "KEYSTEAD_TOKEN": token, "COLUMNS": "200",
    }  # fmt: skip
    return subprocess.run(
        [*KEYSTEAD, "operator", *args], input=stdin, capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip


def table_rows(output: str) -> set[str]:
    return {" ".join(line.strip("│┃ ").split()) for line in output.splitlines()}


def encrypt(client: httpx.Client, auth: dict[str, str], name: str) -> str:
    created = client.post("/v1/keys", json={"name": name, "spec": "AES_256_GCM"}, headers=auth)
    assert created.status_code == 201, created.text
    body = {"plaintext": SECRET, "context": {"key": name}}
    encrypted = client.post(f"/v1/keys/{name}/encrypt", json=body, headers=auth)
    assert encrypted.status_code == 200, encrypted.text
    return str(encrypted.json()["ciphertext"])


def decrypts(client: httpx.Client, auth: dict[str, str], name: str, ciphertext: str) -> None:
    body = {"ciphertext": ciphertext, "context": {"key": name}}
    response = client.post("/v1/decrypt", json=body, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["plaintext"] == SECRET


def test_it_unseals_itself_serves_and_restarts_and_says_why_without_a_token(
    server: ServerProcess, hsm: SoftHSM, tmp_path: Path
) -> None:
    server.start()
    status = operator(server, "status", "--format", "json")
    assert json.loads(status.stdout)["type"] == "pkcs11"
    init = operator(
        server, "init", "--recovery-shares", "3", "--recovery-threshold", "2", "--format", "json"
    )
    assert init.returncode == 0, init.stderr
    result = json.loads(init.stdout)
    assert len(result["recovery_shares"]) == 3
    auth = {"authorization": f"Bearer {result['root_token']}"}
    with server.client() as client:
        assert client.get("/v1/sys/health").status_code == 200  # unsealed when init answered
        ciphertext = encrypt(client, auth, "payments")
        decrypts(client, auth, "payments", ciphertext)
    table = operator(server, "status")
    assert table.returncode == 0, table.stderr
    assert "Recovery seal │ true" in table_rows(table.stdout)

    assert server.stop() == 0
    server.start()
    wait_for_status(server, unsealed)
    with server.client() as client:
        decrypts(client, auth, "payments", ciphertext)

    assert server.stop() == 0
    gone = create_softhsm(tmp_path / "gone")  # another installation, whose token is deleted
    gone.remove_tokens()
    server.env["SOFTHSM2_CONF"] = str(gone.conf)
    server.start()
    status_body = wait_for_status(server, failing)
    assert "pkcs11_token_label" in str(status_body["seal_error"])
    with server.client() as client:
        sealed = client.post("/v1/decrypt", json={"ciphertext": ciphertext}, headers=auth)
        assert (sealed.status_code, sealed.json()["code"]) == (503, "Sealed")
        assert client.get("/v1/sys/health").status_code == 503
    shown = operator(server, "status")
    assert shown.returncode == 2
    assert any(row.startswith("Seal error │ no token") for row in table_rows(shown.stdout))
    assert "pkcs11_token_label" in shown.stdout
    log = server.log.read_text()
    assert "the pkcs11 seal cannot unseal" in log
    assert hsm.pin not in log
    assert server.stop() == 0

    server.env["SOFTHSM2_CONF"] = str(hsm.conf)
    server.start()
    wait_for_status(server, unsealed)
    with server.client() as client:
        decrypts(client, auth, "payments", ciphertext)


def test_a_wrong_pin_keeps_it_sealed_saying_so(server: ServerProcess, hsm: SoftHSM) -> None:
    server.start()
    with server.client() as client:
        init = client.post("/v1/sys/init", json={"recovery_shares": 1, "recovery_threshold": 1})
        assert init.status_code == 200, init.text
    assert server.stop() == 0
    pin_file = Path(server.args[server.args.index("--pkcs11-pin-file") + 1])
    pin_file.write_text("0000-wrong\n", encoding="utf-8")
    server.start()
    status = wait_for_status(server, failing)
    assert "pkcs11_pin" in str(status["seal_error"])
    log = server.log.read_text()
    assert "0000-wrong" not in log
    assert hsm.pin not in log


def test_migrating_shamir_to_pkcs11_keeps_every_key(tmp_path: Path, hsm: SoftHSM) -> None:
    shamir = production_server(tmp_path / "server")
    names = ["orders", "refunds", "ledger"]
    try:
        shamir.start()
        with shamir.client() as client:
            init = client.post("/v1/sys/init", json={"shares": 3, "threshold": 2}).json()
            for share in init["shares"][:2]:
                client.post("/v1/sys/unseal", json={"share": share})
            auth = {"authorization": f"Bearer {init['root_token']}"}
            blobs = {name: encrypt(client, auth, name) for name in names}
            client.post("/v1/keys/ledger/rotate", headers=auth)
            blobs["ledger-v2"] = client.post(
                "/v1/keys/ledger/encrypt",
                json={"plaintext": SECRET, "context": {"key": "ledger-v2"}}, headers=auth,
            ).json()["ciphertext"]  # fmt: skip
        assert shamir.stop() == 0
    finally:
        shamir.stop()

    server = hsm_server(tmp_path / "server", hsm.module, hsm.token_label, hsm.pin)
    server.env.update(hsm.env)
    server.args = [*server.args, "--migrate-seal"]
    try:
        server.start()
        status = wait_for_status(server, lambda s: s.get("migration") is True)
        assert (status["type"], status["sealed"]) == ("shamir", True)
        first = operator(server, "unseal", stdin=init["shares"][2] + "\n")
        assert first.returncode == 0, first.stderr
        assert "1/2" in first.stdout
        done = operator(server, "unseal", stdin=init["shares"][0] + "\n")
        assert done.returncode == 0, done.stderr
        assert "Unsealed." in done.stdout
        with server.client() as client:
            assert client.get("/v1/sys/seal-status").json()["type"] == "pkcs11"
            for name, ciphertext in blobs.items():
                decrypts(client, auth, name, ciphertext)
        assert server.stop() == 0

        server.args = [arg for arg in server.args if arg != "--migrate-seal"]
        server.start()
        wait_for_status(server, unsealed)
        with server.client() as client:
            for name, ciphertext in blobs.items():
                decrypts(client, auth, name, ciphertext)
            fresh = encrypt(client, auth, "after-migration")
            decrypts(client, auth, "after-migration", fresh)
    finally:
        server.stop()


def _every_worker_unsealed(server: ServerProcess, in_a_row: int = 12) -> None:
    """Poll on new connections (landing on either worker) until ``in_a_row`` say unsealed."""
    deadline, seen = time.monotonic() + 30, 0
    while seen < in_a_row:
        assert time.monotonic() < deadline, server.log.read_text()
        with server.client() as client:
            sealed = client.get("/v1/sys/seal-status").json()["sealed"]
        seen = 0 if sealed else seen + 1
        if sealed:
            time.sleep(0.1)


def _decrypts_once_unsealed(server: ServerProcess, auth: dict[str, str], ciphertext: str) -> None:
    """Decrypt on a new connection; a worker still sealed must unseal itself within 15 s."""
    deadline = time.monotonic() + 15
    body = {"ciphertext": ciphertext, "context": {"key": "shared"}}
    while True:
        with server.client() as client:
            response = client.post("/v1/decrypt", json=body, headers=auth)
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200, f"{response.text}\n{server.log.read_text()}"
    assert response.json()["plaintext"] == SECRET


def test_two_workers_each_unseal_themselves(tmp_path: Path, hsm: SoftHSM) -> None:
    server = hsm_server(tmp_path / "server", hsm.module, hsm.token_label, hsm.pin)
    server.env.update(hsm.env)
    server.args = [*server.args, "--workers", "2"]
    try:
        server.start()
        with server.client() as client:
            init = client.post("/v1/sys/init", json={"recovery_shares": 1, "recovery_threshold": 1})
            assert init.status_code == 200, init.text
        auth = {"authorization": f"Bearer {init.json()['root_token']}"}
        # The worker that answered init is unsealed; the other one unseals itself at its next
        # retry (every 0.5 s here): wait until every fresh connection finds it unsealed.
        _every_worker_unsealed(server)
        with server.client() as client:
            ciphertext = encrypt(client, auth, "shared")
        for _ in range(8):  # new connections: spread over both workers
            _decrypts_once_unsealed(server, auth, ciphertext)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (["--seal", "pkcs11"], "pkcs11_module"),
        (["--seal", "pkcs11", "--pkcs11-module", "/x.so"], "pkcs11_token_label"),
        (["--seal", "pkcs11", "--pkcs11-module", "/x.so", "--pkcs11-token-label", "t"],
         "pkcs11_pin"),
        (["--seal", "pkcs11", "--pkcs11-module", "/x.so", "--pkcs11-token-label", "t",
          "--pkcs11-pin-file", "/nonexistent/pin"], "pkcs11_pin_file"),
        (["--pkcs11-module", "/x.so"], "pkcs11_module"),
        (["--seal", "hsm"], "seal"),
        (["--seal", "pkcs11", "--migrate-seal", "--workers", "2"], "migrate_seal"),
    ],
)  # fmt: skip
def test_bad_seal_settings_stop_the_server_naming_the_setting(
    tmp_path: Path, args: list[str], setting: str
) -> None:
    result = subprocess.run(
        [*KEYSTEAD, "server", "--data-dir", str(tmp_path / "d"), "--insecure-http", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{setting}:" in result.stderr
    assert "Traceback" not in result.stderr
