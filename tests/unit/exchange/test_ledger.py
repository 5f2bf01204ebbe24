"""The hash-chained, signed ledger and its offline verification (keystead.exchange.ledger)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.exchange.canonical import canonical_bytes, digest_hex
from keystead.exchange.ledger import (
    GENESIS_HASH,
    LedgerEntry,
    LedgerFormatError,
    LedgerRow,
    next_entry,
    parse_body,
)
from keystead.exchange.ledger_check import ChainReport, verify_chain
from keystead.exchange.model import BalanceChange
from keystead.exchange.signatures import VersionKey, verify_signed

D = Decimal
Spec = tuple[str, str, list[tuple[str, str, str, str]]]


def _c(account: str, asset: str, available: str, reserved: str = "0") -> tuple[str, str, str, str]:
    return (account, asset, available, reserved)


def _specs() -> list[Spec]:
    """Twenty entries: deposits, orders, a trade, cancels and a withdrawal."""
    specs: list[Spec] = [
        ("deposit", "d-1", [_c("alice", "USD", "1000")]),
        ("deposit", "d-2", [_c("bob", "BTC", "5")]),
        ("order", "o-1", [_c("alice", "USD", "-202", "202")]),
        ("order", "o-2", [_c("bob", "BTC", "-2", "2")]),
        (
            "trade",
            "t-1",
            [
                _c("alice", "USD", "0", "-202"),
                _c("bob", "USD", "202"),
                _c("bob", "BTC", "0", "-2"),
                _c("alice", "BTC", "2"),
            ],
        ),
        ("deposit", "d-3", [_c("carol", "USD", "0.5")]),
        ("order", "o-3", [_c("alice", "USD", "-101.25", "101.25")]),
        ("cancel", "c-3", [_c("alice", "USD", "101.25", "-101.25")]),
        ("withdrawal", "w-1", [_c("bob", "USD", "-100")]),
    ]
    for number in range(10, 21):
        if number % 2 == 0:
            specs.append(("order", f"o-{number}", [_c("alice", "BTC", "-0.1", "0.1")]))
        else:
            specs.append(("cancel", f"c-{number - 1}", [_c("alice", "BTC", "0.1", "-0.1")]))
    return specs


def _sign(key: ed25519.Ed25519PrivateKey, entry: LedgerEntry, version: int = 1) -> LedgerRow:
    return LedgerRow.from_entry(entry, key.sign(entry.body_bytes()), version)


def _build(key: ed25519.Ed25519PrivateKey, specs: Sequence[Spec]) -> list[LedgerRow]:
    rows: list[LedgerRow] = []
    for index, (kind, ref, changes) in enumerate(specs):
        entry = next_entry(
            rows[-1] if rows else None,
            time_ms=1_700_000_000_000 + index * 1000,
            kind=kind,
            ref=ref,
            changes=[BalanceChange(a, s, D(av), D(rs)) for a, s, av, rs in changes],
            detail={"by": "test"},
        )
        rows.append(_sign(key, entry))
    return rows


@functools.cache
def _exchange_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@functools.cache
def _chain() -> tuple[LedgerRow, ...]:
    return tuple(_build(_exchange_key(), _specs()))


def _verify(version: int, message: bytes, signature: bytes) -> bool:
    der = (
        _exchange_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    keys = {1: VersionKey("exchange", 1, "ED25519", der)}
    return version in keys and verify_signed(keys[version], message, signature)


def _rows() -> list[LedgerRow]:
    return list(_chain())


def _edit(row: LedgerRow, change: Any) -> bytes:
    """Return ``row``'s body with ``change(document)`` applied, re-serialised canonically."""
    document = json.loads(row.body)
    change(document)
    return canonical_bytes(document)


def _assert_bad(report: ChainReport, first_bad: int, reason: str) -> None:
    assert report.ok is False
    assert report.first_bad == first_bad
    assert report.reason is not None
    assert reason in report.reason
    assert report.entries == first_bad - 1
    assert report.last_seq == first_bad - 1


# --- the intact chain ---------------------------------------------------------------------


def test_the_intact_chain_verifies_with_balances_and_totals() -> None:
    rows = _rows()
    report = verify_chain(iter(rows), _verify)
    assert report.ok is True
    assert (report.first_bad, report.reason) == (None, None)
    assert (report.entries, report.last_seq, report.last_hash) == (20, 20, rows[-1].hash)
    assert report.balances == {
        ("alice", "USD"): (D("798"), D("0")),
        ("alice", "BTC"): (D("1.9"), D("0.1")),  # entry 20 is an open order
        ("bob", "BTC"): (D("3"), D("0")),
        ("bob", "USD"): (D("102"), D("0")),
        ("carol", "USD"): (D("0.5"), D("0")),
    }
    assert report.deposits == {"USD": D("1000.5"), "BTC": D("5")}
    assert report.withdrawals == {"USD": D("100")}


