"""Secret input for client commands: a file, a no-echo prompt, or stdin (STYLE.md C32).

Passwords and codes never come from argv, where ``ps``, ``/proc`` and shell history would
show them. A file (``-`` for stdin) gives its first line; on a terminal the prompt does not
echo; otherwise one line is read from stdin, so that scripts can pipe it in.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keystead.cli import client as cli
from keystead.cli import io

PasswordFileOption = Annotated[
    str | None,
    typer.Option(
        "--password-file", help="Read the password from the first line of FILE (- for stdin)."
    ),
]


def stdin_is_terminal() -> bool:
    """Whether stdin is a terminal (tests replace this)."""
    return sys.stdin.isatty()


def read_secret(label: str, *, file: str | None = None, confirm: bool = False) -> str:
    """Return a secret from ``file``, a no-echo prompt or one line of stdin.

    Args:
        label: What to ask for, e.g. ``"Password"``; also names it in errors.
        file: Read the first line of this file (``-`` for stdin) instead.
        confirm: On a terminal, ask twice and insist that both answers match.

    Returns:
        The secret without its line ending; leading and trailing spaces are kept.
    """
    if file is not None:
        text = _first_line(io.read_bytes(file), label, file)
    elif stdin_is_terminal():
        text = typer.prompt(label, hide_input=True, confirmation_prompt=confirm)
    else:
        text = sys.stdin.readline()
    text = text.rstrip("\r\n")
    if not text:
        # The secret itself is never echoed back, only what was missing.
        cli.fail("ValidationFailed", f"no {label.lower()} given", cli.ExitCode.INVALID)
    return text


def read_code(label: str, *, file: str | None = None) -> str:
    """Return a short code (TOTP, recovery code) as ``read_secret``, spaces removed."""
    return "".join(read_secret(label, file=file).split())


def read_username(username: str | None) -> str:
    """The username given, or one asked for (it is no secret: the prompt echoes it)."""
    if username is not None:
        return username
    if stdin_is_terminal():
        return str(typer.prompt("Username")).strip()
    name = sys.stdin.readline().strip()
    if not name:
        cli.fail("ValidationFailed", "no username given", cli.ExitCode.INVALID)
    return name


def _first_line(data: bytes, label: str, file: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        cli.fail("FileError", f"the {label.lower()} in {file} is not UTF-8", cli.ExitCode.ERROR)
    lines = text.splitlines()
    return lines[0] if lines else ""
