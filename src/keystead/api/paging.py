"""Query-string numbers shared by the list endpoints: page sizes and numeric cursors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from keystead.errors import ValidationFailed

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000


def query_number(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Return a whole-number query parameter within ``low``..``high``.

    Raises:
        ValidationFailed: Not ASCII digits (``²`` passes ``isdigit``), or out of range.
    """
    text = query.get(name, str(default))
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        msg = f"{name} must be a whole number from {low} to {high}"
        raise ValidationFailed(msg)
    return int(text)


def page_limit(query: Mapping[str, str]) -> int:
    """Return the ``limit`` of one page (1 to 1000, 100 when not given)."""
    return query_number(query, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
