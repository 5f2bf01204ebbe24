"""Asymmetric keys, JWK, RSA-OAEP, ML-KEM, key agreement, HMAC, AES-SIV and data keys.

Interop checks use code that is not ours: ``cryptography`` driven from the exported public
key, and joserfc for JWKs.
"""

from __future__ import annotations

import base64
import functools
import pickle
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    ec,
    ed25519,
    mldsa,
    mlkem,
    padding,
    rsa,
    x25519,
)
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OKPKey, RSAKey

from keystead.crypto import agreement, asymmetric, jwk, kem, mac, rsa_oaep, symmetric
from keystead.crypto.asymmetric import AsymmetricAlgorithm as A
from keystead.crypto.mac import MacAlgorithm as M
from keystead.crypto.secret import KeyMaterial
from keystead.crypto.symmetric import AeadAlgorithm, DeterministicAlgorithm
from keystead.errors import (
    DecryptionFailed,
    InvalidPublicKey,
    SignatureInvalid,
    UnsupportedAlgorithm,
)

SIV = DeterministicAlgorithm.AES_256_SIV
KEY_ID = UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
CONTEXT = {"tenant": "acme", "column": "email"}


@functools.cache
def key_pair(algorithm: A) -> tuple[KeyMaterial, bytes]:
    material = asymmetric.generate(algorithm)
    return material, asymmetric.public_key_der(algorithm, material)


def raw(material: KeyMaterial) -> bytes:
    with material.expose() as data:
        return data


def assert_opaque(excinfo: pytest.ExceptionInfo[DecryptionFailed]) -> None:
    assert excinfo.value.code == "InvalidCiphertext"
    assert excinfo.value.__cause__ is None


# --- generation and the stored form -----------------------------------------------------------

EXPECTED_PRIVATE_TYPES: dict[A, type[object]] = {
    A.RSA_2048: rsa.RSAPrivateKey,
    A.RSA_3072: rsa.RSAPrivateKey,
    A.RSA_4096: rsa.RSAPrivateKey,
    A.EC_P256: ec.EllipticCurvePrivateKey,
    A.EC_P384: ec.EllipticCurvePrivateKey,
    A.EC_P521: ec.EllipticCurvePrivateKey,
    A.EC_SECP256K1: ec.EllipticCurvePrivateKey,
    A.ED25519: ed25519.Ed25519PrivateKey,
    A.X25519: x25519.X25519PrivateKey,
    A.ML_DSA_44: mldsa.MLDSA44PrivateKey,
    A.ML_DSA_65: mldsa.MLDSA65PrivateKey,
    A.ML_DSA_87: mldsa.MLDSA87PrivateKey,
    A.ML_KEM_768: mlkem.MLKEM768PrivateKey,
    A.ML_KEM_1024: mlkem.MLKEM1024PrivateKey,
}
PARAMETERS: dict[A, int | str] = {
    A.RSA_2048: 2048,
    A.RSA_3072: 3072,
    A.RSA_4096: 4096,
    A.EC_P256: "secp256r1",
    A.EC_P384: "secp384r1",
    A.EC_P521: "secp521r1",
    A.EC_SECP256K1: "secp256k1",
}


def test_every_spec_is_covered_and_values_are_names() -> None:
    assert set(EXPECTED_PRIVATE_TYPES) == set(A)
    assert all(member.value == member.name for member in A)


