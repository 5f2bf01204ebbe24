"""Checking a ledger offline: the chain, each signature, and that no balance goes negative.

:func:`verify_chain` streams the rows (only the balances and the last hash are held) and stops
at the first bad entry, naming it. It sees deletions, edits, reorderings and forged
signatures anywhere in the chain, but not a cut tail (the newest entries removed): what is
left is still a valid chain. Confirmations carry the ledger seq and hash of their entry, so
passing them as ``anchors`` pins the chain up to each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Final

from keystead.exchange.canonical import digest_hex
from keystead.exchange.ledger import (
    GENESIS_HASH,
    LedgerEntry,
    LedgerFormatError,
    LedgerRow,
    parse_body,
)

# Amounts are bounded (MAX_INTEGER_DIGITS, MAX_PLACES), so sums stay exact at this precision;
# the Inexact trap turns any surprise into an error instead of a silent rounding.
_EXACT: Final = Context(prec=200, traps=[Inexact, InvalidOperation])
_ZERO: Final = Decimal(0)
_ZERO_PAIR: Final = (_ZERO, _ZERO)

SignatureCheck = Callable[[int, bytes, bytes], bool]
"""``verify(key_version, message, signature) -> bool`` for the exchange's signing key."""


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`.

    ``entries``, ``last_seq``, ``last_hash``, ``balances``, ``deposits`` and ``withdrawals``
    describe the good prefix of the chain (all of it when ``ok``). ``balances`` maps
    ``(account, asset)`` to ``(available, reserved)``; ``deposits`` and ``withdrawals`` are
    per-asset totals, so per asset the sum of available plus reserved over all accounts
    equals deposits minus withdrawals.
    """

    ok: bool
    entries: int
    last_seq: int
    last_hash: str
    first_bad: int | None
    reason: str | None
    balances: Mapping[tuple[str, str], tuple[Decimal, Decimal]]
    deposits: Mapping[str, Decimal]
    withdrawals: Mapping[str, Decimal] = field(default_factory=dict)


class _Bad(Exception):
    """The first bad entry: its seq and why (internal to verify_chain)."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


class _Replay:
    """The state verify_chain streams through: the last good entry and the balances."""

    def __init__(self, verify: SignatureCheck, anchors: Mapping[int, str]) -> None:
        self.verify = verify
        self.anchors = anchors
        self.entries = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.balances: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        self.deposits: dict[str, Decimal] = {}
        self.withdrawals: dict[str, Decimal] = {}

    def accept(self, row: LedgerRow) -> None:
        """Check ``row`` against the chain so far and apply it.

        Raises:
            _Bad: The row breaks the chain.
        """
        self._check_position(row)
        entry = self._check_body(row)
        self._check_seal(row)
        balances = self._replayed(entry)
        self.balances.update(balances)
        self._add_totals(entry)
        self.entries += 1
        self.last_seq = row.seq
        self.last_hash = row.hash

    def _check_position(self, row: LedgerRow) -> None:
        expected = self.last_seq + 1
        if row.seq > expected:
            after = f"entry {self.last_seq}" if self.last_seq else "nothing (the start)"
            msg = f"entry {expected} is missing: entry {row.seq} follows {after}"
            raise _Bad(expected, msg)
        if row.seq < expected:
            msg = f"entry {row.seq} is out of order: it comes after entry {self.last_seq}"
            raise _Bad(expected, msg)

    def _check_body(self, row: LedgerRow) -> LedgerEntry:
        try:
            entry = parse_body(row.body)
        except LedgerFormatError as error:
            raise _Bad(row.seq, f"entry {row.seq} is malformed: {error}") from None
        if entry.seq != row.seq:
            msg = f"entry {row.seq}'s body says it is entry {entry.seq}"
            raise _Bad(row.seq, msg)
        if entry.prev != self.last_hash:
            msg = (
                f"entry {row.seq} does not follow entry {self.last_seq}: its prev hash "
                "differs (an entry was edited, removed or reordered)"
            )
            raise _Bad(row.seq, msg)
        return entry

    def _check_seal(self, row: LedgerRow) -> None:
        if digest_hex(row.body) != row.hash:
            msg = f"entry {row.seq} was edited: its hash does not match its body"
            raise _Bad(row.seq, msg)
        if not self.verify(row.key_version, row.body, row.signature):
            msg = (
                f"entry {row.seq}'s signature does not verify with the exchange key "
                f"(version {row.key_version})"
            )
            raise _Bad(row.seq, msg)
        pinned = self.anchors.get(row.seq)
        if pinned is not None and pinned != row.hash:
            msg = f"entry {row.seq} differs from the one a confirmation pinned"
            raise _Bad(row.seq, msg)

    def _replayed(self, entry: LedgerEntry) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """Return the balances the entry touches, after it.

        The entry's changes apply atomically, so only their net effect must keep every
        balance at or above zero.

        Raises:
            _Bad: A balance would go below zero.
        """
        touched: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for change in entry.changes:
            key = (change.account, change.asset)
            available, reserved = touched.get(key) or self.balances.get(key, _ZERO_PAIR)
            touched[key] = (
                _EXACT.add(available, change.available),
                _EXACT.add(reserved, change.reserved),
            )
        for (account, asset), (available, reserved) in touched.items():
            for name, amount in (("available", available), ("reserved", reserved)):
                if amount < 0:
                    msg = f"entry {entry.seq} takes {account}'s {asset} {name} below zero"
                    raise _Bad(entry.seq, msg)
        return touched

    def _add_totals(self, entry: LedgerEntry) -> None:
        for change in entry.changes:
            net = _EXACT.add(change.available, change.reserved)
            if entry.kind == "deposit":
                self.deposits[change.asset] = _EXACT.add(
                    self.deposits.get(change.asset, _ZERO), net
                )
            elif entry.kind == "withdrawal":
                total = self.withdrawals.get(change.asset, _ZERO)
                self.withdrawals[change.asset] = _EXACT.subtract(total, net)

    def finish(self) -> None:
        """Check that the chain reaches every anchor.

        Raises:
            _Bad: An anchored entry lies beyond the end of the chain.
        """
        beyond = sorted(seq for seq in self.anchors if seq > self.last_seq)
        if beyond:
            msg = (
                f"the ledger ends at entry {self.last_seq} but a confirmation pins entry "
                f"{beyond[0]} (entries were removed from the end)"
            )
            raise _Bad(beyond[0], msg)

    def report(self, bad: _Bad | None) -> ChainReport:
        """Summarise the good prefix, and the first bad entry if there is one."""
        return ChainReport(
            ok=bad is None,
            entries=self.entries,
            last_seq=self.last_seq,
            last_hash=self.last_hash,
            first_bad=None if bad is None else bad.seq,
            reason=None if bad is None else bad.reason,
            balances=dict(self.balances),
            deposits=dict(self.deposits),
            withdrawals=dict(self.withdrawals),
        )


def verify_chain(
    rows: Iterable[LedgerRow],
    verify: SignatureCheck,
    anchors: Mapping[int, str] | None = None,
) -> ChainReport:
    """Verify a ledger offline, streaming: only the balances and the last hash are held.

    Rows must come in seq order. Each row is checked, stopping at the first bad one: its
    seq follows the previous one (a gap means an entry was deleted), its body parses, the
    body's seq is the row's, its prev is the previous entry's hash, its hash matches its
    body, its signature verifies (``verify(key_version, body, signature)``), it matches any
    anchor for its seq, and replaying it takes no balance below zero.

    A cut tail (the newest entries removed) leaves a valid chain, so it shows only through
    ``anchors``: ``{seq: hash}`` pairs from confirmations. An anchor beyond the end of the
    chain makes the report not ok, with ``first_bad`` the anchored seq.

    Returns:
        The report; an empty ledger is ok, with no entries and ``last_hash`` GENESIS_HASH.

    Raises:
        Exception: Whatever ``verify`` raises; it should answer False for an unknown key
            version rather than raise, so that the report names the entry.
    """
    replay = _Replay(verify, anchors or {})
    try:
        for row in rows:
            replay.accept(row)
        replay.finish()
    except _Bad as bad:
        return replay.report(bad)
    return replay.report(None)
