"""One seal suite, run against the Shamir seal and the pkcs11 seal on SoftHSM2 (STYLE.md C27).

What every seal promises: sealed until unsealed, nothing readable while sealed, values that
survive seal, restart and keyring rotation, a wrong quorum that never unseals, generate-root
behind the operators' quorum, and two nodes that share one keyring (issue 7, must-show 3).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from conftest import b64
from keystead.api.app import create_app
from keystead.config import Settings
from seal_support import Init, SealUnderTest

SECRET = b"quarterly figures, draft 3"


@contextmanager
def serving(settings: Settings, name: str = "node") -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=f"https://{name}") as client:
        yield client


def encrypt(client: TestClient, init: Init, name: str = "k") -> str:
    created = client.post("/v1/keys", json={"name": name, "spec": "AES_256_GCM"}, headers=init.auth)
    assert created.status_code == 201, created.text
    body = {"plaintext": b64(SECRET)}
    response = client.post(f"/v1/keys/{name}/encrypt", json=body, headers=init.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["ciphertext"])


def decrypt(client: TestClient, init: Init, ciphertext: str) -> bytes:
    response = client.post("/v1/decrypt", json={"ciphertext": ciphertext}, headers=init.auth)
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["plaintext"])


def test_a_new_server_is_sealed_and_names_its_seal(seal: SealUnderTest, tmp_path: Path) -> None:
    with serving(seal.settings(tmp_path)) as client:
        status = client.get("/v1/sys/seal-status").json()
        assert (status["initialized"], status["sealed"], status["type"]) == (
            False, True, seal.kind,
        )  # fmt: skip
        assert client.get("/v1/sys/health").status_code == 501
        init = seal.init(client)
        again = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1})
        assert again.status_code in {400, 409}  # the other seal's fields, or AlreadyInitialized
        assert client.get("/v1/sys/seal-status").json()["type"] == seal.kind
        assert len(init.shares) == 3


def test_values_survive_seal_restart_and_keyring_rotation(
    seal: SealUnderTest, tmp_path: Path
) -> None:
    settings = seal.settings(tmp_path)
    with serving(settings) as client:
        init = seal.init(client)
        before = encrypt(client, init, "before")
        assert client.post("/v1/sys/rotate-keyring", headers=init.auth).json() == {"term": 2}
        after = encrypt(client, init, "after")
        client.post("/v1/sys/seal", headers=init.auth)
        for path in ("/v1/keys/before", "/v1/keys"):
            refused = client.get(path, headers=init.auth)
            assert (refused.status_code, refused.json()["code"]) == (503, "Sealed")
        sealed = client.post("/v1/decrypt", json={"ciphertext": before}, headers=init.auth)
        assert (sealed.status_code, sealed.json()["code"]) == (503, "Sealed")
        seal.unseal_after_seal(client, init)
        assert decrypt(client, init, before) == SECRET
    with serving(settings) as client:
        seal.unseal_after_start(client, init)
        assert decrypt(client, init, before) == SECRET
        assert decrypt(client, init, after) == SECRET
        assert client.post("/v1/sys/rotate-keyring", headers=init.auth).json() == {"term": 3}


def test_a_wrong_quorum_never_unseals(seal: SealUnderTest, tmp_path: Path) -> None:
    with serving(seal.settings(tmp_path)) as client:
        init = seal.init(client)
        client.post("/v1/sys/seal", headers=init.auth)
        seal.give(client, init.shares[:1])
        forged = bytearray(base64.b64decode(init.shares[1]))
        forged[7] ^= 0x01
        bad = client.post("/v1/sys/unseal", json={"share": b64(bytes(forged))})
        assert (bad.status_code, bad.json()["code"]) == (400, "InvalidUnsealKey")
        status = client.get("/v1/sys/seal-status").json()
        assert (status["sealed"], status["progress"]) == (True, 0)
        repeated = seal.give(client, init.shares[:1])
        assert repeated["progress"] == 1
        twice = client.post("/v1/sys/unseal", json={"share": init.shares[0]})
        assert (twice.status_code, twice.json()["code"]) == (400, "InvalidUnsealShare")
        seal.give(client, init.shares[2:])
        assert client.get("/v1/sys/seal-status").json()["sealed"] is False


def test_generate_root_needs_the_operators_quorum(seal: SealUnderTest, tmp_path: Path) -> None:
    with serving(seal.settings(tmp_path)) as client:
        init = seal.init(client)
        first = client.post("/v1/sys/generate-root", json={"share": init.shares[2]})
        assert first.json() == {"progress": 1, "threshold": 2, "root_token": None}
        done = client.post("/v1/sys/generate-root", json={"share": init.shares[1]}).json()
        fresh = {"authorization": f"Bearer {done['root_token']}"}
        assert client.get("/v1/keys", headers=fresh).status_code == 200
        client.post("/v1/sys/generate-root", json={"share": init.shares[0]})
        forged = bytearray(base64.b64decode(init.shares[1]))
        forged[0] ^= 0x80
        bad = client.post("/v1/sys/generate-root", json={"share": b64(bytes(forged))})
        assert (bad.status_code, bad.json()["code"]) == (400, "InvalidUnsealKey")


def test_two_nodes_share_one_keyring(seal: SealUnderTest, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    settings_a = seal.settings(tmp_path / "a", database_url=url)
    settings_b = seal.settings(tmp_path / "b", database_url=url)
    with serving(settings_a, "a") as a, serving(settings_b, "b") as b:
        init = seal.init(a)
        seal.unseal_after_start(b, init)
        assert a.post("/v1/sys/rotate-keyring", headers=init.auth).json() == {"term": 2}
        # b never saw term 2: it reloads the keyring (through its seal) to read what a wrote.
        ciphertext = encrypt(a, init, "shared")
        assert decrypt(b, init, ciphertext) == SECRET
        assert b.post("/v1/sys/rotate-keyring", headers=init.auth).json() == {"term": 3}
        assert decrypt(a, init, encrypt(b, init, "from-b")) == SECRET
