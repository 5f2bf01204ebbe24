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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from keystead.exchange.canonical import decimal_text
from keystead.exchange.errors import (
    AccountExists,
    AccountNotFound,
    BadRequest,
    KeyNotAccounts,
    NonceReused,
    Unauthenticated,
)
from keystead.exchange.journal import Journal, PlannedEntry
from keystead.exchange.keystead_link import KeysteadLink
from keystead.exchange.model import BalanceChange
from keystead.exchange.money import Balance, InvalidAmount, apply_changes, parse_amount
from keystead.exchange.requests import Envelope, LoginRequest, RegisterRequest
from keystead.exchange.store import Account, ExchangeStore
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


class AccountService:
    """Registration, login, sessions and deposits."""

    def __init__(  # noqa: PLR0913 - the parts an account touches
        self,
        *,
        store: ExchangeStore,
        journal: Journal,
        verifier: RequestVerifier,
        link: KeysteadLink,
        asset_places: dict[str, int],
        operator_token: str,
        session_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._journal = journal
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
        async with self._journal.lock, self._store.transaction() as tx:
            if await tx.account(request.account) is not None:
                raise AccountExists
            await tx.add_account(account)
            await tx.use_nonce(request.account, request.nonce, account.registered_ms)
        return account

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
        now = self._now_ms()
        expires_ms = now + self._session_ttl * 1000
        async with self._journal.lock, self._store.transaction() as tx:
            if await tx.nonce_used(account.name, request.nonce):
                raise NonceReused
            await tx.use_nonce(account.name, request.nonce, now)
            await tx.add_session(_token_hash(token), account.name, expires_ms)
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

    def require_operator(self, token: str | None) -> None:
        """Refuse anyone but the operator (deposits, the ledger).

        Raises:
            Unauthenticated: Not the operator's token.
        """
        if not token or not hmac.compare_digest(_token_hash(token), self._operator_hash):
            msg = "this needs the exchange operator's token"
            raise Unauthenticated(msg)

    async def balances(self, account: str) -> dict[str, Balance]:
        """An account's balances, by asset."""
        async with self._store.transaction() as tx:
            found = await tx.balances([account])
        return {asset: balance for (_, asset), balance in sorted(found.items())}

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
        await self.account(account)
        change = BalanceChange(account, asset, amount, Decimal(0))
        async with self._journal.lock:
            async with self._store.transaction() as tx:
                before = await tx.balances([account])
            after = apply_changes(before, [change])
            planned = PlannedEntry("deposit", uuid.uuid4().hex, [change],
                                   {"amount": decimal_text(amount)})  # fmt: skip
            batch = await self._journal.sign(self._journal.chain([planned], self._now_ms()))
            async with self._store.transaction() as tx:
                await tx.put_balances(before, after)
                await self._journal.store(tx, batch.rows)
            self._journal.committed(batch.rows)
        return Deposited(account, asset, after[account, asset], batch.rows[-1].seq)
