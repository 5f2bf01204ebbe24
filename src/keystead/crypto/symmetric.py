"""Symmetric AEAD keys: generation, data keys, and the envelope of section 4 per algorithm.

AES-256-SIV (RFC 5297) is the deterministic one: no nonce, so the same plaintext, context
and key version always give the same ciphertext. That reveals equal plaintexts, which is
its purpose (lookups on encrypted columns), and, being misuse-resistant, it needs no
nonce budget (NIST SP 800-38D section 8.3 binds only the random-nonce AEADs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NoReturn, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV, ChaCha20Poly1305

from keystead.crypto.envelope import EnvelopeHeader, canonical_context, parse_header
from keystead.crypto.random import generate_key, random_bytes
from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed

_TAG_BYTES: Final = 16


class AeadAlgorithm(StrEnum):
    """Closed set of AEAD algorithms; each member's value is its spec name."""

    AES_128_GCM = "AES_128_GCM"
    AES_256_GCM = "AES_256_GCM"
    CHACHA20_POLY1305 = "CHACHA20_POLY1305"


class DeterministicAlgorithm(StrEnum):
    """Closed set of deterministic (nonce-free) AEAD algorithms; values are spec names."""

    AES_256_SIV = "AES_256_SIV"


SymmetricAlgorithm = AeadAlgorithm | DeterministicAlgorithm

# The envelope id of AES-256-SIV. 0x04 stays unassigned: the envelope tests pin it as an
# unknown id (tests/unit/crypto/test_envelope.py, test_read_header_refuses_garbage).
AES_256_SIV_ID: Final = 0x05


class _Cipher(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes: ...


class _Siv:
    """AES-SIV behind the nonce-taking interface of the other AEADs; the nonce is empty.

    The output is the 16-byte synthetic IV (the tag) followed by the ciphertext
    (RFC 5297 section 2.6), and the one associated-data string is the header plus the
    canonical context, exactly as for the others.
    """

    __slots__ = ("_siv",)

    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(key)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes:
        del nonce
        return self._siv.encrypt(data, [associated_data])

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes) -> bytes:
        del nonce
        return self._siv.decrypt(data, [associated_data])


@dataclass(frozen=True, slots=True)
class _Parameters:
    algorithm_id: int
    key_bytes: int
    nonce_bytes: int
    cipher: Callable[[bytes], _Cipher]


_PARAMETERS: Final[Mapping[SymmetricAlgorithm, _Parameters]] = {
    AeadAlgorithm.AES_256_GCM: _Parameters(0x01, 32, 12, AESGCM),
    AeadAlgorithm.AES_128_GCM: _Parameters(0x02, 16, 12, AESGCM),
    AeadAlgorithm.CHACHA20_POLY1305: _Parameters(0x03, 32, 12, ChaCha20Poly1305),
    # AES-SIV takes two AES-256 keys, one for S2V and one for CTR (RFC 5297 section 2.2).
    DeterministicAlgorithm.AES_256_SIV: _Parameters(AES_256_SIV_ID, 64, 0, _Siv),
}
_BY_ID: Final = {params.algorithm_id: algorithm for algorithm, params in _PARAMETERS.items()}
# Data keys handed to callers (POST /v1/keys/{key}/data-key): AES-128 or AES-256.
DATA_KEY_SIZES: Final = frozenset({16, 32})


def algorithm_for_spec(spec: str) -> SymmetricAlgorithm:
    """Return the symmetric algorithm whose value is ``spec`` (a key spec name).

    Raises:
        ValueError: ``spec`` names no symmetric algorithm.
    """
    if spec in DeterministicAlgorithm.__members__:
        return DeterministicAlgorithm(spec)
    return AeadAlgorithm(spec)


def generate_data_key(size_bytes: int) -> KeyMaterial:
    """Return a fresh data key from the OS CSPRNG for a caller's own encryption.

    Args:
        size_bytes: 16 (AES-128) or 32 (AES-256).

    Returns:
        The key, held in a KeyMaterial.

    Raises:
        ValueError: Another size.
    """
    if size_bytes not in DATA_KEY_SIZES:
        msg = f"a data key is 16 or 32 bytes, not {size_bytes}"
        raise ValueError(msg)
    return generate_key(size_bytes)


def _check_key(params: _Parameters, key: KeyMaterial) -> None:
    if len(key) != params.key_bytes:
        msg = f"this algorithm needs a {params.key_bytes}-byte key, got {len(key)}"
        raise ValueError(msg)


def key_bytes(algorithm: SymmetricAlgorithm) -> int:
    """Return how long the algorithm's keys are."""
    return _PARAMETERS[algorithm].key_bytes


