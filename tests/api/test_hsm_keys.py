"""HSM-protected keys over the HTTP API, against SoftHSM2 (issue 7, build item 3, must-show 2):
generated, used and destroyed inside the token, never exported, never backed up."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11
from starlette.testclient import TestClient

from conftest import FakeClock, b64
from hsm_support import SoftHSM, pkcs11_settings
from keystead.api.app import create_app
from keystead.config import Settings, load_settings
from keystead.seal.pkcs11_keys import object_id
from keystead.seal.pkcs11_library import load_library
from keystead.services.container import Services, build_services

pytestmark = pytest.mark.hsm

MESSAGE = b"wire 1,000,000 EUR to account 42"
PASSPHRASE = "correct horse battery staple 2026"


@dataclass
class Server:
    client: TestClient
    services: Services
    auth: dict[str, str]
    database: Path
    clock: FakeClock

    def post(self, path: str, body: dict | None = None):
        return self.client.post(path, json=body or {}, headers=self.auth)

    def get(self, path: str):
        return self.client.get(path, headers=self.auth)

    def create(self, name: str, spec: str, **extra: object) -> dict:
        if spec.startswith("RSA"):
            extra.setdefault("usage", "SIGN_VERIFY")  # SoftHSM2 2.6 has no RSA-OAEP-SHA-256
        made = self.post("/v1/keys", {"name": name, "spec": spec, "protection": "HSM", **extra})
        assert made.status_code == 201, made.text
        return made.json()

    def run(self, function, *args):
        return self.client.portal.call(function, *args)  # type: ignore[union-attr]


def _settings(data: Path, **extra: object) -> Settings:
    return load_settings(
        data_dir=data, insecure_http=True, allow_immediate_destruction=True,
        backup_argon2_memory_kib=8192, backup_argon2_time_cost=1, backup_argon2_parallelism=1,
        **extra,
    )  # fmt: skip


@pytest.fixture
def server(tmp_path: Path, softhsm: SoftHSM) -> Iterator[Server]:
    settings = _settings(tmp_path / "data", **pkcs11_settings(softhsm))
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    with TestClient(create_app(settings, services), base_url="https://t") as client:
        init = client.post("/v1/sys/init", json={"recovery_shares": 1, "recovery_threshold": 1})
        assert init.status_code == 200, init.text
        auth = {"authorization": f"Bearer {init.json()['root_token']}"}
        try:
            yield Server(client, services, auth, tmp_path / "data" / "keystead.db", clock)
        finally:
            client.portal.call(services.close)  # type: ignore[union-attr]


@pytest.fixture
def shamir(tmp_path: Path) -> Iterator[Server]:
    settings = _settings(tmp_path / "shamir")
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    with TestClient(create_app(settings, services), base_url="https://t") as client:
        init = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        client.post("/v1/sys/unseal", json={"share": init["shares"][0]})
        auth = {"authorization": f"Bearer {init['root_token']}"}
        try:
            yield Server(client, services, auth, tmp_path / "shamir" / "keystead.db", clock)
        finally:
            client.portal.call(services.close)  # type: ignore[union-attr]


def token_objects(hsm: SoftHSM, key_id: str, version: int) -> list:
    """The token's objects with a version's CKA_ID, found through python-pkcs11 directly."""
    library = load_library(hsm.module)
    with library.lock:
        session = library.native.get_token(token_label=hsm.token_label).open()
        try:
            label = f"keystead/{key_id}/v{version}"
            return [
                {"class": found[Attribute.CLASS], "id": found[Attribute.ID]}
                for found in session.get_objects({Attribute.LABEL: label})
            ]
        finally:
            session.close()


def read_secret_value(hsm: SoftHSM, key_id: str, version: int, object_class: ObjectClass):
    """Try to read CKA_VALUE (or CKA_PRIVATE_EXPONENT) of the key; return the key's flags."""
    library = load_library(hsm.module)
    with library.lock:
        session = library.native.get_token(token_label=hsm.token_label).open()
        try:
            key = session.get_key(object_class=object_class, label=f"keystead/{key_id}/v{version}")
            flags = {
                attribute: key[attribute]
                for attribute in (Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.TOKEN,
                                  Attribute.ALWAYS_SENSITIVE, Attribute.NEVER_EXTRACTABLE)
            }  # fmt: skip
            secret = Attribute.VALUE
            if object_class is ObjectClass.PRIVATE_KEY and key.key_type.name == "RSA":
                secret = Attribute.PRIVATE_EXPONENT
            with pytest.raises(p11.AttributeSensitive):
                key[secret]
            return flags
        finally:
            session.close()


