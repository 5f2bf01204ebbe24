"""KeyMaterial: the one holder of raw key bytes (STYLE.md C15)."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


class KeyMaterial:
    """Raw key bytes behind a handle that cannot be printed, pickled or copied.

    ``repr`` and ``str`` show only the length. Equality is constant-time. The bytes are
    reached only through :meth:`expose`. :meth:`wipe` overwrites them; in CPython this is
    best-effort, since ``bytes`` copies made by callers (and by the interpreter) cannot be
    reached from here (pyca/cryptography #2695, #5667).
    """

    __slots__ = ("_buffer",)

    def __init__(self, material: bytes | bytearray) -> None:
        if not material:
            msg = "key material must not be empty"
            raise ValueError(msg)
        self._buffer = bytearray(material)

    def __len__(self) -> int:
        return len(self._buffer)

    def __repr__(self) -> str:
        return f"KeyMaterial(<redacted>, {len(self._buffer)} bytes)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyMaterial):
            return NotImplemented
        return hmac.compare_digest(self._buffer, other._buffer)

    __hash__ = None  # type: ignore[assignment]  # mutable secret: never a dict key

    def __reduce__(self) -> NoReturn:
        msg = "KeyMaterial cannot be pickled"
        raise TypeError(msg)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        msg = "KeyMaterial cannot be pickled"
        raise TypeError(msg)

    def __getstate__(self) -> NoReturn:
        msg = "KeyMaterial cannot be serialized"
        raise TypeError(msg)

    def __copy__(self) -> NoReturn:
        msg = "KeyMaterial cannot be copied"
        raise TypeError(msg)

    def __deepcopy__(self, memo: object) -> NoReturn:
        msg = "KeyMaterial cannot be copied"
        raise TypeError(msg)

    @contextmanager
    def expose(self) -> Iterator[bytes]:
        """Yield the key bytes for the length of a ``with`` block.

        Yields:
            An immutable copy of the material; do not keep it past the block.
        """
        yield bytes(self._buffer)

    def wipe(self) -> None:
        """Overwrite the bytes with zeros (best-effort in CPython)."""
        for index in range(len(self._buffer)):
            self._buffer[index] = 0
