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
    """The algorithm and size of a key's material.

    Only the symmetric AEAD specs are served so far; the rest of section 2 lands with
    issue 3.
    """

    AES_128_GCM = "AES_128_GCM"
    AES_256_GCM = "AES_256_GCM"
    CHACHA20_POLY1305 = "CHACHA20_POLY1305"


SPEC_USAGES: Final[Mapping[KeySpec, frozenset[KeyUsage]]] = {
    KeySpec.AES_128_GCM: frozenset({KeyUsage.ENCRYPT_DECRYPT}),
    KeySpec.AES_256_GCM: frozenset({KeyUsage.ENCRYPT_DECRYPT}),
    KeySpec.CHACHA20_POLY1305: frozenset({KeyUsage.ENCRYPT_DECRYPT}),
}
