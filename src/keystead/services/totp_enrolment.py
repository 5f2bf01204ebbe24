"""Enrolling, confirming and removing a user's TOTP second factor."""

from __future__ import annotations

from keystead.crypto import totp
from keystead.domain.models import Principal
from keystead.errors import (
    ConflictError,
    PermissionDenied,
    UnsupportedOperation,
    ValidationFailed,
)
from keystead.seal.barrier import Barrier
from keystead.services.access import AccessService
from keystead.services.clock import Clock
from keystead.services.login import LoginService, totp_binding
from keystead.services.users import UserService
from keystead.storage.uow import Database


class TotpService:
    """Enrol (secret shown once), confirm with a code (recovery codes shown once), remove."""

    def __init__(  # noqa: PLR0913, PLR0917 - the pieces enrolment touches
        self,
        database: Database,
        barrier: Barrier,
        users: UserService,
        login: LoginService,
        access: AccessService,
        clock: Clock,
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._users = users
        self._login = login
        self._access = access
        self._clock = clock

    async def enroll(self, principal: Principal, password: str) -> tuple[str, str]:
        """Start enrolment, proven with the password: return the otpauth URI and secret, once.

        The password is asked again so that a stolen session cannot put a second factor on
        the account that its owner does not have. A new enrolment replaces one that was never
        confirmed.

        Raises:
            InvalidCredentials: The password is wrong (counted as a failed login).
            TooManyAttempts: The name must wait, or is locked out.
            PermissionDenied: The caller is not a user with a password.
            ConflictError: TOTP is already on (disable it first).
        """
        async with self._login.proven(principal, password):
            pass
        stored = await self._users.stored(_username(principal))
        if stored.password_hash is None:
            msg = "only users who log in with a password can enrol TOTP"
            raise PermissionDenied(msg)
        if stored.user.totp_enabled:
            msg = "TOTP is already enrolled; disable it first to enrol again"
            raise ConflictError(msg)
        secret = totp.new_secret()
        wrapped = self._barrier.encrypt(secret.encode("ascii"), totp_binding(stored.user.id))
        async with self._database.unit_of_work() as uow:
            await uow.users.set_fields(
                stored.user.username, self._clock(), totp_secret_wrapped=wrapped,
                totp_confirmed=False, totp_last_step=0, recovery_code_hashes=[],
            )  # fmt: skip
        return totp.provisioning_uri(secret, stored.user.username), secret

    async def confirm(self, principal: Principal, code: str) -> list[str]:
        """Turn TOTP on with a first code; return the recovery codes, once.

        Raises:
            ConflictError: Nothing to confirm.
            ValidationFailed: The code is wrong.
        """
        stored = await self._users.stored(_username(principal))
        if stored.totp_secret_wrapped is None or stored.user.totp_enabled:
            msg = "there is no TOTP enrolment waiting for confirmation"
            raise ConflictError(msg)
        if not await self._login.use_totp_code(stored, code):
            msg = "the TOTP code is wrong, expired or used already"
            raise ValidationFailed(msg)
        codes = totp.new_recovery_codes()
        async with self._database.unit_of_work() as uow:
            await uow.users.set_fields(
                stored.user.username, self._clock(), totp_confirmed=True,
                recovery_code_hashes=[totp.recovery_code_digest(c) for c in codes],
            )  # fmt: skip
        return codes

    async def disable(self, principal: Principal, code: str) -> None:
        """Turn TOTP off, proven with a current code.

        A wrong code counts towards the name's lockout, as at login.

        Raises:
            ConflictError: TOTP is not on.
            ValidationFailed: The code is wrong.
            TooManyAttempts: Too many wrong codes or passwords: wait, or the lock ends.
        """
        stored = await self._users.stored(_username(principal))
        if not stored.user.totp_enabled:
            msg = "TOTP is not enrolled"
            raise ConflictError(msg)
        if not await self._login.use_totp_code_counted(stored, code):
            msg = "the TOTP code is wrong, expired or used already"
            raise ValidationFailed(msg)
        await self._clear(stored.user.username)

    async def reset(self, principal: Principal, username: str) -> None:
        """An administrator's removal of a user's TOTP (a lost phone).

        Raises:
            PermissionDenied: The caller may not.
            UserNotFound: No such user.
        """
        await self._access.require(principal, "users.reset_totp")
        await self._users.stored(username)
        await self._clear(username)

    async def _clear(self, username: str) -> None:
        async with self._database.unit_of_work() as uow:
            await uow.users.set_fields(
                username, self._clock(), totp_secret_wrapped=None, totp_confirmed=False,
                recovery_code_hashes=[],
            )  # fmt: skip


def _username(principal: Principal) -> str:
    if principal.is_root:
        msg = "the root token belongs to no user"
        raise UnsupportedOperation(msg)
    return principal.display_name
