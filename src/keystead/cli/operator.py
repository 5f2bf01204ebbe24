"""``keystead operator``: init, unseal, seal, status, keyring rotation and root tokens.

A root token is printed by ``init``, and by the ``generate-root`` call that completes the
quorum, and nowhere else. Unseal shares are read from a no-echo prompt or stdin (STYLE.md
C32); ``unseal`` also accepts a share as an argument, as Vault does, with a warning;
``generate-root`` does not. Exit codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

import base64
import json
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from keystead.cli import client as cli
from keystead_sdk import InitResult, SealStatus

app = typer.Typer(
    help="Operate a Keystead server: initialise, unseal, seal, status, keyring, root tokens.",
    no_args_is_help=True,
)

ARGV_WARNING = (
    "a share given on the command line is visible to other users (ps, /proc, shell "
    "history); omit SHARE to be prompted, or pipe it on stdin."
)
NEW_ROOT_WARNING = (
    "the root token is shown once: use it for what needs it, then run "
    "`keystead operator revoke-root`."
)
SHOWN_ONCE = (
    "These are shown once and never again. Give each unseal share to a different person; "
    "keep the root token offline and revoke it once other tokens exist."
)


class OutputFormat(StrEnum):
    """How a command prints its result."""

    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
]


@app.command()
def init(
    shares: Annotated[
        int, typer.Option("--shares", min=1, max=255, help="How many unseal shares to make.")
    ] = 5,
    threshold: Annotated[
        int, typer.Option("--threshold", min=1, max=255, help="How many shares unseal.")
    ] = 3,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Initialise the server; print the unseal shares and the root token (once)."""
    with cli.api_errors(), cli.make_client() as client:
        result = client.sys.init(shares, threshold)
    if output is OutputFormat.JSON:
        print(json.dumps(_init_json(result), indent=2))
        return
    _print_init_panel(result)


def _init_json(result: InitResult) -> dict[str, object]:
    return {
        "shares": [base64.b64encode(share).decode("ascii") for share in result.shares],
        "root_token": result.root_token.get_secret_value(),
        "threshold": result.threshold,
    }


def _print_init_panel(result: InitResult) -> None:
    lines = [
        f"Unseal share {number}: {base64.b64encode(share).decode('ascii')}"
        for number, share in enumerate(result.shares, start=1)
    ]
    lines.append(f"Root token: {result.root_token.get_secret_value()}")
    body = Group(
        Text("\n".join(lines)),
        Text(""),
        Text(SHOWN_ONCE, style="bold yellow"),
        Text(
            f"The server is still sealed: run `keystead operator unseal` with "
            f"{result.threshold} of these shares.",
        ),
    )
    # Wide enough that no share or token is ever wrapped in the middle.
    console = Console(highlight=False)
    needed = max(len(line) for line in lines) + 4
    if console.width < needed:
        console = Console(highlight=False, width=needed)
    console.print(Panel(body, title="Keystead initialised", border_style="yellow"))


@app.command()
def unseal(
    share: Annotated[
        str | None,
        typer.Argument(help="An unseal share (base64). Omit it to be prompted without echo."),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the shares given so far.")] = False,
) -> None:
    """Give one unseal share; the server unseals once enough shares are given."""
    if reset and share is not None:
        msg = "give a SHARE or --reset, not both"
        raise typer.BadParameter(msg)
    raw = None if reset else _share_bytes(share)
    with cli.api_errors(), cli.make_client() as client:
        status = client.sys.reset_unseal() if raw is None else client.sys.unseal(raw)
    if status.sealed:
        print(f"Unseal progress: {status.progress}/{status.threshold}")
    else:
        print("Unsealed.")


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _share_bytes(share: str | None) -> bytes:
    if share is not None:
        cli.warn(ARGV_WARNING)
        text = share
    elif _stdin_is_terminal():
        text = typer.prompt("Unseal share", hide_input=True)
    else:
        text = sys.stdin.readline()
    text = text.strip()
    if not text:
        cli.fail("InvalidUnsealShare", "no unseal share given", cli.ExitCode.INVALID)
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        # The share itself is never echoed back.
        cli.fail("InvalidUnsealShare", "the share is not standard base64", cli.ExitCode.INVALID)


@app.command()
def seal() -> None:
    """Seal the server: it drops every key from memory until unsealed again."""
    with cli.api_errors(), cli.make_client() as client:
        client.sys.seal()
    print("Sealed.")


@app.command()
def status(output: FormatOption = OutputFormat.TEXT) -> None:
    """Show the seal status; exit code 2 when sealed, 0 when unsealed (as `vault status`)."""
    with cli.api_errors(), cli.make_client() as client:
        seal_status = client.sys.seal_status()
        address = client.address
    if output is OutputFormat.JSON:
        print(seal_status.model_dump_json(indent=2))
    else:
        Console(highlight=False).print(_status_table(seal_status, address))
    if seal_status.sealed:
        raise typer.Exit(cli.ExitCode.SEALED_STATUS)


def _status_table(seal_status: SealStatus, address: str) -> Table:
    table = Table(title="Seal status", show_header=True)
    table.add_column("Key")
    table.add_column("Value")
    rows = [
        ("Address", address),
        ("Initialized", str(seal_status.initialized).lower()),
        ("Sealed", str(seal_status.sealed).lower()),
        ("Seal type", seal_status.type),
        ("Total shares", str(seal_status.shares)),
        ("Threshold", str(seal_status.threshold)),
        ("Unseal progress", f"{seal_status.progress}/{seal_status.threshold}"),
        ("Version", seal_status.version),
    ]
    for name, value in rows:
        table.add_row(name, Text(value))
    return table


@app.command("rotate-keyring")
def rotate_keyring() -> None:
    """Add a keyring term: new values are encrypted under it, older terms still decrypt."""
    with cli.api_errors(), cli.make_client() as client:
        term = client.sys.rotate_keyring()
    print(f"Keyring rotated; new term: {term}")


@app.command("generate-root")
def generate_root(
    reset: Annotated[bool, typer.Option("--reset", help="Forget the shares given so far.")] = False,
) -> None:
    """Give one unseal share towards a new root token; print it once the quorum is reached."""
    raw = None if reset else _share_bytes(None)
    with cli.api_errors(), cli.make_client() as client:
        progress = (
            client.sys.reset_generate_root() if raw is None else client.sys.generate_root(raw)
        )
    if progress.root_token is None:
        print(f"Root generation progress: {progress.progress}/{progress.threshold}")
        return
    print(f"Root token: {progress.root_token.get_secret_value()}")
    cli.warn(NEW_ROOT_WARNING)


@app.command("revoke-root")
def revoke_root() -> None:
    """Revoke every root token (an enabled admin user must exist)."""
    with cli.api_errors(), cli.make_client() as client:
        revoked = client.sys.revoke_root()
    print(f"Revoked {revoked} root token{'' if revoked == 1 else 's'}.")