def generate(algorithm: SymmetricAlgorithm) -> KeyMaterial:
    """Return fresh key material of the right length from the OS CSPRNG."""
    return generate_key(key_bytes(algorithm))


def encrypt(
    algorithm: SymmetricAlgorithm,
    key: KeyMaterial,
    header: tuple[UUID, int],
    plaintext: bytes,
    context: Mapping[str, str],
) -> bytes:
    """Encrypt into the section 4 envelope, under a random nonce (AES-SIV: none).

    Args:
        algorithm: The key's algorithm.
        key: The version's material.
        header: ``(key id, version)`` written into the envelope.
        plaintext: What to protect.
        context: The encryption context, bound as associated data.

    Returns:
        The whole envelope.
    """
    return PreparedKey(algorithm, key, header[0], header[1]).encrypt(plaintext, context)


def _encrypt_from_parts(  # noqa: PLR0913 - the injectable seam of STYLE.md C22
    algorithm: SymmetricAlgorithm,
    *,
    key: KeyMaterial,
    header: tuple[UUID, int],
    plaintext: bytes,
    context: Mapping[str, str],
    nonce: bytes,
) -> bytes:
    prepared = PreparedKey(algorithm, key, header[0], header[1])
    return prepared.encrypt_with_nonce(plaintext, context, nonce)


class PreparedKey:
    """One version's cipher with its envelope header, built once so a hot key costs no setup.

    It holds the key inside the cipher object (OpenSSL's memory), beyond ``KeyMaterial``'s
    reach: the key cache that keeps it drops it on seal and on any change of the key.
    """

    __slots__ = ("_cipher", "_header", "_nonce_bytes")

    def __init__(
        self, algorithm: SymmetricAlgorithm, key: KeyMaterial, key_id: UUID, version: int
    ) -> None:
        params = _PARAMETERS[algorithm]
        _check_key(params, key)
        with key.expose() as raw:
            self._cipher = params.cipher(raw)
        self._header = EnvelopeHeader(key_id, version, params.algorithm_id).pack()
        self._nonce_bytes = params.nonce_bytes

    def __repr__(self) -> str:
        return "PreparedKey(<redacted>)"

    def __reduce__(self) -> NoReturn:
        msg = "PreparedKey cannot be pickled"
        raise TypeError(msg)

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        """Encrypt into the section 4 envelope under a fresh random nonce (SIV: none)."""
        nonce = random_bytes(self._nonce_bytes) if self._nonce_bytes else b""
        return self.encrypt_with_nonce(plaintext, context, nonce)

    def encrypt_with_nonce(
        self, plaintext: bytes, context: Mapping[str, str], nonce: bytes
    ) -> bytes:
        """Encrypt with a given nonce: the seam for known-answer tests (STYLE.md C22)."""
        prefix = self._header + nonce
        return prefix + self._cipher.encrypt(nonce, plaintext, prefix + canonical_context(context))

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """Decrypt an envelope of exactly this key version and algorithm.

        Raises:
            DecryptionFailed: Another header, a short blob, other context, any changed byte.
        """
        split = len(self._header) + self._nonce_bytes
        if len(ciphertext) < split + _TAG_BYTES or not ciphertext.startswith(self._header):
            raise DecryptionFailed
        nonce = ciphertext[len(self._header) : split]
        try:
            return self._cipher.decrypt(
                nonce, ciphertext[split:], ciphertext[:split] + canonical_context(context)
            )
        except InvalidTag:
            raise DecryptionFailed from None


def read_header(ciphertext: bytes) -> tuple[UUID, int]:
    """Return ``(key id, version)`` of an envelope without decrypting it.

    Raises:
        DecryptionFailed: Not an envelope of a known algorithm.
    """
    header = parse_header(ciphertext)
    if header.algorithm_id not in _BY_ID:
        raise DecryptionFailed
    return header.key_id, header.version


def decrypt(
    algorithm: SymmetricAlgorithm, key: KeyMaterial, ciphertext: bytes, context: Mapping[str, str]
) -> bytes:
    """Decrypt an envelope made by :func:`encrypt` for this key.

    Raises:
        DecryptionFailed: Any failure: other algorithm, key, context, or changed byte.
    """
    header = parse_header(ciphertext)
    params = _PARAMETERS[algorithm]
    _check_key(params, key)
    if header.algorithm_id != params.algorithm_id:
        raise DecryptionFailed
    return PreparedKey(algorithm, key, header.key_id, header.version).decrypt(ciphertext, context)
