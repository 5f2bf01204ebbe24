"""``keystead grant``: operations on one key for one user or service account.

Exit codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from keystead.cli import client as cli
from keystead.cli import render
from keystead.cli.key import KeyArgument
from keystead.cli.operator import FormatOption, OutputFormat

app = typer.Typer(
    help="Grant operations on a key to a user or service account, list and revoke grants.",
    no_args_is_help=True,
)


@app.command()
def create(
    key: KeyArgument,
    principal: Annotated[
        str, typer.Argument(help="The user or service account.", show_default=False)
    ],
    op: Annotated[
        list[str],
        typer.Option(
            "--op",
            help="An operation: encrypt, decrypt, sign, ... (repeatable).",
            show_default=False,
        ),
    ],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Grant operations on KEY to PRINCIPAL."""
    operations = [name.lower() for name in op]
    with cli.api_errors(), cli.make_client() as client:
        grant = client.grants.create(key, principal, operations)
    if output is OutputFormat.JSON:
        render.as_json(grant)
        return
    ops = ", ".join(grant.operations)
    print(f"Granted {ops} on {key} to {grant.principal}; grant ID: {grant.id}")


@app.command("list")
def list_grants(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """List the grants of a key."""
    with cli.api_errors(), cli.make_client() as client:
        grants = client.grants.list(key)
    if output is OutputFormat.JSON:
        render.as_json(grants, "grants")
        return
    render.rows(
        f"Grants on {key}",
        ("ID", "Principal", "Operations", "Created by", "Created"),
        ((g.id, g.principal, g.operations, g.created_by, g.created_at) for g in grants),
    )


@app.command()
def revoke(
    key: KeyArgument,
    grant_id: Annotated[str, typer.Argument(help="The grant's ID.", show_default=False)],
) -> None:
    """Revoke a grant."""
    with cli.api_errors(), cli.make_client() as client:
        client.grants.revoke(key, grant_id)
    print(f"Revoked grant {grant_id} on {key}.")
