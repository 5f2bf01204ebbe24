"""``keystead exchange balances|orders|book|trades|key``: reading the exchange.

Rich tables for people, ``--format json`` for scripts (the exchange's answer as it is).
``balances``, ``orders`` and ``trades --mine`` need the user's exchange session (``login``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from keystead.cli import exchange_profile as profiles
from keystead.cli import render
from keystead.cli.exchange_profile import AddrOption, CaOption, ProfileDirOption, UsernameOption
from keystead.cli.operator import FormatOption, OutputFormat
from keystead.exchange.client import ExchangeClient

T = TypeVar("T")


def _json(document: object) -> None:
    print(json.dumps(document, indent=2))


def _session(
    addr: str, ca: str | None, directory: Path | None, username: str | None
) -> ExchangeClient:
    profile = profiles.load_profile(directory, username)
    return profiles.open_exchange(addr, ca, username=profile.username,
                                  session_token=profile.exchange_token)  # fmt: skip


def _in_session(
    addr: str, ca: str | None, directory: Path | None, username: str | None,
    read: Callable[[ExchangeClient], T],
) -> T:  # fmt: skip
    """Open the user's exchange session, apply ``read`` to it, and close it."""
    with profiles.exchange_errors(), _session(addr, ca, directory, username) as exchange:
        return read(exchange)


def balances(
    username: UsernameOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Your balances at the exchange."""
    me = _in_session(
        exchange_addr, exchange_ca, profile_dir, username, lambda exchange: exchange.me()
    )
    if output is OutputFormat.JSON:
        _json(me)
        return
    render.rows(f"Balances of {me['account']}", ["Asset", "Available", "Reserved"],
                [(b["asset"], b["available"], b["reserved"]) for b in me["balances"]])  # fmt: skip


def orders(
    username: UsernameOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Your newest orders."""
    found = _in_session(
        exchange_addr, exchange_ca, profile_dir, username, lambda exchange: exchange.my_orders()
    )
    if output is OutputFormat.JSON:
        _json({"orders": found})
        return
    columns = ["Order", "Pair", "Side", "Price", "Quantity", "Remaining", "Status", "Key version"]
    render.rows("Orders", columns, [
        (o["order_id"], o["pair"], o["side"], o["price"], o["quantity"], o["remaining"],
         o["status"], o["key_version"])
        for o in found
    ])  # fmt: skip


def book(
    pair: Annotated[str, typer.Argument(help="The pair, e.g. BTC-USD.")],
    levels: Annotated[int, typer.Option("--levels", help="Price levels per side.")] = 20,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A pair's order book: bids and asks by price level."""
    with profiles.exchange_errors(), profiles.open_exchange(exchange_addr, exchange_ca) as ex:
        depth = ex.book(pair, levels)
    if output is OutputFormat.JSON:
        _json(depth)
        return
    asks = [("ask", price, quantity) for price, quantity in reversed(depth["asks"])]
    bids = [("bid", price, quantity) for price, quantity in depth["bids"]]
    render.rows(f"Book {depth['pair']}", ["Side", "Price", "Quantity"], [*asks, *bids])


def _trade_row(trade: dict[str, Any]) -> tuple[object, ...]:
    return (trade["trade_id"], trade["pair"], trade["price"], trade["quantity"],
            trade["buyer"], trade["seller"], trade["taker_side"], trade["ledger_seq"])  # fmt: skip


def trades(  # noqa: PLR0913, PLR0917 - Typer: one parameter per option
    pair: Annotated[str | None, typer.Option("--pair", help="Only this pair.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your trades (needs login).")] = False,
    username: UsernameOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """The newest trades, of every pair or one; ``--mine`` for your own."""
    if mine:
        mine_all = _in_session(exchange_addr, exchange_ca, profile_dir, username,
                               lambda exchange: exchange.my_trades())  # fmt: skip
        found = [t for t in mine_all if pair is None or t["pair"] == pair]
    else:
        with profiles.exchange_errors(), profiles.open_exchange(exchange_addr, exchange_ca) as ex:
            found = ex.trades(pair)
    if output is OutputFormat.JSON:
        _json({"trades": found})
        return
    columns = ["Trade", "Pair", "Price", "Quantity", "Buyer", "Seller", "Taker", "Ledger seq"]
    render.rows("Trades", columns, [_trade_row(t) for t in found])


def key(
    version: Annotated[
        int | None, typer.Option("--version", help="This version [default: the newest].")
    ] = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Print the exchange's public key (PEM), to save for offline checks."""
    with profiles.exchange_errors(), profiles.open_exchange(exchange_addr, exchange_ca) as ex:
        found = ex.exchange_key(version)
    if output is OutputFormat.JSON:
        _json(found)
        return
    typer.echo(f"# exchange key {found['key_id']} version {found['version']} ({found['spec']})",
               err=True)  # fmt: skip
    print(found["public_key"], end="")
