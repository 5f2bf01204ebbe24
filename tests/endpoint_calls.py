"""A well-formed request for every endpoint of the route table, for tests that call them all."""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from conftest import b64
from identity_support import PASSWORD

_RECIPIENT_PEM = (
    x25519.X25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def request_bodies(fixtures: dict[str, str]) -> dict[str, dict]:
    """A well-formed body per action, so that each request reaches its authorization check."""
    ciphertext, signature = fixtures["ciphertext"], b64(b"\x30" * 70)
    return {
        "keys.encrypt": {"plaintext": b64(b"x")}, "keys.decrypt": {"ciphertext": ciphertext},
        "keys.decrypt_with_key": {"ciphertext": ciphertext},
        "keys.reencrypt": {"ciphertext": ciphertext},
        "keys.data_key": {"spec": "AES_256", "plaintext": True},
        "keys.sign": {"message": b64(b"m")},
        "keys.verify": {"message": b64(b"m"), "signature": signature},
        "keys.mac": {"message": b64(b"m")},
        "keys.mac_verify": {"message": b64(b"m"), "mac": b64(b"\x00" * 32)},
        "keys.decapsulate": {"encapsulation": b64(b"\x00" * 1088)},
        "keys.agree": {"peer_public_key": b64(b"\x00" * 32)},
        "keys.encrypt_batch": {"items": [{"plaintext": b64(b"x")}] * 2},
        "keys.decrypt_batch": {"items": [{"ciphertext": ciphertext}] * 2},
        "keys.sign_batch": {"items": [{"message": b64(b"m")}] * 2},
        "keys.verify_batch": {"items": [{"message": b64(b"m"), "signature": signature}] * 2},
        "sys.random": {"bytes": 16},
        "keys.create": {"name": "made-in-matrix", "spec": "AES_256_GCM"},
        "keys.update": {"description": "changed"},
        "keys.revoke": {"reason": "SUPERSEDED"},
        "keys.schedule_destruction": {"pending_days": 7},
        "keys.version_schedule_destruction": {"pending_days": 7},
        "grants.create": {"principal": "someone", "operations": ["encrypt"]},
        "users.create": {"username": "made-in-matrix", "password": PASSWORD, "roles": []},
        "users.update": {"roles": []},
        "users.set_password": {"password": PASSWORD + " again"},
        "policies.create": {"name": "made", "statements": [{"effect": "allow", "actions": ["*"]}]},
        "policies.update": {"name": "target", "statements": [{"effect": "deny", "actions": ["*"]}]},
        "roles.create": {"name": "made", "policies": ["key-user"]},
        "roles.update": {"name": "target", "policies": ["key-user"]},
        "auth.password": {"current_password": "not the password", "new_password": PASSWORD},
        "auth.totp_enroll": {"password": PASSWORD},
        "auth.totp_confirm": {"code": "000000"}, "auth.totp_disable": {"code": "000000"},
        "tokens.create": {"ttl_seconds": 3600},
        "keys.export": {"format": "HPKE", "public_key": _RECIPIENT_PEM},
        "keys.import_params": {"spec": "AES_256_GCM"},
        "keys.import": {"import_token": "kst_imp_not-a-token", "name": "imported-in-matrix",
                        "wrapped_material": b64(b"\x00" * 424)},
        "backups.create": {"passphrase": PASSWORD}, "keys.backup": {"passphrase": PASSWORD},
    }  # fmt: skip


def endpoint_path(template: str) -> str:
    values = {"key": "matrix", "version": "1", "name": "target", "grant_id": "none",
              "token_id": "none"}  # fmt: skip
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], template)
