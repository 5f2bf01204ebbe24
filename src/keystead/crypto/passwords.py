"""Passwords: Argon2id hashes (argon2-cffi, RFC 9106) and the common-password check.

A password is never stored, logged or compared in any other form than its Argon2id hash.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """Argon2id cost. The default is OWASP's first choice: 19 MiB, 2 passes, 1 lane."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


class PasswordHasher:
    """Hashes and checks passwords with Argon2id at the configured cost.

    The checks are CPU-bound for tens of milliseconds: callers run them off the event loop.
    """

    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        # Checked against when the user is unknown, so that the answer takes as long.
        self._decoy = self._hasher.hash("keystead-decoy-password")

    def __repr__(self) -> str:
        return "PasswordHasher(argon2id)"

    def hash(self, password: str) -> str:
        """Return the Argon2id hash (PHC string, with its salt and parameters)."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash, spend the same time and say no."""
        try:
            self._hasher.verify(password_hash or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether a stored hash was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


def is_common(password: str) -> bool:
    """Whether ``password`` (trimmed, in lower case) is on the bundled list of common ones."""
    return password.strip().lower() in _common_passwords()


def check_password_rules(password: str) -> str | None:
    """Return why a new password is refused, or None if it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password has at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if is_common(password):
        return "that password is on the list of common passwords; choose another"
    return None


@cache
def _common_passwords() -> frozenset[str]:
    data = resources.files("keystead.crypto").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())
