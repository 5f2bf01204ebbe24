"""Initialise, unseal, seal and rotate the keyring: the life of the root of trust.

Two seals (issue 7). ``shamir``: the root key is split into unseal shares and rebuilt from
them. ``pkcs11``: the root key is a non-extractable AES key in an HSM, which unseals the
server by itself (``keystead.services.auto_unseal``); init makes recovery shares instead,
which authorise (a new root token, unsealing after a manual seal, a seal migration) but
decrypt nothing, as with Vault's auto-unseal. HSM calls block, so they run in threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from keystead.crypto.random import generate_key
from keystead.crypto.secret import KeyMaterial
from keystead.domain.access import BuiltinRole
from keystead.errors import (
    AlreadyInitialized,
    HSMError,
    InvalidRootKey,
    InvalidUnsealShare,
    NoAdmin,
    NotInitialized,
    SealMismatch,
    ValidationFailed,
)
from keystead.seal import recovery, shamir
from keystead.seal.barrier import Barrier, Keyring, new_keyring_for
from keystead.services import seal_migration
from keystead.services.clock import Clock
from keystead.services.seal_plan import PKCS11, SHAMIR, SealPlan, hsm_root_key
from keystead.services.tokens import ROOT, TokenService
from keystead.storage.repositories import SealConfig
from keystead.storage.uow import Database

ROOT_KEY_BYTES = 32
SHARE_BYTES = ROOT_KEY_BYTES + 1
MAX_SHARES = 255
_log = structlog.get_logger("keystead.seal")


@dataclass(frozen=True, slots=True)
class SealStatus:
    """What anyone may know about the seal (``seal_error`` names settings, never values)."""

    initialized: bool
    sealed: bool
    seal_type: str
    shares: int
    threshold: int
    progress: int
    recovery_seal: bool = False
    migration: bool = False
    seal_error: str | None = None


@dataclass(frozen=True, slots=True)
class InitResult:
    """Returned once by init: the shares and the root token. Never stored.

    ``recovery`` says the shares are recovery shares (the pkcs11 seal), not unseal shares.
    """

    shares: list[bytes] = field(repr=False)
    root_token: str = field(repr=False)
    recovery: bool = False


class SystemService:
    """Owns the barrier's life: init, the share quorums, seal, keyring rotation."""

    def __init__(  # noqa: PLR0913 - the collaborators of the root of trust, and the seal
        self,
        database: Database,
        barrier: Barrier,
        tokens: TokenService,
        clock: Clock,
        on_seal: Callable[[], None],
        *,
        plan: SealPlan | None = None,
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._tokens = tokens
        self._clock = clock
        self._on_seal = on_seal
        self._plan = plan or SealPlan()
        self._config: SealConfig | None = None
        self._pending: list[bytes] = []
        self._root_shares: list[bytes] = []
        self._lock = asyncio.Lock()
        self._seal_error: str | None = None
        self._held_sealed = False  # sealed by an operator: the token does not unseal again
        self._gave_up = False  # the token refused the PIN: retrying would lock it

    @property
    def plan(self) -> SealPlan:
        """The seal this process is configured with."""
        return self._plan

    async def status(self) -> SealStatus:
        """Return the seal status (reads the database only until the server is initialised).

        Raises:
            StorageError: The database is unavailable.
        """
        config = await self._load_config()
        plan = self._plan
        if config is None:
            return SealStatus(
                False, True, plan.kind, 0, 0, 0,  # noqa: FBT003 - positional record
                recovery_seal=plan.kind == PKCS11, seal_error=self._seal_error,
            )  # fmt: skip
        sealed = self._barrier.sealed
        return SealStatus(
            initialized=True,
            sealed=sealed,
            seal_type=config.seal_type,
            shares=config.secret_shares,
            threshold=config.secret_threshold,
            progress=len(self._pending),
            recovery_seal=config.seal_type == PKCS11,
            migration=sealed and self._migrating(config),
            seal_error=(self._seal_error or _mismatch(config, plan)) if sealed else None,
        )

    async def initialize(self, shares: int, threshold: int) -> InitResult:
        """Create the root key and the shares, store the first keyring and the root token.

        With the Shamir seal the server stays sealed afterwards, as Vault's does: unseal with
        the shares. With the pkcs11 seal the root key is made in the token, the shares are
        recovery shares, and the server is unsealed when this returns (unless the token
        failed right after init: then the status says why, and the server keeps trying).

        Raises:
            ValidationFailed: Not 1 <= threshold <= shares <= 255.
            AlreadyInitialized: The server was initialised before.
            HSMError: The pkcs11 seal's token cannot be used (nothing was stored).
        """
        if not 1 <= threshold <= shares <= MAX_SHARES:
            msg = f"need 1 <= threshold <= shares <= {MAX_SHARES}, got {threshold} of {shares}"
            raise ValidationFailed(msg)
        if self._plan.kind == PKCS11:
            return await self._initialize_pkcs11(shares, threshold)
        root_key = generate_key(ROOT_KEY_BYTES)
        try:
            with root_key.expose() as raw:
                parts = shamir.split(raw, shares, threshold)
            config = SealConfig(SHAMIR, shares, threshold, new_keyring_for(root_key))
        finally:
            root_key.wipe()
        async with self._lock:
            root_token = await self._store_new_seal(config)
        return InitResult(parts, root_token)

    async def _initialize_pkcs11(self, shares: int, threshold: int) -> InitResult:
        hsm = self._plan.require_hsm()
        recovery_key = generate_key(ROOT_KEY_BYTES)
        try:
            with recovery_key.expose() as raw:
                parts = shamir.split(raw, shares, threshold)
            check = recovery.check_value(recovery_key)
        finally:
            recovery_key.wipe()
        async with self._lock:
            if await self._load_config() is not None:
                # Checked before making a key in the token for nothing; the insert checks again.
                raise AlreadyInitialized
            root_key = await asyncio.to_thread(hsm.new_root_key)
            try:
                wrapped = await asyncio.to_thread(new_keyring_for, root_key)
                config = SealConfig(
                    PKCS11, shares, threshold, wrapped, check, root_key.label, root_key.key_id
                )
                root_token = await self._store_new_seal(config)
            except Exception:
                await seal_migration.discard(root_key)
                raise
            await self._unseal_quietly(config)
        return InitResult(parts, root_token, recovery=True)

    async def _store_new_seal(self, config: SealConfig) -> str:
        """Insert the seal configuration and mint the root token, in one transaction.

        Raises:
            AlreadyInitialized: Another init (on this or another node) came first.
        """
        async with self._database.unit_of_work() as uow:
            now = self._clock()
            await uow.system.create_seal_config(config, now)
            root_token = await self._tokens.create_root_token(uow, now)
        self._config = config
        return root_token

    async def unseal(self, share: bytes) -> SealStatus:
        """Add one share; with the threshold reached, open the keyring.

        Shamir: unseal shares rebuild the root key. pkcs11: a quorum of recovery shares asks
        the token to unseal again after an operator sealed. Migrating (``migrate_seal``): the
        old seal's shares move the keyring to the configured seal, then unseal.

        Raises:
            NotInitialized: There is nothing to unseal yet.
            SealMismatch: The stored seal is not the configured one, and no migration is on.
            InvalidUnsealShare: The share has the wrong length or was given already.
            InvalidRootKey: The shares do not rebuild this server's key; progress reset.
            HSMError: The token cannot be used; progress reset.
        """
        async with self._lock:
            config = await self._load_config()
            if config is None:
                raise NotInitialized
            if not self._barrier.sealed:
                return await self.status()
            migrating = self._migrating(config)
            mismatch = _mismatch(config, self._plan)
            if mismatch is not None:
                raise SealMismatch(mismatch)
            _check_share(share, self._pending)
            self._pending.append(share)
            if len(self._pending) >= config.secret_threshold:
                pending, self._pending = self._pending, []
                await self._open(config, _combine(pending), migrating=migrating)
        return await self.status()

    async def _open(self, config: SealConfig, key: KeyMaterial, *, migrating: bool) -> None:
        """Open the barrier with a rebuilt key: unseal, recovery or migration (takes ``key``)."""
        if migrating:
            new, root_key = await seal_migration.migrate(
                self._database, self._plan, config, key, self._clock
            )
            self._config = new
            self._seal_error = None
            _log.warning("seal migrated", seal_from=config.seal_type, seal_to=new.seal_type)
            if isinstance(root_key, KeyMaterial):
                self._barrier.unseal(root_key, new.keyring_wrapped)
            else:
                await self._unseal_from_token(new)
        elif config.seal_type == PKCS11:
            try:
                recovery.verify(key, _recovery_check(config))
            finally:
                key.wipe()
            await self._unseal_from_token(config)
        else:
            try:
                self._barrier.unseal(key, config.keyring_wrapped)
            except InvalidRootKey:
                key.wipe()
                raise

    async def unseal_from_token(self) -> bool:
        """One attempt of the pkcs11 seal to unseal by itself (the start, and every retry).

        Before init it only checks that the token is reachable, so the status can say why
        it is not. Errors are recorded for the status and the log, never raised.

        Returns:
            False once retrying is pointless (the token refused the PIN).

        Raises:
            StorageError: The database is unavailable.
        """
        if not self._wants_token():
            return not self._gave_up
        async with self._lock:
            config = await self._load_config()
            if not self._wants_token():  # an unseal may have won the lock first
                pass
            elif config is None:
                await self._check_token()
            elif config.seal_type == PKCS11:
                await self._unseal_quietly(config)
        return not self._gave_up

    def _wants_token(self) -> bool:
        """Whether the token should be asked now: pkcs11, sealed, not by an operator."""
        return (
            self._plan.kind == PKCS11
            and not self._gave_up
            and not self._held_sealed
            and self._barrier.sealed
        )

    async def _check_token(self) -> None:
        try:
            await asyncio.to_thread(self._plan.require_hsm().connect)
        except HSMError as error:
            self._note_failure(error)
        else:
            self._seal_error = None

    async def _unseal_quietly(self, config: SealConfig) -> None:
        try:
            await self._unseal_from_token(config)
        except HSMError:
            return  # recorded for the status and logged by _unseal_from_token
        _log.info("unsealed by the pkcs11 seal", token_label=self._plan.require_hsm().token.label)

    async def _unseal_from_token(self, config: SealConfig) -> None:
        """Ask the token's root key to open the keyring.

        Raises:
            HSMError: The token cannot be used, or its key does not open the keyring.
        """
        root_key = hsm_root_key(self._plan.require_hsm(), config)
        try:
            await asyncio.to_thread(self._barrier.unseal, root_key, config.keyring_wrapped)
        except InvalidRootKey:
            error = HSMError(
                "the token's key does not open the stored keyring: another token, or a "
                "key of another server with the same label and id",
                operator_detail=f"pkcs11 root key {config.hsm_key_label!r} rejected the keyring",
            )  # fmt: skip
            self._note_failure(error)
            raise error from None
        except HSMError as error:
            self._note_failure(error)
            raise
        self._seal_error = None
        self._held_sealed = False

    def _note_failure(self, error: HSMError) -> None:
        if not error.retry:
            self._gave_up = True
        if error.public_detail != self._seal_error:
            _log.warning(
                "the pkcs11 seal cannot unseal", reason=error.public_detail,
                detail=error.operator_detail, retrying=error.retry,
            )  # fmt: skip
        self._seal_error = error.public_detail

    def _migrating(self, config: SealConfig) -> bool:
        return self._plan.migrate and config.seal_type != self._plan.kind

    async def generate_root(self, share: bytes) -> tuple[int, int, str | None]:
        """Add one unseal (or recovery) share towards a new root token (Vault's generate-root).

        Returns:
            The progress, the threshold, and the new root token once the quorum is reached.

        Raises:
            NotInitialized: There is no root key yet.
            Sealed: The server is sealed (unseal it first).
            InvalidUnsealShare: The share has the wrong length or was given already.
            InvalidRootKey: The shares do not rebuild this server's key; progress reset.
        """
        self._barrier.require_unsealed()
        async with self._lock:
            config = await self._load_config()
            if config is None:  # pragma: no cover - an unsealed server is initialised
                raise NotInitialized
            _check_share(share, self._root_shares)
            self._root_shares.append(share)
            if len(self._root_shares) < config.secret_threshold:
                return len(self._root_shares), config.secret_threshold, None
            shares, self._root_shares = self._root_shares, []
            _prove_quorum(shares, config)
            async with self._database.unit_of_work() as uow:
                token = await self._tokens.create_root_token(uow, self._clock())
        return 0, config.secret_threshold, token

    async def reset_generate_root(self) -> tuple[int, int]:
        """Forget the shares given towards a new root token.

        Raises:
            NotInitialized: There is no root key yet.
        """
        async with self._lock:
            self._root_shares = []
            config = await self._load_config()
        if config is None:
            raise NotInitialized
        return 0, config.secret_threshold

    async def revoke_root(self) -> int:
        """Revoke every root token, once an enabled user holds the admin role.

        Raises:
            NoAdmin: No enabled user carries the admin role: nobody could govern the server.
        """
        async with self._database.unit_of_work() as uow:
            if not await uow.users.any_enabled_with_role(BuiltinRole.ADMIN.value):
                raise NoAdmin
            revoked = await uow.tokens.revoke_kind(ROOT, self._clock())
        self._tokens.forget_all()
        return revoked

    async def reset_unseal(self) -> SealStatus:
        """Forget the shares given so far.

        Raises:
            StorageError: The database is unavailable.
        """
        async with self._lock:
            self._pending = []
        return await self.status()

    async def seal(self) -> SealStatus:
        """Drop the root key, the keyring and every cached key from memory.

        With the pkcs11 seal the server then stays sealed until a quorum of recovery shares
        is given or it restarts: an operator's seal is not undone by the token.

        Raises:
            StorageError: The database is unavailable.
        """
        async with self._lock:
            self._barrier.seal()
            self._pending = []
            self._held_sealed = self._plan.kind == PKCS11
            self._on_seal()
        return await self.status()

    async def rotate_keyring(self) -> int:
        """Add a keyring term: new writes use it, older terms still decrypt.

        Returns:
            The new active term.

        Raises:
            Sealed: The server is sealed.
            HSMError: The pkcs11 seal's token cannot be used.
        """
        async with self._lock, self._database.unit_of_work() as uow:
            stored = await uow.system.get_seal_config(for_update=True)
            if stored is None:  # pragma: no cover - an unsealed server is initialised
                raise NotInitialized
            wrapped = await asyncio.to_thread(self._barrier.rotate, stored.keyring_wrapped)
            await uow.system.replace_keyring(wrapped, self._clock())
            self._config = dataclasses.replace(stored, keyring_wrapped=wrapped)
        return self._barrier.active_term

    async def reload_keyring(self) -> None:
        """Adopt the keyring as stored, after another node rotated it.

        Raises:
            Sealed: The server is sealed.
            StorageError: The database is unavailable.
            HSMError: The pkcs11 seal's token cannot be used.
        """
        async with self._lock:
            async with self._database.unit_of_work() as uow:
                stored = await uow.system.get_seal_config()
            if stored is not None:
                await asyncio.to_thread(self._barrier.reload, stored.keyring_wrapped)
                self._config = stored

    async def _load_config(self) -> SealConfig | None:
        if self._config is None:
            async with self._database.unit_of_work() as uow:
                self._config = await uow.system.get_seal_config()
        return self._config


def _mismatch(config: SealConfig, plan: SealPlan) -> str | None:
    """Why the stored seal cannot be used with the configured one, if it cannot."""
    if config.seal_type == plan.kind or plan.migrate:
        return None
    return (
        f"seal: this server was initialised with the {config.seal_type} seal, but seal is "
        f"{plan.kind}; configure seal = {config.seal_type}, or start with migrate_seal "
        f"(--migrate-seal) to migrate it to {plan.kind}"
    )


def _check_share(share: bytes, given: list[bytes]) -> None:
    if len(share) != SHARE_BYTES:
        msg = f"an unseal share is {SHARE_BYTES} bytes, this one is {len(share)}"
        raise InvalidUnsealShare(msg)
    if share in given:
        msg = "this share was given already"
        raise InvalidUnsealShare(msg)


def _combine(shares: list[bytes]) -> KeyMaterial:
    try:
        return KeyMaterial(shamir.combine(shares))
    except InvalidUnsealShare:
        raise InvalidRootKey from None


def _recovery_check(config: SealConfig) -> bytes:
    if config.recovery_check is None:  # pragma: no cover - stored with every pkcs11 seal
        raise InvalidRootKey
    return config.recovery_check


def _prove_quorum(shares: list[bytes], config: SealConfig) -> None:
    """Rebuild the key from ``shares`` and check it: it opens the keyring, or is the recovery key.

    Raises:
        InvalidRootKey: It does neither.
    """
    key = _combine(shares)
    try:
        if config.seal_type == PKCS11:
            recovery.verify(key, _recovery_check(config))
        else:
            Keyring.unwrap(key, config.keyring_wrapped).wipe()
    finally:
        key.wipe()
