"""Wrapped export and BYOK import formats: RSA_AES_KEY_WRAP_SHA_256, HPKE and JWE.

Every format is checked against code that is not ours: plain ``cryptography`` calls, the
``openssl`` command line (the way AWS KMS documents BYOK wrapping), cryptography's HPKE
``Suite`` and the joserfc JOSE library.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, padding, rsa, x25519
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from keystead.crypto import key_wrap
from keystead.crypto.key_wrap import WrappingFormat as F
from keystead.errors import DecryptionFailed, InvalidPublicKey, UnsupportedAlgorithm
from xwing import der_to_pem, xwing_pair, xwing_spki

INFO = b"keystead/export/v1/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/3"
MATERIAL = bytes(range(1, 33))
JWE_ALGORITHMS = ["RSA-OAEP-256", "ECDH-ES+A256KW", "A256GCM"]
OPENSSL = shutil.which("openssl")

SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PEM = serialization.Encoding.PEM


def pem(key: rsa.RSAPublicKey | x25519.X25519PublicKey | ed25519.Ed25519PublicKey) -> str:
    return key.public_bytes(PEM, SPKI).decode("ascii")


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


@functools.cache
def import_pair() -> tuple[bytes, bytes]:
    return key_wrap.generate_import_key_pair()


def oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_bytes(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_json(part: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(b64url_bytes(part))
    return decoded


# --- RSA_AES_KEY_WRAP_SHA_256 --------------------------------------------------------


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_rsa_aes_wrap_opens_with_plain_cryptography(bits):
    private_key = rsa_key(bits)
    material = b"\xa5" * 45  # not a multiple of 8: KWP pads it
    wrapped = key_wrap.wrap(
        F.RSA_AES_KEY_WRAP_SHA_256, pem(private_key.public_key()), material, INFO
    )
    k = bits // 8
    assert len(wrapped) == k + 8 * 6 + 8  # RFC 5649: ceil(45 / 8) blocks plus the AIV block
    ephemeral_key = private_key.decrypt(wrapped[:k], oaep())
    assert len(ephemeral_key) == 32
    assert aes_key_unwrap_with_padding(ephemeral_key, wrapped[k:]) == material


def test_rsa_aes_wrap_is_fresh_each_time():
    public_pem = pem(rsa_key(2048).public_key())
    first = key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, public_pem, MATERIAL, INFO)
    second = key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, public_pem, MATERIAL, INFO)
    # A new AES key each time, so the KWP part (deterministic for one key) differs too.
    assert first[256:] != second[256:]


@settings(max_examples=25, deadline=None)
@given(material=st.binary(min_size=1, max_size=600))
def test_rsa_aes_roundtrip(material):
    private_key = rsa_key(2048)
    wrapped = key_wrap.rsa_aes_key_wrap(private_key.public_key(), material)
    assert key_wrap.rsa_aes_key_unwrap(private_key, wrapped) == material


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rsa_aes_any_flipped_byte_fails(data):
    private_key = rsa_key(2048)
    wrapped = key_wrap.rsa_aes_key_wrap(private_key.public_key(), MATERIAL)
    index = data.draw(st.integers(0, len(wrapped) - 1))
    with pytest.raises(DecryptionFailed) as caught:
        key_wrap.rsa_aes_key_unwrap(private_key, flip(wrapped, index))
    assert str(caught.value) == "decryption failed"


@pytest.mark.parametrize("index", [0, 255, 256, -1])  # the RSA part, then the KWP part
def test_rsa_aes_tampered_fails(index):
    private_key = rsa_key(2048)
    wrapped = key_wrap.rsa_aes_key_wrap(private_key.public_key(), MATERIAL)
    with pytest.raises(DecryptionFailed):
        key_wrap.rsa_aes_key_unwrap(private_key, flip(wrapped, index % len(wrapped)))


@pytest.mark.parametrize("length", [0, 100, 255, 256, 256 + 8, 256 + 39])
def test_rsa_aes_truncated_fails(length):
    private_key = rsa_key(2048)
    wrapped = key_wrap.rsa_aes_key_wrap(private_key.public_key(), MATERIAL)
    with pytest.raises(DecryptionFailed):
        key_wrap.rsa_aes_key_unwrap(private_key, wrapped[:length])


def test_rsa_aes_wrong_key_fails():
    wrapped = key_wrap.rsa_aes_key_wrap(rsa_key(2048).public_key(), MATERIAL)
    with pytest.raises(DecryptionFailed):
        key_wrap.rsa_aes_key_unwrap(rsa.generate_private_key(65537, 2048), wrapped)


def test_import_key_pair_is_rsa_3072_pkcs8_and_spki():
    private_der, public_der = import_pair()
    private_key = serialization.load_der_private_key(private_der, password=None)
    public_key = serialization.load_der_public_key(public_der)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert private_key.key_size == 3072
    assert private_key.public_key().public_numbers() == public_key.public_numbers()
    assert public_key.public_numbers().e == 65537


def test_import_unwraps_what_wrap_made_for_the_import_key():
    private_der, public_der = import_pair()
    wrapped = key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, der_to_pem(public_der), MATERIAL, INFO)
    assert len(wrapped) == 384 + 40
    assert key_wrap.unwrap_import(private_der, wrapped) == MATERIAL


def test_import_unwrap_failures_are_opaque():
    private_der, public_der = import_pair()
    wrapped = key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, der_to_pem(public_der), MATERIAL, INFO)
    other = rsa_key(2048).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for key_der, blob in [
        (private_der, flip(wrapped, 10)),
        (private_der, flip(wrapped, 400)),
        (private_der, wrapped[:-8]),
        (private_der, b""),
        (other, wrapped),  # an RSA-2048 key is not an import key
        (b"not a key", wrapped),
        (b"", wrapped),
    ]:
        with pytest.raises(DecryptionFailed) as caught:
            key_wrap.unwrap_import(key_der, blob)
        assert str(caught.value) == "decryption failed"
        assert MATERIAL.hex() not in repr(caught.value)


def run(*args: str | Path) -> None:
    assert OPENSSL is not None, "the openssl command line is needed for the BYOK interop tests"
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True)


def test_openssl_wrapped_material_imports(tmp_path):
    """The AWS KMS BYOK recipe, step by step with the openssl command line."""
    private_der, public_der = import_pair()
    (tmp_path / "pub.pem").write_text(der_to_pem(public_der))
    run("rand", "-out", tmp_path / "aes-key.bin", "32")
    run("rand", "-out", tmp_path / "material.bin", "45")
    run(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", tmp_path / "pub.pem",
        "-in", tmp_path / "aes-key.bin", "-out", tmp_path / "aes-key.enc",
        "-pkeyopt", "rsa_padding_mode:oaep",
        "-pkeyopt", "rsa_oaep_md:sha256",
        "-pkeyopt", "rsa_mgf1_md:sha256",
    )  # fmt: skip
    hex_key = (tmp_path / "aes-key.bin").read_bytes().hex()
    run(
        "enc", "-id-aes256-wrap-pad", "-K", hex_key, "-iv", "A65959A6",
        "-in", tmp_path / "material.bin", "-out", tmp_path / "material.wrapped",
    )  # fmt: skip
    wrapped = (tmp_path / "aes-key.enc").read_bytes() + (tmp_path / "material.wrapped").read_bytes()
    material = (tmp_path / "material.bin").read_bytes()
    assert len(wrapped) == 384 + 56
    assert key_wrap.unwrap_import(private_der, wrapped) == material
    private_key = serialization.load_der_private_key(private_der, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert key_wrap.rsa_aes_key_unwrap(private_key, wrapped) == material


def test_openssl_opens_our_wrap(tmp_path):
    """The other direction: openssl unwraps what Keystead exports."""
    private_key = rsa_key(3072)
    (tmp_path / "key.pem").write_bytes(
        private_key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    wrapped = key_wrap.wrap(
        F.RSA_AES_KEY_WRAP_SHA_256, pem(private_key.public_key()), MATERIAL, INFO
    )
    (tmp_path / "aes-key.enc").write_bytes(wrapped[:384])
    (tmp_path / "material.wrapped").write_bytes(wrapped[384:])
    run(
        "pkeyutl", "-decrypt", "-inkey", tmp_path / "key.pem",
        "-in", tmp_path / "aes-key.enc", "-out", tmp_path / "aes-key.bin",
        "-pkeyopt", "rsa_padding_mode:oaep",
        "-pkeyopt", "rsa_oaep_md:sha256",
        "-pkeyopt", "rsa_mgf1_md:sha256",
    )  # fmt: skip
    hex_key = (tmp_path / "aes-key.bin").read_bytes().hex()
    run(
        "enc", "-d", "-id-aes256-wrap-pad", "-K", hex_key, "-iv", "A65959A6",
        "-in", tmp_path / "material.wrapped", "-out", tmp_path / "material.bin",
    )  # fmt: skip
    assert (tmp_path / "material.bin").read_bytes() == MATERIAL


@pytest.mark.parametrize(
    "recipient",
    [
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nnot*base64\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\u00e9\n-----END PUBLIC KEY-----",
        der_to_pem(b"\x30\x03\x02\x01\x00"),  # base64 of DER that is no SPKI
        "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----",
        {"kty": "RSA"},  # a JWK where PEM is needed
    ],
)
def test_rsa_aes_refuses_unparsable_recipient(recipient):
    with pytest.raises(InvalidPublicKey):
        key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, recipient, MATERIAL, INFO)


def test_rsa_aes_refuses_pkcs1_pem():
    pkcs1 = rsa_key(2048).public_key().public_bytes(PEM, serialization.PublicFormat.PKCS1)
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    with pytest.raises(InvalidPublicKey, match="BEGIN PUBLIC KEY"):
        key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, pkcs1.decode(), MATERIAL, INFO)


def test_rsa_aes_refuses_small_large_and_non_rsa_keys():
    small = pem(rsa.generate_private_key(65537, 1024).public_key())  # noqa: S505 - refused below
    with pytest.raises(InvalidPublicKey, match="2048 to 4096 bits, not 1024") as caught:
        key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, small, MATERIAL, INFO)
    body = "".join(small.splitlines()[1:-1])
    assert body[:40] not in str(caught.value)
    # A modulus need not be a product of primes to be refused for its size.
    large = rsa.RSAPublicNumbers(65537, (1 << 5000) - 1).public_key()
    with pytest.raises(InvalidPublicKey, match="not 5000"):
        key_wrap.rsa_aes_key_wrap(large, MATERIAL)
    with pytest.raises(InvalidPublicKey, match=r"needs an RSA public key \(got Ed25519\)"):
        key_wrap.wrap(
            F.RSA_AES_KEY_WRAP_SHA_256,
            pem(ed25519.Ed25519PrivateKey.generate().public_key()),
            MATERIAL,
            INFO,
        )


# --- HPKE -----------------------------------------------------------------------------


def test_hpke_x25519_opens_with_the_suite():
    private_key = x25519.X25519PrivateKey.generate()
    wrapped = key_wrap.wrap(F.HPKE, pem(private_key.public_key()), MATERIAL, INFO)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    assert len(wrapped) == 32 + len(MATERIAL) + 16  # enc || ciphertext || tag
    assert suite.decrypt(wrapped, private_key, info=INFO) == MATERIAL
    with pytest.raises(InvalidTag):
        suite.decrypt(wrapped, private_key, info=INFO + b"x")
    assert key_wrap.hpke_unwrap(private_key, wrapped, INFO) == MATERIAL
    with pytest.raises(DecryptionFailed):
        key_wrap.hpke_unwrap(private_key, wrapped, b"keystead/export/v1/other/3")


def test_hpke_xwing_opens_with_the_suite():
    private_key, public_pem = xwing_pair()
    wrapped = key_wrap.wrap(F.HPKE, public_pem, MATERIAL, INFO)
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    assert len(wrapped) == 1120 + len(MATERIAL) + 16
    assert suite.decrypt(wrapped, private_key, info=INFO) == MATERIAL
    with pytest.raises(InvalidTag):
        suite.decrypt(wrapped, private_key, info=b"")
    assert key_wrap.hpke_unwrap(private_key, wrapped, INFO) == MATERIAL
    with pytest.raises(DecryptionFailed):
        key_wrap.hpke_unwrap(private_key, wrapped, INFO[:-1])


@settings(max_examples=25, deadline=None)
@given(material=st.binary(min_size=1, max_size=600), info=st.binary(max_size=64))
def test_hpke_roundtrip(material, info):
    private_key = x25519.X25519PrivateKey.generate()
    wrapped = key_wrap.wrap(F.HPKE, pem(private_key.public_key()), material, info)
    assert key_wrap.hpke_unwrap(private_key, wrapped, info) == material


@pytest.mark.parametrize("kind", ["x25519", "xwing"])
def test_hpke_tampered_truncated_and_wrong_key_fail(kind):
    if kind == "x25519":
        private_key: x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey
        private_key = x25519.X25519PrivateKey.generate()
        public_pem = pem(private_key.public_key())
        other: x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey
        other = x25519.X25519PrivateKey.generate()
    else:
        private_key, public_pem = xwing_pair()
        other = hpke.MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
        )
    wrapped = key_wrap.wrap(F.HPKE, public_pem, MATERIAL, INFO)
    for blob in [flip(wrapped, 0), flip(wrapped, len(wrapped) - 1), wrapped[:-1], wrapped[:10]]:
        with pytest.raises(DecryptionFailed):
            key_wrap.hpke_unwrap(private_key, blob, INFO)
    with pytest.raises(DecryptionFailed):
        key_wrap.hpke_unwrap(other, wrapped, INFO)


def test_hpke_refuses_wrong_recipients():
    with pytest.raises(InvalidPublicKey, match=r"X25519 or MLKEM768X25519 public key \(got RSA\)"):
        key_wrap.wrap(F.HPKE, pem(rsa_key(2048).public_key()), MATERIAL, INFO)
    with pytest.raises(InvalidPublicKey, match="PEM"):
        key_wrap.wrap(F.HPKE, {"kty": "OKP", "crv": "X25519"}, MATERIAL, INFO)
    with pytest.raises(InvalidPublicKey):
        key_wrap.wrap(F.HPKE, "garbage", MATERIAL, INFO)
    # An X25519 key for the AWS format, the other way round.
    with pytest.raises(InvalidPublicKey, match=r"\(got X25519\)"):
        key_wrap.wrap(
            F.RSA_AES_KEY_WRAP_SHA_256,
            pem(x25519.X25519PrivateKey.generate().public_key()),
            MATERIAL,
            INFO,
        )


def test_hpke_refuses_low_order_x25519():
    low_order = der_to_pem(
        x25519.X25519PublicKey.from_public_bytes(bytes(32)).public_bytes(
            serialization.Encoding.DER, SPKI
        )
    )
    with pytest.raises(InvalidPublicKey, match="low-order"):
        key_wrap.wrap(F.HPKE, low_order, MATERIAL, INFO)


def test_hpke_refuses_malformed_xwing_keys():
    mlkem_raw = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()
    x_raw = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    # ML-KEM coefficients must be below q = 3329 (FIPS 203 section 7.2): 0xFFF is not.
    with pytest.raises(InvalidPublicKey, match="X-Wing") as caught:
        key_wrap.wrap(F.HPKE, der_to_pem(xwing_spki(b"\xff" * 1184 + x_raw)), MATERIAL, INFO)
    assert x_raw.hex()[:16] not in str(caught.value)
    # One byte too long: the DER lengths differ, so it is just an unknown public key.
    with pytest.raises(InvalidPublicKey, match="SubjectPublicKeyInfo"):
        key_wrap.wrap(F.HPKE, der_to_pem(xwing_spki(mlkem_raw + x_raw + b"\x00")), MATERIAL, INFO)
    # Trailing bytes after a well-formed X-Wing SPKI.
    with pytest.raises(InvalidPublicKey, match="X-Wing"):
        key_wrap.wrap(F.HPKE, der_to_pem(xwing_spki(mlkem_raw + x_raw) + b"\x00"), MATERIAL, INFO)


# --- JWE ------------------------------------------------------------------------------


@functools.cache
def jose_key(kind: str) -> RSAKey | ECKey | OKPKey:
    if kind == "RSA":
        return RSAKey.generate_key(2048)
    if kind == "X25519":
        return OKPKey.generate_key("X25519")
    return ECKey.generate_key(kind)


@pytest.mark.parametrize("kind", ["RSA", "P-256", "P-384", "P-521", "X25519"])
def test_jwe_opens_with_joserfc(kind):
    key = jose_key(kind)
    public_jwk = key.as_dict(private=False)
    assert "d" not in public_jwk
    token = key_wrap.wrap(F.JWE, public_jwk, MATERIAL, INFO)
    parts = token.decode("ascii").split(".")
    assert len(parts) == 5
    header = b64url_json(parts[0])
    if kind == "RSA":
        assert header == {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
    else:
        assert set(header) == {"alg", "enc", "epk"}
        assert header["alg"] == "ECDH-ES+A256KW"
        assert header["enc"] == "A256GCM"
        epk = header["epk"]
        assert isinstance(epk, dict)
        assert epk["crv"] == kind
        assert "d" not in epk
    opened = jwe.decrypt_compact(token, key, algorithms=JWE_ALGORITHMS)
    assert opened.plaintext == MATERIAL
    assert opened.protected == header


def test_jwe_matching_alg_and_use_are_accepted():
    key = jose_key("P-256")
    public_jwk = {**key.as_dict(private=False), "use": "enc", "alg": "ECDH-ES+A256KW"}
    token = key_wrap.wrap(F.JWE, public_jwk, MATERIAL, INFO)
    assert jwe.decrypt_compact(token, key, algorithms=JWE_ALGORITHMS).plaintext == MATERIAL


def test_jwe_tampered_fails_in_joserfc():
    key = jose_key("X25519")
    token = key_wrap.wrap(F.JWE, key.as_dict(private=False), MATERIAL, INFO).decode()
    header, encrypted_key, iv, ciphertext, tag = token.split(".")
    # The AAD is the encoded header, so a header changed in any way must fail too.
    other_header = b64url(json.dumps(b64url_json(header) | {"kid": "forged"}).encode())
    for forged in [
        f"{header}.{encrypted_key}.{iv}.{b64url(flip(b64url_bytes(ciphertext), 0))}.{tag}",
        f"{header}.{encrypted_key}.{iv}.{ciphertext}.{b64url(flip(b64url_bytes(tag), 15))}",
        f"{header}.{b64url(flip(b64url_bytes(encrypted_key), 3))}.{iv}.{ciphertext}.{tag}",
        f"{other_header}.{encrypted_key}.{iv}.{ciphertext}.{tag}",
    ]:
        with pytest.raises(JoseError):
            jwe.decrypt_compact(forged, key, algorithms=JWE_ALGORITHMS)


def b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rsa_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    return dict(RSAKey.import_key(pem(public_key)).as_dict(private=False))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("jwk_dict", "match"),
    [
        ("a PEM string", "JSON object"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}, r"private members \(d\)"),
        ({"kty": "oct", "k": "c2VjcmV0"}, r"private members \(k\)"),
        ({"crv": "X25519", "x": "AA"}, '"kty" string'),
        ({"kty": 1}, '"kty" string'),
        ({"kty": "OKP", "crv": "X25519", "x": "AA", "use": "sig"}, '"use"'),
        ({"kty": "OKP", "crv": "X25519", "x": "A*=="}, '"x" is missing or not base64url'),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAAA"}, '"x" is missing or not base64url'),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAA"}, "32-byte X25519"),
        ({"kty": "OKP", "crv": "X25519", "x": "A" * 43}, "low-order"),
        ({"kty": "OKP", "crv": "X25519"}, '"x" is missing'),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "32-byte coordinates"),
        ({"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43}, "P-256 point"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQ"}, '"n" and "e" are not an RSA'),
        ({"kty": "RSA", "e": "AQAB"}, '"n" is missing'),
    ],
)
def test_jwe_refuses_bad_jwks(jwk_dict, match):
    with pytest.raises(InvalidPublicKey, match=match):
        key_wrap.wrap(F.JWE, jwk_dict, MATERIAL, INFO)


def test_jwe_refuses_a_private_jwk_without_echoing_it():
    private_jwk = jose_key("P-256").as_dict(private=True)
    with pytest.raises(InvalidPublicKey) as caught:
        key_wrap.wrap(F.JWE, private_jwk, MATERIAL, INFO)
    for value in private_jwk.values():
        if isinstance(value, str) and len(value) > 8:
            assert value not in str(caught.value)
            assert value not in repr(caught.value)


def test_jwe_refuses_rsa_outside_2048_to_4096_and_other_alg():
    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - refused below
    small = weak.public_key().public_numbers()
    small_jwk = {"kty": "RSA", "n": b64url_uint(small.n), "e": b64url_uint(small.e)}
    with pytest.raises(InvalidPublicKey, match="not 1024"):
        key_wrap.wrap(F.JWE, small_jwk, MATERIAL, INFO)
    large = rsa.RSAPublicNumbers(65537, (1 << 5000) - 1).public_key()
    with pytest.raises(InvalidPublicKey, match="not 5000"):
        key_wrap.wrap(F.JWE, rsa_jwk(large), MATERIAL, INFO)
    with pytest.raises(InvalidPublicKey, match="uses RSA-OAEP-256"):
        key_wrap.wrap(F.JWE, rsa_jwk(rsa_key(2048).public_key()) | {"alg": "RSA-OAEP"}, b"k", b"")


@pytest.mark.parametrize(
    "jwk_dict",
    [
        {"kty": "AKP", "alg": "ML-KEM-768", "pub": "AA"},
        {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
        {"kty": "EC", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43},
        {"kty": "OKP", "crv": "X448", "x": "A" * 75},
    ],
)
def test_jwe_unsupported_kty_and_crv(jwk_dict):
    with pytest.raises(UnsupportedAlgorithm):
        key_wrap.wrap(F.JWE, jwk_dict, MATERIAL, INFO)


# --- The dispatcher -------------------------------------------------------------------


def test_wrap_takes_the_format_by_wire_name():
    private_key = x25519.X25519PrivateKey.generate()
    wrapped = key_wrap.wrap("HPKE", pem(private_key.public_key()), MATERIAL, INFO)  # type: ignore[arg-type]
    assert key_wrap.hpke_unwrap(private_key, wrapped, INFO) == MATERIAL


def test_wrap_refuses_empty_material_and_unknown_formats():
    public_pem = pem(rsa_key(2048).public_key())
    with pytest.raises(ValueError, match="must not be empty"):
        key_wrap.wrap(F.RSA_AES_KEY_WRAP_SHA_256, public_pem, b"", INFO)
    with pytest.raises(ValueError, match="must not be empty"):
        key_wrap.rsa_aes_key_wrap(rsa_key(2048).public_key(), b"")
    with pytest.raises(ValueError, match="RSA_OAEP"):
        key_wrap.wrap("RSA_OAEP", public_pem, MATERIAL, INFO)  # type: ignore[arg-type]


def test_format_wire_names():
    assert [f.value for f in F] == ["RSA_AES_KEY_WRAP_SHA_256", "HPKE", "JWE"]
