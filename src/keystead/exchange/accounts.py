"""Accounts: registration and login by signed request, sessions, deposits, balances.

The exchange never sees a password: a user registers and logs in with Keystead, then proves
to the exchange that it holds the Keystead user's key by signing a registration (or login)
request through Keystead. The exchange records the account's key id; sessions are random
tokens kept only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from keystead.exchange.canonical import decimal_text
from keystead.exchange.engine import Batch, Engine, Finish, PlannedEntry
from keystead.exchange.errors import (
    AccountExists,
    AccountNotFound,
    BadRequest,
    KeyNotAccounts,
    Unauthenticated,
)
from keystead.exchange.keystead_link import KeysteadLink
from keystead.exchange.model import BalanceChange
from keystead.exchange.money import Balance, InvalidAmount, parse_amount
from keystead.exchange.requests import Envelope, LoginRequest, RegisterRequest
from keystead.exchange.state import MarketState
from keystead.exchange.store import Account, ExchangeStore
from keystead.exchange.trading import new_id, settle, spend_nonce
from keystead.exchange.verification import RequestVerifier

SESSION_PREFIX = "kxs_"


@dataclass(frozen=True, slots=True)
class Session:
    """A session token, shown once."""

    token: str
    account: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Deposited:
    """A deposit's effect."""

    account: str
    asset: str
    balance: Balance
    ledger_seq: int


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class AddAccount:
    """A verified registration."""

    account: Account
    nonce: str
    expires_ms: int

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        """Record the account and its key id.

        Raises:
            AccountExists: The name is registered already.
        """
        if self.account.name in state.accounts:
            raise AccountExists
        spend_nonce(state, batch, self.account.name, self.nonce, self.expires_ms)
        state.accounts[self.account.name] = self.account.key_id
        account = self.account
        batch.rows.accounts.insert(0, account)  # before its nonce and sessions reference it
        return lambda _: account


@dataclass
class StartSession:
    """A verified login."""

    account: str
    nonce: str
    expires_ms: int
    token_hash: str
    session_expires_ms: int

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        """Spend the nonce and store the session.

        Raises:
            NonceReused: A replayed login.
        """
        spend_nonce(state, batch, self.account, self.nonce, self.expires_ms)
        batch.rows.sessions.append((self.token_hash, self.account, self.session_expires_ms))
        return lambda _: None


@dataclass
class Deposit:
    """The operator's credit to an account."""

    account: str
    asset: str
    amount: Decimal

    def apply(self, state: MarketState, batch: Batch) -> Finish:
        """Credit the account, with a ledger entry.

        Raises:
            AccountNotFound: No such account.
        """
        if self.account not in state.accounts:
            raise AccountNotFound
        change = BalanceChange(self.account, self.asset, self.amount, Decimal(0))
        after = settle(state, [change])
        state.balances.update(after)
        planned = PlannedEntry("deposit", new_id(), [change],
                               {"amount": decimal_text(self.amount)})  # fmt: skip
        entry = batch.append(planned)
        balance = after[self.account, self.asset]
        return lambda _: Deposited(self.account, self.asset, balance, entry.seq)


class AccountService:
    """Registration, login, sessions and deposits."""

    def __init__(  # noqa: PLR0913 - the parts an account touches
        self,
        *,
        store: ExchangeStore,
        engine: Engine,
        verifier: RequestVerifier,
        link: KeysteadLink,
        asset_places: dict[str, int],
        operator_token: str,
        session_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._engine = engine
        self._verifier = verifier
        self._link = link
        self._places = asset_places
        self._operator_hash = _token_hash(operator_token)
        self._session_ttl = session_ttl_seconds
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def register(self, envelope: Envelope) -> Account:
        """Open an account for the Keystead user whose key signed the request.

        Raises:
            AccountExists: The account is registered already.
            AccountNotFound: Keystead has no such user.
            KeyNotAccounts: The request names another key than the user's.
            (and the verification errors)
        """
        request = self._verifier.read(envelope, RegisterRequest)
        primary = await self._link.primary_user_key(request.account)
        if request.key_id != primary.key.key_id:
            raise KeyNotAccounts
        await self._verifier.check(envelope, request.account, primary.key.key_id)
        account = Account(request.account, primary.key.key_id, self._now_ms())
        command = AddAccount(account, request.nonce, request.expires_at * 1000)
        added: Account = await self._engine.submit(command)
        return added

    async def login(self, envelope: Envelope) -> Session:
        """Open a session for the account whose key signed the request.

        Raises:
            AccountNotFound: No such account.
            NonceReused: A replayed login.
            (and the verification errors)
        """
        request = self._verifier.read(envelope, LoginRequest)
        account = await self.account(request.account)
        await self._verifier.check(envelope, account.name, account.key_id)
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        expires_ms = self._now_ms() + self._session_ttl * 1000
        await self._engine.submit(StartSession(
            account.name, request.nonce, request.expires_at * 1000, _token_hash(token), expires_ms
        ))  # fmt: skip
        return Session(token, account.name, expires_ms // 1000)

    async def account(self, name: str) -> Account:
        """A registered account.

        Raises:
            AccountNotFound: No such account.
        """
        async with self._store.transaction() as tx:
            found = await tx.account(name)
        if found is None:
            raise AccountNotFound
        return found

    async def session_account(self, token: str | None) -> Account:
        """The account of a live session token.

        Raises:
            Unauthenticated: No token, or an unknown or expired one.
        """
        if not token or not token.startswith(SESSION_PREFIX):
            raise Unauthenticated
        async with self._store.transaction() as tx:
            name = await tx.session_account(_token_hash(token), self._now_ms())
            found = None if name is None else await tx.account(name)
        if found is None:
            raise Unauthenticated
        return found

    async def logout(self, token: str | None) -> None:
        """End the session of ``token``.

        Raises:
            Unauthenticated: No token, or an unknown or expired one.
        """
        await self.session_account(token)
        async with self._store.transaction() as tx:
            await tx.end_session(_token_hash(token or ""), self._now_ms())

    def require_operator(self, token: str | None) -> None:
        """Refuse anyone but the operator (deposits, the ledger).

        Raises:
            Unauthenticated: Not the operator's token.
        """
        if not token or not hmac.compare_digest(_token_hash(token), self._operator_hash):
            msg = "this needs the exchange operator's token"
            raise Unauthenticated(msg)

    async def balances(self, account: str) -> dict[str, Balance]:
        """An account's balances, by asset (as committed)."""
        async with self._store.transaction() as tx:
            return await tx.balances_of(account)

    async def deposit(self, account: str, asset: str, amount_text: str) -> Deposited:
        """Credit an account (the operator's deposit), recorded in the ledger.

        Raises:
            AccountNotFound: No such account.
            BadRequest: An unknown asset or a malformed amount.
            KeysteadUnavailable: Keystead did not sign the ledger entry.
        """
        places = self._places.get(asset)
        if places is None:
            msg = f"no market trades {asset!r}; known assets: {', '.join(sorted(self._places))}"
            raise BadRequest(msg)
        try:
            amount = parse_amount(amount_text, places, "amount", asset)
        except InvalidAmount as error:
            raise BadRequest(str(error)) from None
        deposited: Deposited = await self._engine.submit(Deposit(account, asset, amount))
        return deposited
