"""Issue 6, must-show 4: wrapped export, unwrapped outside Keystead, reproduces its results.

Each format is opened here with nothing but the ``cryptography`` package (and joserfc for
JWE); the material then computes a MAC equal to Keystead's, or signs what Keystead verifies.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from joserfc import jwe
from joserfc.jwk import ECKey, RSAKey

from conftest import b64
from identity_support import Server, running
from keystead.config import Settings, load_settings
from xwing import xwing_pair

MESSAGE = b"the order to settle"
_PEM = serialization.Encoding.PEM
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings: Settings = load_settings(data_dir=tmp_path / "d", insecure_http=True)
    with running(settings) as started:
        yield started


def _exporter(server: Server, keys: str = "*") -> dict[str, str]:
    """A user whose policy allows keys.export (and use, to compare results) on ``keys``."""
    statement = {"effect": "allow", "actions": ["keys.export", "keys.describe"], "keys": [keys]}
    assert server.as_root(
        "POST", "/v1/policies", {"name": "exporter", "statements": [statement]}
    ).status_code == 201  # fmt: skip
    assert server.as_root(
        "POST", "/v1/roles", {"name": "exporter", "policies": ["exporter"]}
    ).status_code == 201  # fmt: skip
    return server.user_with("carol", ["exporter"])


def _key(server: Server, name: str, spec: str, *, exportable: bool = True) -> dict:
    made = server.as_root(
        "POST", "/v1/keys", {"name": name, "spec": spec, "exportable": exportable}
    )
    assert made.status_code == 201, made.text
    return made.json()


def _export(server: Server, who: dict[str, str], name: str, body: dict) -> dict:
    answer = server.client.post(f"/v1/keys/{name}/export", json=body, headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _pem(public: object) -> str:
    return public.public_bytes(_PEM, _SPKI).decode()  # type: ignore[attr-defined]


def test_rsa_aes_key_wrap_unwraps_with_cryptography_to_an_hmac_key_that_macs_alike(
    server: Server,
) -> None:
    exporter = _exporter(server)
    _key(server, "mac-key", "HMAC_SHA256")
    recipient = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    body = {"format": "RSA_AES_KEY_WRAP_SHA_256", "public_key": _pem(recipient.public_key())}
    exported = _export(server, exporter, "mac-key", body)
    assert (exported["version"], exported["encoding"], exported["jwe"]) == (1, "raw", None)
    wrapped = base64.b64decode(exported["wrapped_key"])
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    ephemeral = recipient.decrypt(wrapped[:384], oaep)
    material = aes_key_unwrap_with_padding(ephemeral, wrapped[384:])
    theirs = server.as_root("POST", "/v1/keys/mac-key/mac", {"message": b64(MESSAGE)}).json()
    assert base64.b64decode(theirs["mac"]) == hmac.new(material, MESSAGE, sha256).digest()


@pytest.mark.parametrize("kem", ["X25519", "MLKEM768_X25519"])
def test_hpke_unwraps_to_a_signing_key_whose_signature_keystead_verifies(
    server: Server, kem: str
) -> None:
    exporter = _exporter(server)
    made = _key(server, "signer", "ED25519")
    if kem == "X25519":
        private: object = x25519.X25519PrivateKey.generate()
        recipient = _pem(private.public_key())  # type: ignore[attr-defined]
    else:
        private, recipient = xwing_pair()
    body = {"format": "HPKE", "public_key": recipient}
    exported = _export(server, exporter, "signer", body)
    assert exported["encoding"] == "pkcs8-der"
    suite = Suite(getattr(KEM, kem), KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    info = f"keystead/export/v1/{made['id']}/1".encode()
    der = suite.decrypt(base64.b64decode(exported["wrapped_key"]), private, info=info)  # type: ignore[arg-type]
    signing = serialization.load_der_private_key(der, password=None)
    assert isinstance(signing, ed25519.Ed25519PrivateKey)
    signature = signing.sign(MESSAGE)
    verdict = server.as_root(
        "POST", "/v1/keys/signer/verify", {"message": b64(MESSAGE), "signature": b64(signature)}
    )
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["valid"] is True


@pytest.mark.parametrize("kind", ["RSA", "EC"])
def test_jwe_opens_with_joserfc_to_the_key_that_keystead_signs_with(
    server: Server, kind: str
) -> None:
    exporter = _exporter(server)
    _key(server, "p256", "EC_P256")
    if kind == "RSA":
        recipient = RSAKey.generate_key(2048, private=True)
    else:
        recipient = ECKey.generate_key("P-256", private=True)
    public = recipient.as_dict(private=False)
    exported = _export(server, exporter, "p256", {"format": "JWE", "jwk": public})
    assert exported["wrapped_key"] is None
    # RSA-OAEP-256 is off joserfc's recommended list, so it is named here.
    opened = jwe.decrypt_compact(
        exported["jwe"], recipient, algorithms=["RSA-OAEP-256", "ECDH-ES+A256KW", "A256GCM"]
    )
    header = opened.protected
    assert header["enc"] == "A256GCM"
    assert header["alg"] == ("RSA-OAEP-256" if kind == "RSA" else "ECDH-ES+A256KW")
    signing = serialization.load_der_private_key(opened.plaintext or b"", password=None)
    assert isinstance(signing, ec.EllipticCurvePrivateKey)
    signature = signing.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    verdict = server.as_root(
        "POST", "/v1/keys/p256/verify", {"message": b64(MESSAGE), "signature": b64(signature)}
    ).json()
    assert verdict["valid"] is True


def _hpke_body() -> dict:
    return {"format": "HPKE", "public_key": _pem(x25519.X25519PrivateKey.generate().public_key())}


def test_a_key_not_created_exportable_refuses(server: Server) -> None:
    exporter = _exporter(server)
    _key(server, "kept", "AES_256_GCM", exportable=False)
    refused = server.client.post("/v1/keys/kept/export", json=_hpke_body(), headers=exporter)
    assert (refused.status_code, refused.json()["code"]) == (403, "KeyNotExportable")
    assert "wrapped_key" not in refused.text


def test_a_key_cannot_be_made_exportable_after_it_was_created(server: Server) -> None:
    exporter = _exporter(server)
    _key(server, "sealed-in", "AES_256_GCM", exportable=False)
    changed = server.as_root("PATCH", "/v1/keys/sealed-in", {"exportable": True})
    assert (changed.status_code, changed.json()["code"]) == (400, "ValidationFailed")
    assert server.as_root("GET", "/v1/keys/sealed-in").json()["exportable"] is False
    refused = server.client.post("/v1/keys/sealed-in/export", json=_hpke_body(), headers=exporter)
    assert refused.json()["code"] == "KeyNotExportable"


def test_export_needs_a_policy_that_names_it(server: Server) -> None:
    _key(server, "mine", "AES_256_GCM")
    # The key-admin manages the key, a key-user is granted every use of it: neither exports.
    admin = server.user_with("kim", ["key-admin"])
    user = server.user_with("olga", ["key-user"])
    every_use = ["encrypt", "decrypt", "reencrypt", "data_key", "data_key_wrapped"]
    granted = server.as_root(
        "POST", "/v1/keys/mine/grants", {"principal": "olga", "operations": every_use}
    )
    assert granted.status_code == 201, granted.text
    assert server.client.post(
        "/v1/keys/mine/encrypt", json={"plaintext": b64(b"x")}, headers=user
    ).status_code == 200  # fmt: skip
    for who in (admin, user):
        refused = server.client.post("/v1/keys/mine/export", json=_hpke_body(), headers=who)
        assert (refused.status_code, refused.json()["code"]) == (403, "PermissionDenied")
    # Nor may a grant list export among its operations.
    listed = server.as_root(
        "POST", "/v1/keys/mine/grants", {"principal": "olga", "operations": ["export"]}
    )
    assert listed.status_code == 400


def test_a_deny_on_the_key_wins_over_the_exporters_allow(server: Server) -> None:
    exporter = _exporter(server)
    _key(server, "guarded", "AES_256_GCM")
    deny = {"effect": "deny", "actions": ["keys.export"], "keys": ["guarded"]}
    server.as_root("POST", "/v1/policies", {"name": "no-guarded", "statements": [deny]})
    roles = {"name": "exporter", "policies": ["exporter", "no-guarded"]}
    assert server.as_root("PUT", "/v1/roles/exporter", roles).status_code == 200
    refused = server.client.post("/v1/keys/guarded/export", json=_hpke_body(), headers=exporter)
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"format": "HPKE"}, "ValidationFailed"),
        ({"format": "JWE", "public_key": "x"}, "ValidationFailed"),
        (
            {"format": "HPKE", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n"},
            "InvalidPublicKey",
        ),
        ({"format": "ROT13", "public_key": "x"}, "ValidationFailed"),
        ({"format": "HPKE", "public_key": "x", "version": 0}, "ValidationFailed"),
    ],
)
def test_bad_requests_get_a_clear_4xx(server: Server, body: dict, code: str) -> None:
    exporter = _exporter(server)
    _key(server, "k", "AES_256_GCM")
    refused = server.client.post("/v1/keys/k/export", json=body, headers=exporter)
    assert 400 <= refused.status_code < 500
    assert refused.json()["code"] == code


def test_a_small_rsa_recipient_is_refused(server: Server) -> None:
    exporter = _exporter(server)
    _key(server, "k", "AES_256_GCM")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505 - the weak recipient refused
    body = {"format": "RSA_AES_KEY_WRAP_SHA_256", "public_key": _pem(weak)}
    refused = server.client.post("/v1/keys/k/export", json=body, headers=exporter)
    assert (refused.status_code, refused.json()["code"]) == (400, "InvalidPublicKey")


def test_an_older_version_exports_and_a_destroyed_one_does_not(server: Server) -> None:
    exporter = _exporter(server)
    _key(server, "k", "AES_256_GCM")
    server.as_root("POST", "/v1/keys/k/rotate")
    body = {**_hpke_body(), "version": 1}
    assert _export(server, exporter, "k", body)["version"] == 1
    assert _export(server, exporter, "k", _hpke_body())["version"] == 2
    missing = server.client.post(
        "/v1/keys/k/export", json={**_hpke_body(), "version": 9}, headers=exporter
    )
    assert missing.status_code == 404


def test_only_active_and_deactivated_material_exports(server: Server) -> None:
    exporter = _exporter(server)
    _key(server, "k", "AES_256_GCM")
    assert server.as_root("POST", "/v1/keys/k/suspend").status_code == 200
    refused = server.client.post("/v1/keys/k/export", json=_hpke_body(), headers=exporter)
    assert (refused.status_code, refused.json()["code"]) == (409, "KeyStateForbidsOperation")
    assert server.as_root("POST", "/v1/keys/k/resume").status_code == 200
    assert server.as_root("POST", "/v1/keys/k/deactivate").status_code == 200
    # A deactivated key may still be handed on, to decrypt old data elsewhere.
    assert _export(server, exporter, "k", _hpke_body())["version"] == 1
    revoked = server.as_root("POST", "/v1/keys/k/revoke", {"reason": "KEY_COMPROMISE"})
    assert revoked.status_code == 200, revoked.text
    refused = server.client.post("/v1/keys/k/export", json=_hpke_body(), headers=exporter)
    assert (refused.status_code, refused.json()["code"]) == (409, "KeyStateForbidsOperation")


def test_every_export_is_audited_without_the_material(server: Server) -> None:
    exporter = _exporter(server)
    made = _key(server, "k", "AES_256_GCM")
    exported = _export(server, exporter, "k", _hpke_body())
    auditor = server.user_with("ada", ["auditor"])
    records = server.client.get(
        "/v1/audit", params={"action": "keys.export"}, headers=auditor
    ).json()["records"]
    endings = [r["record"] for r in records if r["record"]["outcome"] != "begun"]
    assert [(r["principal"], r["key_id"], r["version"], r["outcome"]) for r in endings] == [
        ("carol", made["id"], 1, "allowed"),
    ]
    assert exported["wrapped_key"] not in json.dumps(records)
