"""Two server nodes on one database: keyring rotation on one is seen by the other (section 10);
both append to one audit chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from keystead.api.app import create_app
from keystead.config import load_settings


def node(database_url: str, tmp_path: Path, name: str) -> TestClient:
    settings = load_settings(
        data_dir=tmp_path / name, insecure_http=True, database_url=database_url
    )
    return TestClient(create_app(settings), base_url=f"https://{name}")


def run_two_nodes(database_url: str, tmp_path: Path) -> None:
    with node(database_url, tmp_path, "a") as a, node(database_url, tmp_path, "b") as b:
        init = a.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        auth = {"authorization": f"Bearer {init['root_token']}"}
        for client in (a, b):
            assert client.post("/v1/sys/unseal", json={"share": init["shares"][0]}).is_success
        assert a.post("/v1/sys/rotate-keyring", headers=auth).json() == {"term": 2}
        # b still holds term 1 only; it must add term 3, not a second, different term 2.
        assert b.post("/v1/sys/rotate-keyring", headers=auth).json() == {"term": 3}
        assert a.post("/v1/sys/rotate-keyring", headers=auth).json() == {"term": 4}
        created = a.post("/v1/keys", json={"name": "shared", "spec": "AES_256_GCM"}, headers=auth)
        assert created.status_code == 201
        # b has never seen term 4: it reloads the keyring to read the key a wrote.
        encrypted = b.post("/v1/keys/shared/encrypt", json={"plaintext": "eA=="}, headers=auth)
        assert encrypted.status_code == 200, encrypted.text
        decrypted = a.post(
            "/v1/decrypt", json={"ciphertext": encrypted.json()["ciphertext"]}, headers=auth
        )
        assert decrypted.json()["plaintext"] == "eA=="
        b.post("/v1/sys/seal", headers=auth)
        assert b.post("/v1/sys/unseal", json={"share": init["shares"][0]}).is_success
        assert b.get("/v1/keys/shared", headers=auth).status_code == 200


def test_two_nodes_on_sqlite(tmp_path: Path) -> None:
    run_two_nodes(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)


@pytest.mark.postgres
def test_two_nodes_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    run_two_nodes(postgres_url, tmp_path)


def run_two_nodes_auditing_at_once(database_url: str, tmp_path: Path) -> None:
    with node(database_url, tmp_path, "a") as a, node(database_url, tmp_path, "b") as b:
        init = a.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        auth = {"authorization": f"Bearer {init['root_token']}"}
        for client in (a, b):
            assert client.post("/v1/sys/unseal", json={"share": init["shares"][0]}).is_success
        a.post("/v1/keys", json={"name": "busy", "spec": "AES_256_GCM"}, headers=auth)

        def hammer(client: TestClient) -> list[int]:
            body = {"plaintext": "eA=="}
            return [
                client.post("/v1/keys/busy/encrypt", json=body, headers=auth).status_code
                for _ in range(40)
            ]

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = [s for done in pool.map(hammer, (a, b, a, b)) for s in done]
        assert statuses == [200] * 160, "an audit append lost a race between the nodes"
        verdict = b.get("/v1/audit/verify", headers=auth).json()
        assert verdict["valid"] is True, verdict
        assert verdict["records"] >= 160


def test_two_nodes_append_to_one_audit_chain_on_sqlite(tmp_path: Path) -> None:
    run_two_nodes_auditing_at_once(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)


@pytest.mark.postgres
def test_two_nodes_append_to_one_audit_chain_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    run_two_nodes_auditing_at_once(postgres_url, tmp_path)