def test_balances_add_up_to_deposits_minus_withdrawals() -> None:
    report = verify_chain(_rows(), _verify)
    for asset in ("USD", "BTC"):
        held = sum(
            (
                available + reserved
                for (_, a), (available, reserved) in report.balances.items()
                if a == asset
            ),
            D(0),
        )
        assert held == report.deposits[asset] - report.withdrawals.get(asset, D(0))


def test_the_empty_chain_is_ok() -> None:
    report = verify_chain([], _verify)
    assert report == ChainReport(True, 0, 0, GENESIS_HASH, None, None, {}, {}, {})


def test_a_cancel_releases_the_reserve() -> None:
    report = verify_chain(_rows()[:19], _verify)
    assert report.ok is True
    assert report.balances[("alice", "BTC")] == (D("2"), D("0"))


def test_rows_chain_through_prev_hashes() -> None:
    rows = _rows()
    assert parse_body(rows[0].body).prev == GENESIS_HASH
    for previous, row in itertools.pairwise(rows):
        assert parse_body(row.body).prev == previous.hash == digest_hex(previous.body)
        assert row.seq == previous.seq + 1


# --- tampering ----------------------------------------------------------------------------


def _set_available(document: dict[str, Any]) -> None:
    document["changes"][0]["available"] = "101.26"


def test_an_edited_amount_with_the_old_hash_is_caught() -> None:
    rows = _rows()
    rows[6] = dataclasses.replace(rows[6], body=_edit(rows[6], _set_available))
    report = verify_chain(rows, _verify)
    _assert_bad(report, 7, "entry 7 was edited: its hash does not match its body")
    assert report.last_hash == rows[5].hash


def test_an_edited_and_rehashed_entry_fails_its_signature() -> None:
    rows = _rows()
    body = _edit(rows[6], _set_available)
    rows[6] = dataclasses.replace(rows[6], body=body, hash=digest_hex(body))
    _assert_bad(
        verify_chain(rows, _verify),
        7,
        "entry 7's signature does not verify with the exchange key (version 1)",
    )


def test_an_entry_resigned_by_another_key_fails_its_signature() -> None:
    rows = _rows()
    forged = dataclasses.replace(parse_body(rows[6].body), ref="o-forged")
    rows[6] = _sign(ed25519.Ed25519PrivateKey.generate(), forged)
    _assert_bad(verify_chain(rows, _verify), 7, "entry 7's signature does not verify")


def test_an_unknown_key_version_fails_its_signature() -> None:
    rows = _rows()
    rows[2] = dataclasses.replace(rows[2], key_version=9)
    _assert_bad(verify_chain(rows, _verify), 3, "exchange key (version 9)")


def test_a_deleted_middle_entry_names_the_gap() -> None:
    rows = _rows()
    del rows[4]
    _assert_bad(verify_chain(rows, _verify), 5, "entry 5 is missing: entry 6 follows entry 4")


def test_a_deleted_first_entry_names_the_gap() -> None:
    _assert_bad(verify_chain(_rows()[1:], _verify), 1, "entry 1 is missing: entry 2 follows")


def test_a_reordered_pair_of_rows_is_caught() -> None:
    rows = _rows()
    rows[7], rows[8] = rows[8], rows[7]
    _assert_bad(verify_chain(rows, _verify), 8, "entry 8 is missing: entry 9 follows entry 7")


def test_a_duplicated_row_is_caught() -> None:
    rows = _rows()
    rows.insert(5, rows[4])
    _assert_bad(verify_chain(rows, _verify), 6, "entry 5 is out of order")


def test_a_reordered_and_renumbered_pair_breaks_the_prev_chain() -> None:
    rows = _rows()
    key = _exchange_key()
    eighth, ninth = parse_body(rows[7].body), parse_body(rows[8].body)
    rows[7] = _sign(key, dataclasses.replace(ninth, seq=8))
    rows[8] = _sign(key, dataclasses.replace(eighth, seq=9))
    _assert_bad(
        verify_chain(rows, _verify),
        8,
        "entry 8 does not follow entry 7: its prev hash differs (an entry was edited, "
        "removed or reordered)",
    )


def test_a_body_in_non_canonical_form_is_caught() -> None:
    rows = _rows()
    body = rows[3].body.replace(b",", b", ", 1)
    rows[3] = dataclasses.replace(rows[3], body=body, hash=digest_hex(body))
    _assert_bad(
        verify_chain(rows, _verify), 4, "entry 4 is malformed: the entry is not in canonical"
    )


