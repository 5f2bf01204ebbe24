"""Appending to the ledger: chaining new entries and signing them with the exchange key.

Whoever appends holds :attr:`Journal.lock` from reading balances to committing, so entries
are chained in the order they are committed. Entries are signed before the transaction that
stores them begins; if Keystead does not sign, nothing is written and nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from keystead.exchange.canonical import canonical_bytes
from keystead.exchange.keystead_link import ExchangeSignature, KeysteadLink
from keystead.exchange.ledger import LedgerEntry, LedgerRow, next_entry
from keystead.exchange.model import BalanceChange
from keystead.exchange.store import Transaction


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    """An entry to append: what happened and the balance changes it made."""

    kind: str
    ref: str
    changes: Sequence[BalanceChange]
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """Entries chained and signed, and the signed extra documents (confirmations)."""

    rows: list[LedgerRow]
    documents: list[ExchangeSignature]


class Journal:
    """The head of the ledger, and the lock every writer takes."""

    def __init__(self, link: KeysteadLink) -> None:
        self._link = link
        self.lock = asyncio.Lock()
        self._head: LedgerRow | None = None

    async def load(self, tx: Transaction) -> None:
        """Read the newest entry (at start)."""
        self._head = await tx.last_ledger_row()

    @property
    def head(self) -> LedgerRow | None:
        """The newest committed entry."""
        return self._head

    def chain(self, planned: Iterable[PlannedEntry], time_ms: int) -> list[LedgerEntry]:
        """Chain entries after the head (caller holds the lock)."""
        entries: list[LedgerEntry] = []
        previous = self._head
        for item in planned:
            entry = next_entry(
                previous, time_ms=time_ms, kind=item.kind, ref=item.ref,
                changes=item.changes, detail=item.detail,
            )  # fmt: skip
            entries.append(entry)
            previous = LedgerRow(entry.seq, b"", entry.hash(), b"", 0)
        return entries

    async def sign(
        self, entries: Sequence[LedgerEntry], documents: Sequence[Mapping[str, object]] = ()
    ) -> SignedBatch:
        """Sign the entries and the documents in one round of concurrent calls.

        Raises:
            KeysteadUnavailable: Keystead refused or did not answer.
        """
        bodies = [entry.body_bytes() for entry in entries]
        signed = await self._link.sign([*bodies, *(canonical_bytes(d) for d in documents)])
        rows = [
            LedgerRow(entry.seq, body, entry.hash(), made.signature, made.version)
            for entry, body, made in zip(entries, bodies, signed, strict=False)
        ]
        return SignedBatch(rows, signed[len(entries) :])

    async def store(self, tx: Transaction, rows: Sequence[LedgerRow]) -> None:
        """Write the rows in the caller's transaction."""
        await tx.add_ledger_rows(rows)

    def committed(self, rows: Sequence[LedgerRow]) -> None:
        """Move the head once the transaction holding ``rows`` has committed."""
        if rows:
            self._head = rows[-1]
