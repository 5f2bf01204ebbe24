"""``keystead policy``: named lists of allow/deny statements that roles bundle (admins).

A policy comes from a JSON file, ``{"statements": [{"effect", "actions", "keys"?}, ...],
"description"?}``, or from the shorthand ``--allow GLOB... --deny GLOB... --key GLOB...``:
one allow and one deny statement over the same keys (default: every key). Exit codes are
those of ``keystead.cli.client``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from keystead.cli import client as cli
from keystead.cli import io, render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import Policy, Statement

app = typer.Typer(
    help="Manage policies: allow/deny statements over actions and key names.",
    no_args_is_help=True,
)

PolicyArgument = Annotated[str, typer.Argument(help="The policy's name.", show_default=False)]
FileOption = Annotated[
    str | None,
    typer.Option("--file", help='JSON {"statements": [...], "description"?}; - for stdin.'),
]
AllowOption = Annotated[
    list[str] | None,
    typer.Option("--allow", help="Allow this action glob, e.g. keys.encrypt (repeatable)."),
]
DenyOption = Annotated[
    list[str] | None, typer.Option("--deny", help="Deny this action glob (repeatable).")
]
KeyOption = Annotated[
    list[str] | None,
    typer.Option("--key", help="For --allow/--deny: a key name glob (repeatable); default *."),
]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="Free text.")]


def _from_file(path: str) -> tuple[list[Statement], str | None]:
    try:
        body = json.loads(io.read_bytes(path))
    except (UnicodeDecodeError, ValueError) as error:
        cli.fail("ValidationFailed", f"{path} is not JSON: {error}", cli.ExitCode.INVALID)
    if isinstance(body, list):
        body = {"statements": body}
    if not isinstance(body, dict) or not isinstance(body.get("statements"), list):
        detail = f'{path} must hold {{"statements": [...], "description"?: "..."}}'
        cli.fail("ValidationFailed", detail, cli.ExitCode.INVALID)
    description = body.get("description")
    try:
        statements = [Statement.model_validate(item) for item in body["statements"]]
    except ValueError as error:  # pydantic.ValidationError
        detail = f"{path} holds a malformed statement: {error}"
        cli.fail("ValidationFailed", detail, cli.ExitCode.INVALID)
    return statements, description if isinstance(description, str) else None


def statements_from(
    file: str | None, allow: list[str] | None, deny: list[str] | None, keys: list[str] | None
) -> tuple[list[Statement], str | None]:
    """The statements (and a description, from a file) of ``--file`` or the shorthand."""
    shorthand = bool(allow or deny)
    if (file is not None) == shorthand:
        msg = "give --file, or --allow/--deny (with --key), not both"
        raise typer.BadParameter(msg)
    if file is not None:
        if keys:
            msg = "--key goes with --allow/--deny; in a file, each statement has its keys"
            raise typer.BadParameter(msg)
        return _from_file(file)
    globs = keys or ["*"]
    statements = [Statement.allow(allow, globs)] if allow else []
    if deny:
        statements.append(Statement.deny(deny, globs))
    return statements, None


def _print_policy(policy: Policy, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        render.as_json(policy)
        return
    render.fields(
        f"Policy {policy.name}",
        [
            ("Name", policy.name),
            ("Description", policy.description or None),
            ("Built-in", policy.builtin),
        ],
    )
    render.rows(
        "Statements",
        ("Effect", "Actions", "Keys"),
        ((s.effect, s.actions, s.keys) for s in policy.statements),
    )


@app.command()
def create(  # noqa: PLR0913, PLR0917 - Typer: the two ways to give statements
    name: PolicyArgument,
    file: FileOption = None,
    allow: AllowOption = None,
    deny: DenyOption = None,
    key: KeyOption = None,
    description: DescriptionOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Create a policy from a JSON file or from --allow/--deny/--key."""
    statements, described = statements_from(file, allow, deny, key)
    text = description if description is not None else described or ""
    with cli.api_errors(), cli.make_client() as client:
        policy = client.policies.create(name, statements, description=text)
    _print_policy(policy, output)


@app.command("list")
def list_policies(output: FormatOption = OutputFormat.TEXT) -> None:
    """List every policy, built-in ones included."""
    with cli.api_errors(), cli.make_client() as client:
        policies = client.policies.list()
    if output is OutputFormat.JSON:
        render.as_json(policies, "policies")
        return
    render.rows(
        "Policies",
        ("Name", "Built-in", "Statements", "Description"),
        ((p.name, p.builtin, len(p.statements), p.description or None) for p in policies),
    )


@app.command()
def show(name: PolicyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Describe a policy and its statements."""
    with cli.api_errors(), cli.make_client() as client:
        policy = client.policies.get(name)
    _print_policy(policy, output)


@app.command()
def update(  # noqa: PLR0913, PLR0917 - Typer: the two ways to give statements
    name: PolicyArgument,
    file: FileOption = None,
    allow: AllowOption = None,
    deny: DenyOption = None,
    key: KeyOption = None,
    description: Annotated[
        str | None,
        typer.Option("--description", help="New text; default: the file's, else the old one."),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Replace a policy's statements (and description) from a file or --allow/--deny."""
    statements, described = statements_from(file, allow, deny, key)
    text = description if description is not None else described
    with cli.api_errors(), cli.make_client() as client:
        if text is None:
            text = client.policies.get(name).description
        policy = client.policies.update(name, statements, description=text)
    _print_policy(policy, output)


@app.command()
def delete(name: PolicyArgument) -> None:
    """Delete a policy (no role may still use it)."""
    with cli.api_errors(), cli.make_client() as client:
        client.policies.delete(name)
    print(f"Deleted policy {name}.")
