"""The exchange's state in memory: books, balances, nonces, accounts and the ledger's head.

Only the engine's one writer task changes it, so every check against it is exact. It is
loaded from the database at start, and loaded again whenever a batch fails to commit, so
memory never holds a change the database does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keystead.exchange.book import BookOrder, OrderBook
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.model import Pair
from keystead.exchange.money import Balance
from keystead.exchange.store import Transaction

BalanceKey = tuple[str, str]


@dataclass
class MarketState:
    """Everything the checks of a command read, and its changes write."""

    markets: dict[str, Pair]
    books: dict[str, OrderBook] = field(default_factory=dict)
    balances: dict[BalanceKey, Balance] = field(default_factory=dict)
    stored_balances: set[BalanceKey] = field(default_factory=set)
    nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    open_orders: dict[str, str] = field(default_factory=dict)
    head: LedgerRow | None = None
    sequence: int = 0

    async def load(self, tx: Transaction, now_ms: int) -> None:
        """Read everything from the database, replacing what memory held."""
        self.books = {symbol: OrderBook(pair) for symbol, pair in self.markets.items()}
        self.open_orders = {}
        for row in await tx.open_orders():
            self.books[row.pair].rest(BookOrder(
                row.id, row.account, row.side, row.price, row.quantity, row.remaining,
                row.sequence,
            ))  # fmt: skip
            self.open_orders[row.id] = row.pair
        self.balances = await tx.all_balances()
        self.stored_balances = set(self.balances)
        self.nonces = await tx.live_nonces(now_ms)
        self.accounts = await tx.account_keys()
        self.head = await tx.last_ledger_row()
        self.sequence = await tx.last_sequence()

    def nonce_used(self, account: str, nonce: str) -> bool:
        """Whether the account used this nonce in a request that has not expired yet."""
        return (account, nonce) in self.nonces

    def forget_expired_nonces(self, now_ms: int) -> None:
        """Drop nonces whose requests have expired (a replay of one is refused as expired)."""
        expired = [key for key, expires in self.nonces.items() if expires <= now_ms]
        for key in expired:
            del self.nonces[key]

    def book_of(self, order_id: str) -> OrderBook | None:
        """The book an open order rests in."""
        pair = self.open_orders.get(order_id)
        return None if pair is None else self.books[pair]
