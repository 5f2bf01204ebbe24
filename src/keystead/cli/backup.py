"""``keystead backup``: create, verify and restore encrypted, signed backups of keys.

``create`` streams an archive to a file; ``verify`` checks one offline (no server, no token):
its signature and every byte, and with the passphrase every record too; ``restore`` uploads
one, all of it or nothing. Passphrases come from a file, a no-echo prompt or stdin, never the
command line. An archive that does not verify exits with code 11 (``BACKUP_INVALID``);
other exit codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from keystead.cli import client as cli
from keystead.cli import io, prompts, render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import RestoreReport

app = typer.Typer(
    help="Back keys up to an encrypted, signed archive; verify one; restore one.",
    no_args_is_help=True,
)

_LABEL: Final = "Backup passphrase"
_SHOWN: Final = 10  # names listed per line of the report

PassphraseFileOption = Annotated[
    str | None,
    typer.Option(
        "--passphrase-file",
        metavar="PFILE",
        help="Read the passphrase from the first line of PFILE (- for stdin).",
    ),
]
KeyOption = Annotated[
    str | None, typer.Option("--key", help="Only this key (its id or name).", show_default=False)
]


class OnConflict(StrEnum):
    """What a restore does with a key whose id or name is taken."""

    SKIP = "skip"
    OVERWRITE = "overwrite"
    RENAME = "rename"


def _progress(what: str, *columns: object) -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn(what), BarColumn(), *columns, TimeRemainingColumn(),  # type: ignore[arg-type]
        console=console, transient=True,
        disable=not console.is_terminal,  # nothing for a script's log, not even a blank line
    )  # fmt: skip


@app.command()
def create(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            metavar="FILE",
            show_default=False,
            help="Write the archive to FILE, created mode 0600, in place only once complete.",
        ),
    ],
    passphrase_file: PassphraseFileOption = None,
    recipient: Annotated[
        str | None,
        typer.Option(
            "--recipient",
            metavar="PUBLIC_KEY_FILE",
            help="Wrap the archive for this public key PEM (RSA, X25519, X-Wing) instead.",
        ),
    ] = None,
    key: KeyOption = None,
    identities: Annotated[
        bool,
        typer.Option(
            "--identities",
            help="Also policies, roles and users (password hashes, TOTP; never tokens).",
        ),
    ] = False,
) -> None:
    """Back up every key with backup_allowed (or one key) to FILE."""
    if recipient is not None and passphrase_file is not None:
        msg = "--passphrase-file and --recipient are alternatives: give one"
        raise typer.BadParameter(msg)
    public_key = None if recipient is None else io.read_bytes(recipient).decode("utf-8", "replace")
    passphrase = None
    if public_key is None:
        passphrase = prompts.read_secret(_LABEL, file=passphrase_file, confirm=True)
    try:
        with (
            cli.api_errors(),
            cli.make_client() as client,
            _progress("Backing up", MofNCompleteColumn()) as progress,
        ):
            task = progress.add_task("backup", total=None)
            written = client.backups.create(
                out, passphrase=passphrase, recipient=public_key, key=key,
                include_identities=identities,
                progress=lambda done, total: progress.update(
                    task, completed=done, total=total or None
                ),
            )  # fmt: skip
    except OSError as error:
        cli.fail("FileError", f"cannot write {out}: {error.strerror or error}", cli.ExitCode.ERROR)
    what = "records (keys and identities)" if identities else "keys"
    print(f"Backed up {written.keys} {what} ({written.bytes_written} bytes) to {out}.")
    print(f"Signer: {written.signer}")


def _verify(archive: Path, passphrase: str | None) -> dict[str, object]:
    """Check an archive offline; the facts it states, or exit 11 with the fault."""
    # Only this command pays for the server's crypto and record modules.
    from keystead.crypto import backup_archive  # noqa: PLC0415
    from keystead.errors import BackupInvalid, BackupUnlockFailed  # noqa: PLC0415
    from keystead.services import backup_records  # noqa: PLC0415

    specs: dict[str, int] = {}
    try:
        with archive.open("rb") as stream:
            reader = backup_archive.ArchiveReader(stream)
            header = reader.header
            key = None
            if passphrase is not None:
                key = backup_archive.unlock_with_passphrase(header, passphrase)
            for payload in reader.records(key):
                if key is not None:
                    record = backup_records.decode(payload, reader.record_count)
                    # A key counts under its spec; an identity as "user", "role", "policy".
                    label = (
                        record.spec.value
                        if isinstance(record, backup_records.KeyRecord)
                        else type(record).__name__.removesuffix("Record").lower()
                    )
                    specs[label] = specs.get(label, 0) + 1
    except OSError as error:
        detail = f"cannot read {archive}: {error.strerror or error}"
        cli.fail("FileError", detail, cli.ExitCode.ERROR)
    except (BackupInvalid, BackupUnlockFailed) as error:
        cli.fail(error.code, error.public_detail, cli.ExitCode.BACKUP_INVALID)
    protection = header.protection
    return {
        "valid": True, "keys": reader.record_count, "created_at": header.created_at.isoformat(),
        "signer": reader.signer_fingerprint, "scope": header.scope,
        "protection": "passphrase" if isinstance(protection, backup_archive.PassphraseProtection)
        else f"recipient {protection.recipient}",
        "records_opened": passphrase is not None, "specs": specs,
    }  # fmt: skip


@app.command()
def verify(
    archive: Annotated[Path, typer.Argument(metavar="FILE", help="The backup archive.")],
    passphrase_file: PassphraseFileOption = None,
    signer: Annotated[
        str | None,
        typer.Option(
            "--signer",
            metavar="SHA256",
            help="Insist on this signer (the fingerprint `backup create` printed).",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Check FILE without restoring it; exit 11 if it does not hold.

    Checks its signature and every byte; with --passphrase-file, every record too.
    """
    passphrase = None
    if passphrase_file is not None:
        passphrase = prompts.read_secret(_LABEL, file=passphrase_file)
    facts = _verify(archive, passphrase)
    if signer is not None and signer.lower() != facts["signer"]:
        detail = f"the backup is signed by {facts['signer']}, not {signer}"
        cli.fail("SignerMismatch", detail, cli.ExitCode.BACKUP_INVALID)
    if output is OutputFormat.JSON:
        print(json.dumps(facts, indent=2))
        return
    opened = "every record opened and checked" if facts["records_opened"] else "records sealed"
    print(f"valid: {facts['keys']} keys, made {facts['created_at']} ({opened})")
    print(f"signer: {facts['signer']}")
    print(f"protection: {facts['protection']}")
    specs = facts["specs"]
    if isinstance(specs, dict) and specs:
        print("specs: " + ", ".join(f"{spec} {count}" for spec, count in sorted(specs.items())))