def test_a_body_with_the_wrong_seq_is_caught_even_when_signed() -> None:
    rows = _rows()
    rows[9] = _sign(_exchange_key(), dataclasses.replace(parse_body(rows[9].body), seq=11))
    rows[9] = dataclasses.replace(rows[9], seq=10)
    _assert_bad(verify_chain(rows, _verify), 10, "entry 10's body says it is entry 11")


def test_a_signed_entry_that_overdraws_is_caught() -> None:
    specs = _specs()
    specs[8] = ("withdrawal", "w-1", [_c("alice", "USD", "-798.01")])
    rows = _build(_exchange_key(), specs)
    report = verify_chain(rows, _verify)
    _assert_bad(report, 9, "entry 9 takes alice's USD available below zero")
    assert report.balances[("alice", "USD")] == (D("798"), D("0"))
    assert report.withdrawals == {}


def test_a_signed_entry_that_over_releases_a_reserve_is_caught() -> None:
    specs = _specs()
    specs[7] = ("cancel", "c-3", [_c("alice", "USD", "101.26", "-101.26")])
    _assert_bad(
        verify_chain(_build(_exchange_key(), specs), _verify),
        8,
        "entry 8 takes alice's USD reserved below zero",
    )


def test_a_cut_tail_is_caught_by_an_anchor() -> None:
    rows = _rows()
    anchors = {7: rows[6].hash}
    assert verify_chain(rows, _verify, anchors).ok is True
    report = verify_chain(rows[:4], _verify, anchors)
    assert report.ok is False
    assert report.first_bad == 7
    assert report.reason == (
        "the ledger ends at entry 4 but a confirmation pins entry 7 "
        "(entries were removed from the end)"
    )
    assert (report.entries, report.last_seq, report.last_hash) == (4, 4, rows[3].hash)


def test_an_entry_that_differs_from_its_anchor_is_caught() -> None:
    report = verify_chain(_rows(), _verify, {7: "f" * 64})
    _assert_bad(report, 7, "entry 7 differs from the one a confirmation pinned")


def test_a_cut_tail_without_anchors_is_not_visible() -> None:
    report = verify_chain(_rows()[:12], _verify)
    assert report.ok is True
    assert report.last_seq == 12


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_fails_at_that_row_or_earlier(data: st.DataObject) -> None:
    rows = _rows()
    index = data.draw(st.integers(0, len(rows) - 1), label="row")
    field = data.draw(st.sampled_from(["body", "signature"]), label="field")
    original: bytes = getattr(rows[index], field)
    position = data.draw(st.integers(0, len(original) - 1), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")
    flipped = bytearray(original)
    flipped[position] ^= mask
    if field == "body":
        rows[index] = dataclasses.replace(rows[index], body=bytes(flipped))
    else:
        rows[index] = dataclasses.replace(rows[index], signature=bytes(flipped))
    report = verify_chain(rows, _verify)
    assert report.ok is False
    assert report.first_bad is not None
    assert report.first_bad <= rows[index].seq


# --- the entry format ---------------------------------------------------------------------


def test_the_body_format_is_exact() -> None:
    entry = next_entry(
        None,
        time_ms=1_700_000_000_000,
        kind="order",
        ref="o-1",
        changes=[BalanceChange("alice", "USD", D("-202.00"), D("2.0E2"))],
        detail={"pair": "BTC-USD"},
    )
    assert entry.body_bytes() == (
        b'{"changes":[{"account":"alice","asset":"USD","available":"-202","reserved":"200"}],'
        b'"detail":{"pair":"BTC-USD"},"kind":"order","prev":"' + b"0" * 64 + b'","ref":"o-1",'
        b'"seq":1,"time":1700000000000}'
    )
    assert entry.hash() == digest_hex(entry.body_bytes())
    assert parse_body(entry.body_bytes()) == entry


def test_next_entry_follows_the_previous_row() -> None:
    first = _chain()[0]
    entry = next_entry(first, time_ms=5, kind="deposit", ref="d", changes=[])
    assert (entry.seq, entry.prev, entry.detail) == (2, first.hash, {})
    row = LedgerRow.from_entry(entry, b"sig", 3)
    assert row == LedgerRow(2, entry.body_bytes(), entry.hash(), b"sig", 3)
    assert row.entry() == entry


@pytest.mark.parametrize(
    ("kind", "ref", "amount", "detail", "reason"),
    [
        ("transfer", "r", "1", {}, "kind 'transfer'"),
        ("deposit", "", "1", {}, "ref is not a non-empty string"),
        ("deposit", "r", "NaN", {}, "not a canonical decimal text"),
        ("deposit", "r", "1" * 41, {}, "more than 40 digits"),
        ("deposit", "r", "0." + "1" * 31, {}, "30 places"),
        ("deposit", "r", "1", {"n": 1}, "detail is not an object of strings"),
    ],
)
def test_next_entry_refuses_what_verification_would(
    kind: str, ref: str, amount: str, detail: dict[str, Any], reason: str
) -> None:
    with pytest.raises(LedgerFormatError, match=reason):
        next_entry(
            None,
            time_ms=1,
            kind=kind,
            ref=ref,
            changes=[BalanceChange("a", "USD", D(amount), D(0))],
            detail=detail,
        )


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seq": 1,
        "prev": GENESIS_HASH,
        "time": 1,
        "kind": "deposit",
        "ref": "d-1",
        "changes": [{"account": "a", "asset": "USD", "available": "1", "reserved": "0"}],
        "detail": {},
    }
    body.update(overrides)
    return body


