"""``keystead exchange ...`` through CliRunner, against Keystead and the exchange in process.

The CLI's SDK client and its exchange client are pointed at the in-process servers of
``exchange_support.running_market``; users register, trade and verify through the commands.
Then the pure parts: the ledger verifier on the exchange's own SQLite file, edited and cut
(exit 13 naming the entry), confirmations tampered with (exit 12), and the profile files
(0600 in a 0700 directory, refused when others may read them).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import Result

from cli_harness import mode, run
from cli_harness import plain_terminal as plain_terminal  # noqa: PLC0414 - an autouse fixture
from exchange_support import Market, running_market
from identity_support import PASSWORD, forward_to
from keystead.cli import client as cli_client
from keystead.cli import exchange_profile
from keystead.exchange.client import ExchangeAPIError
from keystead_sdk import Client, Unauthenticated

PAIR = "BTC-USD"
ADDR = ("--exchange-addr", "https://x")


@dataclass
class World:
    """The market, where the CLI keeps its files, and what the first trade left."""

    market: Market
    root: Path
    results: dict[str, Result]

    @property
    def profiles(self) -> Path:
        return self.root / "profiles"

    def cli(self, *args: str) -> Result:
        return run("exchange", *args, "--profile-dir", str(self.profiles), *ADDR)

    def public(self, *args: str) -> Result:
        return run("exchange", *args, *ADDR)

    def offline(self, *args: str) -> Result:
        return run("exchange", *args)


def _check(result: Result, code: int = 0) -> Result:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("exchange-cli")
    with running_market(root / "market") as market, pytest.MonkeyPatch.context() as patch:
        patch.setattr(exchange_profile, "transport", lambda: forward_to(market.exchange))

        def make_client(token: str | None = None, *, use_saved: bool = True) -> Client:
            del use_saved  # the in-process Keystead has no saved token
            return market.keystead_client(token or os.environ.get("KEYSTEAD_TOKEN"))

        patch.setattr(cli_client, "make_client", make_client)
        (root / "password").write_text(PASSWORD + "\n")
        (root / "operator").write_text(market.operator_token + "\n")
        world = World(market, root, {})
        yield _trade(world)


def _trade(world: World) -> World:
    root, results = world.root, world.results
    for user in ("alice", "bob"):
        results[f"register {user}"] = world.cli(
            "register", "--username", user, "--password-file", str(root / "password")
        )
    for user, asset, amount in (("alice", "USD", "100000"), ("bob", "BTC", "2")):
        results[f"deposit {user}"] = run(
            "exchange",
            "deposit",
            user,
            asset,
            amount,
            *ADDR,
            "--operator-token-file",
            str(root / "operator"),
        )
    results["sell"] = world.cli(
        "order", "sell", PAIR, "0.5", "42000", "--username", "bob", "--out", str(root / "sell.json")
    )
    results["buy"] = world.cli(
        "order", "buy", PAIR, "0.5", "42000", "--username", "alice", "--out", str(root / "buy.json")
    )
    results["rest"] = world.cli(
        "order",
        "buy",
        PAIR,
        "0.1",
        "41000",
        "--username",
        "alice",
        "--out",
        str(root / "rest.json"),
    )
    key = run("exchange", "key", "--version", "1", *ADDR)
    (root / "key.pem").write_text(key.stdout)
    results["key"] = key
    return world


def test_register_saves_private_profiles_and_never_prints_tokens(world: World) -> None:
    for user in ("alice", "bob"):
        result = _check(world.results[f"register {user}"])
        assert f"Registered {user} in Keystead" in result.output
        assert f"Exchange account {user} opened" in result.output
        profile = json.loads((world.profiles / f"{user}.json").read_text())
        assert profile["username"] == user
        assert profile["keystead_token"] not in result.output
        assert profile["exchange_token"] not in result.output
        assert mode(world.profiles / f"{user}.json") == 0o600
    assert mode(world.profiles) == 0o700


def test_orders_cross_and_confirmations_are_written(world: World) -> None:
    for name in ("deposit alice", "deposit bob", "sell", "buy", "rest"):
        _check(world.results[name])
    assert "open" in world.results["sell"].output
    buy = world.results["buy"].output
    assert "filled" in buy
    assert "trade " in buy
    assert f"Confirmation written to {world.root / 'buy.json'}" in buy
    confirmation = json.loads((world.root / "buy.json").read_text())
    assert confirmation["confirmation"]["status"] == "filled"
    assert confirmation["key_version"] == 1


def test_balances_book_trades_and_orders(world: World) -> None:
    balances = json.loads(
        _check(world.cli("balances", "--username", "alice", "--format", "json")).stdout
    )
    held = {b["asset"]: (b["available"], b["reserved"]) for b in balances["balances"]}
    assert held == {"BTC": ("0.5", "0"), "USD": ("74900", "4100")}
    book = _check(world.public("book", PAIR)).output
    assert "bid" in book
    assert "41000" in book
    trades = _check(world.cli("trades", "--pair", PAIR)).output
    assert "alice" in trades
    assert "bob" in trades
    assert "42000" in trades
    mine = json.loads(
        _check(world.cli("trades", "--mine", "--username", "bob", "--format", "json")).stdout
    )
    assert [t["seller"] for t in mine["trades"]] == ["bob"]
    orders = _check(world.cli("orders", "--username", "alice")).output
    assert "filled" in orders
    assert "open" in orders


def test_verify_confirmation_online_and_offline(world: World) -> None:
    _check(world.results["key"])
    assert "BEGIN PUBLIC KEY" in world.results["key"].stdout
    online = _check(world.public("verify-confirmation", str(world.root / "buy.json")))
    assert "signature valid" in online.output
    assert "published key version 1" in online.output
    offline = _check(
        world.offline(
            "verify-confirmation",
            str(world.root / "buy.json"),
            "--public-key",
            str(world.root / "key.pem"),
        )
    )
    assert "signature valid" in offline.output
    assert "offline" in offline.output
    for line in (
        "account: alice",
        "side: buy",
        "pair: BTC-USD",
        "quantity: 0.5",
        "price: 42000",
        "status: filled",
        "ledger_seq:",
    ):
        assert line in offline.output


def test_a_tampered_confirmation_exits_12(world: World, tmp_path: Path) -> None:
    document = json.loads((world.root / "buy.json").read_text())
    document["confirmation"]["price"] = "1"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    result = _check(
        world.offline(
            "verify-confirmation", str(tampered), "--public-key", str(world.root / "key.pem")
        ),
        12,
    )
    assert "ConfirmationInvalid" in result.output
    assert "does not verify" in result.output
    assert "signature valid" not in result.output
    (tmp_path / "junk.json").write_text("{}")
    _check(
        world.offline(
            "verify-confirmation",
            str(tmp_path / "junk.json"),
            "--public-key",
            str(world.root / "key.pem"),
        ),
        12,
    )


def test_the_wrong_public_key_exits_12(world: World, tmp_path: Path) -> None:
    alice = json.loads((world.profiles / "alice.json").read_text())["keystead_token"]
    pem = world.market.keystead_client(alice).users.public_key("alice", 1).public_key
    (tmp_path / "alice.pem").write_text(pem)
    result = _check(
        world.offline(
            "verify-confirmation",
            str(world.root / "buy.json"),
            "--public-key",
            str(tmp_path / "alice.pem"),
        ),
        12,
    )
    assert "ConfirmationInvalid" in result.output


def _ledger(world: World, *args: str) -> Result:
    return world.offline("ledger", "verify", "--public-key", str(world.root / "key.pem"), *args)


def _db_copy(world: World, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    # The exchange's SQLite runs in WAL mode: copy through the backup API, not the file.
    source = sqlite3.connect(world.market.settings.data_dir / "exchange.db")
    target = sqlite3.connect(copy / "exchange.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return copy


def test_ledger_verify_on_the_database_and_an_export(world: World, tmp_path: Path) -> None:
    data_dir = str(world.market.settings.data_dir)
    good = _check(
        _ledger(world, "--data-dir", data_dir, "--confirmation", str(world.root / "buy.json"))
    )
    assert "Ledger valid." in good.output
    assert "Checked" in good.output
    assert "USD" in good.output
    assert "100000" in good.output
    out = tmp_path / "ledger.jsonl"
    exported = _check(
        run(
            "exchange",
            "ledger",
            "export",
            "--out",
            str(out),
            *ADDR,
            "--operator-token-file",
            str(world.root / "operator"),
        )
    )
    assert mode(out) == 0o600
    lines = out.read_text().splitlines()
    assert f"Exported {len(lines)} ledger entries" in exported.output
    assert set(json.loads(lines[0])) == {"seq", "body", "hash", "signature", "key_version"}
    assert "Ledger valid." in _check(_ledger(world, "--file", str(out))).output
    entry = json.loads(lines[1])
    entry["body"]["time"] += 1
    lines[1] = json.dumps(entry)
    out.write_text("\n".join(lines) + "\n")
    bad = _check(_ledger(world, "--file", str(out)), 13)
    assert "first bad entry 2" in bad.output


def test_an_edited_entry_exits_13_naming_it(world: World, tmp_path: Path) -> None:
    copy = _db_copy(world, tmp_path)
    with sqlite3.connect(copy / "exchange.db") as db:
        (body,) = db.execute("SELECT body FROM ledger WHERE seq = 3").fetchone()
        edited = bytes(body).replace(b'"0.5"', b'"5"', 1)
        assert edited != bytes(body)
        db.execute("UPDATE ledger SET body = ? WHERE seq = 3", (edited,))
    result = _check(_ledger(world, "--data-dir", str(copy)), 13)
    assert "LedgerInvalid" in result.output
    assert "first bad entry 3" in result.output


def test_a_deleted_entry_exits_13_naming_it(world: World, tmp_path: Path) -> None:
    copy = _db_copy(world, tmp_path)
    with sqlite3.connect(copy / "exchange.db") as db:
        db.execute("DELETE FROM ledger WHERE seq = 2")
    result = _check(_ledger(world, "--data-dir", str(copy)), 13)
    assert "entry 2 is missing" in result.output


def test_a_cut_tail_shows_only_through_a_confirmation(world: World, tmp_path: Path) -> None:
    copy = _db_copy(world, tmp_path)
    pinned = json.loads((world.root / "rest.json").read_text())["confirmation"]["ledger_seq"]
    with sqlite3.connect(copy / "exchange.db") as db:
        db.execute("DELETE FROM ledger WHERE seq >= ?", (pinned,))
    _check(_ledger(world, "--data-dir", str(copy)))
    result = _check(
        _ledger(world, "--data-dir", str(copy), "--confirmation", str(world.root / "rest.json")), 13
    )
    assert f"first bad entry {pinned}" in result.output
    assert "removed" in result.output


def test_a_forged_signature_exits_13(world: World, tmp_path: Path) -> None:
    copy = _db_copy(world, tmp_path)
    with sqlite3.connect(copy / "exchange.db") as db:
        db.execute("UPDATE ledger SET signature = ? WHERE seq = 1", (bytes(64),))
    result = _check(_ledger(world, "--data-dir", str(copy)), 13)
    assert "first bad entry 1" in result.output
    assert "signature" in result.output


def test_exchange_errors_exit_by_family(world: World) -> None:
    unknown = _check(world.cli("order", "buy", "DOGE-USD", "1", "1", "--username", "bob"), 3)
    assert "Error: UnknownPair:" in unknown.output
    broke = _check(world.cli("order", "buy", PAIR, "100", "42000", "--username", "bob"), 6)
    assert "InsufficientFunds" in broke.output
    missing = _check(world.cli("cancel", "0" * 32, "--username", "bob"), 5)
    assert "Error:" in missing.output
    nobody = _check(world.cli("balances", "--username", "carol"), 4)
    assert "exchange login" in nobody.output


def test_login_again_and_a_wrong_password(world: World, tmp_path: Path) -> None:
    again = _check(
        world.cli("login", "--username", "bob", "--password-file", str(world.root / "password"))
    )
    assert "Logged in to the exchange as bob" in again.output
    (tmp_path / "wrong").write_text("not the password\n")
    wrong = _check(
        world.cli("login", "--username", "bob", "--password-file", str(tmp_path / "wrong")), 4
    )
    assert "Error:" in wrong.output


@pytest.mark.usefixtures("world")
def test_a_profile_others_can_read_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "profiles"
    profile = exchange_profile.Profile("dave", "kst_secret_one", "kx_secret_two")
    path = exchange_profile.save_profile(directory, profile)
    assert mode(path) == 0o600
    assert mode(directory) == 0o700
    loaded = exchange_profile.load_profile(directory, "dave")
    assert loaded == profile
    assert "secret" not in repr(loaded)
    path.chmod(0o644)
    result = _check(
        run("exchange", "balances", "--username", "dave", "--profile-dir", str(directory), *ADDR), 9
    )
    assert "chmod 600" in result.output
    odd = _check(
        run("exchange", "balances", "--username", "../x", "--profile-dir", str(directory), *ADDR), 3
    )
    assert "not a username" in odd.output


def test_setup_makes_the_service_account_and_a_private_token(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = world.market.keystead.root["authorization"].removeprefix("Bearer ")
    monkeypatch.setenv("KEYSTEAD_TOKEN", root)
    out = tmp_path / "token"
    made = _check(
        run(
            "exchange",
            "setup",
            "--token-out",
            str(out),
            "--account",
            "exchange2",
            "--key-name",
            "exchange2-ledger",
        )
    )
    token = out.read_text().strip()
    assert mode(out) == 0o600
    assert token not in made.output
    assert root not in made.output
    assert "exchange2" in made.output
    whoami = world.market.keystead_client(token).auth.whoami()
    assert whoami.name == "exchange2"
    assert set(whoami.roles) == {"exchange2", "key-user"}
    again = _check(run("exchange", "setup", "--token-out", str(tmp_path / "t2")), 6)
    assert "AlreadyExists" in again.output


def test_a_wrong_operator_token_exits_4(world: World, tmp_path: Path) -> None:
    (tmp_path / "operator").write_text("kxo_not-the-token\n")
    result = _check(
        run(
            "exchange",
            "deposit",
            "alice",
            "USD",
            "1",
            *ADDR,
            "--operator-token-file",
            str(tmp_path / "operator"),
        ),
        4,
    )
    assert "kxo_not-the-token" not in result.output
    assert world.market.operator_token not in result.output


def test_logout_ends_both_sessions_and_forgets_the_tokens(world: World) -> None:
    _check(world.cli("register", "--username", "dora", "--password-file",
                     str(world.root / "password")))  # fmt: skip
    saved = json.loads((world.profiles / "dora.json").read_text())
    result = _check(world.cli("logout", "--username", "dora"))
    assert "holds no token" in result.output
    assert json.loads((world.profiles / "dora.json").read_text()) == {
        "username": "dora", "keystead_token": None, "exchange_token": None,
    }  # fmt: skip
    assert saved["exchange_token"] not in result.output
    old_session = world.market.client()
    old_session.session_token = saved["exchange_token"]
    with pytest.raises(ExchangeAPIError) as refused:
        old_session.me()
    assert (refused.value.status, refused.value.code) == (401, "Unauthenticated")
    with pytest.raises(Unauthenticated):
        world.market.keystead_client(saved["keystead_token"]).auth.whoami()
    _check(world.cli("balances", "--username", "dora"), 4)
