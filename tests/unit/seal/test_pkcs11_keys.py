"""HSMKeyStore against SoftHSM2: the token's specs, refusals, and objects gone or destroyed."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pydantic import SecretStr

from hsm_support import SoftHSM
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import DecryptionFailed, HSMError, UnsupportedAlgorithm, ValidationFailed
from keystead.seal.pkcs11_keys import HSM_SPECS, HSMKeyStore, object_id
from keystead.seal.pkcs11_token import PKCS11Token

pytestmark = pytest.mark.hsm

S = KeySpec


@pytest.fixture
def store(softhsm: SoftHSM):
    token = PKCS11Token(softhsm.module, softhsm.token_label, SecretStr(softhsm.pin))
    yield HSMKeyStore(token)
    token.close()


def test_softhsm_does_every_hsm_spec_and_the_list_is_asked_once(store: HSMKeyStore) -> None:
    assert store.supported_specs() == HSM_SPECS
    assert store.supported_specs() is store.supported_specs()
    assert "HSMKeyStore(token=PKCS11Token(" in repr(store)


def test_the_object_id_names_key_and_version_and_differs_each_time(store: HSMKeyStore) -> None:
    key_id = uuid.uuid4()
    assert object_id(key_id, 7) == key_id.bytes + b"\x00\x00\x00\x07"
    first, _ = store.generate(S.AES_256_GCM, KeyUsage.ENCRYPT_DECRYPT, key_id, 7)
    second, _ = store.generate(S.AES_256_GCM, KeyUsage.ENCRYPT_DECRYPT, key_id, 7)
    assert first[:20] == second[:20] == object_id(key_id, 7)
    assert first != second  # a rotation that loses a race destroys its own object only
    store.destroy(second)
    blob = store.encrypt(S.AES_256_GCM, first, (key_id, 7), b"kept", {})
    assert store.decrypt(S.AES_256_GCM, first, blob, {}) == b"kept"


@pytest.mark.parametrize("spec", [S.HMAC_SHA256, S.ML_DSA_44, S.EC_SECP256K1, S.AES_256_SIV])
def test_other_specs_are_refused_naming_the_tokens(store: HSMKeyStore, spec: KeySpec) -> None:
    with pytest.raises(UnsupportedAlgorithm) as refused:
        store.check_spec(spec, KeyUsage.SIGN_VERIFY)
    assert str(spec) in str(refused.value)
    assert str(refused.value).endswith(
        "can do: AES_128_GCM, AES_256_GCM, EC_P256, EC_P384, ED25519, RSA_2048, RSA_3072, RSA_4096"
    )


def test_ed25519_public_key_is_spki_der(store: HSMKeyStore) -> None:
    _, public = store.generate(S.ED25519, KeyUsage.SIGN_VERIFY, uuid.uuid4(), 1)
    assert public is not None
    assert len(load_der_public_key(public).public_bytes_raw()) == 32  # type: ignore[union-attr]


def test_signing_refuses_bad_requests(store: HSMKeyStore) -> None:
    ident, _ = store.generate(S.EC_P256, KeyUsage.SIGN_VERIFY, uuid.uuid4(), 1)
    with pytest.raises(UnsupportedAlgorithm, match="ECDSA_SHA_256, not ECDSA_SHA_384"):
        store.sign(S.EC_P256, ident, "ECDSA_SHA_384", message=b"m", digest=None)
    with pytest.raises(ValidationFailed, match="exactly one"):
        store.sign(S.EC_P256, ident, "ECDSA_SHA_256", message=None, digest=None)
    with pytest.raises(ValidationFailed, match="exactly one"):
        store.sign(S.EC_P256, ident, "ECDSA_SHA_256", message=b"m", digest=bytes(32))
    with pytest.raises(ValidationFailed, match="32-byte SHA256 digest, got 31"):
        store.sign(S.EC_P256, ident, "ECDSA_SHA_256", message=None, digest=bytes(31))


def test_decrypt_refuses_another_algorithm_and_short_blobs(store: HSMKeyStore) -> None:
    key_id = uuid.uuid4()
    ident, _ = store.generate(S.AES_256_GCM, KeyUsage.ENCRYPT_DECRYPT, key_id, 1)
    blob = store.encrypt(S.AES_256_GCM, ident, (key_id, 1), b"data", {})
    assert store.decrypt(S.AES_256_GCM, ident, blob, {}) == b"data"
    with pytest.raises(DecryptionFailed):
        store.decrypt(S.AES_128_GCM, ident, blob, {})  # header says AES-256
    with pytest.raises(DecryptionFailed):
        store.decrypt(S.AES_256_GCM, ident, blob[:40], {})
    with pytest.raises(DecryptionFailed):
        store.decrypt(S.AES_256_GCM, ident, blob, {"a": "b"})


def test_a_destroyed_object_is_an_hsm_error_never_retried(store: HSMKeyStore) -> None:
    key_id = uuid.uuid4()
    ident, _ = store.generate(S.AES_128_GCM, KeyUsage.ENCRYPT_DECRYPT, key_id, 1)
    store.destroy(ident)
    store.destroy(ident)  # nothing left: no error
    with pytest.raises(HSMError, match="holds no object for this HSM key version") as gone:
        store.encrypt(S.AES_128_GCM, ident, (key_id, 1), b"data", {})
    assert gone.value.retry is False
    with pytest.raises(HSMError, match="holds no object"):
        store.sign(S.EC_P256, ident, "ECDSA_SHA_256", message=b"m", digest=None)


def test_an_object_of_another_key_type_is_never_used(store: HSMKeyStore) -> None:
    # A spec altered in the database must not reach the token with another type's mechanism.
    ident, _ = store.generate(S.EC_P256, KeyUsage.SIGN_VERIFY, uuid.uuid4(), 1)
    with pytest.raises(HSMError, match="holds no object"):
        store.sign(S.RSA_2048, ident, "RSASSA_PSS_SHA_256", message=b"m", digest=None)
    with pytest.raises(HSMError, match="holds no object"):
        store.sign(S.ED25519, ident, "ED25519", message=b"m", digest=None)
