"""The one writer: commands applied in memory in arrival order, then committed in groups.

Every request that changes state (an order, a cancel, a deposit, a registration, a login)
becomes a command. A single task takes whatever commands are waiting, applies each to the
in-memory :class:`MarketState` (checks first, so a refused command changes nothing), chains
their ledger entries, has Keystead sign all entries and confirmations of the group in one
batch request, writes the group in one transaction, and only then answers each request.
If signing or the commit fails, every command of the group fails with that error and the
state is loaded again from the database: nothing is half done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import structlog

from keystead.exchange.canonical import canonical_bytes, digest_hex
from keystead.exchange.errors import ExchangeBusy, ExchangeError
from keystead.exchange.keystead_link import ExchangeSignature, KeysteadLink
from keystead.exchange.ledger import LedgerEntry, LedgerRow, next_entry
from keystead.exchange.model import BalanceChange
from keystead.exchange.state import BalanceKey, MarketState
from keystead.exchange.store import ExchangeStore, GroupRows

_log = structlog.get_logger("keystead.exchange")
MAX_GROUP = 256
MAX_WAITING = 10_000  # beyond this a request is refused at once (503) instead of queued
Timings = dict[str, float]


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    """An entry to append: what happened and the balance changes it made."""

    kind: str
    ref: str
    changes: Sequence[BalanceChange]
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Signed:
    """A group's signed ledger rows and signed documents, by position."""

    rows: Sequence[LedgerRow]
    documents: Sequence[ExchangeSignature]


class Batch:
    """What one group of commands will sign and write."""

    def __init__(self, head: LedgerRow | None, now_ms: int) -> None:
        self.now_ms = now_ms
        self.entries: list[LedgerEntry] = []
        self.unsigned: list[LedgerRow] = []
        self.documents: list[Mapping[str, Any]] = []
        self.rows = GroupRows()
        self.touched: set[BalanceKey] = set()
        self._head = head

    def append(self, planned: PlannedEntry) -> LedgerEntry:
        """Chain a ledger entry after the last one (committed or of this group)."""
        previous = self.unsigned[-1] if self.unsigned else self._head
        entry = next_entry(
            previous, time_ms=self.now_ms, kind=planned.kind, ref=planned.ref,
            changes=planned.changes, detail=planned.detail,
        )  # fmt: skip
        # Serialised and hashed once here; signing and storing reuse the bytes.
        body = entry.body_bytes()
        self.entries.append(entry)
        self.unsigned.append(LedgerRow(entry.seq, body, digest_hex(body), b"", 0))
        self.touched.update((c.account, c.asset) for c in planned.changes)
        return entry

    @property
    def last_hash(self) -> str:
        """The hash of the entry appended last (confirmations pin it)."""
        return self.unsigned[-1].hash

    def document(self, document: Mapping[str, Any]) -> int:
        """Have a document signed with the group; returns its index in ``Signed.documents``."""
        self.documents.append(document)
        return len(self.documents) - 1


def _answer(
    future: asyncio.Future[Any],
    *,
    result: object = None,
    error: BaseException | None = None,
) -> None:
    """Answer a request, unless its client has gone (its future was cancelled).

    A command whose group committed stays committed whether or not anyone waits.
    """
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


Finish = Callable[[Signed], Any]


class Command(Protocol):
    """A change to apply: checks, then in-memory changes and what to write."""

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        """Check against ``state``, change it, add to ``batch``; return the answer's maker.

        Raises:
            ExchangeError: The command is refused; it must then have changed nothing.
        """
        ...


@dataclass
class _Pending:
    command: Command
    future: asyncio.Future[Any]
    timings: Timings | None
    queued_at: float = field(default_factory=time.perf_counter)