def version_columns(server: Server, key_id: str) -> list[tuple]:
    with sqlite3.connect(server.database) as db:
        return db.execute(
            "SELECT version, material_wrapped, hsm_object_id, public_key_wrapped IS NOT NULL"
            " FROM key_versions WHERE key_id = ? ORDER BY version",
            (key_id,),
        ).fetchall()


def _public(server: Server, name: str, version: int = 1):
    body = server.get(f"/v1/keys/{name}/public-key?format=der&version={version}").json()
    return load_der_public_key(base64.b64decode(body["public_key"]))


def _encrypt(server: Server, name: str, plaintext: bytes, context: dict | None = None) -> dict:
    body = {"plaintext": b64(plaintext), "context": context or {"app": "ledger"}}
    response = server.post(f"/v1/keys/{name}/encrypt", body)
    assert response.status_code == 200, response.text
    return response.json()


def _decrypt(server: Server, ciphertext: str, context: dict | None = None):
    return server.post(
        "/v1/decrypt", {"ciphertext": ciphertext, "context": context or {"app": "ledger"}}
    )


@pytest.mark.parametrize("spec", ["AES_256_GCM", "AES_128_GCM"])
def test_aes_gcm_round_trip_in_the_token_and_no_material_in_the_database(
    server: Server, softhsm: SoftHSM, spec: str
) -> None:
    made = server.create("vault", spec)
    assert (made["protection"], made["exportable"], made["backup_allowed"]) == ("HSM", False, False)
    sealed = _encrypt(server, "vault", MESSAGE)
    blob = base64.b64decode(sealed["ciphertext"])
    assert blob[:3] == b"KS\x01"  # Keystead's own envelope
    assert uuid.UUID(bytes=blob[3:19]) == uuid.UUID(made["id"])
    opened = _decrypt(server, sealed["ciphertext"])
    assert opened.status_code == 200, opened.text
    assert base64.b64decode(opened.json()["plaintext"]) == MESSAGE
    assert _encrypt(server, "vault", MESSAGE)["ciphertext"] != sealed["ciphertext"]  # fresh IV

    # Must-show 2: the database holds no material, only the token object's id.
    [(version, material, ident, has_public)] = version_columns(server, made["id"])
    assert (version, material, has_public) == (1, None, 0)
    assert ident[:20] == object_id(uuid.UUID(made["id"]), 1)
    assert len(ident) == 24
    assert [found["id"] for found in token_objects(softhsm, made["id"], 1)] == [ident]
    flags = read_secret_value(softhsm, made["id"], 1, ObjectClass.SECRET_KEY)
    assert flags == {
        Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.TOKEN: True,
        Attribute.ALWAYS_SENSITIVE: True, Attribute.NEVER_EXTRACTABLE: True,
    }  # fmt: skip


