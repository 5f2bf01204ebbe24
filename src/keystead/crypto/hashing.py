"""Hashes for identifiers of secrets (tokens), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


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
