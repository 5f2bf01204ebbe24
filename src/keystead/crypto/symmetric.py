"""Symmetric AEAD keys: generation and the envelope of section 4 per algorithm."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

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


@dataclass(frozen=True, slots=True)
class _Parameters:
    algorithm_id: int
    key_bytes: int
    nonce_bytes: int
    cipher: Callable[[bytes], AESGCM | ChaCha20Poly1305]


_PARAMETERS: Final[Mapping[AeadAlgorithm, _Parameters]] = {
    AeadAlgorithm.AES_256_GCM: _Parameters(0x01, 32, 12, AESGCM),
    AeadAlgorithm.AES_128_GCM: _Parameters(0x02, 16, 12, AESGCM),
    AeadAlgorithm.CHACHA20_POLY1305: _Parameters(0x03, 32, 12, ChaCha20Poly1305),
}
_BY_ID: Final = {params.algorithm_id: algorithm for algorithm, params in _PARAMETERS.items()}


def _check_key(params: _Parameters, key: KeyMaterial) -> None:
    if len(key) != params.key_bytes:
        msg = f"this algorithm needs a {params.key_bytes}-byte key, got {len(key)}"
        raise ValueError(msg)


def generate(algorithm: AeadAlgorithm) -> KeyMaterial:
    """Return fresh key material of the right length from the OS CSPRNG."""
    return generate_key(_PARAMETERS[algorithm].key_bytes)


def encrypt(
    algorithm: AeadAlgorithm,
    key: KeyMaterial,
    header: tuple[UUID, int],
    plaintext: bytes,
    context: Mapping[str, str],
) -> bytes:
    """Encrypt into the section 4 envelope under a random nonce.

    Args:
        algorithm: The key's algorithm.
        key: The version's material.
        header: ``(key id, version)`` written into the envelope.
        plaintext: What to protect.
        context: The encryption context, bound as associated data.

    Returns:
        The whole envelope.
    """
    params = _PARAMETERS[algorithm]
    return _encrypt_from_parts(
        algorithm,
        key=key,
        header=header,
        plaintext=plaintext,
        context=context,
        nonce=random_bytes(params.nonce_bytes),
    )


def _encrypt_from_parts(  # noqa: PLR0913 - the injectable seam of STYLE.md C22
    algorithm: AeadAlgorithm,
    *,
    key: KeyMaterial,
    header: tuple[UUID, int],
    plaintext: bytes,
    context: Mapping[str, str],
    nonce: bytes,
) -> bytes:
    params = _PARAMETERS[algorithm]
    _check_key(params, key)
    prefix = EnvelopeHeader(header[0], header[1], params.algorithm_id).pack() + nonce
    with key.expose() as raw:
        body = params.cipher(raw).encrypt(nonce, plaintext, prefix + canonical_context(context))
    return prefix + body


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
    algorithm: AeadAlgorithm, key: KeyMaterial, ciphertext: bytes, context: Mapping[str, str]
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
    split = len(header.pack()) + params.nonce_bytes
    if len(ciphertext) < split + _TAG_BYTES:
        raise DecryptionFailed
    nonce, body = ciphertext[len(header.pack()) : split], ciphertext[split:]
    with key.expose() as raw:
        try:
            return params.cipher(raw).decrypt(
                nonce, body, ciphertext[:split] + canonical_context(context)
            )
        except InvalidTag:
            raise DecryptionFailed from None
