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


# --- a new version of an existing EXTERNAL key -------------------------------------------------


def _import_into(server: Server, who: dict[str, str], token: str, wrapped: bytes, key: str):
    body = {"import_token": token, "wrapped_material": b64(wrapped), "key": key}
    return server.client.post("/v1/keys/import", json=body, headers=who)


def _imported_into(server: Server, who: dict[str, str], spec: str, material: bytes, key: str):
    params = _params(server, who, spec)
    answer = _import_into(
        server, who, params["import_token"], _wrap(params["public_key"], material), key
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _mac(server: Server, name: str, version: int | None = None) -> bytes:
    body: dict[str, object] = {"message": b64(MESSAGE)}
    answer = server.as_root("POST", f"/v1/keys/{name}/mac", body)
    assert answer.status_code == 200, answer.text
    assert version is None or answer.json()["version"] == version
    return base64.b64decode(answer.json()["mac"])


def _mac_verifies(server: Server, name: str, tag: bytes, version: int) -> bool:
    body = {"message": b64(MESSAGE), "mac": b64(tag), "version": version}
    answer = server.as_root("POST", f"/v1/keys/{name}/mac/verify", body)
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["valid"])


def test_material_imported_into_a_key_is_its_new_primary_version(
    server: Server, admin: dict[str, str]
) -> None:
    first, second = os.urandom(32), os.urandom(32)
    made = _imported(server, admin, "HMAC_SHA256", first, "byok-versions")
    old_tag = _mac(server, "byok-versions", version=1)
    key = _imported_into(server, admin, "HMAC_SHA256", second, made["id"])  # by id
    assert (key["id"], key["primary_version"], key["origin"]) == (made["id"], 2, "EXTERNAL")
    # The cached key was flushed: the next MAC is the new material's, at once.
    assert _mac(server, "byok-versions", version=2) == hmac.new(second, MESSAGE, "sha256").digest()
    assert old_tag == hmac.new(first, MESSAGE, "sha256").digest()
    assert _mac_verifies(server, "byok-versions", old_tag, 1)
    third = _imported_into(server, admin, "HMAC_SHA256", os.urandom(32), "byok-versions")
    assert third["primary_version"] == 3  # by name
    versions = server.as_root("GET", "/v1/keys/byok-versions/versions").json()["versions"]
    assert [(v["version"], v["state"], v["primary"]) for v in versions] == [
        (1, "ACTIVE", False), (2, "ACTIVE", False), (3, "ACTIVE", True),
    ]  # fmt: skip


def test_an_imported_asymmetric_version_signs_with_the_new_private_key(
    server: Server, admin: dict[str, str]
) -> None:
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(2)]
    pkcs8 = [k.private_bytes(_DER, _PKCS8, serialization.NoEncryption()) for k in keys]
    _imported(server, admin, "ED25519", pkcs8[0], "byok-ed-versions")
    _imported_into(server, admin, "ED25519", pkcs8[1], "byok-ed-versions")
    signed = server.as_root("POST", "/v1/keys/byok-ed-versions/sign", {"message": b64(MESSAGE)})
    assert signed.json()["version"] == 2
    keys[1].public_key().verify(base64.b64decode(signed.json()["signature"]), MESSAGE)
    public = server.as_root("GET", "/v1/keys/byok-ed-versions/public-key?format=der&version=1")
    assert base64.b64decode(public.json()["public_key"]) == keys[0].public_key().public_bytes(
        _DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_a_token_imports_one_version_only(server: Server, admin: dict[str, str]) -> None:
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-once")
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    first = _import_into(server, admin, params["import_token"], wrapped, "byok-once")
    assert first.status_code == 201, first.text
    again = _import_into(server, admin, params["import_token"], wrapped, "byok-once")
    assert (again.status_code, again.json()["code"]) == (400, "ImportTokenInvalid")
    as_key = _import(server, admin, params["import_token"], wrapped, "byok-once-new")
    assert (as_key.status_code, as_key.json()["code"]) == (400, "ImportTokenInvalid")
    assert server.as_root("GET", "/v1/keys/byok-once").json()["primary_version"] == 2


@pytest.mark.parametrize(
    "target", [{}, {"name": "both", "key": "byok-target"}], ids=["neither", "both"]
)
def test_exactly_one_of_name_and_key(
    server: Server, admin: dict[str, str], target: dict[str, str]
) -> None:
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-target")
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    body = {"import_token": params["import_token"], "wrapped_material": b64(wrapped), **target}
    refused = server.client.post("/v1/keys/import", json=body, headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")
    assert "exactly one of name" in refused.json()["detail"]
    assert server.as_root("GET", "/v1/keys/both").status_code == 404


def test_new_key_metadata_is_refused_with_key(server: Server, admin: dict[str, str]) -> None:
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-meta")
    params = _params(server, admin, "AES_256_GCM")
    body = {"import_token": params["import_token"], "key": "byok-meta", "exportable": True,
            "wrapped_material": b64(_wrap(params["public_key"], os.urandom(32)))}  # fmt: skip
    refused = server.client.post("/v1/keys/import", json=body, headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")
    assert "describe a new key" in refused.json()["detail"]


def test_a_token_of_another_spec_is_refused_and_stays_usable(
    server: Server, admin: dict[str, str]
) -> None:
    _imported(server, admin, "HMAC_SHA256", os.urandom(32), "byok-mac256")
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))  # 32 bytes would fit either spec
    wrong = _import_into(server, admin, params["import_token"], wrapped, "byok-mac256")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "ValidationFailed")
    assert "AES_256_GCM" in wrong.json()["detail"]
    assert "HMAC_SHA256" in wrong.json()["detail"]
    assert server.as_root("GET", "/v1/keys/byok-mac256").json()["primary_version"] == 1
    assert _import(server, admin, params["import_token"], wrapped, "byok-aes2").status_code == 201


