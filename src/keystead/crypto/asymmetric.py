"""Asymmetric key pairs: generation, the stored private form, and the public key.

Every private key is stored as an unencrypted PKCS#8 ``PrivateKeyInfo`` in DER (RFC 5208),
held only inside a :class:`~keystead.crypto.secret.KeyMaterial`. For ML-DSA (RFC 9881) and
ML-KEM (RFC 9935) that is the seed-only form (a 32-byte seed for ML-DSA, the 64-byte ``d||z``
seed for ML-KEM), the only one ``cryptography`` writes and the smallest. The public key
leaves as a SubjectPublicKeyInfo (RFC 5280), DER or PEM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm as _BackendUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from keystead.crypto.secret import KeyMaterial
from keystead.errors import InvalidPublicKey

# NIST SP 800-56B Rev. 2 section 6.2 and FIPS 186-5 recommend e = 65537.
_RSA_PUBLIC_EXPONENT: Final = 65537


class AsymmetricAlgorithm(StrEnum):
    """Closed set of asymmetric key specs; each member's value is its spec name."""

    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    RSA_4096 = "RSA_4096"
    EC_P256 = "EC_P256"
    EC_P384 = "EC_P384"
    EC_P521 = "EC_P521"
    EC_SECP256K1 = "EC_SECP256K1"
    ED25519 = "ED25519"
    X25519 = "X25519"
    ML_DSA_44 = "ML_DSA_44"
    ML_DSA_65 = "ML_DSA_65"
    ML_DSA_87 = "ML_DSA_87"
    ML_KEM_768 = "ML_KEM_768"
    ML_KEM_1024 = "ML_KEM_1024"


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to make a key of one spec, and how to recognise its two halves."""

    generate: Callable[[], PrivateKeyTypes]
    private_type: type[object]
    public_type: type[object]
    # RSA modulus bits or EC curve name; None where the type alone fixes the parameters.
    parameter: int | str | None = None


def _rsa(bits: int) -> _Spec:
    return _Spec(
        lambda: rsa.generate_private_key(_RSA_PUBLIC_EXPONENT, bits),
        rsa.RSAPrivateKey,
        rsa.RSAPublicKey,
        bits,
    )


def _ec(curve: ec.EllipticCurve) -> _Spec:
    return _Spec(
        lambda: ec.generate_private_key(curve),
        ec.EllipticCurvePrivateKey,
        ec.EllipticCurvePublicKey,
        curve.name,
    )


_A = AsymmetricAlgorithm
_SPECS: Final[Mapping[AsymmetricAlgorithm, _Spec]] = {
    _A.RSA_2048: _rsa(2048),
    _A.RSA_3072: _rsa(3072),
    _A.RSA_4096: _rsa(4096),
    _A.EC_P256: _ec(ec.SECP256R1()),
    _A.EC_P384: _ec(ec.SECP384R1()),
    _A.EC_P521: _ec(ec.SECP521R1()),
    _A.EC_SECP256K1: _ec(ec.SECP256K1()),
    _A.ED25519: _Spec(
        ed25519.Ed25519PrivateKey.generate, ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey
    ),
    _A.X25519: _Spec(
        x25519.X25519PrivateKey.generate, x25519.X25519PrivateKey, x25519.X25519PublicKey
    ),
    _A.ML_DSA_44: _Spec(
        mldsa.MLDSA44PrivateKey.generate, mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey
    ),
    _A.ML_DSA_65: _Spec(
        mldsa.MLDSA65PrivateKey.generate, mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey
    ),
    _A.ML_DSA_87: _Spec(
        mldsa.MLDSA87PrivateKey.generate, mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey
    ),
    _A.ML_KEM_768: _Spec(
        mlkem.MLKEM768PrivateKey.generate, mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey
    ),
    _A.ML_KEM_1024: _Spec(
        mlkem.MLKEM1024PrivateKey.generate, mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey
    ),
}

RSA_ALGORITHMS: Final = frozenset({_A.RSA_2048, _A.RSA_3072, _A.RSA_4096})
ML_DSA_ALGORITHMS: Final = frozenset({_A.ML_DSA_44, _A.ML_DSA_65, _A.ML_DSA_87})
ML_KEM_ALGORITHMS: Final = frozenset({_A.ML_KEM_768, _A.ML_KEM_1024})


def _is_spec(algorithm: AsymmetricAlgorithm, key: object, *, private: bool) -> bool:
    spec = _SPECS[algorithm]
    if not isinstance(key, spec.private_type if private else spec.public_type):
        return False
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return key.key_size == spec.parameter
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return key.curve.name == spec.parameter
    return True


def _serialize_private(key: PrivateKeyTypes) -> KeyMaterial:
    return KeyMaterial(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def generate(algorithm: AsymmetricAlgorithm) -> KeyMaterial:
    """Generate a key pair from the OS CSPRNG (through OpenSSL) and return its private key.

    Args:
        algorithm: The key spec.

    Returns:
        The private key as unencrypted PKCS#8 DER (seed form for ML-DSA and ML-KEM).
    """
    return _serialize_private(_SPECS[algorithm].generate())


def import_private(algorithm: AsymmetricAlgorithm, pkcs8_der: bytes) -> KeyMaterial:
    """Validate a caller's PKCS#8 private key and return it in Keystead's stored form.

    RSA keys get OpenSSL's full consistency check here, once, so that :func:`load_private`
    can skip it on every use.

    Args:
        algorithm: The spec the key must have.
        pkcs8_der: An unencrypted PKCS#8 ``PrivateKeyInfo`` in DER.

    Returns:
        The key re-encoded as :func:`generate` would have written it.

    Raises:
        ValueError: The bytes are not a valid private key of that spec (the service
            answers 400).
    """
    try:
        key = serialization.load_der_private_key(pkcs8_der, password=None)
    except (ValueError, TypeError, _BackendUnsupported):
        raise ValueError(_not_a_key(algorithm, "private")) from None
    if not _is_spec(algorithm, key, private=True):
        raise ValueError(_not_a_key(algorithm, "private"))
    return _serialize_private(key)


def load_private(algorithm: AsymmetricAlgorithm, material: KeyMaterial) -> PrivateKeyTypes:
    """Parse stored material into a ``cryptography`` private key (for the crypto package only).

    The material was written by :func:`generate` or :func:`import_private` and has been
    authenticated by the barrier's AEAD since, so it is a well-formed key of its spec.

    Args:
        algorithm: The version's spec.
        material: Its PKCS#8 DER.

    Returns:
        The private key object.

    Raises:
        ValueError: The material is not a key of that spec (a bug, never caller input).
    """
    with material.expose() as raw:
        # The RSA pairwise check costs 50 ms (RSA-2048) to 400 ms (RSA-4096) per load with
        # OpenSSL here. It guards against malformed keys from outside, which import_private
        # already ran; OpenSSL also checks each CRT result against e (rsa_ossl_mod_exp).
        key = serialization.load_der_private_key(
            raw, password=None, unsafe_skip_rsa_key_validation=True
        )
    if not _is_spec(algorithm, key, private=True):
        msg = f"stored material is not an {algorithm} private key"
        raise ValueError(msg)
    return key


def load_public(algorithm: AsymmetricAlgorithm, public_key: bytes) -> PublicKeyTypes:
    """Parse a SubjectPublicKeyInfo, DER or PEM, and check that it is a key of ``algorithm``.

    Raises:
        InvalidPublicKey: Not a parseable public key, or one of another spec.
    """
    try:
        if public_key.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(public_key)
        else:
            key = serialization.load_der_public_key(public_key)
    except (ValueError, TypeError, _BackendUnsupported):
        raise InvalidPublicKey(_not_a_key(algorithm, "public")) from None
    if not _is_spec(algorithm, key, private=False):
        raise InvalidPublicKey(_not_a_key(algorithm, "public"))
    return key


def public_key_der(algorithm: AsymmetricAlgorithm, material: KeyMaterial) -> bytes:
    """Return the public half of a stored key as SubjectPublicKeyInfo DER."""
    return (
        load_private(algorithm, material)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def public_key_pem(algorithm: AsymmetricAlgorithm, material: KeyMaterial) -> str:
    """Return the public half of a stored key as a ``-----BEGIN PUBLIC KEY-----`` PEM."""
    return der_to_pem(public_key_der(algorithm, material))


def der_to_pem(public_key_der: bytes) -> str:
    """Re-encode a SubjectPublicKeyInfo DER as PEM text.

    Raises:
        InvalidPublicKey: The bytes are not a public key.
    """
    try:
        key = serialization.load_der_public_key(public_key_der)
    except (ValueError, TypeError, _BackendUnsupported):
        raise InvalidPublicKey from None
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def _not_a_key(algorithm: AsymmetricAlgorithm, half: str) -> str:
    return f"not a {half} key of spec {algorithm}"
