"""The canonical bytes that get signed: JSON Canonicalization Scheme (RFC 8785).

Orders, cancels, confirmations and ledger entries are JSON objects whose values are
strings, integers, lists and objects only; amounts travel as decimal strings, so no float
ever reaches the canonical form and both sides of a signature agree byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import rfc8785


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """Return the RFC 8785 serialisation of ``document``.

    Raises:
        ValueError: The document holds a float or a value JSON cannot carry.
    """
    try:
        return rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, TypeError) as error:
        msg = f"the document cannot be canonicalised: {error}"
        raise ValueError(msg) from None


def digest_hex(data: bytes) -> str:
    """SHA-256 of ``data``, as lower-case hex (order digests, ledger hashes)."""
    return hashlib.sha256(data).hexdigest()


def decimal_text(amount: Decimal) -> str:
    """The one text form of an amount: plain digits, no exponent, no trailing zeros."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text
