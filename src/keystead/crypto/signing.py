"""Signatures: which algorithms each key spec allows, and sign/verify of messages or digests.

Formats (ARCHITECTURE.md section 6): ECDSA signatures are DER, as OpenSSL writes them;
Ed25519 and ML-DSA signatures are raw; RSA signatures are raw big-endian, as long as the
modulus. RSA-PSS uses MGF1 with the message hash and a salt as long as the hash, as AWS KMS
does. ML-DSA is "pure" ML-DSA (FIPS 204 algorithm 2) with an empty context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from keystead.crypto import secp256k1
from keystead.crypto.asymmetric import AsymmetricAlgorithm, load_private, load_public
from keystead.crypto.secret import KeyMaterial
from keystead.errors import SignatureInvalid, UnsupportedAlgorithm


class SigningAlgorithm(StrEnum):
    """Closed set of signing algorithms; each member's value is its wire name."""

    RSASSA_PSS_SHA_256 = "RSASSA_PSS_SHA_256"
    RSASSA_PSS_SHA_384 = "RSASSA_PSS_SHA_384"
    RSASSA_PSS_SHA_512 = "RSASSA_PSS_SHA_512"
    RSASSA_PKCS1_V1_5_SHA_256 = "RSASSA_PKCS1_V1_5_SHA_256"
    RSASSA_PKCS1_V1_5_SHA_384 = "RSASSA_PKCS1_V1_5_SHA_384"
    RSASSA_PKCS1_V1_5_SHA_512 = "RSASSA_PKCS1_V1_5_SHA_512"
    ECDSA_SHA_256 = "ECDSA_SHA_256"
    ECDSA_SHA_384 = "ECDSA_SHA_384"
    ECDSA_SHA_512 = "ECDSA_SHA_512"
    ED25519 = "ED25519"
    ML_DSA = "ML_DSA"


class _Family(Enum):
    PSS = "pss"
    PKCS1 = "pkcs1"
    ECDSA = "ecdsa"
    # Ed25519 and ML-DSA hash inside the algorithm: they sign whole messages only.
    PURE = "pure"


@dataclass(frozen=True, slots=True)
class _Scheme:
    family: _Family
    hash: hashes.HashAlgorithm | None = None


_S = SigningAlgorithm
_SCHEMES: Final[Mapping[SigningAlgorithm, _Scheme]] = {
    _S.RSASSA_PSS_SHA_256: _Scheme(_Family.PSS, hashes.SHA256()),
    _S.RSASSA_PSS_SHA_384: _Scheme(_Family.PSS, hashes.SHA384()),
    _S.RSASSA_PSS_SHA_512: _Scheme(_Family.PSS, hashes.SHA512()),
    _S.RSASSA_PKCS1_V1_5_SHA_256: _Scheme(_Family.PKCS1, hashes.SHA256()),
    _S.RSASSA_PKCS1_V1_5_SHA_384: _Scheme(_Family.PKCS1, hashes.SHA384()),
    _S.RSASSA_PKCS1_V1_5_SHA_512: _Scheme(_Family.PKCS1, hashes.SHA512()),
    _S.ECDSA_SHA_256: _Scheme(_Family.ECDSA, hashes.SHA256()),
    _S.ECDSA_SHA_384: _Scheme(_Family.ECDSA, hashes.SHA384()),
    _S.ECDSA_SHA_512: _Scheme(_Family.ECDSA, hashes.SHA512()),
    _S.ED25519: _Scheme(_Family.PURE),
    _S.ML_DSA: _Scheme(_Family.PURE),
}

