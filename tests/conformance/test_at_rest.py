"""Nothing secret at rest in the clear; a row copied onto another fails (issue 2, must-show 4).

Run under each seal, Shamir and pkcs11 on SoftHSM2 (issue 7, must-show 3).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from conftest import b64
from keystead.api.app import create_app
from keystead.config import Settings
from keystead.services.container import Services
from seal_support import Init, SealUnderTest

PLAINTEXT = b"card 4111-1111-1111-1111 exp 12/29"


def encodings(secret: bytes) -> list[bytes]:
    """Every form a secret could take in a database file or dump."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def collect_secrets(client: TestClient, seal: SealUnderTest) -> tuple[dict[str, bytes], str]:
    """Init, unseal, store a key and encrypt; return every secret the server holds."""
    init = seal.init(client, 3, 2)
    auth = init.auth
    for name in ("alpha", "beta"):
        created = client.post("/v1/keys", json={"name": name, "spec": "AES_256_GCM"}, headers=auth)
        assert created.status_code == 201, created.text
    client.post("/v1/keys/alpha/encrypt", json={"plaintext": b64(PLAINTEXT)}, headers=auth)
    client.post("/v1/keys/beta/encrypt", json={"plaintext": b64(PLAINTEXT)}, headers=auth)
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    secrets: dict[str, bytes] = {"plaintext": PLAINTEXT, **seal.secrets}
    secrets["root_token"] = init.root_token.encode()
    shares = [base64.b64decode(share) for share in init.shares]
    for index, share in enumerate(shares):
        secrets[f"share {index}"] = share[:-1]
    secrets["root key (Shamir) or recovery key (pkcs11)"] = seal.quorum_secret(init)
    keyring = services.barrier._keyring
    assert keyring is not None
    for term, material in keyring._terms.items():
        with material.expose() as raw:
            secrets[f"keyring term {term}"] = raw
    for name in ("alpha", "beta"):
        entry = client.portal.call(services.keys.resolve, name)  # type: ignore[union-attr]
        material = client.portal.call(services.keys.material, entry, 1)  # type: ignore[union-attr]
        with material.expose() as raw:
            secrets[f"key {name}"] = raw
    return secrets, init.root_token


def assert_absent(blob: bytes, secrets: dict[str, bytes]) -> None:
    for label, secret in secrets.items():
        for form in encodings(secret):
            assert form not in blob, f"{label} found in the clear"


def raw_sqlite_bytes(data_dir: Path) -> bytes:
    return b"".join(
        path.read_bytes() for path in sorted(data_dir.glob("keystead.db*")) if path.is_file()
    )


def test_sqlite_file_holds_no_secret_in_the_clear(seal: SealUnderTest, tmp_path: Path) -> None:
    settings = seal.settings(tmp_path / "data")
    with TestClient(create_app(settings), base_url="https://t") as client:
        secrets, _ = collect_secrets(client, seal)
        assert_absent(raw_sqlite_bytes(settings.data_dir), secrets)
    # After a clean stop the WAL is checkpointed into the main file: scan again.
    assert_absent(raw_sqlite_bytes(settings.data_dir), secrets)


def test_sqlite_file_is_not_trivially_empty(seal: SealUnderTest, tmp_path: Path) -> None:
    """Guards the scan above: the stored rows are really in the bytes we search."""
    settings = seal.settings(tmp_path / "data")
    with TestClient(create_app(settings), base_url="https://t") as client:
        collect_secrets(client, seal)
    assert b"alpha" in raw_sqlite_bytes(settings.data_dir)


