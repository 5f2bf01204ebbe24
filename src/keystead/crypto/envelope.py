"""The self-describing symmetric ciphertext (ARCHITECTURE.md section 4).

Byte by byte::

    offset  size  field
    0       2     magic "KS"
    2       1     format 0x01
    3       16    key id (UUID bytes)
    19      4     key version (u32 big-endian)
    23      1     algorithm id (table below)
    24      n     nonce (n = 12 for AES-GCM and ChaCha20-Poly1305; n = 0 for AES-SIV)
    24+n    ...   ciphertext || 16-byte tag (AES-SIV: 16-byte synthetic IV || ciphertext)

Algorithm ids (``keystead.crypto.symmetric``)::

    id    algorithm           key bytes  nonce bytes
    0x01  AES_256_GCM         32         12 (random)
    0x02  AES_128_GCM         16         12 (random)
    0x03  CHACHA20_POLY1305   32         12 (random)
    0x04  unassigned
    0x05  AES_256_SIV         64         0  (deterministic, RFC 5297)

The associated data of the AEAD is the whole header (bytes 0 to 24+n, nonce included)
followed by the canonical encoding of the encryption context: a JSON object of strings
with sorted keys, no spaces, UTF-8. So any changed header byte or context entry fails
with ``DecryptionFailed`` (wire code ``InvalidCiphertext``), never a wrong plaintext.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from keystead.errors import DecryptionFailed

MAGIC: Final = b"KS"
FORMAT_V1: Final = 0x01
_FIXED = struct.Struct(">2sB16sIB")
HEADER_BYTES: Final = _FIXED.size


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The parsed fixed header of a ciphertext."""

    key_id: UUID
    version: int
    algorithm_id: int

    def pack(self) -> bytes:
        """Return the 24 fixed header bytes."""
        return _FIXED.pack(MAGIC, FORMAT_V1, self.key_id.bytes, self.version, self.algorithm_id)


def parse_header(blob: bytes) -> EnvelopeHeader:
    """Parse the fixed header of ``blob``.

    Raises:
        DecryptionFailed: Too short, wrong magic or unknown format.
    """
    if len(blob) < HEADER_BYTES:
        raise DecryptionFailed
    magic, fmt, key_id, version, algorithm_id = _FIXED.unpack_from(blob)
    if magic != MAGIC or fmt != FORMAT_V1:
        raise DecryptionFailed
    return EnvelopeHeader(UUID(bytes=key_id), version, algorithm_id)


def canonical_context(context: Mapping[str, str]) -> bytes:
    """Encode an encryption context canonically: sorted keys, no spaces, UTF-8."""
    if not context:
        return b"{}"
    return json.dumps(
        dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
