"""BYOK import from the client side, for the API tests: parameters, wrapping, importing.

Material is wrapped with nothing but the ``cryptography`` package (RSA_AES_KEY_WRAP_SHA_256:
RSA-OAEP-SHA-256 of a fresh AES-256 key, then AES-KWP of the material).
"""

from __future__ import annotations

import os

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from conftest import b64
from identity_support import Server


def params(server: Server, who: dict[str, str], spec: str) -> dict:
    answer = server.client.post("/v1/keys/import-params", json={"spec": spec}, headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wrap(public_pem: str, material: bytes) -> bytes:
    public = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    ephemeral = os.urandom(32)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return public.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, material)


def send(
    server: Server, who: dict[str, str], spec: str, material: bytes, **target: object
) -> httpx.Response:
    """Ask parameters for ``spec``, wrap ``material`` and import it to ``target`` (name or key)."""
    return send_with(server, who, params(server, who, spec), material, **target)


def send_with(
    server: Server, who: dict[str, str], given: dict, material: bytes, **target: object
) -> httpx.Response:
    """Import ``material`` with parameters ``given`` before, to ``target`` (and options)."""
    body = {"import_token": given["import_token"],
            "wrapped_material": b64(wrap(given["public_key"], material)), **target}  # fmt: skip
    return server.client.post("/v1/keys/import", json=body, headers=who)


def imported(
    server: Server, who: dict[str, str], spec: str, material: bytes, **target: object
) -> dict:
    answer = send(server, who, spec, material, **target)
    assert answer.status_code == 201, answer.text
    return answer.json()