def _print_report(report: RestoreReport) -> None:
    table = Table(title="Restore", show_header=True)
    table.add_column("What")
    table.add_column("Keys", justify="right")
    table.add_column("Names", overflow="fold")
    renamed = [f"{old} -> {new}" for old, new in report.renamed.items()]
    for what, label, names in (
        ("restored", "restored", report.restored),
        ("revived", "revived (DEACTIVATED)", report.revived),
        ("overwritten", "overwritten", report.overwritten),
        ("renamed", "renamed", renamed), ("skipped", "skipped", report.skipped),
    ):  # fmt: skip
        count = report.counts.get(what, len(names))
        more = count - min(len(names), _SHOWN)
        shown = ", ".join(names[:_SHOWN]) + (f", ... ({more} more)" if more > 0 else "")
        table.add_row(label, str(count), render.cell(shown))
    render.console().print(table)
    print(f"{report.keys_in_backup} keys in the backup made {report.created_at.isoformat()}")
    print(f"signer: {report.signer}")


@app.command()
def restore(  # noqa: PLR0913, PLR0917 - Typer: one option per choice
    archive: Annotated[Path, typer.Argument(metavar="FILE", help="The backup archive.")],
    passphrase_file: PassphraseFileOption = None,
    recipient_key: Annotated[
        str | None,
        typer.Option(
            "--recipient-key",
            metavar="KEY",
            help="Open it with this key of the server, which it was wrapped for.",
        ),
    ] = None,
    on_conflict: Annotated[
        OnConflict,
        typer.Option("--on-conflict", help="For a key whose id or name is taken here."),
    ] = OnConflict.SKIP,
    key: KeyOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Restore FILE into the server, all of it or nothing."""
    if recipient_key is not None and passphrase_file is not None:
        msg = "--passphrase-file and --recipient-key are alternatives: give one"
        raise typer.BadParameter(msg)
    passphrase = None
    if recipient_key is None:
        passphrase = prompts.read_secret(_LABEL, file=passphrase_file)
    try:
        with (
            cli.api_errors(),
            cli.make_client() as client,
            _progress("Uploading", DownloadColumn(), TransferSpeedColumn()) as progress,
        ):
            task = progress.add_task("restore", total=None)
            report = client.backups.restore(
                archive, passphrase=passphrase, recipient_key=recipient_key,
                on_conflict=on_conflict.value, key=key,
                progress=lambda sent, total: progress.update(
                    task, completed=sent, total=total or None
                ),
            )  # fmt: skip
    except OSError as error:
        detail = f"cannot read {archive}: {error.strerror or error}"
        cli.fail("FileError", detail, cli.ExitCode.ERROR)
    if output is OutputFormat.JSON:
        render.as_json(report)
        return
    _print_report(report)
