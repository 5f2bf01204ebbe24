"""Key specs and usages (ARCHITECTURE.md section 2)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class KeyUsage(StrEnum):
    """What a key is for."""

    ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
    SIGN_VERIFY = "SIGN_VERIFY"
    GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
    KEY_AGREEMENT = "KEY_AGREEMENT"
    KEY_ENCAPSULATION = "KEY_ENCAPSULATION"


class KeySpec(StrEnum):
    """The algorithm and size of a key's material."""

    AES_128_GCM = "AES_128_GCM"
    AES_256_GCM = "AES_256_GCM"
    CHACHA20_POLY1305 = "CHACHA20_POLY1305"
    AES_256_SIV = "AES_256_SIV"
    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    RSA_4096 = "RSA_4096"
    EC_P256 = "EC_P256"
    EC_P384 = "EC_P384"
    EC_P521 = "EC_P521"
    EC_SECP256K1 = "EC_SECP256K1"
    ED25519 = "ED25519"
    X25519 = "X25519"
    HMAC_SHA256 = "HMAC_SHA256"
    HMAC_SHA384 = "HMAC_SHA384"
    HMAC_SHA512 = "HMAC_SHA512"
    ML_DSA_44 = "ML_DSA_44"
    ML_DSA_65 = "ML_DSA_65"
    ML_DSA_87 = "ML_DSA_87"
    ML_KEM_768 = "ML_KEM_768"
    ML_KEM_1024 = "ML_KEM_1024"


_S, _U = KeySpec, KeyUsage
_RSA = frozenset({_S.RSA_2048, _S.RSA_3072, _S.RSA_4096})

SYMMETRIC_AEAD: Final = frozenset(
    {_S.AES_128_GCM, _S.AES_256_GCM, _S.CHACHA20_POLY1305, _S.AES_256_SIV}
)
MAC_SPECS: Final = frozenset({_S.HMAC_SHA256, _S.HMAC_SHA384, _S.HMAC_SHA512})
ASYMMETRIC: Final = frozenset(set(_S) - SYMMETRIC_AEAD - MAC_SPECS)

SPEC_USAGES: Final[Mapping[KeySpec, frozenset[KeyUsage]]] = {
    **{spec: frozenset({_U.ENCRYPT_DECRYPT}) for spec in SYMMETRIC_AEAD},
    **{spec: frozenset({_U.ENCRYPT_DECRYPT, _U.SIGN_VERIFY}) for spec in _RSA},
    _S.EC_P256: frozenset({_U.SIGN_VERIFY, _U.KEY_AGREEMENT}),
    _S.EC_P384: frozenset({_U.SIGN_VERIFY}),
    _S.EC_P521: frozenset({_U.SIGN_VERIFY}),
    _S.EC_SECP256K1: frozenset({_U.SIGN_VERIFY}),
    _S.ED25519: frozenset({_U.SIGN_VERIFY}),
    _S.X25519: frozenset({_U.KEY_AGREEMENT}),
    **{spec: frozenset({_U.GENERATE_VERIFY_MAC}) for spec in MAC_SPECS},
    _S.ML_DSA_44: frozenset({_U.SIGN_VERIFY}),
    _S.ML_DSA_65: frozenset({_U.SIGN_VERIFY}),
    _S.ML_DSA_87: frozenset({_U.SIGN_VERIFY}),
    _S.ML_KEM_768: frozenset({_U.KEY_ENCAPSULATION}),
    _S.ML_KEM_1024: frozenset({_U.KEY_ENCAPSULATION}),
}

# Random 96-bit nonces: at most 2^32 encryptions per key version (NIST SP 800-38D s. 8.3).
# The version rotates on its own before it reaches this many; SIV is nonce-free.
AEAD_USAGE_LIMIT: Final = 2**32
USAGE_LIMITS: Final[Mapping[KeySpec, int]] = {
    _S.AES_128_GCM: AEAD_USAGE_LIMIT,
    _S.AES_256_GCM: AEAD_USAGE_LIMIT,
    _S.CHACHA20_POLY1305: AEAD_USAGE_LIMIT,
}


def default_usage(spec: KeySpec) -> KeyUsage:
    """The usage a key of ``spec`` gets when the caller names none."""
    usages = SPEC_USAGES[spec]
    for usage in KeyUsage:  # in declaration order: ENCRYPT_DECRYPT first, as AWS KMS
        if usage in usages:
            return usage
    raise AssertionError(spec)  # pragma: no cover - every spec has a usage
