"""Seal migration, Shamir to pkcs11 and back, without re-encrypting a key (issue 7).

The interface is Vault's: restart the server with the target seal and ``migrate_seal``, then
give the old seal's shares through ``POST /v1/sys/unseal``.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pkcs11 import Attribute, ObjectClass
from starlette.testclient import TestClient

from conftest import b64
from hsm_support import SoftHSM, pkcs11_settings, seal_status, unsealed, wait_for_seal
from keystead.api.app import create_app
from keystead.config import Settings, load_settings
from keystead.crypto.secret import KeyMaterial
from keystead.errors import InvalidRootKey
from keystead.seal import shamir
from keystead.seal.barrier import Keyring

pytestmark = pytest.mark.hsm

NAMES = ("orders", "payroll", "audit-trail")


@contextmanager
def serving(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield client


def _settings(tmp_path: Path, **options: object) -> Settings:
    return load_settings(data_dir=tmp_path / "data", insecure_http=True, **options)


def _unseal(client: TestClient, shares: list[str]) -> dict:
    body: dict = {}
    for share in shares:
        response = client.post("/v1/sys/unseal", json={"share": share})
        assert response.status_code == 200, response.text
        body = response.json()
    return body


def _stored_material(settings: Settings) -> dict[str, bytes]:
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        rows = db.execute("SELECT key_id, version, material_wrapped FROM key_versions")
        return {f"{key_id}/{version}": bytes(material) for key_id, version, material in rows}


def _stored_keyring(settings: Settings) -> bytes:
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        (wrapped,) = db.execute("SELECT keyring_wrapped FROM seal_config").fetchone()
    return bytes(wrapped)


def _token_keys(client: TestClient) -> int:
    hsm = client.app.state.services.seal.hsm  # type: ignore[attr-defined]
    return hsm.token.run(
        lambda session: len(list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))),
        "counting keys",
    )


@pytest.fixture
def shamir_server(tmp_path: Path) -> tuple[Settings, list[str], dict[str, str], dict[str, str]]:
    """A Shamir server (3 shares, threshold 2) with three keys and one ciphertext each."""
    settings = _settings(tmp_path)
    with serving(settings) as client:
        init = client.post("/v1/sys/init", json={"shares": 3, "threshold": 2}).json()
        _unseal(client, init["shares"][:2])
        auth = {"authorization": f"Bearer {init['root_token']}"}
        blobs = {}
        for name in NAMES:
            client.post("/v1/keys", json={"name": name, "spec": "AES_256_GCM"}, headers=auth)
            client.post(f"/v1/keys/{name}/rotate", headers=auth)
            body = {"plaintext": b64(name.encode()), "context": {"k": name}}
            blobs[name] = client.post(f"/v1/keys/{name}/encrypt", json=body, headers=auth).json()
        client.post("/v1/sys/rotate-keyring", headers=auth)
    return settings, init["shares"], auth, {n: b["ciphertext"] for n, b in blobs.items()}


def _decrypts_all(client: TestClient, auth: dict[str, str], blobs: dict[str, str]) -> None:
    for name, ciphertext in blobs.items():
        body = {"ciphertext": ciphertext, "context": {"k": name}}
        response = client.post("/v1/decrypt", json=body, headers=auth)
        assert response.status_code == 200, response.text
        assert base64.b64decode(response.json()["plaintext"]) == name.encode()


def test_shamir_to_pkcs11_and_back_keeps_every_key(
    tmp_path: Path, softhsm: SoftHSM, shamir_server
) -> None:
    settings, shares, auth, blobs = shamir_server
    material = _stored_material(settings)
    hsm = pkcs11_settings(softhsm)

    with serving(_settings(tmp_path, **hsm, migrate_seal=True)) as client:
        status = seal_status(client)
        assert (status["sealed"], status["type"], status["migration"]) == (True, "shamir", True)
        assert "recovery_seal" not in status
        assert _unseal(client, shares[2:])["progress"] == 1
        done = _unseal(client, shares[:1])
        assert (done["sealed"], done["type"], done["recovery_seal"]) == (False, "pkcs11", True)
        assert (done["shares"], done["threshold"]) == (3, 2)
        assert "migration" not in done
        _decrypts_all(client, auth, blobs)
        assert _token_keys(client) == 1
    assert _stored_material(settings) == material  # no key was re-encrypted
    # The unseal shares are recovery shares now: they no longer open the keyring.
    old_root = KeyMaterial(shamir.combine([base64.b64decode(s) for s in shares[:2]]))
    with pytest.raises(InvalidRootKey):
        Keyring.unwrap(old_root, _stored_keyring(settings))

    with serving(_settings(tmp_path, **hsm)) as client:
        wait_for_seal(client, unsealed)
        _decrypts_all(client, auth, blobs)
        generated = [
            client.post("/v1/sys/generate-root", json={"share": share}).json()
            for share in shares[1:]
        ]
        assert generated[-1]["root_token"].startswith("kst_root_")

    back = _settings(tmp_path, **{**hsm, "seal": "shamir"}, migrate_seal=True)
    with serving(back) as client:
        status = seal_status(client)
        assert (status["type"], status["migration"], status["sealed"]) == ("pkcs11", True, True)
        done = _unseal(client, [shares[0], shares[2]])
        assert (done["sealed"], done["type"]) == (False, "shamir")
        _decrypts_all(client, auth, blobs)

    with serving(_settings(tmp_path)) as client:
        assert seal_status(client)["sealed"] is True
        assert _unseal(client, shares[1:])["sealed"] is False  # the recovery shares unseal
        _decrypts_all(client, auth, blobs)
    assert _stored_material(settings) == material


def test_a_migration_with_wrong_shares_changes_nothing(
    tmp_path: Path, softhsm: SoftHSM, shamir_server
) -> None:
    settings, shares, _auth, _blobs = shamir_server
    keyring = _stored_keyring(settings)
    with serving(_settings(tmp_path, **pkcs11_settings(softhsm), migrate_seal=True)) as client:
        _unseal(client, shares[:1])
        forged = bytearray(base64.b64decode(shares[1]))
        forged[3] ^= 0x40
        bad = client.post("/v1/sys/unseal", json={"share": b64(bytes(forged))})
        assert (bad.status_code, bad.json()["code"]) == (400, "InvalidUnsealKey")
        status = seal_status(client)
        assert (status["sealed"], status["type"], status["progress"]) == (True, "shamir", 0)
        assert _token_keys(client) == 0  # no root key was made for nothing
    assert _stored_keyring(settings) == keyring


def test_a_seal_mismatch_without_migrate_is_named(
    tmp_path: Path, softhsm: SoftHSM, shamir_server
) -> None:
    _, shares, _, _ = shamir_server
    with serving(_settings(tmp_path, **pkcs11_settings(softhsm))) as client:
        status = seal_status(client)
        assert status["sealed"] is True
        assert "migrate_seal" in status["seal_error"]
        refused = client.post("/v1/sys/unseal", json={"share": shares[0]})
        assert (refused.status_code, refused.json()["code"]) == (409, "SealMismatch")
        assert "migrate_seal" in refused.json()["detail"]


def test_migrate_seal_on_a_server_already_on_that_seal_does_nothing(
    tmp_path: Path, softhsm: SoftHSM, shamir_server
) -> None:
    _, shares, auth, blobs = shamir_server
    hsm = pkcs11_settings(softhsm)
    with serving(_settings(tmp_path, **hsm, migrate_seal=True)) as client:
        assert _unseal(client, shares[:2])["type"] == "pkcs11"
    with serving(_settings(tmp_path, **hsm, migrate_seal=True)) as client:
        status = wait_for_seal(client, unsealed)  # unseals itself, as without the flag
        assert "migration" not in status
        _decrypts_all(client, auth, blobs)


def test_back_to_shamir_is_refused_while_hsm_keys_remain(
    tmp_path: Path, softhsm: SoftHSM, shamir_server
) -> None:
    settings, shares, auth, blobs = shamir_server
    hsm = pkcs11_settings(softhsm)
    with serving(_settings(tmp_path, **hsm, migrate_seal=True)) as client:
        assert _unseal(client, shares[:2])["type"] == "pkcs11"
        body = {"name": "in-token", "spec": "AES_256_GCM", "protection": "HSM"}
        made = client.post("/v1/keys", json=body, headers=auth)
        assert made.status_code == 201, made.text
    keyring = _stored_keyring(settings)

    back = _settings(tmp_path, **{**hsm, "seal": "shamir"}, migrate_seal=True)
    with serving(back) as client:
        _unseal(client, shares[:1])
        refused = client.post("/v1/sys/unseal", json={"share": shares[1]})
        assert (refused.status_code, refused.json()["code"]) == (409, "SealMigrationRefused")
        assert "1 key(s) are HSM-protected" in refused.json()["detail"]
        status = seal_status(client)
        assert (status["sealed"], status["type"]) == (True, "pkcs11")
    assert _stored_keyring(settings) == keyring

    with serving(_settings(tmp_path, **hsm)) as client:  # still the pkcs11 seal, still whole
        wait_for_seal(client, unsealed)
        _decrypts_all(client, auth, blobs)
