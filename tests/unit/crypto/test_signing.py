"""Signing recipes: every spec x allowed algorithm, digests, tampering, and interop.

Interop checks verify with code that is not ours: the ``cryptography`` package driven
directly from the exported PEM public key, and the ``openssl`` command line.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

import coincurve
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.crypto import asymmetric, signing
from keystead.crypto.asymmetric import AsymmetricAlgorithm as A
from keystead.crypto.secret import KeyMaterial
from keystead.crypto.signing import SIGNING_ALGORITHMS
from keystead.crypto.signing import SigningAlgorithm as S
from keystead.errors import InvalidPublicKey, SignatureInvalid, UnsupportedAlgorithm

MESSAGE = b"Keystead signs this message."
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

CASES = [
    pytest.param(alg, sa, id=f"{alg}-{sa}") for alg, sas in SIGNING_ALGORITHMS.items() for sa in sas
]
HASHES: dict[S, hashes.HashAlgorithm] = {
    S.RSASSA_PSS_SHA_256: hashes.SHA256(),
    S.RSASSA_PSS_SHA_384: hashes.SHA384(),
    S.RSASSA_PSS_SHA_512: hashes.SHA512(),
    S.RSASSA_PKCS1_V1_5_SHA_256: hashes.SHA256(),
    S.RSASSA_PKCS1_V1_5_SHA_384: hashes.SHA384(),
    S.RSASSA_PKCS1_V1_5_SHA_512: hashes.SHA512(),
    S.ECDSA_SHA_256: hashes.SHA256(),
    S.ECDSA_SHA_384: hashes.SHA384(),
    S.ECDSA_SHA_512: hashes.SHA512(),
}
DIGEST_CASES = [case for case in CASES if case.values[1] in HASHES]
MESSAGE_ONLY_CASES = [case for case in CASES if case.values[1] not in HASHES]
OPENSSL_CASES = DIGEST_CASES  # every RSA and ECDSA case, secp256k1 included


@functools.cache
def key_pair(algorithm: A) -> tuple[KeyMaterial, bytes]:
    material = asymmetric.generate(algorithm)
    return material, asymmetric.public_key_der(algorithm, material)


def digest_of(signing_algorithm: S, message: bytes) -> bytes:
    hasher = hashes.Hash(HASHES[signing_algorithm])
    hasher.update(message)
    return hasher.finalize()


def flip(data: bytes, position: int) -> bytes:
    tampered = bytearray(data)
    tampered[position] ^= 0x01
    return bytes(tampered)


# --- sign and verify, per spec and algorithm -------------------------------------------


@pytest.mark.parametrize(("alg", "sa"), CASES)
def test_signed_message_verifies(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    signing.verify(alg, public, sa, signature, message=MESSAGE)


@pytest.mark.parametrize(("alg", "sa"), DIGEST_CASES)
def test_signed_digest_verifies_against_the_message_and_the_digest(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    digest = digest_of(sa, MESSAGE)
    signature = signing.sign(alg, material, sa, digest=digest)
    signing.verify(alg, public, sa, signature, message=MESSAGE)
    signing.verify(alg, public, sa, signature, digest=digest)


@pytest.mark.parametrize(("alg", "sa"), DIGEST_CASES)
def test_message_signature_verifies_as_a_digest_signature(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    signing.verify(alg, public, sa, signature, digest=digest_of(sa, MESSAGE))


@pytest.mark.parametrize(("alg", "sa"), CASES)
def test_tampered_message_fails(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    with pytest.raises(SignatureInvalid) as excinfo:
        signing.verify(alg, public, sa, signature, message=flip(MESSAGE, 3))
    assert excinfo.value.code == "SignatureInvalid"
    assert excinfo.value.__cause__ is None


@pytest.mark.parametrize(("alg", "sa"), DIGEST_CASES)
def test_tampered_digest_fails(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    digest = digest_of(sa, MESSAGE)
    signature = signing.sign(alg, material, sa, digest=digest)
    with pytest.raises(SignatureInvalid):
        signing.verify(alg, public, sa, signature, digest=flip(digest, 0))


@pytest.mark.parametrize(("alg", "sa"), CASES)
def test_flipped_or_cut_signature_fails(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    broken = [
        flip(signature, 0),
        flip(signature, len(signature) // 2),
        flip(signature, len(signature) - 1),
        signature[:-1],
        signature + b"\x00",
        b"",
        bytes(len(signature)),
    ]
    for candidate in broken:
        with pytest.raises(SignatureInvalid):
            signing.verify(alg, public, sa, candidate, message=MESSAGE)


# Larger RSA keys are slow to make; one RSA size is enough to show the key matters.
OTHER_KEY_CASES = [case for case in CASES if case.values[0] not in {A.RSA_3072, A.RSA_4096}]


@pytest.mark.parametrize(("alg", "sa"), OTHER_KEY_CASES)
def test_signature_of_another_key_of_the_same_spec_fails(alg: A, sa: S) -> None:
    material, _ = key_pair(alg)
    other = asymmetric.public_key_der(alg, asymmetric.generate(alg))
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    with pytest.raises(SignatureInvalid):
        signing.verify(alg, other, sa, signature, message=MESSAGE)


# --- the algorithm table ------------------------------------------------------------------


def test_table_defaults() -> None:
    expected = {
        A.RSA_2048: S.RSASSA_PSS_SHA_256,
        A.RSA_3072: S.RSASSA_PSS_SHA_256,
        A.RSA_4096: S.RSASSA_PSS_SHA_256,
        A.EC_P256: S.ECDSA_SHA_256,
        A.EC_SECP256K1: S.ECDSA_SHA_256,
        A.EC_P384: S.ECDSA_SHA_384,
        A.EC_P521: S.ECDSA_SHA_512,
        A.ED25519: S.ED25519,
        A.ML_DSA_44: S.ML_DSA,
        A.ML_DSA_65: S.ML_DSA,
        A.ML_DSA_87: S.ML_DSA,
    }
    assert {alg: signing.default_signing_algorithm(alg) for alg in expected} == expected
    assert set(SIGNING_ALGORITHMS) == set(expected)
    assert len(signing.allowed_signing_algorithms(A.RSA_2048)) == 6


def test_enum_values_are_their_names() -> None:
    assert all(member.value == member.name for member in S)


@pytest.mark.parametrize(
    ("alg", "sa"),
    [
        pytest.param(alg, sa, id=f"{alg}-{sa}")
        for alg, sas in SIGNING_ALGORITHMS.items()
        for sa in S
        if sa not in sas
    ],
)
def test_disallowed_signing_algorithm_lists_the_allowed_ones(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    with pytest.raises(UnsupportedAlgorithm) as excinfo:
        signing.sign(alg, material, sa, message=MESSAGE)
    for allowed in SIGNING_ALGORITHMS[alg]:
        assert allowed in excinfo.value.public_detail
    with pytest.raises(UnsupportedAlgorithm):
        signing.verify(alg, public, sa, b"sig", message=MESSAGE)


@pytest.mark.parametrize("alg", [A.X25519, A.ML_KEM_768, A.ML_KEM_1024])
def test_specs_that_cannot_sign(alg: A) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="cannot sign"):
        signing.default_signing_algorithm(alg)
    with pytest.raises(UnsupportedAlgorithm, match="cannot sign"):
        signing.sign(alg, key_pair(alg)[0], S.ED25519, message=MESSAGE)


# --- request validation --------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "sa"), DIGEST_CASES)
def test_digest_of_the_wrong_length_names_the_expected_length(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    size = HASHES[sa].digest_size
    for wrong in (b"", bytes(size - 1), bytes(size + 1)):
        with pytest.raises(ValueError, match=f"{size}-byte"):
            signing.sign(alg, material, sa, digest=wrong)
        with pytest.raises(ValueError, match=f"{size}-byte"):
            signing.verify(alg, public, sa, b"sig", digest=wrong)


@pytest.mark.parametrize(("alg", "sa"), MESSAGE_ONLY_CASES)
def test_message_only_specs_refuse_digests(alg: A, sa: S) -> None:
    material, public = key_pair(alg)
    with pytest.raises(UnsupportedAlgorithm, match="messages only"):
        signing.sign(alg, material, sa, digest=bytes(32))
    with pytest.raises(UnsupportedAlgorithm, match="messages only"):
        signing.verify(alg, public, sa, b"sig", digest=bytes(64))


def test_exactly_one_of_message_and_digest() -> None:
    material, public = key_pair(A.EC_P256)
    with pytest.raises(ValueError, match="exactly one"):
        signing.sign(A.EC_P256, material, S.ECDSA_SHA_256)
    with pytest.raises(ValueError, match="exactly one"):
        signing.sign(A.EC_P256, material, S.ECDSA_SHA_256, message=b"m", digest=bytes(32))
    with pytest.raises(ValueError, match="exactly one"):
        signing.verify(A.EC_P256, public, S.ECDSA_SHA_256, b"s")


def test_empty_message_signs() -> None:
    material, public = key_pair(A.ED25519)
    signature = signing.sign(A.ED25519, material, S.ED25519, message=b"")
    signing.verify(A.ED25519, public, S.ED25519, signature, message=b"")


@pytest.mark.parametrize(("alg", "sa"), CASES)
def test_public_key_of_another_spec_or_garbage_is_refused(alg: A, sa: S) -> None:
    material, _ = key_pair(alg)
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    other_spec = A.ED25519 if alg is not A.ED25519 else A.EC_P256
    for public in (key_pair(other_spec)[1], b"", b"garbage", bytes(88)):
        with pytest.raises(InvalidPublicKey):
            signing.verify(alg, public, sa, signature, message=MESSAGE)


def test_verify_accepts_a_pem_public_key() -> None:
    material, public = key_pair(A.EC_P384)
    pem = asymmetric.der_to_pem(public).encode()
    signature = signing.sign(A.EC_P384, material, S.ECDSA_SHA_384, message=MESSAGE)
    signing.verify(A.EC_P384, pem, S.ECDSA_SHA_384, signature, message=MESSAGE)


# --- interop: cryptography from the PEM, and the openssl command line ----------------------


def _independent_verify(key: PublicKeyTypes, sa: S, signature: bytes, message: bytes) -> None:
    """Verify with cryptography, built here from the wire names alone."""
    if isinstance(key, rsa.RSAPublicKey):
        hash_algorithm = HASHES[sa]
        if sa.startswith("RSASSA_PSS"):
            pad: padding.AsymmetricPadding = padding.PSS(
                mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size
            )
        else:
            pad = padding.PKCS1v15()
        key.verify(signature, message, pad, hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, message, ec.ECDSA(HASHES[sa]))
    elif isinstance(
        key,
        ed25519.Ed25519PublicKey
        | mldsa.MLDSA44PublicKey
        | mldsa.MLDSA65PublicKey
        | mldsa.MLDSA87PublicKey,
    ):
        key.verify(signature, message)
    else:
        pytest.fail(f"unexpected key type {type(key).__name__}")


@pytest.mark.parametrize(("alg", "sa"), CASES)
def test_signatures_verify_with_cryptography_from_the_pem(alg: A, sa: S) -> None:
    material, _ = key_pair(alg)
    pem = asymmetric.public_key_pem(alg, material)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    key = serialization.load_pem_public_key(pem.encode())
    signature = signing.sign(alg, material, sa, message=MESSAGE)
    _independent_verify(key, sa, signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        _independent_verify(key, sa, signature, flip(MESSAGE, 0))
    if sa in HASHES:
        from_digest = signing.sign(alg, material, sa, digest=digest_of(sa, MESSAGE))
        _independent_verify(key, sa, from_digest, MESSAGE)


def _openssl_verify(tmp_path: Path, pem: str, sa: S, signature: bytes, message: bytes) -> int:
    (tmp_path / "pub.pem").write_text(pem)
    (tmp_path / "sig.bin").write_bytes(signature)
    (tmp_path / "msg.bin").write_bytes(message)
    command = ["openssl", "dgst", f"-{HASHES[sa].name}", "-verify", "pub.pem"]
    if sa.startswith("RSASSA_PSS"):
        # Salt length -1 means "as long as the digest" (openssl-dgst(1), RSA-PSS options).
        command += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
    command += ["-signature", "sig.bin", "msg.bin"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, check=False)
    return result.returncode


@pytest.mark.parametrize(("alg", "sa"), OPENSSL_CASES)
def test_signatures_verify_with_the_openssl_command_line(alg: A, sa: S, tmp_path: Path) -> None:
    material, _ = key_pair(alg)
    pem = asymmetric.public_key_pem(alg, material)
    from_message = signing.sign(alg, material, sa, message=MESSAGE)
    from_digest = signing.sign(alg, material, sa, digest=digest_of(sa, MESSAGE))
    assert _openssl_verify(tmp_path, pem, sa, from_message, MESSAGE) == 0
    assert _openssl_verify(tmp_path, pem, sa, from_digest, MESSAGE) == 0
    assert _openssl_verify(tmp_path, pem, sa, from_message, flip(MESSAGE, 1)) != 0


def test_pss_salt_is_the_hash_length() -> None:
    material, public = key_pair(A.RSA_2048)
    private = asymmetric.load_private(A.RSA_2048, material)
    assert isinstance(private, rsa.RSAPrivateKey)
    long_salt = private.sign(
        MESSAGE,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    with pytest.raises(SignatureInvalid):
        signing.verify(A.RSA_2048, public, S.RSASSA_PSS_SHA_256, long_salt, message=MESSAGE)


# --- secp256k1: coincurve and cryptography agree -------------------------------------------


def _k1_public() -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(key_pair(A.EC_SECP256K1)[1])
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_secp256k1_signatures_are_deterministic_low_s_and_verify_in_coincurve() -> None:
    material, _ = key_pair(A.EC_SECP256K1)
    first = signing.sign(A.EC_SECP256K1, material, S.ECDSA_SHA_256, message=MESSAGE)
    # RFC 6979: the nonce is a function of key and message, so the signature is too.
    assert signing.sign(A.EC_SECP256K1, material, S.ECDSA_SHA_256, message=MESSAGE) == first
    assert decode_dss_signature(first)[1] <= SECP256K1_ORDER // 2
    point = _k1_public().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    assert coincurve.PublicKey(point).verify(first, MESSAGE)


def test_secp256k1_signatures_from_cryptography_verify_low_s_and_high_s() -> None:
    material, public = key_pair(A.EC_SECP256K1)
    private = asymmetric.load_private(A.EC_SECP256K1, material)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    for index in range(4):
        message = MESSAGE + bytes([index])
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hashes.SHA256())))
        # (r, s) and (r, n - s) are both valid (SEC 1 section 4.1.4); OpenSSL makes either.
        low, high = sorted((s, SECP256K1_ORDER - s))
        for value in (low, high):
            signature = encode_dss_signature(r, value)
            signing.verify(A.EC_SECP256K1, public, S.ECDSA_SHA_256, signature, message=message)
        digest = hashlib.sha256(message).digest()
        prehashed = private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        signing.verify(A.EC_SECP256K1, public, S.ECDSA_SHA_256, prehashed, digest=digest)


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 1), (1, 0), (SECP256K1_ORDER, 1), (1, SECP256K1_ORDER), (1, SECP256K1_ORDER + 5)],
)
def test_secp256k1_out_of_range_signature_values_fail(r: int, s: int) -> None:
    _, public = key_pair(A.EC_SECP256K1)
    with pytest.raises(SignatureInvalid):
        signing.verify(
            A.EC_SECP256K1, public, S.ECDSA_SHA_256, encode_dss_signature(r, s), message=MESSAGE
        )


def test_secp256k1_key_outside_the_canonical_encodings() -> None:
    material, _ = key_pair(A.EC_SECP256K1)
    private = asymmetric.load_private(A.EC_SECP256K1, material)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    secret = private.private_numbers().private_value.to_bytes(32, "big")
    # PKCS#8 without the optional public key (RFC 5915 section 3): the OpenSSL load path.
    bare = (
        bytes.fromhex("303e020100301006072a8648ce3d020106052b8104000a042730250201010420") + secret
    )
    assert serialization.load_der_private_key(bare, None).public_key() == private.public_key()
    signature = signing.sign(A.EC_SECP256K1, KeyMaterial(bare), S.ECDSA_SHA_256, message=MESSAGE)
    # A compressed-point SubjectPublicKeyInfo and a PEM: the OpenSSL parse path.
    compressed = bytes.fromhex(
        "3036301006072a8648ce3d020106052b8104000a032200"
    ) + private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    pem = asymmetric.public_key_pem(A.EC_SECP256K1, material).encode()
    for public in (compressed, pem):
        signing.verify(A.EC_SECP256K1, public, S.ECDSA_SHA_256, signature, message=MESSAGE)


def test_secp256k1_point_not_on_the_curve_is_refused() -> None:
    _, public = key_pair(A.EC_SECP256K1)
    off_curve = public[:-1] + bytes([public[-1] ^ 0x01])
    with pytest.raises(InvalidPublicKey):
        signing.verify(A.EC_SECP256K1, off_curve, S.ECDSA_SHA_256, b"sig", message=MESSAGE)


# --- Ed25519 known answers -------------------------------------------------------------------

# RFC 8032 section 7.1, "TEST 1" and "TEST 2": secret key (seed), public key, message,
# signature. Ed25519 is deterministic, so the signature must match byte for byte.
RFC8032_VECTORS = [
    pytest.param(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="rfc8032-test-1",
    ),
    pytest.param(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="rfc8032-test-2",
    ),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032_VECTORS)
def test_ed25519_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    pkcs8 = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    material = asymmetric.import_private(A.ED25519, pkcs8)
    public_der = asymmetric.public_key_der(A.ED25519, material)
    assert public_der.endswith(bytes.fromhex(public))
    made = signing.sign(A.ED25519, material, S.ED25519, message=bytes.fromhex(message))
    assert made.hex() == signature
    signing.verify(A.ED25519, public_der, S.ED25519, made, message=bytes.fromhex(message))


# --- properties ------------------------------------------------------------------------------


@settings(deadline=None, max_examples=40)
@given(
    alg_sa=st.sampled_from(
        [(A.ED25519, S.ED25519), (A.EC_P256, S.ECDSA_SHA_256), (A.EC_SECP256K1, S.ECDSA_SHA_256)]
    ),
    message=st.binary(max_size=200),
    data=st.data(),
)
def test_any_flipped_signature_byte_fails(
    alg_sa: tuple[A, S], message: bytes, data: st.DataObject
) -> None:
    alg, sa = alg_sa
    material, public = key_pair(alg)
    signature = signing.sign(alg, material, sa, message=message)
    signing.verify(alg, public, sa, signature, message=message)
    # ECDSA on P-256 is randomised, so the length varies: draw independently of it.
    position = data.draw(st.integers(0, 2**16), label="position") % len(signature)
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(signature)
    tampered[position] ^= mask
    with pytest.raises(SignatureInvalid):
        signing.verify(alg, public, sa, bytes(tampered), message=message)
