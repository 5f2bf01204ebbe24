"""Key agreement: X25519 (RFC 7748) and ECDH on the NIST curves (NIST SP 800-56A Rev. 3).

The result is the raw shared secret (the X25519 output, or the x-coordinate of the ECDH
point), as AWS KMS ``DeriveSharedSecret`` returns it: feed it to a KDF such as HKDF before
using it as a key.
"""

from __future__ import annotations

from typing import Final, cast

from cryptography.exceptions import UnsupportedAlgorithm as _BackendUnsupported
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from keystead.crypto.asymmetric import AsymmetricAlgorithm, load_private, load_public
from keystead.crypto.secret import KeyMaterial
from keystead.errors import InvalidPublicKey, UnsupportedAlgorithm

_A = AsymmetricAlgorithm
AGREEMENT_ALGORITHMS: Final = frozenset({_A.X25519, _A.EC_P256, _A.EC_P384, _A.EC_P521})
_X25519_BYTES: Final = 32
# First byte of a SEC 1 (section 2.3.3) point: compressed (0x02, 0x03) or uncompressed (0x04).
_SEC1_TAGS: Final = (b"\x02", b"\x03", b"\x04")


def _peer_key(
    algorithm: AsymmetricAlgorithm, private_key: object, peer_public_key: bytes
) -> PublicKeyTypes:
    """Parse the peer's key: SubjectPublicKeyInfo (DER or PEM), or the raw form of the curve."""
    try:
        if algorithm is _A.X25519 and len(peer_public_key) == _X25519_BYTES:
            return x25519.X25519PublicKey.from_public_bytes(peer_public_key)
        if isinstance(private_key, ec.EllipticCurvePrivateKey) and (
            peer_public_key[:1] in _SEC1_TAGS
        ):
            return ec.EllipticCurvePublicKey.from_encoded_point(private_key.curve, peer_public_key)
    except (ValueError, _BackendUnsupported):
        raise InvalidPublicKey(_wrong_peer(algorithm)) from None
    return load_public(algorithm, peer_public_key)


def derive_shared_secret(
    algorithm: AsymmetricAlgorithm, material: KeyMaterial, peer_public_key: bytes
) -> KeyMaterial:
    """Agree on a shared secret between this version's private key and a peer's public key.

    Args:
        algorithm: The key's spec: X25519, EC_P256, EC_P384 or EC_P521.
        material: The version's private key (PKCS#8 DER).
        peer_public_key: The peer's public key as SubjectPublicKeyInfo, DER or PEM; or raw:
            32 bytes for X25519, a SEC 1 point (compressed or not) for the EC curves.

    Returns:
        The raw shared secret (32 bytes for X25519 and P-256, 48 for P-384, 66 for P-521).

    Raises:
        UnsupportedAlgorithm: Keys of that spec cannot agree on secrets.
        InvalidPublicKey: The peer key is malformed, on another curve, of another type,
            or of small order (an all-zero X25519 output, RFC 7748 section 6.1).
    """
    if algorithm not in AGREEMENT_ALGORITHMS:
        allowed = ", ".join(sorted(AGREEMENT_ALGORITHMS))
        msg = f"{algorithm} keys cannot agree on shared secrets; {allowed} keys can"
        raise UnsupportedAlgorithm(msg)
    private_key = load_private(algorithm, material)
    peer = _peer_key(algorithm, private_key, peer_public_key)
    try:
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            shared = private_key.exchange(ec.ECDH(), cast("ec.EllipticCurvePublicKey", peer))
        else:
            shared = cast("x25519.X25519PrivateKey", private_key).exchange(
                cast("x25519.X25519PublicKey", peer)
            )
    except ValueError:
        raise InvalidPublicKey(_wrong_peer(algorithm)) from None
    return KeyMaterial(shared)


def _wrong_peer(algorithm: AsymmetricAlgorithm) -> str:
    return f"the peer public key is not a valid {algorithm} public key"
