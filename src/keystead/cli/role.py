"""``keystead role``: named bundles of policies that users and tokens carry (admins).

Exit codes are those of ``keystead.cli.client``; changing a built-in role exits 6
(``BuiltinReadOnly``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from keystead.cli import client as cli
from keystead.cli import render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import Role

app = typer.Typer(help="Manage roles: named bundles of policies.", no_args_is_help=True)

RoleArgument = Annotated[str, typer.Argument(help="The role's name.", show_default=False)]
PolicyOption = Annotated[
    list[str],
    typer.Option("--policy", help="A policy the role bundles (repeatable).", show_default=False),
]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="Free text.")]


def _print_role(role: Role, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        render.as_json(role)
        return
    render.fields(
        f"Role {role.name}",
        [
            ("Name", role.name),
            ("Description", role.description or None),
            ("Built-in", role.builtin),
            ("Policies", role.policies),
        ],
    )


@app.command()
def create(
    name: RoleArgument,
    policy: PolicyOption,
    description: DescriptionOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Create a role from one or more policies."""
    with cli.api_errors(), cli.make_client() as client:
        role = client.roles.create(name, policy, description=description or "")
    _print_role(role, output)


@app.command("list")
def list_roles(output: FormatOption = OutputFormat.TEXT) -> None:
    """List every role, built-in ones included."""
    with cli.api_errors(), cli.make_client() as client:
        roles = client.roles.list()
    if output is OutputFormat.JSON:
        render.as_json(roles, "roles")
        return
    render.rows(
        "Roles",
        ("Name", "Built-in", "Policies", "Description"),
        ((r.name, r.builtin, r.policies, r.description or None) for r in roles),
    )


@app.command()
def show(name: RoleArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Describe a role."""
    with cli.api_errors(), cli.make_client() as client:
        role = client.roles.get(name)
    _print_role(role, output)


@app.command()
def update(
    name: RoleArgument,
    policy: PolicyOption,
    description: Annotated[
        str | None, typer.Option("--description", help="New text; default: keep the old one.")
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Replace a role's policies (and, with --description, its description)."""
    with cli.api_errors(), cli.make_client() as client:
        if description is None:
            description = client.roles.get(name).description
        role = client.roles.update(name, policy, description=description)
    _print_role(role, output)


@app.command()
def delete(name: RoleArgument) -> None:
    """Delete a role."""
    with cli.api_errors(), cli.make_client() as client:
        client.roles.delete(name)
    print(f"Deleted role {name}.")
