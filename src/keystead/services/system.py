"""Initialise, unseal, seal and rotate the keyring: the life of the root of trust."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from keystead.crypto.random import generate_key
from keystead.crypto.secret import KeyMaterial
from keystead.domain.access import BuiltinRole
from keystead.errors import (
    InvalidRootKey,
    InvalidUnsealShare,
    NoAdmin,
    NotInitialized,
    ValidationFailed,
)
from keystead.seal import shamir
from keystead.seal.barrier import Barrier, Keyring, new_keyring_for
from keystead.services.clock import Clock
from keystead.services.tokens import ROOT, TokenService
from keystead.storage.repositories import SealConfig
from keystead.storage.uow import Database

ROOT_KEY_BYTES = 32
SHARE_BYTES = ROOT_KEY_BYTES + 1
MAX_SHARES = 255


@dataclass(frozen=True, slots=True)
class SealStatus:
    """What anyone may know about the seal."""

    initialized: bool
    sealed: bool
    seal_type: str
    shares: int
    threshold: int
    progress: int


@dataclass(frozen=True, slots=True)
class InitResult:
    """Returned once by init: the unseal shares and the root token. Never stored."""

    shares: list[bytes] = field(repr=False)
    root_token: str = field(repr=False)


class SystemService:
    """Owns the barrier's life: init, the unseal quorum, seal, keyring rotation."""

    def __init__(
        self,
        database: Database,
        barrier: Barrier,
        tokens: TokenService,
        clock: Clock,
        on_seal: Callable[[], None],
    ) -> None:
        self._database = database
        self._barrier = barrier
        self._tokens = tokens
        self._clock = clock
        self._on_seal = on_seal
        self._config: SealConfig | None = None
        self._pending: list[bytes] = []
        self._root_shares: list[bytes] = []
        self._lock = asyncio.Lock()

    async def status(self) -> SealStatus:
        """Return the seal status (reads the database only until the server is initialised).

        Raises:
            StorageError: The database is unavailable.
        """
        config = await self._load_config()
        if config is None:
            return SealStatus(False, True, "shamir", 0, 0, 0)  # noqa: FBT003 - positional record
        return SealStatus(
            initialized=True,
            sealed=self._barrier.sealed,
            seal_type=config.seal_type,
            shares=config.secret_shares,
            threshold=config.secret_threshold,
            progress=len(self._pending),
        )

    async def initialize(self, shares: int, threshold: int) -> InitResult:
        """Create the root key, split it, store the first keyring and the root token.

        The server stays sealed afterwards, as Vault's does: unseal with the shares.

        Raises:
            ValidationFailed: Not 1 <= threshold <= shares <= 255.
            AlreadyInitialized: The server was initialised before.
        """
        if not 1 <= threshold <= shares <= MAX_SHARES:
            msg = f"need 1 <= threshold <= shares <= {MAX_SHARES}, got {threshold} of {shares}"
            raise ValidationFailed(msg)
        root_key = generate_key(ROOT_KEY_BYTES)
        try:
            with root_key.expose() as raw:
                parts = shamir.split(raw, shares, threshold)
            config = SealConfig("shamir", shares, threshold, new_keyring_for(root_key))
        finally:
            root_key.wipe()
        async with self._lock, self._database.unit_of_work() as uow:
            now = self._clock()
            await uow.system.create_seal_config(config, now)
            root_token = await self._tokens.create_root_token(uow, now)
        self._config = config
        return InitResult(parts, root_token)

    async def unseal(self, share: bytes) -> SealStatus:
        """Add one share; with the threshold reached, rebuild the root key and open the keyring.

        Raises:
            NotInitialized: There is nothing to unseal yet.
            InvalidUnsealShare: The share has the wrong length or was given already.
            InvalidRootKey: The shares do not rebuild this server's root key; progress reset.
        """
        async with self._lock:
            config = await self._load_config()
            if config is None:
                raise NotInitialized
            if not self._barrier.sealed:
                return await self.status()
            _check_share(share, self._pending)
            self._pending.append(share)
            if len(self._pending) >= config.secret_threshold:
                self._open(config)
        return await self.status()

    def _open(self, config: SealConfig) -> None:
        pending, self._pending = self._pending, []
        try:
            root_key = KeyMaterial(shamir.combine(pending))
        except InvalidUnsealShare:
            raise InvalidRootKey from None
        try:
            self._barrier.unseal(root_key, config.keyring_wrapped)
        except InvalidRootKey:
            root_key.wipe()
            raise

    async def generate_root(self, share: bytes) -> tuple[int, int, str | None]:
        """Add one unseal share towards a new root token (as Vault's generate-root).

        Returns:
            The progress, the threshold, and the new root token once the quorum is reached.

        Raises:
            NotInitialized: There is no root key yet.
            Sealed: The server is sealed (unseal it first).
            InvalidUnsealShare: The share has the wrong length or was given already.
            InvalidRootKey: The shares do not rebuild this server's root key; progress reset.
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

        Raises:
            StorageError: The database is unavailable.
        """
        async with self._lock:
            self._barrier.seal()
            self._pending = []
            self._on_seal()
        return await self.status()

    async def rotate_keyring(self) -> int:
        """Add a keyring term: new writes use it, older terms still decrypt.

        Returns:
            The new active term.

        Raises:
            Sealed: The server is sealed.
        """
        async with self._lock, self._database.unit_of_work() as uow:
            stored = await uow.system.get_seal_config(for_update=True)
            if stored is None:  # pragma: no cover - an unsealed server is initialised
                raise NotInitialized
            wrapped = self._barrier.rotate(stored.keyring_wrapped)
            await uow.system.replace_keyring(wrapped, self._clock())
            config = self._config
            if config is not None:
                self._config = SealConfig(
                    config.seal_type, config.secret_shares, config.secret_threshold, wrapped
                )
        return self._barrier.active_term

    async def reload_keyring(self) -> None:
        """Adopt the keyring as stored, after another node rotated it.

        Raises:
            Sealed: The server is sealed.
            StorageError: The database is unavailable.
        """
        async with self._lock:
            async with self._database.unit_of_work() as uow:
                stored = await uow.system.get_seal_config()
            if stored is not None:
                self._barrier.reload(stored.keyring_wrapped)
                self._config = stored

    async def _load_config(self) -> SealConfig | None:
        if self._config is None:
            async with self._database.unit_of_work() as uow:
                self._config = await uow.system.get_seal_config()
        return self._config


def _check_share(share: bytes, given: list[bytes]) -> None:
    if len(share) != SHARE_BYTES:
        msg = f"an unseal share is {SHARE_BYTES} bytes, this one is {len(share)}"
        raise InvalidUnsealShare(msg)
    if share in given:
        msg = "this share was given already"
        raise InvalidUnsealShare(msg)


def _prove_quorum(shares: list[bytes], config: SealConfig) -> None:
    """Rebuild the root key from ``shares`` and check that it opens the stored keyring."""
    try:
        root_key = KeyMaterial(shamir.combine(shares))
    except InvalidUnsealShare:
        raise InvalidRootKey from None
    try:
        Keyring.unwrap(root_key, config.keyring_wrapped).wipe()
    finally:
        root_key.wipe()