_RSA: Final = (
    _S.RSASSA_PSS_SHA_256,
    _S.RSASSA_PSS_SHA_384,
    _S.RSASSA_PSS_SHA_512,
    _S.RSASSA_PKCS1_V1_5_SHA_256,
    _S.RSASSA_PKCS1_V1_5_SHA_384,
    _S.RSASSA_PKCS1_V1_5_SHA_512,
)
_A = AsymmetricAlgorithm
# Which signing algorithms each spec allows; the first one is the default. Each EC curve
# signs with the hash of its own strength only, as in AWS KMS (NIST SP 800-57 Part 1 table 3).
SIGNING_ALGORITHMS: Final[Mapping[AsymmetricAlgorithm, tuple[SigningAlgorithm, ...]]] = {
    _A.RSA_2048: _RSA,
    _A.RSA_3072: _RSA,
    _A.RSA_4096: _RSA,
    _A.EC_P256: (_S.ECDSA_SHA_256,),
    _A.EC_SECP256K1: (_S.ECDSA_SHA_256,),
    _A.EC_P384: (_S.ECDSA_SHA_384,),
    _A.EC_P521: (_S.ECDSA_SHA_512,),
    _A.ED25519: (_S.ED25519,),
    _A.ML_DSA_44: (_S.ML_DSA,),
    _A.ML_DSA_65: (_S.ML_DSA,),
    _A.ML_DSA_87: (_S.ML_DSA,),
}


def allowed_signing_algorithms(algorithm: AsymmetricAlgorithm) -> tuple[SigningAlgorithm, ...]:
    """Return the signing algorithms a spec allows, the default first.

    Raises:
        UnsupportedAlgorithm: Keys of that spec cannot sign.
    """
    allowed = SIGNING_ALGORITHMS.get(algorithm)
    if allowed is None:
        msg = f"{algorithm} keys cannot sign"
        raise UnsupportedAlgorithm(msg)
    return allowed


def default_signing_algorithm(algorithm: AsymmetricAlgorithm) -> SigningAlgorithm:
    """Return the signing algorithm used when the caller names none.

    Raises:
        UnsupportedAlgorithm: Keys of that spec cannot sign.
    """
    return allowed_signing_algorithms(algorithm)[0]


def _scheme(algorithm: AsymmetricAlgorithm, signing_algorithm: SigningAlgorithm) -> _Scheme:
    allowed = allowed_signing_algorithms(algorithm)
    if signing_algorithm not in allowed:
        msg = (
            f"{algorithm} keys cannot sign with {signing_algorithm}; allowed: {', '.join(allowed)}"
        )
        raise UnsupportedAlgorithm(msg)
    return _SCHEMES[signing_algorithm]


def _input(
    algorithm: AsymmetricAlgorithm,
    signing_algorithm: SigningAlgorithm,
    message: bytes | None,
    digest: bytes | None,
) -> tuple[_Scheme, bytes, bool]:
    """Check the request; return the scheme, the data and whether it is a digest."""
    scheme = _scheme(algorithm, signing_algorithm)
    if (message is None) == (digest is None):
        msg = "give exactly one of message or digest"
        raise ValueError(msg)
    if digest is None:
        return scheme, message or b"", False
    if scheme.hash is None:
        msg = f"{algorithm} keys sign whole messages only, not digests: send the message"
        raise UnsupportedAlgorithm(msg)
    if len(digest) != scheme.hash.digest_size:
        msg = (
            f"{signing_algorithm} needs a {scheme.hash.digest_size}-byte "
            f"{scheme.hash.name.upper()} digest, got {len(digest)} bytes"
        )
        raise ValueError(msg)
    return scheme, digest, True


def _hash(scheme: _Scheme) -> hashes.HashAlgorithm:
    if scheme.hash is None:  # pragma: no cover - only RSA and ECDSA keys ask for a hash
        msg = "this signing algorithm has no separate hash"
        raise AssertionError(msg)
    return scheme.hash


def _hash_argument(scheme: _Scheme, *, prehashed: bool) -> hashes.HashAlgorithm | utils.Prehashed:
    return utils.Prehashed(_hash(scheme)) if prehashed else _hash(scheme)


def _padding(scheme: _Scheme) -> padding.AsymmetricPadding:
    if scheme.family is _Family.PKCS1:
        return padding.PKCS1v15()
    return padding.PSS(mgf=padding.MGF1(_hash(scheme)), salt_length=_hash(scheme).digest_size)


