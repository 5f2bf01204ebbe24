"""Identity through the real CLI against a real server process over TLS (issue 4).

An operator creates a user and a key and grants its use; the user logs in with
``keystead login`` (the token lands in ~/.keystead/token, mode 0600) and uses the key; a
user's own key pair signs for its owner and verifies with ``cryptography``; logout revokes.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from server_process import KEYSTEAD, ServerProcess
from server_process import production_server as make_production_server

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    started = make_production_server(tmp_path)
    started.start()
    with started.client() as client:
        init = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        client.post("/v1/sys/unseal", json={"share": init["shares"][0]})
    yield started, init["root_token"]
    started.stop()


def _cli(
    server: ServerProcess, home: Path, *args: str, token: str | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KEYSTEAD_")}
    env.update(HOME=str(home), KEYSTEAD_ADDR=server.address, KEYSTEAD_CACERT=str(server.ca_file))
    if token is not None:
        env["KEYSTEAD_TOKEN"] = token
    return subprocess.run(
        [*KEYSTEAD, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip


def test_a_user_logs_in_with_the_cli_and_uses_what_was_granted(server, tmp_path: Path) -> None:
    process, root = server
    operator_home, alice_home = tmp_path / "operator", tmp_path / "alice"
    operator_home.mkdir()
    alice_home.mkdir()
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")

    def as_root(*args: str) -> subprocess.CompletedProcess[str]:
        done = _cli(process, operator_home, *args, token=root)
        assert done.returncode == 0, done.stderr
        return done

    as_root("user", "create", "alice", "--role", "key-user", "--password-file", str(secret))
    as_root("key", "create", "orders", "--spec", "AES_256_GCM")
    as_root("grant", "create", "orders", "alice", "--op", "encrypt", "--op", "decrypt")

    login = _cli(process, alice_home, "login", "alice", "--password-file", str(secret))
    assert login.returncode == 0, login.stderr
    token_file = alice_home / ".keystead" / "token"
    token = token_file.read_text().strip()
    assert token.startswith("kst_s_")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token not in login.stdout + login.stderr

    encrypted = _cli(process, alice_home, "key", "encrypt", "orders", stdin="ship 3 crates")
    assert encrypted.returncode == 0, encrypted.stderr
    decrypted = _cli(process, alice_home, "key", "decrypt", "--out", "-",
                     stdin=encrypted.stdout)  # fmt: skip
    assert (decrypted.returncode, decrypted.stdout) == (0, "ship 3 crates"), decrypted.stderr
    refused = _cli(process, alice_home, "key", "rotate", "orders")
    assert refused.returncode == 4, refused.stderr  # PermissionDenied: lifecycle is not hers

    with process.client(token) as alice:
        message = b"order 17: buy"
        signed = alice.post(
            "/v1/keys/user:alice/sign", json={"message": base64.b64encode(message).decode()}
        )
        assert signed.status_code == 200, signed.text
        pem = alice.get("/v1/users/alice/public-key").json()["public_key"]
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(signed.json()["signature"]), message, ec.ECDSA(hashes.SHA256()))

    logout = _cli(process, alice_home, "logout")
    assert logout.returncode == 0, logout.stderr
    assert not token_file.exists()
    with process.client(token) as alice:
        assert alice.get("/v1/auth/whoami").status_code == 401


def test_a_wrong_password_and_an_unknown_user_look_the_same_through_the_cli(
    server, tmp_path: Path
) -> None:
    process, root = server
    home = tmp_path / "home"
    home.mkdir()
    secret, wrong = tmp_path / "password", tmp_path / "wrong"
    secret.write_text(PASSWORD + "\n")
    wrong.write_text("not the password at all\n")
    created = _cli(process, home, "user", "create", "bob", "--password-file", str(secret),
                   token=root)  # fmt: skip
    assert created.returncode == 0, created.stderr
    first = _cli(process, home, "login", "bob", "--password-file", str(wrong))
    assert first.returncode == 4
    assert "InvalidCredentials" in first.stderr
    unknown = _cli(process, home, "login", "nobody", "--password-file", str(wrong))
    assert unknown.returncode == 4
    # The same line but for the request id.
    assert re.sub(r"\[.*\]", "", unknown.stderr) == re.sub(r"\[.*\]", "", first.stderr)