def pg_dump(url: str) -> bytes:
    pg_bin = os.environ.get("KEYSTEAD_TEST_PG_BIN", "")
    executable = str(Path(pg_bin) / "pg_dump") if pg_bin else "pg_dump"
    result = subprocess.run(
        [executable, "--no-owner", "--inserts", "--dbname", url],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return result.stdout


@pytest.mark.postgres
def test_postgres_dump_holds_no_secret_in_the_clear(
    seal: SealUnderTest, tmp_path: Path, postgres_url: str
) -> None:
    settings = seal.settings(tmp_path, database_url=postgres_url)
    with TestClient(create_app(settings), base_url="https://t") as client:
        secrets, _ = collect_secrets(client, seal)
    dump = pg_dump(postgres_url)
    assert b"alpha" in dump
    assert b"INSERT INTO public.key_versions" in dump
    assert_absent(dump, secrets)


def copy_material(execute, source: str, target: str) -> None:
    execute(
        "UPDATE key_versions SET material_wrapped = "
        "(SELECT material_wrapped FROM key_versions v JOIN keys k ON k.id = v.key_id"
        f" WHERE k.name = '{source}') "
        f"WHERE key_id = (SELECT id FROM keys WHERE name = '{target}')"
    )


def restart_and_encrypt(
    settings: Settings, seal: SealUnderTest, init: Init
) -> dict[str, int | str]:
    with TestClient(create_app(settings), base_url="https://t") as client:
        seal.unseal_after_start(client, init)
        auth = init.auth
        alpha = client.post("/v1/keys/alpha/encrypt", json={"plaintext": "eA=="}, headers=auth)
        beta = client.post("/v1/keys/beta/encrypt", json={"plaintext": "eA=="}, headers=auth)
        assert alpha.status_code == 200, alpha.text
        return {"status": beta.status_code, "code": beta.json()["code"]}


def create_two_keys(settings: Settings, seal: SealUnderTest) -> Init:
    with TestClient(create_app(settings), base_url="https://t") as client:
        init = seal.init(client, 1, 1)
        for name in ("alpha", "beta"):
            client.post("/v1/keys", json={"name": name, "spec": "AES_256_GCM"}, headers=init.auth)
    return init


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_material_copied_onto_another_row_fails_to_decrypt(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, seal: SealUnderTest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'copy.db'}"
        connect = lambda: sqlite3.connect(tmp_path / "copy.db")  # noqa: E731
    else:
        url = request.getfixturevalue("postgres_url")
        connect = lambda: psycopg.connect(url, autocommit=True)  # noqa: E731
    settings = seal.settings(tmp_path, database_url=url)
    init = create_two_keys(settings, seal)
    with connect() as connection:
        copy_material(connection.execute, "alpha", "beta")
    result = restart_and_encrypt(settings, seal, init)
    assert result == {"status": 503, "code": "StorageIntegrityError"}


def test_a_public_key_swapped_in_the_database_is_not_trusted(
    seal: SealUnderTest, tmp_path: Path
) -> None:
    """Storage is untrusted: a swapped public key would let someone else's signatures verify."""
    settings = seal.settings(tmp_path / "data")
    with TestClient(create_app(settings), base_url="https://t") as client:
        init = seal.init(client, 1, 1)
        auth = init.auth
        for name in ("victim", "attacker"):
            client.post("/v1/keys", json={"name": name, "spec": "ED25519"}, headers=auth)
        signed = client.post(
            "/v1/keys/attacker/sign", json={"message": b64(b"pay mallory")}, headers=auth
        ).json()
    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        connection.execute(
            "UPDATE key_versions SET public_key_wrapped = (SELECT public_key_wrapped FROM"
            " key_versions v JOIN keys k ON k.id = v.key_id WHERE k.name = 'attacker')"
            " WHERE key_id = (SELECT id FROM keys WHERE name = 'victim')"
        )
    with TestClient(create_app(settings), base_url="https://t") as client:
        seal.unseal_after_start(client, init)
        check = {"message": b64(b"pay mallory"), "signature": signed["signature"]}
        verified = client.post("/v1/keys/victim/verify", json=check, headers=auth)
        assert (verified.status_code, verified.json()["code"]) == (503, "StorageIntegrityError")
        public = client.get("/v1/keys/victim/public-key", headers=auth)
        assert (public.status_code, public.json()["code"]) == (503, "StorageIntegrityError")
