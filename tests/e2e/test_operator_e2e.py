"""`keystead operator` and the SDK against a real server process over TLS (issue 2)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import KEYSTEAD, ServerProcess, production_server

import keystead_sdk

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = production_server(tmp_path)
    process.start()
    yield process
    process.stop()


def operator(server: ServerProcess, *args: str, token: str = "", stdin: str = ""):
    env = {
        **os.environ,
        "KEYSTEAD_ADDR": server.address,
        "KEYSTEAD_CACERT": str(server.ca_file),
        "KEYSTEAD_TOKEN": token,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*KEYSTEAD, "operator", *args], input=stdin, capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip


def test_operator_lifecycle_through_the_cli(server: ServerProcess) -> None:
    status = operator(server, "status")
    assert status.returncode == 2, status.stderr
    init = operator(server, "init", "--shares", "5", "--threshold", "3", "--format", "json")
    assert init.returncode == 0, init.stderr
    result = json.loads(init.stdout)
    shares, token = result["shares"], result["root_token"]

    for count, index in enumerate((0, 2), start=1):
        step = operator(server, "unseal", stdin=shares[index] + "\n")
        assert step.returncode == 0, step.stderr
        assert f"{count}/3" in step.stdout
    reset = operator(server, "unseal", "--reset")
    assert reset.returncode == 0
    assert "0/3" in reset.stdout

    flipped = bytearray(base64.b64decode(shares[4]))
    flipped[3] ^= 0x10
    for share in (shares[0], shares[2]):
        operator(server, "unseal", stdin=share + "\n")
    bad = operator(server, "unseal", stdin=base64.b64encode(bytes(flipped)).decode() + "\n")
    assert bad.returncode == 3
    assert "InvalidUnsealKey" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert operator(server, "status").returncode == 2

    for share in (shares[4], shares[1], shares[3]):
        operator(server, "unseal", stdin=share + "\n")
    assert operator(server, "status").returncode == 0
    unauthenticated = operator(server, "rotate-keyring")
    assert unauthenticated.returncode == 4
    rotated = operator(server, "rotate-keyring", token=token)
    assert rotated.returncode == 0, rotated.stderr
    assert "2" in rotated.stdout
    sealed = operator(server, "seal", token=token)
    assert sealed.returncode == 0, sealed.stderr
    assert operator(server, "status").returncode == 2
    assert token not in sealed.stdout + sealed.stderr


def test_sdk_stores_and_reads_back_a_secret(server: ServerProcess) -> None:
    with keystead_sdk.Client(server.address, ca_cert=server.ca_file) as anonymous:
        init = anonymous.sys.init(3, 2)
        for share in init.shares[:2]:
            anonymous.sys.unseal(share)
        assert anonymous.sys.health().status_code == 200
    token = init.root_token.get_secret_value()
    with keystead_sdk.Client(server.address, token=token, ca_cert=server.ca_file) as client:
        key = client.keys.create("payments", "CHACHA20_POLY1305")
        encrypted = client.keys.encrypt("payments", b"iban DE89", context={"tenant": "7"})
        assert encrypted.key_id == key.id
        assert client.keys.decrypt(encrypted.ciphertext, context={"tenant": "7"}).plaintext == (
            b"iban DE89"
        )
        with pytest.raises(keystead_sdk.InvalidCiphertext):
            client.keys.decrypt(encrypted.ciphertext, context={"tenant": "8"})
        client.sys.seal()
        with pytest.raises(keystead_sdk.Sealed):
            client.keys.get("payments")
    wrong = keystead_sdk.Client(server.address, token="kst_wrong", ca_cert=server.ca_file)
    with wrong, pytest.raises(keystead_sdk.Unauthenticated):
        wrong.sys.seal()


def key_cli(server: ServerProcess, token: str, *args: str, stdin: str = ""):
    env = {
        **os.environ, "KEYSTEAD_ADDR": server.address, "KEYSTEAD_CACERT": str(server.ca_file),
        "KEYSTEAD_TOKEN": token, "COLUMNS": "200",
    }  # fmt: skip
    return subprocess.run(
        [*KEYSTEAD, "key", *args], input=stdin, capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )  # fmt: skip


def test_key_commands_against_a_real_server(server: ServerProcess, tmp_path: Path) -> None:
    with keystead_sdk.Client(server.address, ca_cert=server.ca_file) as anonymous:
        init = anonymous.sys.init(1, 1)
        anonymous.sys.unseal(init.shares[0])
    token = init.root_token.get_secret_value()
    created = key_cli(
        server, token, "create", "files", "--spec", "AES_256_GCM", "--tag", "team=ops"
    )
    assert created.returncode == 0, created.stderr
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"quarterly numbers\n" * 100)
    sealed, opened = tmp_path / "plain.ks", tmp_path / "opened.txt"
    encrypted = key_cli(server, token, "encrypt", "files", "--in", str(plain), "--out", str(sealed),
                        "--context", "dept=finance")  # fmt: skip
    assert encrypted.returncode == 0, encrypted.stderr
    assert sealed.read_bytes().startswith(b"KS\x01")
    assert key_cli(server, token, "rotate", "files").returncode == 0
    decrypted = key_cli(server, token, "decrypt", "--in", str(sealed), "--out", str(opened),
                        "--context", "dept=finance")  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stderr
    assert opened.read_bytes() == plain.read_bytes()
    wrong = key_cli(server, token, "decrypt", "--in", str(sealed), "--context", "dept=sales")
    assert wrong.returncode == 3
    assert "InvalidCiphertext" in wrong.stderr
    versions = key_cli(server, token, "versions", "files", "--format", "json")
    assert [v["version"] for v in json.loads(versions.stdout)["versions"]] == [1, 2]
    assert key_cli(server, token, "create", "signer", "--spec", "EC_SECP256K1").returncode == 0
    signature = tmp_path / "sig.der"
    signed = key_cli(server, token, "sign", "signer", "--in", str(plain), "--out", str(signature))
    assert signed.returncode == 0, signed.stderr
    good = key_cli(
        server, token, "verify", "signer", "--signature", str(signature), "--in", str(plain)
    )
    assert good.returncode == 0
    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(plain.read_bytes() + b"!")
    bad = key_cli(
        server, token, "verify", "signer", "--signature", str(signature), "--in", str(tampered)
    )
    assert bad.returncode == 1
    jwk = key_cli(server, token, "public-key", "signer", "--format", "jwk")
    assert json.loads(jwk.stdout)["crv"] == "secp256k1"
    listed = key_cli(server, token, "list", "--tag", "team=ops", "--format", "json")
    assert [k["name"] for k in json.loads(listed.stdout)["keys"]] == ["files"]