@pytest.mark.parametrize("alg", list(A))
def test_generated_material_is_pkcs8_of_the_spec(alg: A) -> None:
    material, public = key_pair(alg)
    private = serialization.load_der_private_key(raw(material), password=None)
    assert isinstance(private, EXPECTED_PRIVATE_TYPES[alg])
    if isinstance(private, rsa.RSAPrivateKey):
        assert private.key_size == PARAMETERS[alg]
        assert private.private_numbers().public_numbers.e == 65537
    if isinstance(private, ec.EllipticCurvePrivateKey):
        assert private.curve.name == PARAMETERS[alg]
    expected_public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public == expected_public
    pem = asymmetric.public_key_pem(alg, material)
    assert (
        serialization.load_pem_public_key(pem.encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    )
    assert serialization.load_der_public_key(public) is not None


@pytest.mark.parametrize(
    ("alg", "seed_bytes", "cls"),
    [
        (A.ML_DSA_44, 32, mldsa.MLDSA44PrivateKey),
        (A.ML_DSA_65, 32, mldsa.MLDSA65PrivateKey),
        (A.ML_DSA_87, 32, mldsa.MLDSA87PrivateKey),
        (A.ML_KEM_768, 64, mlkem.MLKEM768PrivateKey),
        (A.ML_KEM_1024, 64, mlkem.MLKEM1024PrivateKey),
    ],
)
def test_post_quantum_keys_are_stored_in_seed_form(
    alg: A, seed_bytes: int, cls: type[mldsa.MLDSA44PrivateKey]
) -> None:
    material, public = key_pair(alg)
    private = asymmetric.load_private(alg, material)
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert len(seed) == seed_bytes
    # Seed-only PKCS#8: a 22-byte header, then the seed as the last bytes.
    assert len(material) == 22 + seed_bytes
    assert raw(material).endswith(seed)
    rebuilt = cls.from_seed_bytes(seed)
    assert (
        rebuilt.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    )


def test_generation_is_fresh_each_time() -> None:
    assert asymmetric.generate(A.ED25519) != asymmetric.generate(A.ED25519)


def test_import_private_normalises_and_checks_the_spec() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    material = asymmetric.import_private(A.EC_P256, pkcs8)
    assert raw(material) == pkcs8
    with pytest.raises(ValueError, match="EC_P384"):
        asymmetric.import_private(A.EC_P384, pkcs8)
    with pytest.raises(ValueError, match="EC_P256"):
        asymmetric.import_private(A.EC_P256, b"not a key")


def test_import_private_runs_the_rsa_consistency_check() -> None:
    material, public = key_pair(A.RSA_2048)
    imported = asymmetric.import_private(A.RSA_2048, raw(material))
    assert asymmetric.public_key_der(A.RSA_2048, imported) == public
    with pytest.raises(ValueError, match="RSA_3072"):
        asymmetric.import_private(A.RSA_3072, raw(material))
    private = serialization.load_der_private_key(raw(material), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    numbers = private.private_numbers()
    # A wrong CRT exponent: the key a fault attack would exploit (Boneh, DeMillo, Lipton).
    faulty = rsa.RSAPrivateNumbers(
        numbers.p,
        numbers.q,
        numbers.d,
        numbers.dmp1 ^ 2,
        numbers.dmq1,
        numbers.iqmp,
        numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    faulty_der = faulty.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="RSA_2048"):
        asymmetric.import_private(A.RSA_2048, faulty_der)


def test_load_private_refuses_material_of_another_spec() -> None:
    material, _ = key_pair(A.EC_P256)
    with pytest.raises(ValueError, match="EC_P384"):
        asymmetric.load_private(A.EC_P384, material)
    with pytest.raises(ValueError, match="ED25519"):
        asymmetric.load_private(A.ED25519, material)


@pytest.mark.parametrize("public", [b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nxx\n"])
def test_load_public_refuses_garbage(public: bytes) -> None:
    with pytest.raises(InvalidPublicKey):
        asymmetric.load_public(A.EC_P256, public)
    with pytest.raises(InvalidPublicKey):
        asymmetric.der_to_pem(public)


def test_load_public_refuses_another_spec() -> None:
    _, public = key_pair(A.EC_P384)
    with pytest.raises(InvalidPublicKey, match="EC_P256"):
        asymmetric.load_public(A.EC_P256, public)
    _, rsa_public = key_pair(A.RSA_2048)
    with pytest.raises(InvalidPublicKey):
        asymmetric.load_public(A.RSA_4096, rsa_public)


# --- JWK ---------------------------------------------------------------------------------------

JWK_SPECS = [A.RSA_2048, A.EC_P256, A.EC_P384, A.EC_P521, A.EC_SECP256K1, A.ED25519, A.X25519]


def b64url_decode(text: str) -> bytes:
    assert "=" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("alg", JWK_SPECS)
def test_jwk_imports_in_joserfc_with_the_same_public_key(alg: A) -> None:
    _, public = key_pair(alg)
    ours = serialization.load_der_public_key(public)
    members = jwk.public_jwk(alg, public)
    assert "d" not in members
    assert "kid" not in members
    as_json: dict[str, str | list[str]] = dict(members)
    imported: RSAKey | ECKey | OKPKey
    if isinstance(ours, rsa.RSAPublicKey):
        assert members["kty"] == "RSA"
        imported = RSAKey.import_key(as_json)
        assert isinstance(imported.raw_value, rsa.RSAPublicKey)
        assert imported.raw_value.public_numbers() == ours.public_numbers()
    elif isinstance(ours, ec.EllipticCurvePublicKey):
        assert members["kty"] == "EC"
        imported = ECKey.import_key(as_json)
        assert isinstance(imported.raw_value, ec.EllipticCurvePublicKey)
        assert imported.raw_value.public_numbers() == ours.public_numbers()
        size = (ours.curve.key_size + 7) // 8
        assert len(b64url_decode(members["x"])) == size
        assert len(b64url_decode(members["y"])) == size
    else:
        assert members["kty"] == "OKP"
        imported = OKPKey.import_key(as_json)
        assert imported.as_der(private=False) == public
    assert not imported.is_private


def test_jwk_curve_names_and_kid() -> None:
    crv = {alg: jwk.public_jwk(alg, key_pair(alg)[1]).get("crv") for alg in JWK_SPECS}
    assert crv == {
        A.RSA_2048: None,
        A.EC_P256: "P-256",
        A.EC_P384: "P-384",
        A.EC_P521: "P-521",
        A.EC_SECP256K1: "secp256k1",
        A.ED25519: "Ed25519",
        A.X25519: "X25519",
    }
    with_kid = jwk.public_jwk(A.ED25519, key_pair(A.ED25519)[1], kid="orders/3")
    assert with_kid["kid"] == "orders/3"


def test_jwk_rsa_exponent_is_minimal() -> None:
    assert jwk.public_jwk(A.RSA_2048, key_pair(A.RSA_2048)[1])["e"] == "AQAB"


@pytest.mark.parametrize(
    "alg", [A.ML_DSA_44, A.ML_DSA_65, A.ML_DSA_87, A.ML_KEM_768, A.ML_KEM_1024]
)
def test_post_quantum_keys_have_no_jwk(alg: A) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="no registered JWK form"):
        jwk.public_jwk(alg, key_pair(alg)[1])


def test_jwk_of_a_key_of_another_spec_is_refused() -> None:
    with pytest.raises(InvalidPublicKey):
        jwk.public_jwk(A.EC_P256, key_pair(A.ED25519)[1])


# --- RSA-OAEP ----------------------------------------------------------------------------------

RSA_SPECS = [A.RSA_2048, A.RSA_3072, A.RSA_4096]
LIMITS = {A.RSA_2048: 190, A.RSA_3072: 318, A.RSA_4096: 446}


def local_oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@pytest.mark.parametrize("alg", RSA_SPECS)
def test_oaep_made_locally_from_the_pem_decrypts(alg: A) -> None:
    material, _ = key_pair(alg)
    local = serialization.load_pem_public_key(asymmetric.public_key_pem(alg, material).encode())
    assert isinstance(local, rsa.RSAPublicKey)
    for plaintext in (b"", b"a data key of 32 bytes, say.....", bytes(LIMITS[alg])):
        ciphertext = local.encrypt(plaintext, local_oaep())
        assert rsa_oaep.decrypt(alg, material, ciphertext) == plaintext


@pytest.mark.parametrize("alg", RSA_SPECS)
def test_oaep_made_by_us_decrypts_locally_and_limits_are_enforced(alg: A) -> None:
    material, public = key_pair(alg)
    assert rsa_oaep.max_plaintext_bytes(alg) == LIMITS[alg]
    ciphertext = rsa_oaep.encrypt(public, bytes(LIMITS[alg]))
    assert len(ciphertext) == int(alg.value.split("_")[1]) // 8
    private = serialization.load_der_private_key(raw(material), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.decrypt(ciphertext, local_oaep()) == bytes(LIMITS[alg])
    with pytest.raises(ValueError, match=f"at most {LIMITS[alg]} bytes"):
        rsa_oaep.encrypt(public, bytes(LIMITS[alg] + 1))


def test_oaep_tampered_or_malformed_fails_opaquely() -> None:
    material, public = key_pair(A.RSA_2048)
    ciphertext = rsa_oaep.encrypt(public, b"secret")
    for position in (0, 100, 255):
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x04
        with pytest.raises(DecryptionFailed) as excinfo:
            rsa_oaep.decrypt(A.RSA_2048, material, bytes(tampered))
        assert_opaque(excinfo)
    for malformed in (b"", ciphertext[:-1], ciphertext + b"\x00", b"\xff" * 256):
        with pytest.raises(DecryptionFailed) as excinfo:
            rsa_oaep.decrypt(A.RSA_2048, material, malformed)
        assert_opaque(excinfo)


def test_oaep_refuses_other_keys() -> None:
    with pytest.raises(UnsupportedAlgorithm, match="RSA"):
        rsa_oaep.decrypt(A.EC_P256, key_pair(A.EC_P256)[0], bytes(256))
    with pytest.raises(UnsupportedAlgorithm):
        rsa_oaep.max_plaintext_bytes(A.ED25519)
    with pytest.raises(InvalidPublicKey):
        rsa_oaep.encrypt(key_pair(A.EC_P256)[1], b"x")
    with pytest.raises(InvalidPublicKey):
        rsa_oaep.encrypt(b"garbage", b"x")
    small = rsa.generate_private_key(65537, 1024).public_key()  # noqa: S505 - refused below
    small_der = small.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidPublicKey, match="2048"):
        rsa_oaep.encrypt(small_der, b"x")


# --- ML-KEM ------------------------------------------------------------------------------------

KEM_SPECS = [A.ML_KEM_768, A.ML_KEM_1024]
ENCAPSULATION_BYTES = {A.ML_KEM_768: 1088, A.ML_KEM_1024: 1568}


@pytest.mark.parametrize("alg", KEM_SPECS)
def test_local_encapsulation_decapsulates_to_the_same_secret(alg: A) -> None:
    material, _ = key_pair(alg)
    local = serialization.load_pem_public_key(asymmetric.public_key_pem(alg, material).encode())
    assert isinstance(local, mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey)
    shared, encapsulation = local.encapsulate()
    assert kem.decapsulate(alg, material, encapsulation) == KeyMaterial(shared)


@pytest.mark.parametrize("alg", KEM_SPECS)
def test_our_encapsulation_decapsulates_locally(alg: A) -> None:
    material, public = key_pair(alg)
    shared, encapsulation = kem.encapsulate(alg, public)
    assert len(shared) == 32
    assert len(encapsulation) == ENCAPSULATION_BYTES[alg]
    private = serialization.load_der_private_key(raw(material), password=None)
    assert isinstance(private, mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey)
    assert KeyMaterial(private.decapsulate(encapsulation)) == shared
    assert kem.decapsulate(alg, material, encapsulation) == shared


@pytest.mark.parametrize("alg", KEM_SPECS)
def test_malformed_encapsulation_fails_opaquely(alg: A) -> None:
    material, public = key_pair(alg)
    _, encapsulation = kem.encapsulate(alg, public)
    for malformed in (b"", encapsulation[:-1], encapsulation + b"\x00"):
        with pytest.raises(DecryptionFailed) as excinfo:
            kem.decapsulate(alg, material, malformed)
        assert_opaque(excinfo)


def test_encapsulation_for_another_key_gives_another_secret() -> None:
    # FIPS 203 implicit rejection: no error, an unrelated secret.
    material, public = key_pair(A.ML_KEM_768)
    other_public = asymmetric.public_key_der(A.ML_KEM_768, asymmetric.generate(A.ML_KEM_768))
    shared, encapsulation = kem.encapsulate(A.ML_KEM_768, other_public)
    assert kem.decapsulate(A.ML_KEM_768, material, encapsulation) != shared
    assert public != other_public


def test_kem_refuses_other_specs_and_keys() -> None:
    with pytest.raises(UnsupportedAlgorithm, match="ML_KEM_768"):
        kem.encapsulate(A.X25519, key_pair(A.X25519)[1])
    with pytest.raises(UnsupportedAlgorithm):
        kem.decapsulate(A.RSA_2048, key_pair(A.RSA_2048)[0], bytes(1088))
    with pytest.raises(InvalidPublicKey):
        kem.encapsulate(A.ML_KEM_768, key_pair(A.ML_KEM_1024)[1])


# --- key agreement -----------------------------------------------------------------------------

AGREEMENT_SPECS = [A.X25519, A.EC_P256, A.EC_P384, A.EC_P521]


def peer_forms(
    alg: A, peer_public: ec.EllipticCurvePublicKey | x25519.X25519PublicKey
) -> list[bytes]:
    forms = [
        peer_public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        peer_public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ]
    if isinstance(peer_public, x25519.X25519PublicKey):
        forms.append(
            peer_public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    else:
        forms.extend(
            peer_public.public_bytes(serialization.Encoding.X962, point_format)
            for point_format in (
                serialization.PublicFormat.UncompressedPoint,
                serialization.PublicFormat.CompressedPoint,
            )
        )
    assert alg in AGREEMENT_SPECS
    return forms


@pytest.mark.parametrize("alg", AGREEMENT_SPECS)
def test_agreement_matches_both_ways(alg: A) -> None:
    material, public = key_pair(alg)
    peer: ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey
    ours = serialization.load_der_public_key(public)
    if alg is A.X25519:
        peer = x25519.X25519PrivateKey.generate()
        assert isinstance(ours, x25519.X25519PublicKey)
        expected = peer.exchange(ours)
    else:
        assert isinstance(ours, ec.EllipticCurvePublicKey)
        peer = ec.generate_private_key(ours.curve)
        expected = peer.exchange(ec.ECDH(), ours)
    for form in peer_forms(alg, peer.public_key()):
        assert agreement.derive_shared_secret(alg, material, form) == KeyMaterial(expected)


@pytest.mark.parametrize("alg", AGREEMENT_SPECS)
def test_agreement_between_two_keystead_keys(alg: A) -> None:
    first, first_public = key_pair(alg)
    second = asymmetric.generate(alg)
    second_public = asymmetric.public_key_der(alg, second)
    assert agreement.derive_shared_secret(
        alg, first, second_public
    ) == agreement.derive_shared_secret(alg, second, first_public)


def bad_peers(alg: A) -> list[bytes]:
    other_curve = A.EC_P384 if alg is not A.EC_P384 else A.EC_P256
    bad = [
        b"",
        b"garbage",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        key_pair(A.ED25519)[1],
        key_pair(other_curve)[1],
        key_pair(A.RSA_2048)[1],
    ]
    if alg is A.X25519:
        # The all-zero point has small order: the output would be all zeros (RFC 7748 6.1).
        bad += [bytes(32), bytes(31), bytes(33)]
    else:
        _, public = key_pair(alg)
        point = serialization.load_der_public_key(public).public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        bad += [point[:-1] + bytes([point[-1] ^ 1]), point[:-1], b"\x04", b"\x02" + b"\xff" * 32]
    return bad


@pytest.mark.parametrize("alg", AGREEMENT_SPECS)
def test_bad_peer_keys_are_refused(alg: A) -> None:
    material, _ = key_pair(alg)
    for peer in bad_peers(alg):
        with pytest.raises(InvalidPublicKey):
            agreement.derive_shared_secret(alg, material, peer)


@pytest.mark.parametrize("alg", [A.ED25519, A.EC_SECP256K1, A.RSA_2048, A.ML_KEM_768])
def test_agreement_refuses_other_specs(alg: A) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="X25519"):
        agreement.derive_shared_secret(alg, key_pair(alg)[0], key_pair(alg)[1])


# --- HMAC --------------------------------------------------------------------------------------

# RFC 4231 section 4.3, "Test Case 2": key "Jefe", data "what do ya want for nothing?".
RFC4231_CASE_2 = {
    M.HMAC_SHA256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    M.HMAC_SHA384: "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
    "8e2240ca5e69e2c78b3239ecfab21649",
    M.HMAC_SHA512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
    "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
}


@pytest.mark.parametrize("alg", list(M))
def test_hmac_rfc4231_test_case_2(alg: M) -> None:
    key = KeyMaterial(b"Jefe")
    message = b"what do ya want for nothing?"
    tag = mac.compute(alg, key, message)
    assert tag.hex() == RFC4231_CASE_2[alg]
    assert len(tag) == mac.tag_bytes(alg)
    mac.verify(alg, key, message, tag)


@pytest.mark.parametrize("alg", list(M))
def test_hmac_verify_refuses_anything_else(alg: M) -> None:
    key = mac.generate(alg)
    assert len(key) == {M.HMAC_SHA256: 32, M.HMAC_SHA384: 48, M.HMAC_SHA512: 64}[alg]
    tag = mac.compute(alg, key, b"message")
    wrong = [
        (key, b"message!", tag),
        (key, b"message", tag[:-1]),
        (key, b"message", tag[:16]),
        (key, b"message", b""),
        (key, b"message", tag + b"\x00"),
        (key, b"message", bytes([tag[0] ^ 1]) + tag[1:]),
        (mac.generate(alg), b"message", tag),
    ]
    for material, message, candidate in wrong:
        with pytest.raises(SignatureInvalid):
            mac.verify(alg, material, message, candidate)


def test_hmac_algorithms_differ() -> None:
    key = mac.generate(M.HMAC_SHA512)
    tags = {mac.compute(alg, key, b"m") for alg in M}
    assert len(tags) == 3


# --- AES-256-SIV -------------------------------------------------------------------------------

SIV_KEY = bytes(range(64))


def siv_encrypt(plaintext: bytes, context: dict[str, str], version: int = 1) -> bytes:
    return symmetric.encrypt(SIV, KeyMaterial(SIV_KEY), (KEY_ID, version), plaintext, context)


def test_siv_is_deterministic_per_plaintext_context_and_version() -> None:
    first = siv_encrypt(b"alice@example.com", CONTEXT)
    assert siv_encrypt(b"alice@example.com", dict(reversed(CONTEXT.items()))) == first
    assert siv_encrypt(b"bob@example.com", CONTEXT) != first
    assert siv_encrypt(b"alice@example.com", {**CONTEXT, "column": "name"}) != first
    assert siv_encrypt(b"alice@example.com", CONTEXT, version=2) != first


def test_siv_layout_and_recomputation_with_cryptography() -> None:
    plaintext = b"alice@example.com"
    blob = siv_encrypt(plaintext, CONTEXT)
    header = b"KS\x01" + KEY_ID.bytes + (1).to_bytes(4, "big") + bytes([symmetric.AES_256_SIV_ID])
    assert blob[:24] == header
    assert len(blob) == 24 + 16 + len(plaintext)
    associated_data = header + b'{"column":"email","tenant":"acme"}'
    assert blob[24:] == AESSIV(SIV_KEY).encrypt(plaintext, [associated_data])
    assert symmetric.read_header(blob) == (KEY_ID, 1)
    assert symmetric.decrypt(SIV, KeyMaterial(SIV_KEY), blob, CONTEXT) == plaintext


def test_siv_empty_plaintext_round_trips() -> None:
    blob = siv_encrypt(b"", {})
    assert len(blob) == 40
    assert symmetric.decrypt(SIV, KeyMaterial(SIV_KEY), blob, {}) == b""


def test_siv_every_flipped_byte_fails() -> None:
    blob = siv_encrypt(b"alice@example.com", CONTEXT)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x80
        with pytest.raises(DecryptionFailed) as excinfo:
            symmetric.decrypt(SIV, KeyMaterial(SIV_KEY), bytes(tampered), CONTEXT)
        assert_opaque(excinfo)


def test_siv_other_context_key_or_algorithm_fails() -> None:
    blob = siv_encrypt(b"alice@example.com", CONTEXT)
    failures: list[tuple[symmetric.SymmetricAlgorithm, KeyMaterial, bytes, dict[str, str]]] = [
        (SIV, KeyMaterial(SIV_KEY), blob, {**CONTEXT, "tenant": "other"}),
        (SIV, KeyMaterial(SIV_KEY), blob, {}),
        (SIV, KeyMaterial(bytes(64)), blob, CONTEXT),
        (SIV, KeyMaterial(SIV_KEY), blob[:39], CONTEXT),
        (AeadAlgorithm.AES_256_GCM, KeyMaterial(bytes(32)), blob, CONTEXT),
    ]
    for algorithm, key, candidate, context in failures:
        with pytest.raises(DecryptionFailed):
            symmetric.decrypt(algorithm, key, candidate, context)
    gcm = symmetric.encrypt(
        AeadAlgorithm.AES_256_GCM, KeyMaterial(bytes(32)), (KEY_ID, 1), b"x", {}
    )
    with pytest.raises(DecryptionFailed):
        symmetric.decrypt(SIV, KeyMaterial(SIV_KEY), gcm, {})


def test_siv_key_generation_and_length_check() -> None:
    key = symmetric.generate(SIV)
    assert len(key) == 64
    blob = symmetric.encrypt(SIV, key, (KEY_ID, 7), b"x", CONTEXT)
    assert symmetric.decrypt(SIV, key, blob, CONTEXT) == b"x"
    with pytest.raises(ValueError, match="64-byte"):
        symmetric.encrypt(SIV, KeyMaterial(bytes(32)), (KEY_ID, 1), b"x", {})


@settings(deadline=None, max_examples=60)
@given(
    plaintext=st.binary(max_size=128),
    context=st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4),
)
def test_siv_round_trip_property(plaintext: bytes, context: dict[str, str]) -> None:
    blob = siv_encrypt(plaintext, context)
    assert blob == siv_encrypt(plaintext, context)
    assert symmetric.decrypt(SIV, KeyMaterial(SIV_KEY), blob, context) == plaintext


def test_algorithm_for_spec() -> None:
    assert symmetric.algorithm_for_spec("AES_256_SIV") is SIV
    assert symmetric.algorithm_for_spec("AES_256_GCM") is AeadAlgorithm.AES_256_GCM
    with pytest.raises(ValueError, match="AES_512"):
        symmetric.algorithm_for_spec("AES_512")


# --- data keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 32])
def test_data_keys(size: int) -> None:
    first, second = symmetric.generate_data_key(size), symmetric.generate_data_key(size)
    assert len(first) == size
    assert first != second


@pytest.mark.parametrize("size", [0, 8, 24, 64])
def test_data_key_of_another_size_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="16 or 32"):
        symmetric.generate_data_key(size)


# --- nothing returned leaks its bytes ---------------------------------------------------------


def _secrets_returned() -> list[KeyMaterial]:
    kem_secret, encapsulation = kem.encapsulate(A.ML_KEM_768, key_pair(A.ML_KEM_768)[1])
    return [
        *(key_pair(alg)[0] for alg in A),
        asymmetric.import_private(A.ED25519, raw(key_pair(A.ED25519)[0])),
        *(mac.generate(alg) for alg in M),
        symmetric.generate(SIV),
        symmetric.generate_data_key(32),
        kem_secret,
        kem.decapsulate(A.ML_KEM_768, key_pair(A.ML_KEM_768)[0], encapsulation),
        agreement.derive_shared_secret(A.X25519, key_pair(A.X25519)[0], bytes(range(1, 33))),
    ]


def test_returned_secrets_never_show_their_bytes() -> None:
    for secret in _secrets_returned():
        assert isinstance(secret, KeyMaterial)
        data = raw(secret)
        for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}"):
            assert "redacted" in text
            for encoded in (
                data.hex(),
                data.hex()[:16],
                repr(data),
                base64.b64encode(data).decode(),
                base64.urlsafe_b64encode(data).decode(),
            ):
                assert encoded not in text
        with pytest.raises(TypeError):
            pickle.dumps(secret)