def test_tampered_or_misbound_ciphertexts_are_refused(server: Server) -> None:
    server.create("vault", "AES_256_GCM")
    sealed = base64.b64decode(_encrypt(server, "vault", MESSAGE)["ciphertext"])
    for at in (2, 20, 25, len(sealed) - 1, len(sealed) // 2 + 20):
        flipped = bytearray(sealed)
        flipped[at] ^= 0x01
        refused = _decrypt(server, b64(bytes(flipped)))
        assert (refused.status_code, refused.json()["code"]) == (400, "InvalidCiphertext"), at
    other = _decrypt(server, b64(sealed), {"app": "other"})
    assert (other.status_code, other.json()["code"]) == (400, "InvalidCiphertext")
    short = _decrypt(server, b64(sealed[:30]))
    assert (short.status_code, short.json()["code"]) == (400, "InvalidCiphertext")


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("EC_P256", "ECDSA_SHA_256"),
        ("EC_P384", "ECDSA_SHA_384"),
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSA_3072", "RSASSA_PSS_SHA_512"),
        ("ED25519", "ED25519"),
    ],
)
def test_signatures_made_in_the_token_verify_with_cryptography(
    server: Server, softhsm: SoftHSM, spec: str, algorithm: str
) -> None:
    made = server.create("signer", spec)
    signed = server.post("/v1/keys/signer/sign", {"message": b64(MESSAGE), "algorithm": algorithm})
    assert signed.status_code == 200, signed.text
    signature = base64.b64decode(signed.json()["signature"])
    public = _public(server, "signer")
    _verify_outside(public, algorithm, signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        _verify_outside(public, algorithm, signature, MESSAGE + b"!")
    # Keystead verifies in the token too, and refuses a changed message or a mangled signature.
    check = {"message": b64(MESSAGE), "signature": b64(signature), "algorithm": algorithm}
    assert server.post("/v1/keys/signer/verify", check).json() == {"valid": True}
    check["message"] = b64(MESSAGE + b"!")
    assert server.post("/v1/keys/signer/verify", check).json() == {"valid": False}
    check["message"] = b64(MESSAGE)
    for mangled in (signature[:-1], b"\x30\x02\x01", b"\x00" * len(signature)):
        check["signature"] = b64(mangled)
        answer = server.post("/v1/keys/signer/verify", check)
        assert answer.json() == {"valid": False}, (answer.status_code, answer.text)

    [(version, material, ident, has_public)] = version_columns(server, made["id"])
    assert (version, material, has_public) == (1, None, 1)  # the public key, under the barrier
    assert ident[:20] == object_id(uuid.UUID(made["id"]), 1)
    assert {found["id"] for found in token_objects(softhsm, made["id"], 1)} == {ident}
    flags = read_secret_value(softhsm, made["id"], 1, ObjectClass.PRIVATE_KEY)
    assert (flags[Attribute.SENSITIVE], flags[Attribute.EXTRACTABLE]) == (True, False)


def _verify_outside(public, algorithm: str, signature: bytes, message: bytes) -> None:
    if isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, message)
        return
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[
        algorithm[-3:]
    ]
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(digest))  # DER, as software keys sign
        return
    assert isinstance(public, rsa.RSAPublicKey)
    if "PSS" in algorithm:
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        public.verify(signature, message, pss, digest)
    else:
        public.verify(signature, message, padding.PKCS1v15(), digest)


def test_a_digest_is_signed_in_the_token_too(server: Server) -> None:
    server.create("signer", "EC_P256")
    digest = hashlib.sha256(MESSAGE).digest()
    signed = server.post("/v1/keys/signer/sign", {"digest": b64(digest)}).json()
    _verify_outside(
        _public(server, "signer"), "ECDSA_SHA_256", base64.b64decode(signed["signature"]), MESSAGE
    )
    wrong = server.post("/v1/keys/signer/sign", {"digest": b64(digest[:20])})
    assert (wrong.status_code, wrong.json()["code"]) == (400, "ValidationFailed")
    server.create("edwards", "ED25519")
    refused = server.post("/v1/keys/edwards/sign", {"digest": b64(digest)})
    assert (refused.status_code, refused.json()["code"]) == (400, "UnsupportedAlgorithm")


@pytest.mark.parametrize("spec", ["HMAC_SHA256", "ML_DSA_65", "EC_SECP256K1", "CHACHA20_POLY1305"])
def test_a_spec_the_token_cannot_do_is_refused_with_the_list(server: Server, spec: str) -> None:
    refused = server.post("/v1/keys", {"name": "nope", "spec": spec, "protection": "HSM"})
    assert (refused.status_code, refused.json()["code"]) == (400, "UnsupportedAlgorithm")
    detail = refused.json()["detail"]
    assert spec in detail
    for can in ("AES_256_GCM", "AES_128_GCM", "EC_P256", "EC_P384", "RSA_2048", "ED25519"):
        assert can in detail
    assert server.get("/v1/keys/nope").status_code == 404


def test_rsa_for_encryption_is_refused_when_the_token_lacks_oaep_sha256(
    server: Server, softhsm: SoftHSM
) -> None:
    # SoftHSM2 2.6 does RSA-OAEP with SHA-1 only: the key made to find out is destroyed.
    body = {"name": "box", "spec": "RSA_2048", "usage": "ENCRYPT_DECRYPT", "protection": "HSM"}
    refused = server.post("/v1/keys", body)
    assert (refused.status_code, refused.json()["code"]) == (400, "UnsupportedAlgorithm")
    assert "OAEP" in refused.json()["detail"]
    assert "SIGN_VERIFY" in refused.json()["detail"]
    assert server.get("/v1/keys/box").status_code == 404
    again = server.post("/v1/keys", body)  # known now: refused without making a key
    assert again.status_code == 400
    assert _keystead_labels(softhsm) == []