@pytest.mark.parametrize("verb", ["suspend", "deactivate"])
def test_only_an_active_key_takes_an_imported_version(
    server: Server, admin: dict[str, str], verb: str
) -> None:
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-state")
    assert server.client.post(f"/v1/keys/byok-state/{verb}", headers=admin).status_code == 200
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    refused = _import_into(server, admin, params["import_token"], wrapped, "byok-state")
    assert (refused.status_code, refused.json()["code"]) == (409, "KeyStateForbidsOperation")
    state = "SUSPENDED" if verb == "suspend" else "DEACTIVATED"
    assert state in refused.json()["detail"]
    if verb == "suspend":
        server.client.post("/v1/keys/byok-state/resume", headers=admin)
        again = _import_into(server, admin, params["import_token"], wrapped, "byok-state")
        assert again.status_code == 201, again.text


def test_a_key_keystead_made_takes_no_imported_version(
    server: Server, admin: dict[str, str]
) -> None:
    made = server.client.post("/v1/keys", json={"name": "ours", "spec": "AES_256_GCM"},
                              headers=admin)  # fmt: skip
    assert made.json()["origin"] == "KEYSTEAD"
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    refused = _import_into(server, admin, params["import_token"], wrapped, "ours")
    assert (refused.status_code, refused.json()["code"]) == (400, "UnsupportedOperation")
    assert "origin KEYSTEAD" in refused.json()["detail"]
    assert server.as_root("GET", "/v1/keys/ours").json()["primary_version"] == 1


def test_an_unknown_key_is_not_found(server: Server, admin: dict[str, str]) -> None:
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    missing = _import_into(server, admin, params["import_token"], wrapped, "no-such-key")
    assert (missing.status_code, missing.json()["code"]) == (404, "KeyNotFound")


def _importer_of(server: Server, name: str, keys: list[str]) -> dict[str, str]:
    """A user whose only policy allows importing into (and making) keys named by ``keys``."""
    statement = {"effect": "allow", "actions": ["keys.import"], "keys": keys}
    policy = server.as_root("POST", "/v1/policies", {"name": name, "statements": [statement]})
    assert policy.status_code == 201, policy.text
    role = server.as_root("POST", "/v1/roles", {"name": name, "policies": [name]})
    assert role.status_code == 201, role.text
    return server.user_with(name, [name])


def test_a_policy_limits_which_keys_a_caller_imports_into(
    server: Server, admin: dict[str, str]
) -> None:
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "team-a.orders")
    _imported(server, admin, "AES_256_GCM", os.urandom(32), "team-b.orders")
    team_a = _importer_of(server, "team-a-importer", ["team-a.*"])
    params = _params(server, team_a, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], os.urandom(32))
    other = _import_into(server, team_a, params["import_token"], wrapped, "team-b.orders")
    assert (other.status_code, other.json()["code"]) == (403, "PermissionDenied")
    elsewhere = _import(server, team_a, params["import_token"], wrapped, "team-b.new")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "PermissionDenied")
    # Nor can it learn which keys exist outside its globs.
    unknown = _import_into(server, team_a, params["import_token"], wrapped, "team-b.nothing")
    assert (unknown.status_code, unknown.json()["code"]) == (403, "PermissionDenied")
    own = _import_into(server, team_a, params["import_token"], wrapped, "team-a.orders")
    assert own.status_code == 201, own.text
    assert server.as_root("GET", "/v1/keys/team-b.orders").json()["primary_version"] == 1


def test_users_own_key_names_cannot_be_taken_by_import(
    server: Server, admin: dict[str, str]
) -> None:
    params = _params(server, admin, "ED25519")
    private = ed25519.Ed25519PrivateKey.generate()
    pkcs8 = private.private_bytes(_DER, _PKCS8, serialization.NoEncryption())
    taken = _import(server, admin, params["import_token"], _wrap(params["public_key"], pkcs8),
                    "user:victim")  # fmt: skip
    assert (taken.status_code, taken.json()["code"]) == (403, "PermissionDenied")
    assert server.as_root("GET", "/v1/keys/user:victim").status_code == 404


def test_a_version_import_is_audited_with_the_key_and_version(
    server: Server, admin: dict[str, str], settings: Settings
) -> None:
    material = os.urandom(32)
    made = _imported(server, admin, "AES_256_GCM", os.urandom(32), "byok-audited")
    params = _params(server, admin, "AES_256_GCM")
    wrapped = _wrap(params["public_key"], material)
    into = _import_into(server, admin, params["import_token"], wrapped, "byok-audited")
    assert into.status_code == 201, into.text
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        rows = [json.loads(body) for (body,) in db.execute("SELECT body FROM audit_log")]
    ends = [(r["action"], r["outcome"], r["key_id"], r["version"]) for r in rows
            if r["outcome"] != "begun" and r["action"] == "keys.import"]  # fmt: skip
    assert ends[-1] == ("keys.import", "allowed", made["id"], 2)
    text = json.dumps(rows)
    for secret in (params["import_token"], b64(wrapped), b64(material), material.hex()):
        assert secret not in text
