"""``keystead audit``: read, verify and export the audit log (auditors).

``verify`` asks the server to walk the hash chain; ``verify --offline FILE --public-key PEM``
checks an export with nothing but the file and the published key: no server, no token. A log
or file that does not verify exits with code 10 (``ExitCode.AUDIT_INVALID``), after naming
the first bad record and why. Other exit codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from keystead.cli import client as cli
from keystead.cli import io, render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import AuditEntry, AuditExport, AuditPage, AuditVerification

app = typer.Typer(
    help="Read, verify and export the audit log; print its public key.", no_args_is_help=True
)


class Outcome(StrEnum):
    """How an audited request ended, or "begun": one that may change state, about to run."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    FAILED = "failed"
    BEGUN = "begun"


def _entry_row(entry: AuditEntry) -> tuple[object, ...]:
    record = entry.record
    return (
        entry.seq, record.time, record.principal, record.action, record.key or record.key_id,
        record.outcome, record.status, record.code,
    )  # fmt: skip


def _print_table(entries: list[AuditEntry]) -> None:
    """One row per record; seq and status never wrap, the other cells fold if they must."""
    table = Table(title=Text("Audit log"), show_header=True)
    for column in ("Seq", "Time", "Principal", "Action", "Key", "Outcome", "Status", "Code"):
        fixed = column in {"Seq", "Status"}
        table.add_column(column, no_wrap=fixed, overflow="ellipsis" if fixed else "fold")
    for entry in entries:
        table.add_row(*(render.cell(value) for value in _entry_row(entry)))
    render.console().print(table)


@app.command("list")
def list_records(  # noqa: PLR0913, PLR0917 - Typer: one option per filter
    since: Annotated[
        str | None, typer.Option("--since", help="Only records from this ISO 8601 time on (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only records up to this ISO 8601 time (UTC).")
    ] = None,
    principal: Annotated[
        str | None, typer.Option("--principal", help="Only this caller's records.")
    ] = None,
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Only the records of the key with this id.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. keys.decrypt.")
    ] = None,
    outcome: Annotated[
        Outcome | None, typer.Option("--outcome", help="Only records that ended this way.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Records per page.")] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Start after this seq (a next cursor).")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page.")] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """List audit records, oldest first: one page, or every page with --all."""
    after = None if since is None else io.parse_datetime(since, "--since")
    before = None if until is None else io.parse_datetime(until, "--until")
    entries: list[AuditEntry] = []
    with cli.api_errors(), cli.make_client() as client:
        while True:
            page = client.audit.list(
                limit, cursor, since=after, until=before, principal=principal, key_id=key_id,
                action=action, outcome=None if outcome is None else outcome.value,
            )  # fmt: skip
            entries.extend(page.records)
            cursor = page.next_cursor
            if cursor is None or not all_pages:
                break
    if output is OutputFormat.JSON:
        print(AuditPage(records=entries, next_cursor=cursor).model_dump_json(indent=2))
        return
    _print_table(entries)
    if cursor is not None:
        cli.warn(f"more records: run again with --cursor {cursor}, or with --all")


def _verify_offline(export_file: str, public_key_file: str) -> AuditVerification:
    """Check an export file against the audit public key, reading it line by line."""
    # Only this command pays for the server's audit and crypto modules.
    import asyncio  # noqa: PLC0415

    from keystead.audit.export import verify_export  # noqa: PLC0415
    from keystead.crypto import asymmetric  # noqa: PLC0415
    from keystead.errors import InvalidPublicKey  # noqa: PLC0415

    public_key = io.read_bytes(public_key_file)
    try:
        asymmetric.load_public(asymmetric.AsymmetricAlgorithm.ED25519, public_key)
    except InvalidPublicKey:
        detail = f"{public_key_file} is not an Ed25519 public key (PEM or DER)"
        cli.fail("InvalidPublicKey", detail, cli.ExitCode.INVALID)
    try:
        with _lines(export_file) as lines:
            verdict = asyncio.run(verify_export(lines, public_key))
    except OSError as error:
        detail = f"cannot read {export_file}: {error.strerror or error}"
        cli.fail("FileError", detail, cli.ExitCode.ERROR)
    except UnicodeDecodeError:
        reason = "the file is not UTF-8 text: it is not a Keystead audit export"
        return AuditVerification(valid=False, records=0, reason=reason)
    return AuditVerification(
        valid=verdict.valid, records=verdict.records, first_bad=verdict.first_bad,
        reason=verdict.reason,
    )  # fmt: skip


