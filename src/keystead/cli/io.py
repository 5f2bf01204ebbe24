"""Reading and writing the bytes of client commands, and parsing their small option values.

A path of ``-`` means stdin or stdout. Files that receive a secret (a plaintext, a data
key) are created readable by their owner only. Malformed option values raise
``typer.BadParameter`` (exit code 2, as every usage error).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import typer

from keystead.cli import client as cli

STDIO: Final = "-"
_KEYSTEAD_MAGIC: Final = b"KS\x01"
_DURATION = re.compile(r"(?P<count>\d+)(?P<unit>[smhdw]?)")
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DIGEST_SIZES: Final = frozenset({20, 28, 32, 48, 64})


def read_bytes(path: str) -> bytes:
    """Return the bytes of a file, or of stdin for ``-``; exit 1 if it cannot be read."""
    if path == STDIO:
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(path).read_bytes()
    except OSError as error:
        cli.fail("FileError", f"cannot read {path}: {error.strerror or error}", cli.ExitCode.ERROR)


def write_bytes(path: str, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to a file, or raw to stdout for ``-``; exit 1 if it cannot be written.

    Args:
        path: The file, or ``-``.
        data: The bytes to write.
        private: The bytes are a secret: the file is made (or made again) mode 0600.
    """
    if path == STDIO:
        sys.stdout.flush()
        stream = typer.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
        return
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666
        )
        with os.fdopen(descriptor, "wb") as file:
            if private:
                os.fchmod(file.fileno(), 0o600)
            file.write(data)
    except OSError as error:
        cli.fail("FileError", f"cannot write {path}: {error.strerror or error}", cli.ExitCode.ERROR)


def write_text(path: str | None, text: str) -> None:
    """Print ``text`` on stdout (``None`` or ``-``) or write it, UTF-8, to a file."""
    if path is None or path == STDIO:
        print(text)
        return
    write_bytes(path, f"{text}\n".encode())


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def decode_blob(data: bytes) -> bytes:
    """Return raw bytes from raw bytes or base64 text (ciphertexts, signatures, tags).

    A Keystead ciphertext starts with ``KS`` and byte 0x01, which base64 text never does;
    anything else that decodes as standard base64, whitespace aside, is taken as base64.
    """
    if data.startswith(_KEYSTEAD_MAGIC):
        return data
    text = b"".join(data.split())
    if not text:
        return data
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return data


def decode_digest(data: bytes) -> bytes:
    """Return a digest given raw or as hex text (as ``sha256sum`` prints it, name aside)."""
    words = data.split()
    if words:
        try:
            digest = bytes.fromhex(words[0].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return data
        if len(digest) in _DIGEST_SIZES:
            return digest
    return data


def parse_pairs(values: Iterable[str] | None, option: str) -> dict[str, str]:
    """Turn ``NAME=VALUE`` options into a dict; the first ``=`` splits."""
    pairs: dict[str, str] = {}
    for value in values or ():
        name, sep, rest = value.partition("=")
        if not sep or not name:
            msg = f"expected NAME=VALUE, got {value!r}"
            raise typer.BadParameter(msg, param_hint=f"'{option}'")
        pairs[name] = rest
    return pairs


def parse_duration(text: str, option: str) -> int:
    """Seconds from ``3600``, ``45s``, ``30m``, ``12h``, ``90d`` or ``2w``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        msg = f"expected a duration such as 90d, 12h, 30m or 3600 (seconds), got {text!r}"
        raise typer.BadParameter(msg, param_hint=f"'{option}'")
    return int(match["count"]) * _UNIT_SECONDS[match["unit"]]


def format_duration(seconds: int | None) -> str:
    """The shortest exact form of a duration: ``90d``, ``12h``, ``3600s``; ``off`` for none."""
    if not seconds:
        return "off"
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_datetime(text: str, option: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = f"expected an ISO 8601 date such as 2030-01-31 or 2030-01-31T12:00:00Z, got {text!r}"
        raise typer.BadParameter(msg, param_hint=f"'{option}'") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_datetime(value: datetime | None) -> str:
    """UTC to the second, ``YYYY-MM-DD HH:MM:SSZ``; ``-`` for none."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