def _change(**overrides: Any) -> dict[str, Any]:
    change = {"account": "a", "asset": "USD", "available": "1", "reserved": "0"}
    change.update(overrides)
    return {"changes": [change]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "the entry is not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "not a JSON object"),
        (canonical_bytes({"seq": 1}), "misses the field(s) changes, detail"),
        (canonical_bytes(_body(extra="x")), "unexpected field(s) extra"),
        (canonical_bytes(_body(seq=0)), "seq 0 is out of range"),
        (canonical_bytes(_body(seq="1")), "seq is not an integer"),
        (canonical_bytes(_body(seq=True)), "seq is not an integer"),
        (canonical_bytes(_body(time=-1)), "time -1 is out of range"),
        (canonical_bytes(_body(prev="AB" * 32)), "prev is not 64 lower-case hex"),
        (canonical_bytes(_body(kind="gift")), "kind 'gift' is not one of"),
        (canonical_bytes(_body(ref=5)), "ref is not a non-empty string"),
        (canonical_bytes(_body(changes={})), "changes is not a list"),
        (canonical_bytes(_body(changes=["x"])), "change 0 is not an object"),
        (canonical_bytes(_body(changes=[{"account": "a"}])), "change 0 misses the field(s)"),
        (canonical_bytes(_body(**_change(account=""))), "change 0's account is not a non-empty"),
        (canonical_bytes(_body(**_change(available=1))), "available is not a decimal string"),
        (canonical_bytes(_body(**_change(available="1.50"))), "'1.50' is not a canonical"),
        (canonical_bytes(_body(**_change(available="+1"))), "'+1' is not a canonical"),
        (canonical_bytes(_body(**_change(available="1e3"))), "'1e3' is not a canonical"),
        (canonical_bytes(_body(**_change(reserved="-0"))), "'-0' is not a canonical"),
        (canonical_bytes(_body(**_change(reserved="Infinity"))), "is not a canonical"),
        (canonical_bytes(_body(**_change(reserved="abc"))), "'abc' is not a canonical"),
        (canonical_bytes(_body(**_change(reserved=".5"))), "'.5' is not a canonical"),
        (canonical_bytes(_body(detail={"n": 1})), "detail is not an object of strings"),
        (canonical_bytes(_body(detail=[])), "detail is not an object of strings"),
        (canonical_bytes(_body()).replace(b'"time":1', b'"time":1.5'), "non-integer number 1.5"),
        (canonical_bytes(_body()).replace(b'"time":1', b'"time":NaN'), "non-integer number NaN"),
        (canonical_bytes(_body()).replace(b'"time":1', b'"time":1,"time":1'), "repeats a key"),
        (canonical_bytes(_body()) + b"\n", "not in canonical (RFC 8785) form"),
        (b" " + canonical_bytes(_body()), "not in canonical (RFC 8785) form"),
        (json.dumps(_body(), sort_keys=False).encode(), "not in canonical (RFC 8785) form"),
    ],
)
def test_parse_body_is_strict(body: bytes, reason: str) -> None:
    with pytest.raises(LedgerFormatError) as caught:
        parse_body(body)
    assert reason in str(caught.value)


def test_parse_body_accepts_a_canonical_body() -> None:
    entry = parse_body(canonical_bytes(_body(**_change(available="-0.25"))))
    assert entry.changes == (BalanceChange("a", "USD", D("-0.25"), D(0)),)
    with pytest.raises(TypeError):
        entry.detail["n"] = "x"  # type: ignore[index]