def test_an_hsm_key_cannot_be_exportable(server: Server) -> None:
    refused = server.post(
        "/v1/keys", {"name": "x", "spec": "AES_256_GCM", "protection": "HSM", "exportable": True}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")
    assert "never leaves the token" in refused.json()["detail"]


def test_an_unknown_protection_is_refused(server: Server) -> None:
    refused = server.post("/v1/keys", {"name": "x", "spec": "AES_256_GCM", "protection": "TPM"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "ValidationFailed"


def test_a_shamir_server_refuses_hsm_keys_naming_the_setting(shamir: Server) -> None:
    refused = shamir.post("/v1/keys", {"name": "x", "spec": "AES_256_GCM", "protection": "HSM"})
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")
    assert "pkcs11 seal" in refused.json()["detail"]
    assert "seal = pkcs11" in refused.json()["detail"]
    assert shamir.get("/v1/keys/x").status_code == 404
    software = shamir.post("/v1/keys", {"name": "y", "spec": "AES_256_GCM"})
    assert (software.status_code, software.json()["protection"]) == (201, "SOFTWARE")


def test_rotation_makes_a_new_token_object_and_old_ciphertexts_still_decrypt(
    server: Server, softhsm: SoftHSM
) -> None:
    made = server.create("vault", "AES_256_GCM")
    old = _encrypt(server, "vault", b"version one")
    rotated = server.post("/v1/keys/vault/rotate")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["primary_version"] == 2
    new = _encrypt(server, "vault", b"version two")
    assert (old["version"], new["version"]) == (1, 2)
    for sealed, plaintext in ((old, b"version one"), (new, b"version two")):
        opened = _decrypt(server, sealed["ciphertext"]).json()
        assert base64.b64decode(opened["plaintext"]) == plaintext
    assert len(token_objects(softhsm, made["id"], 1)) == 1
    assert len(token_objects(softhsm, made["id"], 2)) == 1
    idents = [row[2] for row in version_columns(server, made["id"])]
    assert [ident[:20] for ident in idents] == [object_id(uuid.UUID(made["id"]), n) for n in (1, 2)]

    server.create("signer", "EC_P256")
    server.post("/v1/keys/signer/rotate")
    signed = server.post("/v1/keys/signer/sign", {"message": b64(MESSAGE)}).json()
    assert signed["version"] == 2
    public_2 = _public(server, "signer", 2)
    assert public_2.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) != _public(
        server, "signer", 1
    ).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    _verify_outside(public_2, "ECDSA_SHA_256", base64.b64decode(signed["signature"]), MESSAGE)


def test_destruction_destroys_the_token_objects(server: Server, softhsm: SoftHSM) -> None:
    made = server.create("doomed", "EC_P256")
    server.post("/v1/keys/doomed/rotate")
    assert len(token_objects(softhsm, made["id"], 1)) == 2  # private and public key
    assert server.post("/v1/keys/doomed/deactivate").status_code == 200
    scheduled = server.post("/v1/keys/doomed/schedule-destruction", {"pending_days": 0})
    assert scheduled.status_code == 200, scheduled.text
    report = server.run(server.services.scheduler.run_once)
    assert uuid.UUID(made["id"]) in report.destroyed
    assert server.get("/v1/keys/doomed").json()["state"] == "DESTROYED"
    assert token_objects(softhsm, made["id"], 1) == []
    assert token_objects(softhsm, made["id"], 2) == []
    assert version_columns(server, made["id"]) == [(1, None, None, 1), (2, None, None, 1)]
    refused = server.post("/v1/keys/doomed/sign", {"message": b64(MESSAGE)})
    assert refused.status_code == 409


def test_destroying_one_version_destroys_only_its_object(server: Server, softhsm: SoftHSM) -> None:
    made = server.create("vault", "AES_256_GCM")
    old = _encrypt(server, "vault", b"old")
    server.post("/v1/keys/vault/rotate")
    path = "/v1/keys/vault/versions/1"
    assert server.post(f"{path}/deactivate").status_code == 200
    assert server.post(f"{path}/schedule-destruction", {"pending_days": 1}).status_code == 200
    assert len(token_objects(softhsm, made["id"], 1)) == 1  # pending: still there
    server.clock.advance(timedelta(days=1))
    report = server.run(server.services.scheduler.run_once)
    assert (uuid.UUID(made["id"]), 1) in report.destroyed_versions
    assert token_objects(softhsm, made["id"], 1) == []
    assert len(token_objects(softhsm, made["id"], 2)) == 1
    refused = _decrypt(server, old["ciphertext"])
    assert refused.json()["code"] == "KeyDestroyed"
    new = _encrypt(server, "vault", b"new")
    assert base64.b64decode(_decrypt(server, new["ciphertext"]).json()["plaintext"]) == b"new"


def test_export_is_refused(server: Server) -> None:
    server.create("kept", "EC_P256")
    public = x25519.X25519PrivateKey.generate().public_key()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    refused = server.post("/v1/keys/kept/export", {"format": "HPKE", "public_key": pem})
    assert (refused.status_code, refused.json()["code"]) == (403, "KeyNotExportable")
    assert "HSM" in refused.json()["detail"]


def test_hsm_keys_stay_out_of_backups(server: Server, shamir: Server) -> None:
    server.create("in-token", "AES_256_GCM")
    server.post("/v1/keys", {"name": "soft", "spec": "AES_256_GCM"})
    sealed = _encrypt(server, "soft", b"soft")
    archive = server.client.post(
        "/v1/backups", json={"passphrase": PASSPHRASE}, headers=server.auth
    )
    assert archive.status_code == 200, archive.text
    restored = shamir.client.post(
        "/v1/backups/restore", content=archive.content,
        headers={**shamir.auth, "keystead-backup-passphrase": b64(PASSPHRASE.encode())},
    )  # fmt: skip
    assert restored.status_code == 200, restored.text
    assert restored.json()["restored"] == ["soft"]
    assert restored.json()["keys_in_backup"] == 1
    assert base64.b64decode(_decrypt(shamir, sealed["ciphertext"]).json()["plaintext"]) == b"soft"
    alone = server.client.post(
        "/v1/keys/in-token/backup", json={"passphrase": PASSPHRASE}, headers=server.auth
    )
    assert (alone.status_code, alone.json()["code"]) == (403, "BackupNotAllowed")


def _keystead_labels(hsm: SoftHSM) -> list[str]:
    library = load_library(hsm.module)
    with library.lock:
        session = library.native.get_token(token_label=hsm.token_label).open()
        try:
            labels = [o[Attribute.LABEL] for o in session.get_objects({})]
        finally:
            session.close()
    return [label for label in labels if label.startswith("keystead/")]


def test_a_key_that_cannot_be_stored_leaves_no_token_object(
    server: Server, softhsm: SoftHSM
) -> None:
    made = server.create("twice", "AES_256_GCM")
    again = server.post("/v1/keys", {"name": "twice", "spec": "EC_P256", "protection": "HSM"})
    assert (again.status_code, again.json()["code"]) == (409, "KeyAlreadyExists")
    assert _keystead_labels(softhsm) == [f"keystead/{made['id']}/v1"]


def test_a_stored_object_id_of_another_key_is_refused(server: Server) -> None:
    # Storage is untrusted: pointing a version at another key's token object must not work.
    victim = server.create("victim", "AES_256_GCM")
    server.create("other", "AES_256_GCM")
    [(_, _, victim_ident, _)] = version_columns(server, victim["id"])
    other_id = server.get("/v1/keys/other").json()["id"]
    with sqlite3.connect(server.database) as db:
        db.execute(
            "UPDATE key_versions SET hsm_object_id = ? WHERE key_id = ?", (victim_ident, other_id)
        )
    refused = server.post("/v1/keys/other/encrypt", {"plaintext": b64(b"x")})
    assert (refused.status_code, refused.json()["code"]) == (503, "StorageIntegrityError")


def test_verification_runs_in_the_token(server: Server, softhsm: SoftHSM) -> None:
    """With the token's public key object gone, verify fails: it was not done in software."""
    made = server.create("checked", "EC_P256")
    signed = server.post("/v1/keys/checked/sign", {"message": b64(MESSAGE)}).json()
    check = {"message": b64(MESSAGE), "signature": signed["signature"]}
    assert server.post("/v1/keys/checked/verify", check).json() == {"valid": True}
    library = load_library(softhsm.module)
    with library.lock:
        token = library.native.get_token(token_label=softhsm.token_label)
        session = token.open(rw=True)  # the server's session has logged the token in
        try:
            label = f"keystead/{made['id']}/v1"
            session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label).destroy()
        finally:
            session.close()
    gone = server.post("/v1/keys/checked/verify", check)
    assert (gone.status_code, gone.json()["code"]) == (503, "HSMUnavailable")
