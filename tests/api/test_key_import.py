"""Issue 6, must-show 3: BYOK import as AWS KMS does it, wrapped outside Keystead.

Material is wrapped on the client side with nothing but the ``cryptography`` package, or
the ``openssl`` command line (the AWS KMS recipe), to the public key of
``POST /v1/keys/import-params``; the imported key then gives the results the material gives
locally. Tokens are one-use and expire after 24 hours on the service clock.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from hashlib import sha384
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from conftest import b64
from identity_support import Server, running
from keystead.config import Settings, load_settings

MESSAGE = b"the order to settle"
OPENSSL = shutil.which("openssl")
_PKCS8 = serialization.PrivateFormat.PKCS8
_DER = serialization.Encoding.DER


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "d", insecure_http=True)


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with running(settings) as started:
        yield started


@pytest.fixture
def admin(server: Server) -> dict[str, str]:
    return server.user_with("kim", ["key-admin"])


def _params(server: Server, who: dict[str, str], spec: str) -> dict:
    answer = server.client.post("/v1/keys/import-params", json={"spec": spec}, headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _wrap(public_pem: str, material: bytes) -> bytes:
    """RSA_AES_KEY_WRAP_SHA_256 on the client side, with plain ``cryptography``."""
    public = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    ephemeral = os.urandom(32)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return public.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, material)


def _import(server: Server, who: dict[str, str], token: str, wrapped: bytes, name: str):
    body = {"import_token": token, "wrapped_material": b64(wrapped), "name": name}
    return server.client.post("/v1/keys/import", json=body, headers=who)


def _imported(server: Server, who: dict[str, str], spec: str, material: bytes, name: str) -> dict:
    params = _params(server, who, spec)
    answer = _import(
        server, who, params["import_token"], _wrap(params["public_key"], material), name
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _round_trip(server: Server, name: str) -> None:
    sealed = server.as_root("POST", f"/v1/keys/{name}/encrypt", {"plaintext": b64(MESSAGE)})
    assert sealed.status_code == 200, sealed.text
    opened = server.as_root("POST", "/v1/decrypt", {"ciphertext": sealed.json()["ciphertext"]})
    assert opened.status_code == 200, opened.text
    assert base64.b64decode(opened.json()["plaintext"]) == MESSAGE


def test_params_give_a_one_day_token_and_an_rsa_3072_public_key(
    server: Server, admin: dict[str, str]
) -> None:
    params = _params(server, admin, "AES_256_GCM")
    assert params["wrapping_algorithm"] == "RSA_AES_KEY_WRAP_SHA_256"
    assert params["expires_at"].startswith("2026-11-29T12:00:00")  # FakeClock + 24 h
    public = serialization.load_pem_public_key(params["public_key"].encode())
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 3072


def test_aes_material_wrapped_with_cryptography_imports_and_encrypts(
    server: Server, admin: dict[str, str]
) -> None:
    key = _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-aes")
    assert (key["origin"], key["spec"], key["state"], key["owner"]) == (
        "EXTERNAL", "AES_256_GCM", "ACTIVE", "kim",
    )  # fmt: skip
    _round_trip(server, "byok-aes")


def test_an_imported_key_does_not_rotate(server: Server, admin: dict[str, str]) -> None:
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-fixed")
    refused = server.client.post("/v1/keys/byok-fixed/rotate", headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (400, "UnsupportedOperation")
    assert "EXTERNAL" in refused.json()["detail"]
    assert server.as_root("GET", "/v1/keys/byok-fixed").json()["primary_version"] == 1


def _openssl(*args: object) -> None:
    assert OPENSSL is not None, "the openssl command line is needed for the BYOK interop tests"
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True)


def test_aes_material_wrapped_with_the_openssl_command_line_imports(
    server: Server, admin: dict[str, str], tmp_path: Path
) -> None:
    params = _params(server, admin, "AES_256_GCM")
    (tmp_path / "pub.pem").write_text(params["public_key"])
    _openssl("rand", "-out", tmp_path / "aes-key.bin", "32")
    _openssl("rand", "-out", tmp_path / "material.bin", "32")
    _openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", tmp_path / "pub.pem",
        "-in", tmp_path / "aes-key.bin", "-out", tmp_path / "aes-key.enc",
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
        "-pkeyopt", "rsa_mgf1_md:sha256",
    )  # fmt: skip
    _openssl(
        "enc", "-id-aes256-wrap-pad", "-K", (tmp_path / "aes-key.bin").read_bytes().hex(),
        "-iv", "A65959A6", "-in", tmp_path / "material.bin", "-out", tmp_path / "material.wrapped",
    )  # fmt: skip
    wrapped = (tmp_path / "aes-key.enc").read_bytes() + (tmp_path / "material.wrapped").read_bytes()
    answer = _import(server, admin, params["import_token"], wrapped, "byok-openssl")
    assert answer.status_code == 201, answer.text
    assert answer.json()["origin"] == "EXTERNAL"
    _round_trip(server, "byok-openssl")


def test_imported_hmac_key_macs_as_the_material_does_locally(
    server: Server, admin: dict[str, str]
) -> None:
    material = os.urandom(48)
    _imported(server, admin, "HMAC_SHA384", material, "byok-mac")
    theirs = server.as_root("POST", "/v1/keys/byok-mac/mac", {"message": b64(MESSAGE)})
    assert theirs.status_code == 200, theirs.text
    assert base64.b64decode(theirs.json()["mac"]) == hmac.new(material, MESSAGE, sha384).digest()


def test_imported_ed25519_key_signs_what_its_public_key_verifies_locally(
    server: Server, admin: dict[str, str]
) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pkcs8 = private.private_bytes(_DER, _PKCS8, serialization.NoEncryption())
    _imported(server, admin, "ED25519", pkcs8, "byok-ed")
    signed = server.as_root("POST", "/v1/keys/byok-ed/sign", {"message": b64(MESSAGE)})
    assert signed.status_code == 200, signed.text
    private.public_key().verify(base64.b64decode(signed.json()["signature"]), MESSAGE)


def test_a_token_imports_once(server: Server, admin: dict[str, str]) -> None:
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    assert _import(server, admin, params["import_token"], wrapped, "first").status_code == 201
    again = _import(server, admin, params["import_token"], wrapped, "second")
    assert (again.status_code, again.json()["code"]) == (400, "ImportTokenInvalid")
    assert params["import_token"] not in again.text
    assert server.as_root("GET", "/v1/keys/second").status_code == 404


def test_a_token_expires_after_24_hours(server: Server, admin: dict[str, str]) -> None:
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    server.clock.advance(timedelta(hours=24, seconds=1))
    # The root token never expires; the key-admin's session would have by now.
    late = _import(server, server.root, params["import_token"], wrapped, "late")
    assert (late.status_code, late.json()["code"]) == (400, "ImportTokenInvalid")


def test_an_unknown_token_is_refused(server: Server, admin: dict[str, str]) -> None:
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    unknown = _import(server, admin, params["import_token"] + "x", wrapped, "unknown")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "ImportTokenInvalid")


def test_material_of_the_wrong_length_is_refused_and_the_token_stays_usable(
    server: Server, admin: dict[str, str]
) -> None:
    params = _params(server, admin, "AES_256_GCM")
    short = _import(
        server, admin, params["import_token"], _wrap(params["public_key"], b"k" * 16), "short"
    )
    assert (short.status_code, short.json()["code"]) == (400, "ValidationFailed")
    assert short.json()["detail"] == "spec AES_256_GCM takes 32 bytes of material, not 16"
    right = _import(
        server, admin, params["import_token"], _wrap(params["public_key"], os.urandom(32)), "right"
    )
    assert right.status_code == 201, right.text


def test_an_ec_key_is_refused_as_ed25519(server: Server, admin: dict[str, str]) -> None:
    pkcs8 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        _DER, _PKCS8, serialization.NoEncryption()
    )
    params = _params(server, admin, "ED25519")
    wrong = _import(server, admin, params["import_token"], _wrap(params["public_key"], pkcs8), "ec")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "ValidationFailed")
    assert "ED25519" in wrong.json()["detail"]
    assert "PKCS#8" in wrong.json()["detail"]


def test_tampered_wrapped_material_does_not_unwrap(server: Server, admin: dict[str, str]) -> None:
    params = _params(server, admin, "AES_256_GCM")
    wrapped = bytearray(_wrap(params["public_key"], os.urandom(32)))
    wrapped[-1] ^= 1
    tampered = _import(server, admin, params["import_token"], bytes(wrapped), "tampered")
    assert (tampered.status_code, tampered.json()["code"]) == (400, "InvalidCiphertext")


def test_a_key_user_may_not_import(server: Server, admin: dict[str, str]) -> None:
    user = server.user_with("uma", ["key-user"])
    asked = server.client.post("/v1/keys/import-params", json={"spec": "AES_256_GCM"}, headers=user)
    assert (asked.status_code, asked.json()["code"]) == (403, "PermissionDenied")
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    refused = _import(server, user, params["import_token"], wrapped, "theirs")
    assert (refused.status_code, refused.json()["code"]) == (403, "PermissionDenied")


def test_the_audit_log_holds_no_token_and_no_material(
    server: Server, admin: dict[str, str], settings: Settings
) -> None:
    material = os.urandom(32)
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], material)
    made = _import(server, admin, params["import_token"], wrapped, "audited")
    assert made.status_code == 201, made.text
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        rows = [json.loads(body) for (body,) in db.execute("SELECT body FROM audit_log")]
        stored = db.execute("SELECT token_hash, private_key_wrapped FROM import_params").fetchall()
    text = json.dumps(rows)
    ends = [(r["action"], r["outcome"], r["key_id"]) for r in rows if r["outcome"] != "begun"]
    assert ("keys.import", "allowed", made.json()["id"]) in ends
    assert ("keys.import_params", "allowed", None) in ends
    token = params["import_token"]
    for secret in (token, token.removeprefix("kst_imp_"), b64(wrapped), b64(material),
                   material.hex()):  # fmt: skip
        assert secret not in text
    ((token_hash, private_wrapped),) = stored
    assert token.encode() not in token_hash
    assert b"PRIVATE" not in private_wrapped
