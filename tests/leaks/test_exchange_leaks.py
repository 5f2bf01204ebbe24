"""The exchange keeps no secret it could leak: sessions and the operator's token as hashes only.

The exchange's database, its answers and its debug log never hold a session token, the
operator's token, the exchange's own Keystead token or a user's Keystead token.
"""

from __future__ import annotations

from pathlib import Path

from exchange_support import running_market


def _database_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.glob("exchange.db*"))


def test_no_token_reaches_the_exchange_database_answers_or_log(
    tmp_path: Path, capfd, configured_logging
) -> None:
    configured_logging("debug", "json")
    with running_market(tmp_path) as market:
        alice = market.user("alice")
        bob = market.user("bob")
        market.deposit("alice", "USD", "1000")
        market.deposit("bob", "BTC", "1")
        bob.order("sell", "BTC-USD", "0.01", "100")
        alice.order("buy", "BTC-USD", "0.01", "100")
        answers = [str(alice.me()), str(market.ledger()), str(alice.my_orders())]
        secrets = {
            "alice's session": alice.session_token or "",
            "bob's session": bob.session_token or "",
            "the operator token": market.operator_token,
            "the exchange's Keystead token": (tmp_path / "exchange-token").read_text(),
        }
        stored = _database_bytes(market.settings.data_dir)
    output = capfd.readouterr()
    assert all(len(value) > 20 for value in secrets.values())
    for name, value in secrets.items():
        assert value.encode() not in stored, name
        assert value not in output.out + output.err, name
        assert all(value not in answer for answer in answers), name
    assert b"kxs_" not in stored  # not even a session token's prefix