@contextmanager
def _lines(path: str) -> Iterator[Iterator[str]]:
    """The lines of a file (or of stdin for ``-``), read one at a time; only LF ends one."""
    if path == io.STDIO:
        yield iter(sys.stdin)
        return
    with open(path, encoding="utf-8", newline="\n") as file:  # noqa: PTH123 - a text stream
        yield iter(file)


def _print_verdict(verdict: AuditVerification, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        render.as_json(verdict)
    elif verdict.valid:
        print(f"valid: {verdict.records} records")
    else:
        if verdict.first_bad is None:
            print("invalid")
        else:
            checked = f"{verdict.records} record{'s' if verdict.records != 1 else ''}"
            first = f"invalid: record {verdict.first_bad} is the first bad one"
            print(f"{first} ({checked} before it verified)")
        print(f"reason: {verdict.reason or 'unknown'}")
    if not verdict.valid:
        raise typer.Exit(cli.ExitCode.AUDIT_INVALID)


@app.command()
def verify(
    offline: Annotated[
        str | None,
        typer.Option(
            "--offline",
            metavar="FILE",
            help="Check this export file (- for stdin) instead: no server, no token.",
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            metavar="PEM_FILE",
            help="The audit public key (keystead audit public-key), for --offline.",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Verify the audit log's hash chain and signatures; exit 10 if it does not hold."""
    if (offline is None) != (public_key is None):
        msg = "--offline FILE and --public-key PEM_FILE go together"
        raise typer.BadParameter(msg)
    if offline is not None and public_key is not None:
        if offline == io.STDIO == public_key:
            msg = "only one of --offline and --public-key can be - (stdin)"
            raise typer.BadParameter(msg)
        verdict = _verify_offline(offline, public_key)
    else:
        with cli.api_errors(), cli.make_client() as client:
            verdict = client.audit.verify()
    _print_verdict(verdict, output)


def _progress() -> Progress:
    console = Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("Exporting the audit log"),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # nothing for a script's log, not even a blank line
    )


@app.command()
def export(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the export (JSON Lines) to FILE, created mode 0600; - for stdout.",
            show_default=False,
        ),
    ],
) -> None:
    """Stream the whole audit log to a file, for `keystead audit verify --offline`."""
    to_stdout = out == io.STDIO
    try:
        with cli.api_errors(), cli.make_client() as client, _progress() as progress:
            task = progress.add_task("export", total=None)
            target = typer.get_binary_stream("stdout") if to_stdout else out
            done: AuditExport = client.audit.export(
                target, progress=lambda size: progress.update(task, completed=size)
            )
    except OSError as error:
        cli.fail("FileError", f"cannot write {out}: {error.strerror or error}", cli.ExitCode.ERROR)
    where = "stdout" if to_stdout else out
    summary = f"Exported {done.lines} lines ({done.bytes_written} bytes) to {where}."
    if to_stdout:
        Console(stderr=True, highlight=False).print(summary, markup=False)
    else:
        print(summary)


@app.command("public-key")
def public_key(
    out: Annotated[str | None, typer.Option("--out", help="Write the PEM to FILE.")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Print (or save) the audit public key, PEM: it checks exports offline."""
    with cli.api_errors(), cli.make_client() as client:
        found = client.audit.public_key()
    if output is OutputFormat.JSON:
        render.as_json(found)
        return
    io.write_text(out, found.public_key.rstrip("\n"))
