"""``keystead exchange ...``: run the reference exchange, and use it as a user or operator.

``serve`` runs it; ``setup`` makes its Keystead service account; ``register``,
``login``, ``logout``, ``order``, ``cancel``, ``balances``, ``orders``, ``book`` and
``trades`` are the user's side (every request signed through Keystead); ``deposit`` and
``ledger export`` the operator's;
``key``, ``verify-confirmation`` and ``ledger verify`` check the exchange's records, offline
when given its public key.
"""

from __future__ import annotations

import typer

from keystead.cli import (
    exchange_admin,
    exchange_serving,
    exchange_user,
    exchange_verify,
    exchange_views,
)

app = typer.Typer(help="The reference exchange: serve it, trade on it, verify its records.",
                  no_args_is_help=True)  # fmt: skip
app.command("serve")(exchange_serving.serve)
app.command("setup")(exchange_admin.setup)
app.command("register")(exchange_user.register)
app.command("login")(exchange_user.login)
app.command("logout")(exchange_user.logout)
app.command("deposit")(exchange_admin.deposit)
app.command("order")(exchange_user.order)
app.command("cancel")(exchange_user.cancel)
app.command("balances")(exchange_views.balances)
app.command("orders")(exchange_views.orders)
app.command("book")(exchange_views.book)
app.command("trades")(exchange_views.trades)
app.command("key")(exchange_views.key)
app.command("verify-confirmation")(exchange_verify.verify_confirmation_command)

ledger = typer.Typer(help="The exchange's hash-chained, signed ledger.", no_args_is_help=True)
ledger.command("verify")(exchange_verify.verify_ledger)
ledger.command("export")(exchange_admin.export)
app.add_typer(ledger, name="ledger")
