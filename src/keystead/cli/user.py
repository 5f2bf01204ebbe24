"""``keystead user``: people and service accounts, their roles, passwords and TOTP (admins).

Passwords are asked for twice without echo, or read from stdin or ``--password-file``;
never from argv. Exit codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from keystead.cli import client as cli
from keystead.cli import io, prompts, render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import User, UserPage

app = typer.Typer(
    help="Manage users and service accounts: create, roles, disable, passwords, TOTP.",
    no_args_is_help=True,
)

UserArgument = Annotated[str, typer.Argument(help="The username.", show_default=False)]
RoleOption = Annotated[
    list[str] | None, typer.Option("--role", help="A role to give (repeatable).")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _user_rows(user: User) -> list[tuple[str, object]]:
    return [
        ("Username", user.username),
        ("Kind", user.kind),
        ("Roles", user.roles),
        ("Disabled", user.disabled),
        ("TOTP", user.totp_enabled),
        ("Key ID", user.key_id),
        ("Created", user.created_at),
        ("Updated", user.updated_at),
    ]


def print_user(user: User, output: OutputFormat) -> None:
    """Print a user as a table or JSON."""
    if output is OutputFormat.JSON:
        render.as_json(user)
    else:
        render.fields(f"User {user.username}", _user_rows(user))


def _print_state(user: User, output: OutputFormat, message: str) -> None:
    if output is OutputFormat.JSON:
        render.as_json(user)
    else:
        print(message)


@app.command()
def create(
    username: UserArgument,
    role: RoleOption = None,
    service: Annotated[
        bool, typer.Option("--service", help="A service account: API tokens only, no password.")
    ] = False,
    password_file: prompts.PasswordFileOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Create a user (asked for a password twice) or, with --service, a service account."""
    if service and password_file is not None:
        msg = "a service account has no password: drop --password-file"
        raise typer.BadParameter(msg)
    password = (
        None if service else prompts.read_secret("Password", file=password_file, confirm=True)
    )
    kind = "service" if service else "user"
    with cli.api_errors(), cli.make_client() as client:
        user = client.users.create(username, password, roles=role or [], kind=kind)
    print_user(user, output)


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Users per page.")] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Start after this name (a next cursor).")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page.")] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """List users by name: one page, or every page with --all."""
    users: list[User] = []
    with cli.api_errors(), cli.make_client() as client:
        while True:
            page: UserPage = client.users.list(limit, cursor)
            users.extend(page.users)
            cursor = page.next_cursor
            if cursor is None or not all_pages:
                break
    if output is OutputFormat.JSON:
        print(UserPage(users=users, next_cursor=cursor).model_dump_json(indent=2))
        return
    columns = ("Username", "Kind", "Roles", "Disabled", "TOTP", "Created")
    render.rows(
        "Users",
        columns,
        ((u.username, u.kind, u.roles, u.disabled, u.totp_enabled, u.created_at) for u in users),
    )
    if cursor is not None:
        cli.warn(f"more users: run again with --cursor {cursor}, or with --all")


@app.command()
def show(username: UserArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Describe a user."""
    with cli.api_errors(), cli.make_client() as client:
        user = client.users.get(username)
    print_user(user, output)


@app.command("set-roles")
def set_roles(
    username: UserArgument,
    role: RoleOption = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every role.")] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Replace the roles a user carries with the --role options given."""
    if clear == bool(role):
        msg = "give one or more --role, or --clear"
        raise typer.BadParameter(msg)
    with cli.api_errors(), cli.make_client() as client:
        user = client.users.update(username, roles=role or [])
    roles = ", ".join(user.roles) or "none"
    _print_state(user, output, f"User {user.username} now has the roles: {roles}.")


@app.command()
def disable(username: UserArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Lock a user out: logins and every token of theirs are refused until enabled."""
    with cli.api_errors(), cli.make_client() as client:
        user = client.users.disable(username)
    _print_state(user, output, f"User {user.username} is disabled.")


@app.command()
def enable(username: UserArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Let a disabled user back in."""
    with cli.api_errors(), cli.make_client() as client:
        user = client.users.enable(username)
    _print_state(user, output, f"User {user.username} is enabled.")


@app.command()
def delete(username: UserArgument, yes: YesOption = False) -> None:
    """Delete a user and revoke their tokens."""
    if not yes and not typer.confirm(f"Delete user {username} and revoke their tokens?"):
        raise typer.Exit(cli.ExitCode.ERROR)
    with cli.api_errors(), cli.make_client() as client:
        client.users.delete(username)
    print(f"Deleted user {username}.")


@app.command("reset-password")
def reset_password(
    username: UserArgument, password_file: prompts.PasswordFileOption = None
) -> None:
    """Set a new password for a user (asked for twice without echo)."""
    password = prompts.read_secret("New password", file=password_file, confirm=True)
    with cli.api_errors(), cli.make_client() as client:
        client.users.set_password(username, password)
    print(f"Password of {username} reset.")


@app.command("reset-totp")
def reset_totp(username: UserArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Turn a user's TOTP off (a lost device); they can enroll again."""
    with cli.api_errors(), cli.make_client() as client:
        user = client.users.reset_totp(username)
    _print_state(user, output, f"TOTP of {user.username} is off.")


@app.command("public-key")
def public_key(
    username: UserArgument,
    out: Annotated[str | None, typer.Option("--out", help="Write the PEM to FILE.")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Print (or save) the public half of a user's own signing key, PEM."""
    with cli.api_errors(), cli.make_client() as client:
        found = client.users.public_key(username)
    if output is OutputFormat.JSON:
        render.as_json(found)
        return
    io.write_text(out, found.public_key.rstrip("\n"))
