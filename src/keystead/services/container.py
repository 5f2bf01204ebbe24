"""build_services(settings): the explicit wiring of every service (no globals, STYLE.md C5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keystead.config import Settings
from keystead.domain.specs import USAGE_LIMITS, KeySpec
from keystead.errors import ConfigurationError
from keystead.seal.barrier import Barrier
from keystead.services.clock import Clock, utc_now
from keystead.services.crypto_ops import CryptoService
from keystead.services.key_cache import KeyCache
from keystead.services.keys import KeyService
from keystead.services.lifecycle import LifecycleService, VersionLifecycle
from keystead.services.scheduler import Scheduler
from keystead.services.signing_ops import SigningService
from keystead.services.system import SystemService
from keystead.services.tokens import TokenService
from keystead.services.usage import UsageMeter
from keystead.storage.engine import AsyncEngine, create_database_engine, migrate, session_factory
from keystead.storage.uow import Database


@dataclass(frozen=True, slots=True)
class Services:
    """Every service of one server process."""

    settings: Settings
    engine: AsyncEngine
    barrier: Barrier
    system: SystemService
    tokens: TokenService
    keys: KeyService
    lifecycle: LifecycleService
    versions: VersionLifecycle
    crypto: CryptoService
    signing: SigningService
    scheduler: Scheduler

    async def close(self) -> None:
        """Seal (wiping key material) and release the database connections."""
        self.barrier.seal()
        await self.engine.dispose()


def prepare_database(settings: Settings) -> None:
    """Create the data directory and bring the database schema up to date.

    Raises:
        ConfigurationError: The database URL is not usable.
        StorageError: The database cannot be reached or migrated.
    """
    try:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"data_dir: cannot create {settings.data_dir}: {exc.strerror}"
        raise ConfigurationError(msg) from None
    migrate(settings.database_url_value)


def build_services(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    run_migrations: bool = True,
    usage_limits: Mapping[KeySpec, int] | None = None,
) -> Services:
    """Wire the services of one process; migrates the database first unless told not to.

    Raises:
        ConfigurationError: The database URL is not usable.
    """
    if run_migrations:
        prepare_database(settings)
    engine = create_database_engine(settings.database_url_value)
    database = Database(session_factory(engine))
    barrier = Barrier()
    cache = KeyCache()
    tokens = TokenService(database, clock)

    def on_seal() -> None:
        cache.clear()
        tokens.forget_all()

    system = SystemService(database, barrier, tokens, clock, on_seal)
    keys = KeyService(database, barrier, cache, clock, system.reload_keyring)
    lifecycle = LifecycleService(
        database, keys, clock, allow_zero_wait=settings.allow_immediate_destruction
    )
    versions = VersionLifecycle(database, keys, clock)
    scheduler = Scheduler(engine, database, barrier, lifecycle, versions, clock)
    meter = UsageMeter(database, keys, lifecycle, clock, limits=usage_limits or USAGE_LIMITS)
    return Services(
        settings, engine, barrier, system, tokens, keys, lifecycle, versions,
        CryptoService(keys, meter), SigningService(keys, meter), scheduler,
    )  # fmt: skip
