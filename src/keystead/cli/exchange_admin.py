"""``keystead exchange setup|deposit`` and ``ledger export``: the operator's commands.

``setup`` runs with a Keystead administrator's token (KEYSTEAD_TOKEN or the saved one) and
makes the exchange's service account: a policy allowing only what the exchange does with its
own ledger key, a role of it, the account, and an API token written to a 0600 file (never
printed). ``deposit`` and ``ledger export`` use the exchange operator's token, which the
exchange writes to ``<data dir>/operator-token`` on first start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Final

import typer

from keystead.cli import client as cli
from keystead.cli import exchange_profile as profiles
from keystead.cli.exchange_profile import AddrOption, CaOption, OperatorTokenOption

EXCHANGE_ACTIONS: Final = ("keys.create", "keys.describe", "keys.public_key", "keys.sign")
_PAGE: Final = 1000
_MONTH: Final = 30 * 86400


def setup(
    token_out: Annotated[
        Path,
        typer.Option(
            "--token-out", help="Write the exchange's token here (mode 0600).", show_default=False
        ),
    ],
    key_name: Annotated[
        str, typer.Option("--key-name", help="The exchange's own ledger key.")
    ] = "exchange-ledger",
    account: Annotated[
        str, typer.Option("--account", help="The service account (also the policy and role).")
    ] = "exchange",
    ttl_seconds: Annotated[
        int, typer.Option("--ttl-seconds", help="The token's lifetime.")
    ] = _MONTH,
) -> None:
    """Make the exchange's Keystead service account and token (an administrator's token)."""
    statement = {"effect": "allow", "actions": list(EXCHANGE_ACTIONS), "keys": [key_name]}
    with cli.api_errors(), cli.make_client() as client:
        client.policies.create(account, [statement],
                               description=f"the exchange's own ledger key {key_name}")  # fmt: skip
        client.roles.create(account, [account], description="the exchange")
        client.users.create(account, roles=[account, "key-user"], kind="service")
        issued = client.tokens.create(username=account, ttl_seconds=ttl_seconds,
                                      description="the exchange")  # fmt: skip
    try:
        profiles.write_private(token_out, issued.token.get_secret_value() + "\n")
    except OSError as error:
        detail = f"cannot write {token_out}: {error.strerror or error}"
        cli.fail("FileError", detail, cli.ExitCode.ERROR)
    print(f"Made policy and role {account} (keys.* on {key_name} only) and service account "
          f"{account}; its token is in {token_out}.")  # fmt: skip


def deposit(  # noqa: PLR0913, PLR0917 - Typer: one parameter per argument and option
    account: Annotated[str, typer.Argument(help="The account to credit.")],
    asset: Annotated[str, typer.Argument(help="The asset, e.g. USD.")],
    amount: Annotated[str, typer.Argument(help="How much, a decimal.")],
    operator_token_file: OperatorTokenOption,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
) -> None:
    """Credit an account (the exchange operator)."""
    token = profiles.read_token_file(operator_token_file)
    with profiles.exchange_errors(), profiles.open_exchange(exchange_addr, exchange_ca) as ex:
        done = ex.deposit(token, account, asset, amount)
    print(f"Deposited {amount} {done['asset']} to {done['account']}: available "
          f"{done['available']}, reserved {done['reserved']} (ledger entry "
          f"{done['ledger_seq']}).")  # fmt: skip


def export(
    out: Annotated[
        Path, typer.Option("--out", help="The JSONL file to write (mode 0600).", show_default=False)
    ],
    operator_token_file: OperatorTokenOption,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
) -> None:
    """Write the whole ledger as JSONL, one entry a line, for `ledger verify --file`."""
    token = profiles.read_token_file(operator_token_file)
    lines: list[str] = []
    with profiles.exchange_errors(), profiles.open_exchange(exchange_addr, exchange_ca) as ex:
        after = 0
        while page := ex.ledger(token, after, _PAGE):
            for entry in page:
                row = {name: entry[name]
                       for name in ("seq", "body", "hash", "signature", "key_version")}  # fmt: skip
                lines.append(json.dumps(row, separators=(",", ":")) + "\n")
            after = int(page[-1]["seq"])
    try:
        profiles.write_private(out, "".join(lines))
    except OSError as error:
        cli.fail("FileError", f"cannot write {out}: {error.strerror or error}", cli.ExitCode.ERROR)
    print(f"Exported {len(lines)} ledger entries to {out}.")
