"""Local verification of signatures over canonical (RFC 8785) bytes.

The exchange never holds a private key: users and the exchange itself sign through
Keystead, and anyone holding the public key can check a signature offline with these
helpers. Verification goes through the :mod:`keystead.crypto.signing` recipes, since only
``keystead.crypto`` may touch ``cryptography`` or ``coincurve``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from keystead.crypto.asymmetric import AsymmetricAlgorithm, load_public
from keystead.crypto.signing import SigningAlgorithm, default_signing_algorithm, verify
from keystead.errors import InvalidPublicKey, SignatureInvalid, UnsupportedAlgorithm

# The specs a verifier is offered when only a PEM file is at hand, most likely first.
DETECTABLE_SPECS: Final[tuple[str, ...]] = (
    "EC_SECP256K1",
    "EC_P256",
    "EC_P384",
    "ED25519",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
)

_PEM: Final = re.compile(
    r"-----BEGIN PUBLIC KEY-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----"
)
_NOT_A_KEY: Final = "not a public key Keystead can verify with"


@dataclass(frozen=True, slots=True)
class VersionKey:
    """The public half of one version of a signing key: public, so its repr may show it."""

    key_id: str
    version: int
    spec: str
    public_key_der: bytes


def _algorithm(spec: str) -> AsymmetricAlgorithm:
    try:
        return AsymmetricAlgorithm(spec)
    except ValueError:
        msg = f"unknown key spec {spec!r}"
        raise ValueError(msg) from None


def default_algorithm(spec: str) -> SigningAlgorithm:
    """Return the signing algorithm Keystead uses for ``spec`` when none is named.

    Raises:
        ValueError: ``spec`` is unknown or its keys cannot sign.
    """
    try:
        return default_signing_algorithm(_algorithm(spec))
    except UnsupportedAlgorithm as error:
        raise ValueError(error.public_detail) from None


def verify_signed(key: VersionKey, message: bytes, signature: bytes) -> bool:
    """Check ``signature`` over ``message`` under the spec's default signing algorithm.

    Returns:
        True if the signature verifies; False if it does not or is malformed.

    Raises:
        ValueError: ``key.spec`` is unknown or its keys cannot sign.
        InvalidPublicKey: ``key.public_key_der`` is not a public key of that spec.
    """
    signing_algorithm = default_algorithm(key.spec)
    try:
        verify(
            AsymmetricAlgorithm(key.spec),
            key.public_key_der,
            signing_algorithm,
            signature,
            message=message,
        )
    except SignatureInvalid:
        return False
    return True


def public_key_from_pem(pem: str) -> bytes:
    """Return the SubjectPublicKeyInfo DER inside a ``-----BEGIN PUBLIC KEY-----`` PEM.

    Raises:
        ValueError: The text holds no public key PEM block, or its body is not base64.
    """
    match = _PEM.search(pem)
    if match is None:
        msg = "no -----BEGIN PUBLIC KEY----- block found"
        raise ValueError(msg)
    body = "".join(match.group("body").split())
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        msg = "the public key PEM body is not valid base64"
        raise ValueError(msg) from None


def spec_of_public_key(der: bytes) -> str:
    """Return the Keystead spec (e.g. ``"EC_P256"``) of a SubjectPublicKeyInfo DER.

    Raises:
        ValueError: The bytes are not a public key of any spec in :data:`DETECTABLE_SPECS`.
    """
    for spec in DETECTABLE_SPECS:
        try:
            load_public(AsymmetricAlgorithm(spec), der)
        except InvalidPublicKey:
            continue
        return spec
    raise ValueError(_NOT_A_KEY)
