"""``key_import.material_to_import``: a material file's bytes as the import endpoint takes them."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from keystead.crypto.key_import import import_material, material_to_import

_DER, _PEM = serialization.Encoding.DER, serialization.Encoding.PEM
_PKCS8 = serialization.PrivateFormat.PKCS8
_TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL
_NONE = serialization.NoEncryption()


def test_symmetric_material_is_taken_as_it_is() -> None:
    raw = os.urandom(32)
    assert material_to_import("AES_256_GCM", raw) == raw
    assert material_to_import("HMAC_SHA256", raw) == raw


def test_symmetric_material_of_the_wrong_length_is_refused_without_showing_it() -> None:
    raw = b"S" * 31
    with pytest.raises(ValueError, match="takes 32 bytes of material, not 31") as caught:
        material_to_import("AES_256_GCM", raw)
    assert "SSSS" not in str(caught.value)


@pytest.mark.parametrize("form", [_PKCS8, _TRADITIONAL], ids=["pkcs8", "pkcs1"])
def test_an_rsa_pem_becomes_pkcs8_der(form: serialization.PrivateFormat) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(_PEM, form, _NONE)
    der = material_to_import("RSA_2048", b"\n" + pem)
    loaded = serialization.load_der_private_key(der, None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == private.private_numbers()
    assert der == private.private_bytes(_DER, _PKCS8, _NONE)


def test_a_der_key_is_kept_and_checked_against_the_spec() -> None:
    pkcs8 = ed25519.Ed25519PrivateKey.generate().private_bytes(_DER, _PKCS8, _NONE)
    assert material_to_import("ED25519", pkcs8) == pkcs8
    with pytest.raises(ValueError, match="spec EC_P256 takes an unencrypted PKCS#8"):
        material_to_import("EC_P256", pkcs8)


def test_an_encrypted_or_unreadable_pem_is_refused() -> None:
    locked = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        _PEM, _PKCS8, serialization.BestAvailableEncryption(b"pass phrase")
    )
    with pytest.raises(ValueError, match="is encrypted"):
        material_to_import("EC_P256", locked)
    with pytest.raises(ValueError, match="no private key that can be read"):
        material_to_import(
            "EC_P256", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )


def test_the_result_passes_the_servers_own_check() -> None:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(_PEM, _PKCS8, _NONE)
    checked = import_material("ED25519", material_to_import("ED25519", pem))
    assert checked.public_key is not None
    checked.material.wipe()
