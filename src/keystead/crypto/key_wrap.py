"""Key material wrapped for a recipient's public key: wrapped export and BYOK import.

``RSA_AES_KEY_WRAP_SHA_256`` (AWS KMS ``RSA_AES_KEY_WRAP_SHA_256``, Google Cloud KMS
``RSA_OAEP_3072_SHA256_AES_256``), byte by byte::

    [0, k)    RSA-OAEP (SHA-256, MGF1-SHA-256, no label) of a fresh AES-256 key;
              k is the modulus length in bytes (256, 384 or 512)
    [k, end)  AES-KWP (RFC 5649) of the material under that AES key: 8 * ceil(n / 8) + 8 bytes

``HPKE`` (RFC 9180, base mode, single shot): ``enc || ciphertext`` of
``Suite(KEM, HKDF_SHA256, AES_256_GCM)`` with ``info``; the KEM is DHKEM(X25519) or
MLKEM768-X25519 (X-Wing, draft-connolly-cfrg-xwing-kem), chosen by the recipient key.

``JWE`` (RFC 7516 compact, ``enc`` A256GCM): ``alg`` RSA-OAEP-256 for RSA JWKs,
ECDH-ES+A256KW (RFC 7518 section 4.6, RFC 8037) for EC P-256/P-384/P-521 and X25519 JWKs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Mapping
from enum import StrEnum
from typing import Final, cast

from cryptography.exceptions import InvalidTag
from cryptography.exceptions import UnsupportedAlgorithm as _BackendUnsupported
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap,
    aes_key_wrap_with_padding,
)

from keystead.crypto import asymmetric, jwk
from keystead.crypto.asymmetric import AsymmetricAlgorithm
from keystead.crypto.jwk import b64url
from keystead.crypto.random import random_bytes
from keystead.crypto.rsa_oaep import oaep_padding
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed, InvalidPublicKey, UnsupportedAlgorithm


class WrappingFormat(StrEnum):
    """How material is wrapped for a recipient; each value is its wire name."""

    RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"
    """RSA-OAEP-SHA-256 of an AES-256 key, then AES-KWP of the material (AWS, Google BYOK)."""
    HPKE = "HPKE"
    """RFC 9180 to an X25519 or MLKEM768X25519 (X-Wing) public key, bound to ``info``."""
    JWE = "JWE"
    """RFC 7516 compact serialization to a public JWK (RSA, EC P-256/384/521, OKP X25519)."""


_HPKEPrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey
_HPKEPublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
_JWKPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | x25519.X25519PublicKey

_AES_256_KEY_BYTES: Final = 32
_GCM_NONCE_BYTES: Final = 12
_GCM_TAG_BYTES: Final = 16
# AWS KMS and Google Cloud KMS offer 2048 to 4096-bit wrapping keys; NIST SP 800-131A
# Rev. 2 disallows RSA below 2048 bits. The top bound keeps a caller's key cheap to use.
_RSA_MIN_BITS: Final = 2048
_RSA_MAX_BITS: Final = 4096
_IMPORT_KEY_SPEC: Final = AsymmetricAlgorithm.RSA_3072

_PEM_BEGIN: Final = "-----BEGIN PUBLIC KEY-----"
_PEM_END: Final = "-----END PUBLIC KEY-----"
# X-Wing SubjectPublicKeyInfo (draft-connolly-cfrg-xwing-kem-06): AlgorithmIdentifier id-XWing
# 1.3.6.1.4.1.62253.25722 with no parameters, then a BIT STRING holding the raw
# 1216-byte public key pk_M (ML-KEM-768, 1184 bytes) || pk_X (X25519, 32 bytes).
_XWING_SPKI_PREFIX: Final = bytes.fromhex("308204d4300d060b2b0601040183e62d81c87a038204c100")
_MLKEM768_PUBLIC_BYTES: Final = 1184

_JWE_ENC: Final = "A256GCM"
_JWE_RSA_ALG: Final = "RSA-OAEP-256"
_JWE_ECDH_ALG: Final = "ECDH-ES+A256KW"
# RFC 7518 section 4.6.2 OtherInfo with no "apu"/"apv": with key wrapping, AlgorithmID is the
# "alg" value (not "A256KW"), each field length-prefixed; PartyUInfo and PartyVInfo empty;
# SuppPubInfo the keydatalen of A256KW, 256 bits.
_CONCAT_KDF_OTHER_INFO: Final = (
    struct.pack(">I", len(_JWE_ECDH_ALG))
    + _JWE_ECDH_ALG.encode("ascii")
    + struct.pack(">III", 0, 0, 256)
)
_JWK_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_JWK_CURVES: Final[Mapping[str, tuple[ec.EllipticCurve, AsymmetricAlgorithm]]] = {
    "P-256": (ec.SECP256R1(), AsymmetricAlgorithm.EC_P256),
    "P-384": (ec.SECP384R1(), AsymmetricAlgorithm.EC_P384),
    "P-521": (ec.SECP521R1(), AsymmetricAlgorithm.EC_P521),
}
_EPK_SPECS: Final = {curve.name: spec for curve, spec in _JWK_CURVES.values()}
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


def wrap(
    format: WrappingFormat,  # noqa: A002  # the public signature names it so
    recipient: str | Mapping[str, object],
    material: bytes,
    info: bytes,
) -> bytes:
    """Wrap ``material`` so that only the holder of the recipient's private key can read it.

    Args:
        format: The wrapping format.
        recipient: A ``-----BEGIN PUBLIC KEY-----`` PEM (RSA_AES_KEY_WRAP_SHA_256, HPKE) or a
            public JWK (JWE).
        material: The bytes to wrap; not empty.
        info: The context of the wrap, such as ``b"keystead/export/v1/<key id>/<version>"``.
            HPKE binds the wrap to it; the AWS format and the JWE header have no place for
            it, so they ignore it.

    Returns:
        The wrapped material; for JWE its compact serialization as ASCII bytes.

    Raises:
        InvalidPublicKey: The recipient cannot be parsed, is of the wrong kind, is too small
            or too large, or is a JWK with private members.
        UnsupportedAlgorithm: A JWK of a ``kty`` or ``crv`` that JWE wrapping does not take.
        ValueError: ``material`` is empty, or ``format`` is not a wrapping format.
    """
    wrapping_format = WrappingFormat(format)
    _check_material(material)
    if wrapping_format is WrappingFormat.RSA_AES_KEY_WRAP_SHA_256:
        public_key = _load_spki(_pem_to_der(recipient, wrapping_format))
        return rsa_aes_key_wrap(_check_rsa(public_key, wrapping_format), material)
    if wrapping_format is WrappingFormat.HPKE:
        return _hpke_wrap(_hpke_public_key(_pem_to_der(recipient, wrapping_format)), material, info)
    return _jwe_wrap(recipient, material)


def rsa_aes_key_wrap(public_key: rsa.RSAPublicKey, material: bytes) -> bytes:
    """Wrap ``material`` in the RSA_AES_KEY_WRAP_SHA_256 format (layout in the module docstring).

    Raises:
        InvalidPublicKey: The key is smaller than 2048 or larger than 4096 bits.
        ValueError: ``material`` is empty.
    """
    _check_rsa(public_key, WrappingFormat.RSA_AES_KEY_WRAP_SHA_256)
    _check_material(material)
    # A fresh key per wrap, so AES-KWP's deterministic output reveals nothing across wraps.
    ephemeral_key = random_bytes(_AES_256_KEY_BYTES)
    return public_key.encrypt(ephemeral_key, oaep_padding()) + aes_key_wrap_with_padding(
        ephemeral_key, material
    )


def rsa_aes_key_unwrap(private_key: rsa.RSAPrivateKey, wrapped: bytes) -> bytes:
    """Unwrap an RSA_AES_KEY_WRAP_SHA_256 blob made for ``private_key``'s public key.

    Raises:
        DecryptionFailed: Any failure, of length, padding, integrity or key (STYLE.md C14).
    """
    modulus_bytes = (private_key.key_size + 7) // 8
    try:
        # OAEP decryption refuses a first part shorter than the modulus; KWP refuses a
        # second part that is not n * 8 bytes with n >= 2 (RFC 5649 section 4.2).
        ephemeral_key = private_key.decrypt(wrapped[:modulus_bytes], oaep_padding())
        return aes_key_unwrap_with_padding(ephemeral_key, wrapped[modulus_bytes:])
    except (ValueError, InvalidUnwrap):
        raise DecryptionFailed from None


def hpke_unwrap(private_key: _HPKEPrivateKey, wrapped: bytes, info: bytes) -> bytes:
    """Open an HPKE wrap made by :func:`wrap` (for tests and clients).

    Args:
        private_key: The recipient's X25519 or MLKEM768X25519 private key.
        wrapped: ``enc || ciphertext``.
        info: The ``info`` the wrap was made with.

    Raises:
        DecryptionFailed: Any failure: wrong key, wrong ``info``, truncated or altered bytes.
    """
    kem = (
        hpke.KEM.X25519
        if isinstance(private_key, x25519.X25519PrivateKey)
        else hpke.KEM.MLKEM768_X25519
    )
    try:
        return _hpke_suite(kem).decrypt(wrapped, private_key, info=info)
    except (InvalidTag, ValueError):
        raise DecryptionFailed from None


def generate_import_key_pair() -> tuple[bytes, bytes]:
    """Generate the RSA-3072 key pair a client wraps BYOK material to.

    Returns:
        ``(private key as unencrypted PKCS#8 DER, public key as SubjectPublicKeyInfo DER)``.
        The caller stores the private key wrapped, as any other key material.
    """
    material = asymmetric.generate(_IMPORT_KEY_SPEC)
    public_key_der = asymmetric.public_key_der(_IMPORT_KEY_SPEC, material)
    with material.expose() as private_key_der:
        pair = (private_key_der, public_key_der)
    material.wipe()
    return pair


def unwrap_import(private_key_der: bytes, wrapped: bytes) -> bytes:
    """Unwrap RSA_AES_KEY_WRAP_SHA_256 BYOK material with an import private key.

    Args:
        private_key_der: The private key from :func:`generate_import_key_pair`.
        wrapped: What the client made with its public key.

    Raises:
        DecryptionFailed: Any failure, a private key that is not RSA-3072 PKCS#8 included.
    """
    try:
        key = asymmetric.load_private(_IMPORT_KEY_SPEC, KeyMaterial(private_key_der))
    except (ValueError, TypeError, _BackendUnsupported):
        raise DecryptionFailed(
            operator_detail="the import private key is not an RSA-3072 PKCS#8 key"
        ) from None
    # load_private has checked that this is an RSA-3072 private key.
    return rsa_aes_key_unwrap(cast("rsa.RSAPrivateKey", key), wrapped)


def _check_material(material: bytes) -> None:
    if not material:
        msg = "material to wrap must not be empty"
        raise ValueError(msg)


def _kind(key: object) -> str:
    return type(key).__name__.removesuffix("PublicKey")


def _check_rsa(key: PublicKeyTypes, wrapping_format: WrappingFormat) -> rsa.RSAPublicKey:
    if not isinstance(key, rsa.RSAPublicKey):
        msg = f"{wrapping_format} needs an RSA public key (got {_kind(key)})"
        raise InvalidPublicKey(msg)
    if not _RSA_MIN_BITS <= key.key_size <= _RSA_MAX_BITS:
        msg = (
            f"{wrapping_format} needs an RSA key of {_RSA_MIN_BITS} to {_RSA_MAX_BITS} bits, "
            f"not {key.key_size}"
        )
        raise InvalidPublicKey(msg)
    return key


def _pem_to_der(recipient: object, wrapping_format: WrappingFormat) -> bytes:
    """Return the DER inside one ``PUBLIC KEY`` (SubjectPublicKeyInfo, RFC 7468) PEM block."""
    text = recipient.strip() if isinstance(recipient, str) else ""
    if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)):
        msg = f"{wrapping_format} needs the recipient as a '{_PEM_BEGIN}' PEM text"
        raise InvalidPublicKey(msg)
    body = "".join(text[len(_PEM_BEGIN) : -len(_PEM_END)].split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        msg = "the PEM body is not base64"
        raise InvalidPublicKey(msg) from None


def _load_spki(der: bytes) -> PublicKeyTypes:
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, TypeError, _BackendUnsupported):
        msg = "the PEM does not hold a SubjectPublicKeyInfo public key that can be parsed"
        raise InvalidPublicKey(msg) from None


def _hpke_public_key(der: bytes) -> _HPKEPublicKey:
    if der.startswith(_XWING_SPKI_PREFIX):
        raw = der[len(_XWING_SPKI_PREFIX) :]
        try:
            return hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_BYTES]),
                x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_BYTES:]),
            )
        except ValueError:
            msg = "not a well-formed MLKEM768X25519 (X-Wing) public key"
            raise InvalidPublicKey(msg) from None
    key = _load_spki(der)
    if not isinstance(key, x25519.X25519PublicKey):
        msg = f"HPKE needs an X25519 or MLKEM768X25519 public key (got {_kind(key)})"
        raise InvalidPublicKey(msg)
    return key


def _hpke_suite(kem: hpke.KEM) -> hpke.Suite:
    return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _hpke_wrap(public_key: _HPKEPublicKey, material: bytes, info: bytes) -> bytes:
    kem = (
        hpke.KEM.X25519
        if isinstance(public_key, x25519.X25519PublicKey)
        else hpke.KEM.MLKEM768_X25519
    )
    try:
        return _hpke_suite(kem).encrypt(material, public_key, info=info)
    except ValueError:  # the X25519 shared secret is all zeros (RFC 7748 section 6.1)
        msg = "the recipient's X25519 public key is a low-order point"
        raise InvalidPublicKey(msg) from None


def _jwe_wrap(recipient: object, material: bytes) -> bytes:
    key = _jwk_public_key(recipient)
    cek = random_bytes(_AES_256_KEY_BYTES)
    header: dict[str, object]
    if isinstance(key, rsa.RSAPublicKey):
        header = {"alg": _JWE_RSA_ALG, "enc": _JWE_ENC}
        encrypted_key = key.encrypt(cek, oaep_padding())
    else:
        epk, kek = _ecdh_es(key)
        header = {"alg": _JWE_ECDH_ALG, "enc": _JWE_ENC, "epk": epk}
        encrypted_key = aes_key_wrap(kek, cek)
    protected = b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))
    iv = random_bytes(_GCM_NONCE_BYTES)
    # RFC 7516 section 5.1 step 14: the AAD is the ASCII of the encoded protected header.
    sealed = AESGCM(cek).encrypt(iv, material, protected.encode("ascii"))
    parts = (encrypted_key, iv, sealed[:-_GCM_TAG_BYTES], sealed[-_GCM_TAG_BYTES:])
    return ".".join((protected, *map(b64url, parts))).encode("ascii")


def _ecdh_es(
    key: ec.EllipticCurvePublicKey | x25519.X25519PublicKey,
) -> tuple[dict[str, str], bytes]:
    """Return the ``epk`` JWK and the A256KW key of ECDH-ES (RFC 7518 section 4.6.2)."""
    public: PublicKeyTypes
    if isinstance(key, x25519.X25519PublicKey):
        ephemeral_x = x25519.X25519PrivateKey.generate()
        try:
            shared = ephemeral_x.exchange(key)
        except ValueError:  # an all-zero shared secret (RFC 7748 section 6.1)
            msg = "the recipient's X25519 JWK is a low-order point"
            raise InvalidPublicKey(msg) from None
        spec, public = AsymmetricAlgorithm.X25519, ephemeral_x.public_key()
    else:
        ephemeral_ec = ec.generate_private_key(key.curve)
        shared = ephemeral_ec.exchange(ec.ECDH(), key)
        spec, public = _EPK_SPECS[key.curve.name], ephemeral_ec.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kdf = ConcatKDFHash(hashes.SHA256(), _AES_256_KEY_BYTES, _CONCAT_KDF_OTHER_INFO)
    return jwk.public_jwk(spec, der), kdf.derive(shared)


def _jwk_public_key(recipient: object) -> _JWKPublicKey:
    if not isinstance(recipient, Mapping):
        msg = "JWE needs the recipient as a public JWK (a JSON object)"
        raise InvalidPublicKey(msg)
    private = _JWK_PRIVATE_MEMBERS & set(recipient)
    if private:
        msg = f"the JWK holds private members ({', '.join(sorted(private))}); give the public key"
        raise InvalidPublicKey(msg)
    if recipient.get("use", "enc") != "enc":
        msg = 'the JWK is not for encryption: its "use" is not "enc"'
        raise InvalidPublicKey(msg)
    kty = recipient.get("kty")
    key: _JWKPublicKey
    if kty == "RSA":
        key = _check_rsa(_rsa_from_jwk(recipient), WrappingFormat.JWE)
    elif kty == "EC":
        key = _ec_from_jwk(recipient)
    elif kty == "OKP":
        key = _x25519_from_jwk(recipient)
    elif isinstance(kty, str):
        msg = 'JWE wrapping takes JWKs of kty "RSA", "EC" or "OKP" only'
        raise UnsupportedAlgorithm(msg)
    else:
        msg = 'the JWK has no "kty" string'
        raise InvalidPublicKey(msg)
    alg = _JWE_RSA_ALG if kty == "RSA" else _JWE_ECDH_ALG
    if recipient.get("alg", alg) != alg:
        msg = f'the JWK names another "alg"; JWE wrapping uses {alg} with this key'
        raise InvalidPublicKey(msg)
    return key


def _member(recipient: Mapping[object, object], name: str) -> bytes:
    """Decode a base64url member (RFC 7515 section 2: no padding)."""
    value = recipient.get(name)
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        msg = f'the JWK member "{name}" is missing or not base64url'
        raise InvalidPublicKey(msg)
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _rsa_from_jwk(recipient: Mapping[object, object]) -> rsa.RSAPublicKey:
    n = int.from_bytes(_member(recipient, "n"), "big")
    e = int.from_bytes(_member(recipient, "e"), "big")
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        msg = 'the JWK\'s "n" and "e" are not an RSA public key'
        raise InvalidPublicKey(msg) from None


def _ec_from_jwk(recipient: Mapping[object, object]) -> ec.EllipticCurvePublicKey:
    crv = recipient.get("crv")
    if not isinstance(crv, str) or crv not in _JWK_CURVES:
        msg = 'JWE wrapping takes EC JWKs of crv "P-256", "P-384" or "P-521" only'
        raise UnsupportedAlgorithm(msg)
    curve = _JWK_CURVES[crv][0]
    x, y = _member(recipient, "x"), _member(recipient, "y")
    size = (curve.key_size + 7) // 8
    msg = f'the JWK\'s "x" and "y" are not a {crv} point of {size}-byte coordinates'
    # Coordinates are full length (RFC 7518 section 6.2.1.2) and the point on the curve.
    if len(x) != size or len(y) != size:
        raise InvalidPublicKey(msg)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
    except ValueError:
        raise InvalidPublicKey(msg) from None


def _x25519_from_jwk(recipient: Mapping[object, object]) -> x25519.X25519PublicKey:
    if recipient.get("crv") != "X25519":
        msg = 'JWE wrapping takes OKP JWKs of crv "X25519" only'
        raise UnsupportedAlgorithm(msg)
    try:
        return x25519.X25519PublicKey.from_public_bytes(_member(recipient, "x"))
    except ValueError:
        msg = 'the JWK\'s "x" is not a 32-byte X25519 public key'
        raise InvalidPublicKey(msg) from None


def recipient_format(recipient_pem: str) -> tuple[WrappingFormat, bytes]:
    """Choose the format a recipient public key PEM is wrapped for, and return its DER.

    RSA keys get RSA_AES_KEY_WRAP_SHA_256; X25519 and MLKEM768X25519 (X-Wing) keys get HPKE.

    Raises:
        InvalidPublicKey: The PEM holds no public key, or one of another kind.
    """
    der = _pem_to_der(recipient_pem, WrappingFormat.RSA_AES_KEY_WRAP_SHA_256)
    if der.startswith(_XWING_SPKI_PREFIX):
        return WrappingFormat.HPKE, der
    key = _load_spki(der)
    if isinstance(key, rsa.RSAPublicKey):
        return WrappingFormat.RSA_AES_KEY_WRAP_SHA_256, der
    if isinstance(key, x25519.X25519PublicKey):
        return WrappingFormat.HPKE, der
    msg = f"a recipient must be an RSA, X25519 or MLKEM768X25519 public key (got {_kind(key)})"
    raise InvalidPublicKey(msg)


def unwrap_with(
    wrapping_format: WrappingFormat,
    algorithm: AsymmetricAlgorithm,
    private_key: KeyMaterial,
    wrapped: bytes,
    info: bytes,
) -> bytes:
    """Open a wrap made by :func:`wrap` with a stored private key of ``algorithm``.

    Raises:
        UnsupportedAlgorithm: A key of that algorithm cannot open that format.
        DecryptionFailed: The wrap is for another key, or altered.
    """
    key = asymmetric.load_private(algorithm, private_key)
    if wrapping_format is WrappingFormat.RSA_AES_KEY_WRAP_SHA_256 and isinstance(
        key, rsa.RSAPrivateKey
    ):
        return rsa_aes_key_unwrap(key, wrapped)
    if wrapping_format is WrappingFormat.HPKE and isinstance(key, x25519.X25519PrivateKey):
        return hpke_unwrap(key, wrapped, info)
    msg = f"a {algorithm} key cannot open a {wrapping_format} wrap"
    raise UnsupportedAlgorithm(msg)
