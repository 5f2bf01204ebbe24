"""``keystead exchange register|login|order|cancel``: a user's signed requests.

Every request is signed through Keystead with the user's own key (the SDK, the user's
Keystead token) and posted to the exchange; the password goes to Keystead only, never to the
exchange. ``order`` and ``cancel`` write the exchange's signed confirmation to a file, to be
checked later with ``keystead exchange verify-confirmation``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from keystead.cli import client as cli
from keystead.cli import exchange_profile as profiles
from keystead.cli import prompts
from keystead.cli.exchange_profile import (
    AddrOption,
    CaOption,
    Profile,
    ProfileDirOption,
    UsernameOption,
)
from keystead.exchange.client import ExchangeClient
from keystead.exchange.confirmations import SignedConfirmation
from keystead_sdk import Client, TotpRequired

TotpCodeOption = Annotated[
    str | None,
    typer.Option("--totp-code", help="The current TOTP code, if your Keystead login needs one."),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Write the confirmation here [default: confirmation-<order_id>.json].",
        show_default=False,
    ),
]


class Side(StrEnum):
    """An order's side."""

    BUY = "buy"
    SELL = "sell"


def _keystead_login(name: str, password: str, code: str | None) -> str:
    with cli.api_errors(), cli.make_client(use_saved=False) as client:
        try:
            issued = client.auth.login(name, password, totp=code)
        except TotpRequired:
            if code is not None:
                raise
            issued = client.auth.login(name, password, totp=prompts.read_code("TOTP code"))
    return issued.token.get_secret_value()


def _exchange_login(  # noqa: PLR0913 - where, who, and the user's Keystead token
    addr: str, ca: str | None, directory: Path | None, name: str, token: str, *, register: bool
) -> Path:
    with (
        profiles.exchange_errors(),
        cli.make_client(token) as keystead,
        profiles.open_exchange(addr, ca, keystead=keystead, username=name) as exchange,
    ):
        if register:
            account = exchange.register()
            print(f"Exchange account {account['account']} opened (key {account['key_id']}).")
        session = exchange.login()
        profile = Profile(name, token, str(session["token"]))
        path = profiles.save_profile(directory, profile)
    print(f"Logged in to the exchange as {name}; tokens saved in {path}.")
    return path


def register(
    username: UsernameOption = None,
    password_file: prompts.PasswordFileOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """Register in Keystead (it makes your key pair), then open an exchange account."""
    name = profiles.require_username(username)
    password = prompts.read_secret("Password", file=password_file, confirm=True)
    with cli.api_errors(), cli.make_client(use_saved=False) as client:
        user = client.auth.register(name, password)
    print(f"Registered {user.username} in Keystead; its signing key is {user.key_id}.")
    token = _keystead_login(name, password, None)
    _exchange_login(exchange_addr, exchange_ca, profile_dir, name, token, register=True)


def login(  # noqa: PLR0913, PLR0917 - Typer: one parameter per option
    username: UsernameOption = None,
    password_file: prompts.PasswordFileOption = None,
    totp_code: TotpCodeOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """Log in to Keystead (password), then to the exchange (a signed login request)."""
    name = profiles.require_username(username)
    password = prompts.read_secret("Password", file=password_file)
    token = _keystead_login(name, password, totp_code)
    _exchange_login(exchange_addr, exchange_ca, profile_dir, name, token, register=False)


def logout(
    username: UsernameOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """End the exchange session and revoke the Keystead token, then forget both."""
    profile = profiles.load_profile(profile_dir, username)
    with profiles.exchange_errors(), profiles.open_exchange(
        exchange_addr, exchange_ca, username=profile.username,
        session_token=profile.exchange_token,
    ) as exchange:  # fmt: skip
        exchange.logout()
    if profile.keystead_token is not None:
        with cli.api_errors(), cli.make_client(profile.keystead_token) as keystead:
            keystead.auth.logout()
    path = profiles.save_profile(profile_dir, Profile(profile.username))
    print(f"Logged {profile.username} out of the exchange and Keystead; {path} holds no token.")


def _summary(signed: SignedConfirmation) -> None:
    body = signed.confirmation
    trades = body.get("trades") or []
    print(f"Order {body.get('order_id')}: {body.get('status')} — {body.get('side')} "
          f"{body.get('quantity')} {body.get('pair')} at {body.get('price')}; "
          f"filled {body.get('filled')}, remaining {body.get('remaining')}")  # fmt: skip
    for trade in trades:
        print(f"  trade {trade.get('trade_id')}: {trade.get('quantity')} at {trade.get('price')}")
    print(f"Ledger entry {body.get('ledger_seq')}; signed with exchange key version "
          f"{signed.key_version} ({signed.spec}).")  # fmt: skip


def _save(signed: SignedConfirmation, out: Path | None) -> None:
    path = out or Path(f"confirmation-{signed.confirmation.get('order_id')}.json")
    try:
        path.write_text(json.dumps(signed.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        cli.fail("FileError", f"cannot write {path}: {error.strerror or error}", cli.ExitCode.ERROR)
    print(f"Confirmation written to {path}")


def _signing(directory: Path | None, username: str | None) -> tuple[Profile, Client]:
    profile = profiles.load_profile(directory, username)
    with cli.api_errors():
        return profile, profiles.keystead_as(profile)


def _send_signed(  # noqa: PLR0913 - the options every signed request takes
    send: Callable[[ExchangeClient], SignedConfirmation],
    *,
    out: Path | None,
    username: str | None,
    exchange_addr: str,
    exchange_ca: str | None,
    profile_dir: Path | None,
) -> None:
    """Sign and send one request through the user's Keystead, then show and save its answer."""
    profile, keystead = _signing(profile_dir, username)
    with profiles.exchange_errors(), keystead, profiles.open_exchange(
        exchange_addr, exchange_ca, keystead=keystead, username=profile.username,
        session_token=profile.exchange_token,
    ) as exchange:  # fmt: skip
        signed = send(exchange)
    _summary(signed)
    _save(signed, out)


def order(  # noqa: PLR0913, PLR0917 - Typer: one parameter per argument and option
    side: Annotated[Side, typer.Argument(help="buy or sell.")],
    pair: Annotated[str, typer.Argument(help="The pair, e.g. BTC-USD.")],
    quantity: Annotated[str, typer.Argument(help="How much of the base asset.")],
    price: Annotated[str, typer.Argument(help="The limit price, in the quote asset.")],
    out: OutOption = None,
    username: UsernameOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """Sign a limit order through Keystead, place it, save the signed confirmation."""
    _send_signed(
        lambda exchange: exchange.order(side.value, pair, quantity, price),
        out=out, username=username, exchange_addr=exchange_addr, exchange_ca=exchange_ca,
        profile_dir=profile_dir,
    )  # fmt: skip


def cancel(  # noqa: PLR0913, PLR0917 - Typer: one parameter per argument and option
    order_id: Annotated[str, typer.Argument(help="The order to cancel.")],
    out: OutOption = None,
    username: UsernameOption = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """Sign a cancel through Keystead, send it, save the signed confirmation."""
    _send_signed(
        lambda exchange: exchange.cancel(order_id),
        out=out, username=username, exchange_addr=exchange_addr, exchange_ca=exchange_ca,
        profile_dir=profile_dir,
    )  # fmt: skip
