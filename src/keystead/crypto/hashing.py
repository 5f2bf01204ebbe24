"""Hashes for identifiers of secrets (tokens), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keystead.crypto.secret import KeyMaterial


def token_digest(token: str) -> bytes:
    """Return the SHA-256 digest under which a bearer token is stored.

    Tokens carry 256 random bits, so an unsalted fast hash is enough: there is nothing
    to guess (unlike passwords, which get Argon2id).
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


def equal(left: bytes, right: bytes) -> bool:
    """Compare two byte strings in constant time."""
    return hmac.compare_digest(left, right)


def chain_hash(previous: bytes, record: bytes) -> bytes:
    """Return SHA-256(previous || record): the link of one audit record to the one before."""
    return hashlib.sha256(previous + record).digest()


def derive_key(secret: KeyMaterial, info: bytes, length: int = 32) -> KeyMaterial:
    """Derive a key for one purpose from a secret (HKDF-SHA256, RFC 5869, no salt)."""
    with secret.expose() as raw:
        derived = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
            bytes(raw)
        )
    return KeyMaterial(derived)


def keyed_digest(key: KeyMaterial, data: bytes) -> str:
    """Return HMAC-SHA256 of ``data`` under ``key``, in hex.

    What the audit log keeps of a value it must match but never reveal (a context).
    """
    with key.expose() as raw:
        return hmac.new(bytes(raw), data, hashlib.sha256).hexdigest()
