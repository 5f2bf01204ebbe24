"""``keystead login``, ``logout``, ``whoami``, ``register`` and ``passwd``, through the SDK.

``login`` saves the session token in ``~/.keystead/token`` (see ``token_store``), which
later commands use when ``KEYSTEAD_TOKEN`` is not set; it prints who logged in and until
when, never the token unless asked (``--print-token``). Passwords and TOTP codes come from
a no-echo prompt, stdin or a file (``prompts``). Exit codes are those of
``keystead.cli.client``.
"""

from __future__ import annotations

import os
from typing import Annotated, Final

import typer

from keystead.cli import client as cli
from keystead.cli import io, prompts, render, token_store
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import Client, IssuedToken, TotpRequired, Unauthenticated, User

ENV_WINS: Final = (
    "KEYSTEAD_TOKEN is set, and commands use it before the saved token: unset it to use this login."
)
REVOKED_ON_CHANGE: Final = "Password changed. Every token of yours was revoked: log in again."

TotpFileOption = Annotated[
    str | None,
    typer.Option("--totp-file", help="Read the TOTP (or recovery) code from FILE (- for stdin)."),
]


def login(  # noqa: PLR0913, PLR0917 - Typer: one option per way to give the secrets
    username: Annotated[
        str | None, typer.Argument(help="Your username; omit it to be asked.", show_default=False)
    ] = None,
    password_file: prompts.PasswordFileOption = None,
    totp_file: TotpFileOption = None,
    recovery_code: Annotated[
        bool,
        typer.Option("--recovery-code", help="Give a recovery code instead of a TOTP code."),
    ] = False,
    print_token: Annotated[
        bool,
        typer.Option("--print-token", help="Print the token alone on stdout (the rest: stderr)."),
    ] = False,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="Do not save the token in ~/.keystead/token.")
    ] = False,
) -> None:
    """Log in with your password (and TOTP code); save the token for later commands."""
    name = prompts.read_username(username)
    password = prompts.read_secret("Password", file=password_file)
    label = _code_label(recovery_code)
    code = None if totp_file is None else prompts.read_code(label, file=totp_file)
    with cli.api_errors(), cli.make_client(use_saved=False) as client:
        try:
            issued = _login(client, name, password, code, recovery=recovery_code)
        except TotpRequired:
            if code is not None:
                raise  # the code given was refused: the server says why
            code = prompts.read_code(label)
            issued = _login(client, name, password, code, recovery=recovery_code)
    saved = None if no_save else _save(issued)
    _report(name, issued, saved, print_token=print_token)


def _code_label(recovery: bool) -> str:
    return "Recovery code" if recovery else "TOTP code"


def _login(
    client: Client, name: str, password: str, code: str | None, *, recovery: bool
) -> IssuedToken:
    if recovery:
        return client.auth.login(name, password, recovery_code=code)
    return client.auth.login(name, password, totp=code)


def _save(issued: IssuedToken) -> str:
    try:
        return str(token_store.save(issued.token.get_secret_value()))
    except OSError as error:
        path = token_store.token_path()
        detail = f"cannot save the token in {path}: {error.strerror or error}"
        cli.fail("FileError", detail, cli.ExitCode.ERROR)


def _report(name: str, issued: IssuedToken, saved: str | None, *, print_token: bool) -> None:
    roles = ", ".join(issued.roles) or "none"
    expires = (
        "never expires"
        if issued.expires_at is None
        else f"expires at {io.format_datetime(issued.expires_at)}"
    )
    lines = [f"Logged in as {name} (roles: {roles}); the token {expires}."]
    if saved is not None:
        lines.append(f"Token saved in {saved}.")
    # With --print-token, stdout holds the token alone, for $(keystead login ...).
    for line in lines:
        typer.echo(line, err=print_token)
    if print_token:
        print(issued.token.get_secret_value())
    if saved is not None and os.environ.get(cli.ENV_TOKEN):
        cli.warn(ENV_WINS)


def logout() -> None:
    """Revoke the saved token and delete ~/.keystead/token."""
    path = token_store.token_path()
    with cli.api_errors():
        token = token_store.load()
    if token is None:
        print(f"Not logged in: there is no saved token in {path}.")
        return
    with cli.api_errors(), cli.make_client(token) as client:
        try:
            client.auth.logout()
        except Unauthenticated:
            cli.warn("the saved token had already expired or been revoked.")
    try:
        token_store.delete()
    except OSError as error:
        detail = f"cannot remove {path}: {error.strerror or error}"
        cli.fail("FileError", detail, cli.ExitCode.ERROR)
    print(f"Logged out; removed {path}.")


def whoami(output: FormatOption = OutputFormat.TEXT) -> None:
    """Show who the current token belongs to, its roles and expiry."""
    with cli.api_errors(), cli.make_client() as client:
        me = client.auth.whoami()
    if output is OutputFormat.JSON:
        render.as_json(me)
        return
    render.fields(
        "Who am I",
        [
            ("Name", me.name),
            ("Kind", me.kind),
            ("Token ID", me.token_id),
            ("Roles", me.roles),
            ("Expires", me.expires_at),
        ],
    )


def register(
    username: Annotated[str, typer.Argument(help="The username to take.", show_default=False)],
    password_file: prompts.PasswordFileOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Register yourself, when the server allows it; then run `keystead login`."""
    password = prompts.read_secret("Password", file=password_file, confirm=True)
    with cli.api_errors(), cli.make_client(use_saved=False) as client:
        user: User = client.auth.register(username, password)
    if output is OutputFormat.JSON:
        render.as_json(user)
        return
    print(f"Registered {user.username}; run `keystead login {user.username}` to log in.")


def passwd(
    password_file: Annotated[
        str | None,
        typer.Option(
            "--password-file",
            help="Read the current password, then the new one, from the first two lines of "
            "FILE (- for stdin).",
        ),
    ] = None,
) -> None:
    """Change your own password (asked for without echo); every token of yours is revoked."""
    if password_file is not None:
        current, new = _two_lines(password_file)
    else:
        current = prompts.read_secret("Current password")
        new = prompts.read_secret("New password", confirm=True)
    with cli.api_errors(), cli.make_client() as client:
        client.auth.change_password(current, new)
    print(REVOKED_ON_CHANGE)


def _two_lines(path: str) -> tuple[str, str]:
    try:
        lines = io.read_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        cli.fail("FileError", f"the passwords in {path} are not UTF-8", cli.ExitCode.ERROR)
    if len(lines) < 2 or not lines[0] or not lines[1]:  # noqa: PLR2004 - two lines
        cli.fail(
            "ValidationFailed",
            f"{path} must hold the current password, then the new one, one per line",
            cli.ExitCode.INVALID,
        )
    return lines[0], lines[1]
