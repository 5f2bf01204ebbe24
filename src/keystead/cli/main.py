"""The Typer root: ``keystead server``, ``login``, ``operator ...``, ``key ...``, ``user ...``."""

from __future__ import annotations

import typer

from keystead.cli import (
    audit,
    auth,
    backup,
    exchange,
    grant,
    key,
    operator,
    policy,
    role,
    server,
    tokens,
    totp,
    user,
)

app = typer.Typer(
    name="keystead",
    help="Keystead: a self-hostable key management system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("server")(server.serve)
app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("register")(auth.register)
app.command("passwd")(auth.passwd)
app.add_typer(operator.app, name="operator")
app.add_typer(key.app, name="key")
app.add_typer(user.app, name="user")
app.add_typer(role.app, name="role")
app.add_typer(policy.app, name="policy")
app.add_typer(grant.app, name="grant")
app.add_typer(tokens.app, name="token")
app.add_typer(totp.app, name="totp")
app.add_typer(audit.app, name="audit")
app.add_typer(backup.app, name="backup")
app.add_typer(exchange.app, name="exchange")


def main() -> None:
    """Entry point of the ``keystead`` console script."""
    app()


if __name__ == "__main__":
    main()
