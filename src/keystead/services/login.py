"""Password login with throttling and a TOTP second factor; own password changes.

An unknown user, a disabled user, a service account and a wrong password all get the same
answer (401 InvalidCredentials) after the same Argon2id work, and all count towards the
same per-name lockout, so none of them can be told apart from outside.

Attempts at one name are taken one at a time (per process), so attempts sent side by side
are throttled as if they came one after the other: each sees the failures before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from keystead.crypto import totp
from keystead.crypto.passwords import PasswordHasher
from keystead.domain.identity import UserKind
from keystead.domain.models import Principal
from keystead.domain.throttle import ThrottleRules, ThrottleState, after_failure, wait_seconds
from keystead.errors import (
    InvalidCredentials,
    TooManyAttempts,
    TotpRequired,
    UnsupportedOperation,
)
from keystead.seal.barrier import Barrier
from keystead.services.clock import Clock
from keystead.services.tokens import IssuedToken, TokenService
from keystead.services.users import UserService
from keystead.storage.identity_repository import StoredUser
from keystead.storage.uow import Database


def totp_binding(user_id: str) -> bytes:
    """Associated data binding a user's wrapped TOTP secret to its row."""
    return b"keystead/totp/v1" + user_id.encode("ascii")


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """What a login presents. Never logged."""

    username: str
    password: str
    source: str
    totp: str | None = None
    recovery_code: str | None = None

    def __repr__(self) -> str:
        return f"LoginAttempt(username={self.username!r}, source={self.source!r})"


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The rules per username and per source address."""

    per_user: ThrottleRules
    per_address: ThrottleRules


class LoginService:
    """Turns a username, a password and maybe a TOTP code into a session token."""

    def __init__(  # noqa: PLR0913, PLR0917 - the pieces a login touches
        self,
        database: Database,
        barrier: Barrier,
        users: UserService,
        tokens: TokenService,
        hasher: PasswordHasher,
        clock: Clock,
        throttle: ThrottlePolicy,
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._users = users
        self._tokens = tokens
        self._hasher = hasher
        self._clock = clock
        self._throttle = throttle
        # One attempt at a time per name; and one read-and-write of any counter at a time.
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}
        self._counting = asyncio.Lock()

    async def login(self, attempt: LoginAttempt) -> IssuedToken:
        """Check the password (and second factor) and open a session.

        Raises:
            TooManyAttempts: The name or the address must wait, or is locked out.
            InvalidCredentials: Unknown user, wrong password, disabled, or a service account.
            TotpRequired: Right password, TOTP enrolled, no code given.
            Sealed: The server is sealed.
        """
        self._barrier.require_unsealed()
        name = attempt.username.strip().lower()
        async with self._turn("user:" + name):
            return await self._attempt(name, attempt)

    @asynccontextmanager
    async def _turn(self, subject: str) -> AsyncIterator[None]:
        """Wait for the attempts at ``subject`` before this one to finish."""
        lock, queued = self._turns.get(subject, (asyncio.Lock(), 0))
        self._turns[subject] = (lock, queued + 1)
        try:
            async with lock:
                yield
        finally:
            lock, queued = self._turns[subject]
            if queued == 1:
                del self._turns[subject]
            else:
                self._turns[subject] = (lock, queued - 1)

    async def _attempt(self, name: str, attempt: LoginAttempt) -> IssuedToken:
        subjects = {"user:" + name: self._throttle.per_user}
        subjects["addr:" + attempt.source] = self._throttle.per_address
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            counters = await uow.throttle.get_many(list(subjects))
            stored = await uow.users.get(name)
        states = {s: counters.get(s, ThrottleState()) for s in subjects}
        wait = max(wait_seconds(state, now) for state in states.values())
        if wait:
            raise TooManyAttempts(wait)
        usable = stored is not None and not stored.user.disabled
        usable = usable and stored is not None and stored.user.kind is UserKind.USER
        password_hash = stored.password_hash if usable and stored is not None else None
        matches = await asyncio.to_thread(self._hasher.verify, password_hash, attempt.password)
        if not matches or stored is None:
            await self._fail(subjects)
            raise InvalidCredentials
        if stored.user.totp_enabled:
            await self._second_factor(stored, attempt, subjects)
        return await self._open_session(stored, attempt.password, "user:" + name)

    async def _second_factor(
        self,
        stored: StoredUser,
        attempt: LoginAttempt,
        subjects: dict[str, ThrottleRules],
    ) -> None:
        if attempt.totp is None and attempt.recovery_code is None:
            raise TotpRequired
        if attempt.recovery_code is not None:
            accepted = await self._use_recovery_code(stored, attempt.recovery_code)
        else:
            accepted = await self.use_totp_code(stored, attempt.totp or "")
        if not accepted:
            await self._fail(subjects)
            msg = "the TOTP code is wrong, expired or used already"
            raise TotpRequired(msg)

    async def use_totp_code(self, stored: StoredUser, code: str) -> bool:
        """Accept a TOTP code once: its time step is recorded, and no older step counts.

        Raises:
            StorageIntegrityError: The stored secret was altered or moved.
        """
        if stored.totp_secret_wrapped is None:
            return False
        secret = self._barrier.decrypt(stored.totp_secret_wrapped, totp_binding(stored.user.id))
        step = totp.matching_step(secret.decode("ascii"), code, self._clock())
        if step is None:
            return False
        async with self._database.unit_of_work() as uow:
            return await uow.users.use_totp_step(stored.user.username, step, self._clock())

    async def use_totp_code_counted(self, stored: StoredUser, code: str) -> bool:
        """Accept a TOTP code from a caller who holds a token: a wrong one counts as a failure.

        A token is no way around the throttle: its holder guesses codes no faster than a
        login would.

        Raises:
            TooManyAttempts: The name must wait, or is locked out.
            StorageIntegrityError: The stored secret was altered or moved.
        """
        subject = "user:" + stored.user.username
        async with self._turn(subject):
            await self._refuse_if_waiting(subject)
            if await self.use_totp_code(stored, code):
                return True
            await self._fail({subject: self._throttle.per_user})
            return False

    async def _refuse_if_waiting(self, subject: str) -> None:
        async with self._database.unit_of_work() as uow:
            counters = await uow.throttle.get_many([subject])
        wait = wait_seconds(counters.get(subject, ThrottleState()), self._clock())
        if wait:
            raise TooManyAttempts(wait)

    async def _use_recovery_code(self, stored: StoredUser, code: str) -> bool:
        digest = totp.recovery_code_digest(code)
        async with self._database.unit_of_work() as uow:
            current = await uow.users.get(stored.user.username, for_update=True)
            if current is None or digest not in current.recovery_code_hashes:
                return False
            left = [h for h in current.recovery_code_hashes if h != digest]
            await uow.users.set_fields(
                stored.user.username, self._clock(), recovery_code_hashes=left
            )
        return True

    async def _open_session(self, stored: StoredUser, password: str, subject: str) -> IssuedToken:
        now = self._clock()
        rehashed = None
        if stored.password_hash is not None and self._hasher.needs_rehash(stored.password_hash):
            rehashed = await asyncio.to_thread(self._hasher.hash, password)
        async with self._database.unit_of_work() as uow:
            await uow.throttle.clear(subject)
            if rehashed is not None:
                await uow.users.set_fields(stored.user.username, now, password_hash=rehashed)
            return await self._tokens.issue_session(uow, stored.user, now)

    async def _fail(self, subjects: dict[str, ThrottleRules]) -> None:
        """Count one failure against each subject, on its counter as it is now.

        The address counter is shared by the names tried from it, whose attempts run side by
        side: it is read again here, not taken from the start of the attempt.
        """
        async with self._counting:
            now = self._clock()
            async with self._database.unit_of_work() as uow:
                counters = await uow.throttle.get_many(list(subjects))
                for subject, rules in subjects.items():
                    state = counters.get(subject, ThrottleState())
                    await uow.throttle.put(subject, after_failure(state, rules, now), now)

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        """A user's own password change; every token of the user is revoked.

        Raises:
            TooManyAttempts: The name must wait, or is locked out.
            InvalidCredentials: The current password is wrong.
            UnsupportedOperation: The caller is the root token, which has no password.
            WeakPassword: The new password breaks the rules.
        """
        async with self.proven(principal, current) as name:
            await self._users.replace_password(name, new)

    @asynccontextmanager
    async def proven(self, principal: Principal, password: str) -> AsyncIterator[str]:
        """Check the caller's own password again before a sensitive change; yield the name.

        A wrong password counts towards the name's lockout like a failed login, so a stolen
        token is no unthrottled way of guessing it; a right one clears the count.

        Raises:
            TooManyAttempts: The name must wait, or is locked out.
            InvalidCredentials: The password is wrong.
            UnsupportedOperation: The caller is the root token, which has no password.
        """
        if principal.is_root:
            msg = "the root token belongs to no user and has no password"
            raise UnsupportedOperation(msg)
        name = principal.display_name
        subject = "user:" + name
        async with self._turn(subject):
            await self._refuse_if_waiting(subject)
            stored = await self._users.stored(name)
            ok = await asyncio.to_thread(self._hasher.verify, stored.password_hash, password)
            if not ok:
                await self._fail({subject: self._throttle.per_user})
                raise InvalidCredentials
            yield name
            async with self._database.unit_of_work() as uow:
                await uow.throttle.clear(subject)