class Engine:
    """Owns the state and the one task that changes it."""

    def __init__(
        self,
        state: MarketState,
        store: ExchangeStore,
        link: KeysteadLink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self._store = store
        self._link = link
        self._clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(MAX_WAITING)
        self._task: asyncio.Task[None] | None = None

    def now_ms(self) -> int:
        """The time, in Unix milliseconds."""
        return int(self._clock() * 1000)

    async def start(self) -> None:
        """Load the state and start the writer."""
        await self._reload()
        self._task = asyncio.create_task(self._run(), name="exchange-writer")

    async def stop(self) -> None:
        """Stop the writer; requests still waiting fail (a group being committed finishes)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            _answer(self._queue.get_nowait().future, error=ExchangeError("the exchange stopped"))

    async def submit(self, command: Command, timings: Timings | None = None) -> Any:  # noqa: ANN401 - each command's own answer
        """Apply a command in turn; returns its answer once its group has committed.

        Raises:
            ExchangeBusy: Too many requests are waiting already.
            ExchangeError: The command was refused, or its group could not be signed or
                committed (then nothing of it was kept).
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(command, future, timings))
        except asyncio.QueueFull:
            raise ExchangeBusy from None
        return await future

    async def _reload(self) -> None:
        async with self._store.transaction() as tx:
            await self.state.load(tx, self.now_ms())

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            while not self._queue.empty() and len(group) < MAX_GROUP:
                group.append(self._queue.get_nowait())
            try:
                await self._process(group)
            except Exception:  # noqa: BLE001 - the writer must outlive any one group
                _log.exception("exchange writer failed a group")
                for pending in group:
                    _answer(pending.future, error=ExchangeError())
                await self._reload()

    async def _process(self, group: list[_Pending]) -> None:
        started = time.perf_counter()
        batch = Batch(self.state.head, self.now_ms())
        applied: list[tuple[_Pending, Finish]] = []
        for pending in group:
            try:
                applied.append((pending, pending.command.apply(self.state, batch)))
            except ExchangeError as error:
                _answer(pending.future, error=error)
        applied_at = time.perf_counter()
        try:
            signed = await self._sign(batch)
            signed_at = time.perf_counter()
            await self._commit(batch, signed)
        except ExchangeError as error:
            await self._fail(applied, error)
            return
        committed_at = time.perf_counter()
        self.state.head = signed.rows[-1] if signed.rows else self.state.head
        for pending, finish in applied:
            self._time(pending, started=started, applied=applied_at, signed=signed_at,
                       done=committed_at, size=len(group))  # fmt: skip
            try:
                result = finish(signed)
            except ExchangeError as error:
                _answer(pending.future, error=error)
            else:
                _answer(pending.future, result=result)

    async def _sign(self, batch: Batch) -> Signed:
        unsigned = batch.unsigned
        messages = [*(row.body for row in unsigned), *(canonical_bytes(d) for d in batch.documents)]
        made = await self._link.sign(messages) if messages else []
        rows = [
            replace(row, signature=signature.signature, key_version=signature.version)
            for row, signature in zip(unsigned, made, strict=False)
        ]
        return Signed(rows, made[len(unsigned) :])

    async def _commit(self, batch: Batch, signed: Signed) -> None:
        state = self.state
        balances = {key: state.balances[key] for key in batch.touched}
        async with self._store.transaction() as tx:
            await tx.write_group(batch.rows, balances, state.stored_balances)
            await tx.add_ledger_rows(signed.rows)
            if len(state.nonces) > 100_000:  # noqa: PLR2004 - prune now and then, not per group
                state.forget_expired_nonces(batch.now_ms)
                await tx.forget_nonces(batch.now_ms)
        state.stored_balances.update(batch.touched)

    async def _fail(self, applied: list[tuple[_Pending, Finish]], error: ExchangeError) -> None:
        for pending, _ in applied:
            _answer(pending.future, error=error)
        await self._reload()

    @staticmethod
    def _time(  # noqa: PLR0913 - the phases of one group
        pending: _Pending,
        *,
        started: float,
        applied: float,
        signed: float,
        done: float,
        size: int,
    ) -> None:
        if pending.timings is None:
            return
        pending.timings.update({
            "queue": started - pending.queued_at, "apply": applied - started,
            "sign": signed - applied, "store": done - signed, "group": float(size),
        })  # fmt: skip
