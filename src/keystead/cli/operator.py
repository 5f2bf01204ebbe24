"""``keystead operator``: init, unseal, seal, status, keyring rotation and root tokens.

A root token is printed by ``init``, and by the ``generate-root`` call that completes the
quorum, and nowhere else. Unseal shares are read from a no-echo prompt or stdin (STYLE.md
C32); ``unseal`` also accepts a share as an argument, as Vault does, with a warning;
``generate-root`` does not. Exit codes are those of ``keystead.cli.client``.

With the pkcs11 seal (issue 7) ``init --recovery-shares N --recovery-threshold T`` prints
recovery shares, and the server unseals itself from its HSM. A seal migration is Vault's:
restart the server with the new seal and ``--migrate-seal``, then give the old seal's shares
with ``operator unseal`` (see ``keystead operator unseal --help``).
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
from keystead.cli.seal_calls import RecoveryInit, detailed_status, init_with_recovery
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
RECOVERY_NOTE = (
    "The server is unsealed: its HSM unseals it at every start. A quorum of recovery shares "
    "makes a new root token, unseals after `keystead operator seal`, and migrates the seal; "
    "the shares decrypt nothing on their own. Give each to a different person."
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
    recovery_shares: Annotated[
        int | None,
        typer.Option(
            "--recovery-shares",
            min=1,
            max=255,
            help="pkcs11 seal: how many recovery shares to make (instead of --shares).",
        ),
    ] = None,
    recovery_threshold: Annotated[
        int | None,
        typer.Option(
            "--recovery-threshold",
            min=1,
            max=255,
            help="pkcs11 seal: how many recovery shares make a quorum.",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Initialise the server; print the unseal (or recovery) shares and the root token (once).

    A server with the pkcs11 seal takes --recovery-shares and --recovery-threshold (5 and 3
    when only one is given) and is unsealed when init answers.
    """  # fmt: skip
    if recovery_shares is not None or recovery_threshold is not None:
        with cli.api_errors(), cli.make_client() as client:
            recovery = init_with_recovery(client, recovery_shares or 5, recovery_threshold or 3)
        if output is OutputFormat.JSON:
            print(json.dumps(_recovery_json(recovery), indent=2))
            return
        _print_recovery_panel(recovery)
        return
    with cli.api_errors(), cli.make_client() as client:
        result = client.sys.init(shares, threshold)
    if output is OutputFormat.JSON:
        print(json.dumps(_init_json(result), indent=2))
        return
    _print_init_panel(result)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _recovery_json(result: RecoveryInit) -> dict[str, object]:
    return {
        "recovery_shares": [_b64(share) for share in result.recovery_shares],
        "root_token": result.root_token,
        "recovery_threshold": result.threshold,
    }


def _print_recovery_panel(result: RecoveryInit) -> None:
    lines = [
        f"Recovery share {number}: {_b64(share)}"
        for number, share in enumerate(result.recovery_shares, start=1)
    ]
    lines.append(f"Root token: {result.root_token}")
    note = f"{RECOVERY_NOTE} {result.threshold} of them make a quorum."
    _print_panel(lines, Text(SHOWN_ONCE, style="bold yellow"), Text(note))


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
    _print_panel(
        lines,
        Text(SHOWN_ONCE, style="bold yellow"),
        Text(
            f"The server is still sealed: run `keystead operator unseal` with "
            f"{result.threshold} of these shares.",
        ),
    )


def _print_panel(lines: list[str], *notes: Text) -> None:
    body = Group(Text("\n".join(lines)), Text(""), *notes)
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
    """Give one unseal share; the server unseals once enough shares are given.

    With the pkcs11 seal, give recovery shares: after `keystead operator seal`, a quorum of
    them has the HSM unseal the server again.

    Seal migration: restart the server with the new seal and --migrate-seal (Shamir to pkcs11:
    --seal pkcs11 and the pkcs11 settings; pkcs11 to Shamir: --seal shamir, keeping the
    pkcs11 settings so the token can open the keyring once more), then give the old seal's
    shares here: unseal shares from Shamir, recovery shares from pkcs11. The keyring moves
    to the new seal and no key is re-encrypted; the same shares serve the new seal (recovery
    shares of pkcs11, unseal shares of Shamir). Restart without --migrate-seal afterwards.
    """
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
        detailed = detailed_status(client)
        address = client.address
    seal_status = detailed.status
    if output is OutputFormat.JSON:
        print(json.dumps(seal_status.model_dump(mode="json", exclude_defaults=True), indent=2))
    else:
        Console(highlight=False).print(_status_table(seal_status, address, detailed.extra))
    if seal_status.sealed:
        raise typer.Exit(cli.ExitCode.SEALED_STATUS)


_EXTRA_ROWS = (("recovery_seal", "Recovery seal"), ("migration", "Seal migration"),
               ("seal_error", "Seal error"))  # fmt: skip


def _status_table(seal_status: SealStatus, address: str, extra: dict[str, object]) -> Table:
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
    for field_name, label in _EXTRA_ROWS:
        if field_name in extra:
            value = extra[field_name]
            rows.append((label, str(value).lower() if isinstance(value, bool) else str(value)))
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
    """Give one unseal share (recovery share with the pkcs11 seal) towards a new root token."""
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
