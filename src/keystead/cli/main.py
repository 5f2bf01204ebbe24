"""The Typer root: ``keystead server``, ``keystead operator ...``."""

from __future__ import annotations

import typer

from keystead.cli import key, operator, server

app = typer.Typer(
    name="keystead",
    help="Keystead: a self-hostable key management system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("server")(server.serve)
app.add_typer(operator.app, name="operator")
app.add_typer(key.app, name="key")


def main() -> None:
    """Entry point of the ``keystead`` console script."""
    app()


if __name__ == "__main__":
    main()
