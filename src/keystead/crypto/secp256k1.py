"""ECDSA over secp256k1 through libsecp256k1 (coincurve): RFC 6979 nonces, low-S, DER.

libsecp256k1 signed 52k/s here against 3.8k/s through OpenSSL (ARCHITECTURE.md section 2).
Its signatures are ordinary DER ECDSA signatures, so OpenSSL and ``cryptography`` verify
them; the other way round, :func:`verify` first folds a high-S signature to low-S, since
libsecp256k1 refuses high-S as malleable while standard ECDSA (SEC 1) accepts both.
"""

from __future__ import annotations

import hashlib
from typing import Final, cast

import coincurve
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from keystead.crypto.asymmetric import AsymmetricAlgorithm, load_private, load_public
from keystead.crypto.secret import KeyMaterial
from keystead.errors import InvalidPublicKey, SignatureInvalid

# The order n of the secp256k1 group (SEC 2 v2, section 2.4.1).
_ORDER: Final = 0xFFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFE_BAAEDCE6_AF48A03B_BFD25E8C_D0364141
_SECRET_BYTES: Final = 32

# Loading a secp256k1 PKCS#8 through OpenSSL costs about 0.6 ms, ten times the signature
# itself; so the PKCS#8 that ``asymmetric.generate`` writes is recognised by its exact
# prefix (version 0, id-ecPublicKey with secp256k1, ECPrivateKey version 1, then the
# 32-byte secret) and anything else, such as an imported key, goes through OpenSSL.
_PKCS8_PREFIX: Final = bytes.fromhex(
    "308184020100301006072a8648ce3d020106052b8104000a046d306b0201010420"
)
_PKCS8_BYTES: Final = 135
# SubjectPublicKeyInfo of an uncompressed secp256k1 point, followed by the 65-byte point.
_SPKI_PREFIX: Final = bytes.fromhex("3056301006072a8648ce3d020106052b8104000a034200")
_SPKI_BYTES: Final = 88


def _sha256(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


def _private_key(material: KeyMaterial) -> coincurve.PrivateKey:
    with material.expose() as raw:
        if len(raw) == _PKCS8_BYTES and raw.startswith(_PKCS8_PREFIX):
            start = len(_PKCS8_PREFIX)
            return coincurve.PrivateKey(raw[start : start + _SECRET_BYTES])
    # load_private has checked that this is an EC key on secp256k1.
    key = cast(
        "ec.EllipticCurvePrivateKey", load_private(AsymmetricAlgorithm.EC_SECP256K1, material)
    )
    return coincurve.PrivateKey(key.private_numbers().private_value.to_bytes(_SECRET_BYTES, "big"))


def _public_key(public_key_der: bytes) -> coincurve.PublicKey:
    if len(public_key_der) == _SPKI_BYTES and public_key_der.startswith(_SPKI_PREFIX):
        point = public_key_der[len(_SPKI_PREFIX) :]
    else:
        key = load_public(AsymmetricAlgorithm.EC_SECP256K1, public_key_der)
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    try:
        return coincurve.PublicKey(point)
    except ValueError:
        raise InvalidPublicKey from None


def sign(material: KeyMaterial, data: bytes, *, prehashed: bool) -> bytes:
    """Sign with ECDSA-SHA-256 on secp256k1.

    Args:
        material: The EC_SECP256K1 private key (PKCS#8 DER).
        data: The message, or its 32-byte SHA-256 digest when ``prehashed``.
        prehashed: Whether ``data`` is already the digest.

    Returns:
        The DER signature, low-S, with an RFC 6979 deterministic nonce.
    """
    return _private_key(material).sign(data, hasher=None if prehashed else _sha256)


def verify(public_key_der: bytes, signature: bytes, data: bytes, *, prehashed: bool) -> None:
    """Verify a DER ECDSA-SHA-256 signature on secp256k1, accepting high-S as SEC 1 does.

    Args:
        public_key_der: SubjectPublicKeyInfo DER of the EC_SECP256K1 public key.
        signature: The DER signature.
        data: The message, or its 32-byte SHA-256 digest when ``prehashed``.
        prehashed: Whether ``data`` is already the digest.

    Raises:
        SignatureInvalid: The signature is malformed or does not verify.
        InvalidPublicKey: The public key is not a secp256k1 point.
    """
    public_key = _public_key(public_key_der)
    try:
        r, s = decode_dss_signature(signature)
        if not (0 < r < _ORDER and 0 < s < _ORDER):
            raise SignatureInvalid
        if s > _ORDER // 2:
            s = _ORDER - s
        low_s = encode_dss_signature(r, s)
        valid = public_key.verify(low_s, data, hasher=None if prehashed else _sha256)
    except ValueError:
        raise SignatureInvalid from None
    if not valid:
        raise SignatureInvalid
