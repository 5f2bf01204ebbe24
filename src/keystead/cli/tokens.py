"""``keystead token``: API tokens for yourself or (admins) for service accounts.

``create`` prints the new token once; ``list`` shows metadata only, never a token. Exit
codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

import json
from typing import Annotated, Final

import typer

from keystead.cli import client as cli
from keystead.cli import io, render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import IssuedToken

app = typer.Typer(
    help="Manage API tokens: create (shown once), list, revoke, renew.", no_args_is_help=True
)

SHOWN_ONCE: Final = "the token is shown once and never again: store it in a secret manager."


def _issued_json(issued: IssuedToken) -> str:
    body = issued.model_dump(mode="json")
    body["token"] = issued.token.get_secret_value()
    return json.dumps(body, indent=2)


@app.command()
def create(
    username: Annotated[
        str | None,
        typer.Option("--for", help="Make it for this service account or user (admins)."),
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="A role for the token (repeatable); default: all of them."),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option("--ttl", help="Lifetime: 3600 (s), 30m, 12h, 90d; default: the server's."),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Make an API token and print it, once."""
    seconds = None if ttl is None else io.parse_duration(ttl, "--ttl")
    with cli.api_errors(), cli.make_client() as client:
        issued = client.tokens.create(
            username=username, roles=role, ttl_seconds=seconds, description=description
        )
    if output is OutputFormat.JSON:
        print(_issued_json(issued))
        return
    print(f"Token: {issued.token.get_secret_value()}")
    print(f"Token ID: {issued.id}")
    print(f"Roles: {', '.join(issued.roles) or '-'}")
    print(f"Expires: {io.format_datetime(issued.expires_at)}")
    cli.warn(SHOWN_ONCE)


@app.command("list")
def list_tokens(
    all_users: Annotated[bool, typer.Option("--all", help="Everyone's tokens (admins).")] = False,
    username: Annotated[
        str | None, typer.Option("--user", help="This user's tokens (admins).")
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """List your live tokens (or a user's, or everyone's); never their values."""
    if all_users and username is not None:
        msg = "give --all or --user, not both"
        raise typer.BadParameter(msg)
    with cli.api_errors(), cli.make_client() as client:
        tokens = client.tokens.list(username=username, all=all_users)
    if output is OutputFormat.JSON:
        render.as_json(tokens, "tokens")
        return
    render.rows(
        "Tokens",
        ("ID", "Kind", "User", "Roles", "Description", "Created", "Expires"),
        (
            (t.id, t.kind, t.username, t.roles, t.description or None, t.created_at, t.expires_at)
            for t in tokens
        ),
    )


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's ID.", show_default=False)],
) -> None:
    """Revoke a token by its ID."""
    with cli.api_errors(), cli.make_client() as client:
        client.tokens.revoke(token_id)
    print(f"Revoked token {token_id}.")


@app.command()
def renew(output: FormatOption = OutputFormat.TEXT) -> None:
    """Push the current token's expiry forward (up to its maximum)."""
    with cli.api_errors(), cli.make_client() as client:
        info = client.auth.renew()
    if output is OutputFormat.JSON:
        render.as_json(info)
        return
    print(f"Token {info.id} now expires at {io.format_datetime(info.expires_at)}.")