def sign(
    algorithm: AsymmetricAlgorithm,
    material: KeyMaterial,
    signing_algorithm: SigningAlgorithm,
    *,
    message: bytes | None = None,
    digest: bytes | None = None,
) -> bytes:
    """Sign a message, or the digest of one made by the caller.

    Args:
        algorithm: The key's spec.
        material: The version's private key (PKCS#8 DER).
        signing_algorithm: One the spec allows (:data:`SIGNING_ALGORITHMS`).
        message: The message to sign; or
        digest: its hash under the signing algorithm's hash (RSA and ECDSA only).

    Returns:
        The signature in the format of the module docstring.

    Raises:
        UnsupportedAlgorithm: The spec cannot sign, does not allow ``signing_algorithm``
            (the detail lists those it allows), or signs messages only and got a digest.
        ValueError: Not exactly one of message and digest, or a digest of the wrong length.
    """
    scheme, data, prehashed = _input(algorithm, signing_algorithm, message, digest)
    if algorithm is AsymmetricAlgorithm.EC_SECP256K1:
        return secp256k1.sign(material, data, prehashed=prehashed)
    return _sign_with(load_private(algorithm, material), scheme, data, prehashed=prehashed)


def _sign_with(key: PrivateKeyTypes, scheme: _Scheme, data: bytes, *, prehashed: bool) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, _padding(scheme), _hash_argument(scheme, prehashed=prehashed))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_hash_argument(scheme, prehashed=prehashed)))
    if isinstance(
        key,
        ed25519.Ed25519PrivateKey
        | mldsa.MLDSA44PrivateKey
        | mldsa.MLDSA65PrivateKey
        | mldsa.MLDSA87PrivateKey,
    ):
        return key.sign(data)
    msg = "no signing recipe for this key type"  # pragma: no cover - the table forbids it
    raise TypeError(msg)  # pragma: no cover


def verify(  # noqa: PLR0913 - the sign signature plus the signature itself
    algorithm: AsymmetricAlgorithm,
    public_key_der: bytes,
    signing_algorithm: SigningAlgorithm,
    signature: bytes,
    *,
    message: bytes | None = None,
    digest: bytes | None = None,
) -> None:
    """Verify a signature from the public key alone (so it also serves local verification).

    Args:
        algorithm: The key's spec.
        public_key_der: The version's SubjectPublicKeyInfo DER.
        signing_algorithm: The algorithm the signature was made with.
        signature: The signature, in the format of the module docstring.
        message: The signed message; or
        digest: its hash under the signing algorithm's hash (RSA and ECDSA only).

    Raises:
        SignatureInvalid: The signature does not verify or is malformed.
        InvalidPublicKey: ``public_key_der`` is not a public key of that spec.
        UnsupportedAlgorithm: As for :func:`sign`.
        ValueError: As for :func:`sign`.
    """
    scheme, data, prehashed = _input(algorithm, signing_algorithm, message, digest)
    if algorithm is AsymmetricAlgorithm.EC_SECP256K1:
        secp256k1.verify(public_key_der, signature, data, prehashed=prehashed)
        return
    key = load_public(algorithm, public_key_der)
    try:
        _verify_with(key, scheme, signature, data, prehashed=prehashed)
    except (InvalidSignature, ValueError):
        raise SignatureInvalid from None


def _verify_with(
    key: PublicKeyTypes, scheme: _Scheme, signature: bytes, data: bytes, *, prehashed: bool
) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        hash_argument = _hash_argument(scheme, prehashed=prehashed)
        key.verify(signature, data, _padding(scheme), hash_argument)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(_hash_argument(scheme, prehashed=prehashed)))
    elif isinstance(
        key,
        ed25519.Ed25519PublicKey
        | mldsa.MLDSA44PublicKey
        | mldsa.MLDSA65PublicKey
        | mldsa.MLDSA87PublicKey,
    ):
        key.verify(signature, data)
    else:  # pragma: no cover - the table forbids it
        msg = "no verification recipe for this key type"
        raise TypeError(msg)
