"""TOTP second factor (RFC 6238, through pyotp) and single-use recovery codes."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Final

import pyotp

from keystead.crypto.random import random_bytes

ISSUER: Final = "Keystead"
RECOVERY_CODES: Final = 10
# A code from the step before or after is accepted: clocks drift by some seconds.
_WINDOW: Final = 1


def new_secret() -> str:
    """Return a new TOTP secret: 160 random bits in base32 (RFC 4226 section 4)."""
    return _base32(random_bytes(20))


def _base32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def provisioning_uri(secret: str, username: str) -> str:
    """Return the ``otpauth://`` URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time step ``code`` belongs to (within one step of ``now``), or None.

    The caller records the step, so that a code is accepted once (RFC 6238 section 5.2).
    """
    if not (len(code) == 6 and code.isascii() and code.isdigit()):  # noqa: PLR2004 - 6 digits
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - _WINDOW, current + _WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Return fresh recovery codes: 10 of 80 random bits each, grouped for reading."""
    codes = []
    for _ in range(RECOVERY_CODES):
        text = _base32(random_bytes(10)).lower()
        codes.append(f"{text[:4]}-{text[4:8]}-{text[8:12]}-{text[12:16]}")
    return codes


def recovery_code_digest(code: str) -> str:
    """Return the stored form of a recovery code (80 random bits: a fast hash is enough)."""
    # Typed with or without its dashes and spaces, in either case: the same code.
    normal = code.strip().lower().replace(" ", "").replace("-", "")
    return hashlib.sha256(b"keystead/recovery/v1" + normal.encode("utf-8")).hexdigest()
