"""Signed checkpoints: Keystead's Ed25519 audit key vouches for the chain up to a record.

A checkpoint signs ``b"keystead/audit-checkpoint/v1" || canonical({"seq", "entry_hash",
"time"})`` (``entry_hash`` in lower-case hex). Anyone with the published public key can check
one; a log cut short after a checkpoint, or re-chained from an earlier record, no longer
matches it.
"""

from __future__ import annotations

from dataclasses import dataclass

from keystead.crypto import asymmetric, signing
from keystead.crypto.secret import KeyMaterial
from keystead.domain.audit import canonical
from keystead.errors import CryptoError

_CONTEXT = b"keystead/audit-checkpoint/v1"
_ED25519 = asymmetric.AsymmetricAlgorithm.ED25519


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's state at one record, and the signature over it."""

    seq: int
    entry_hash: bytes
    time: str
    signature: bytes


def message(seq: int, entry_hash: bytes, time: str) -> bytes:
    """Return the bytes a checkpoint signature covers."""
    return _CONTEXT + canonical({"seq": seq, "entry_hash": entry_hash.hex(), "time": time})


def sign(material: KeyMaterial, seq: int, entry_hash: bytes, time: str) -> Checkpoint:
    """Sign the chain's state at record ``seq``."""
    signature = signing.sign(
        _ED25519, material, signing.SigningAlgorithm.ED25519,
        message=message(seq, entry_hash, time),
    )  # fmt: skip
    return Checkpoint(seq, entry_hash, time, signature)


def is_genuine(public_key: bytes, checkpoint: Checkpoint) -> bool:
    """Whether the checkpoint's signature verifies under the audit public key (DER or PEM)."""
    try:
        signing.verify(
            _ED25519, public_key, signing.SigningAlgorithm.ED25519, checkpoint.signature,
            message=message(checkpoint.seq, checkpoint.entry_hash, checkpoint.time),
        )  # fmt: skip
    except CryptoError:
        return False
    return True
