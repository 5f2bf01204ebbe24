"""build_services(settings): the explicit wiring of every service (no globals, STYLE.md C5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import structlog

from keystead.audit.file_sink import FileSink
from keystead.audit.log import AuditLog, DiscardingAuditLog
from keystead.config import Settings
from keystead.crypto.backup_archive import KdfParameters
from keystead.crypto.passwords import Argon2Parameters, PasswordHasher
from keystead.domain.specs import USAGE_LIMITS, KeySpec
from keystead.domain.throttle import ThrottleRules
from keystead.errors import ConfigurationError
from keystead.seal.barrier import Barrier
from keystead.seal.pkcs11_keys import HSMKeyStore
from keystead.services.access import AccessService
from keystead.services.api_tokens import ApiTokenService
from keystead.services.auto_unseal import AutoUnseal
from keystead.services.backup import BackupService
from keystead.services.clock import Clock, utc_now
from keystead.services.crypto_ops import CryptoService
from keystead.services.grants import GrantService
from keystead.services.hsm_keys import HSMKeys
from keystead.services.key_cache import KeyCache
from keystead.services.key_export import ExportService
from keystead.services.key_import import ImportService
from keystead.services.keys import KeyService
from keystead.services.lifecycle import LifecycleService, VersionLifecycle
from keystead.services.login import LoginService, ThrottlePolicy
from keystead.services.policies import PolicyService
from keystead.services.restore import RestoreService
from keystead.services.scheduler import Scheduler
from keystead.services.seal_plan import PKCS11, SealPlan, seal_plan
from keystead.services.server_keys import ServerKeys
from keystead.services.signing_ops import SigningService
from keystead.services.system import SystemService
from keystead.services.tokens import TokenLifetimes, TokenService
from keystead.services.totp_enrolment import TotpService
from keystead.services.usage import UsageMeter
from keystead.services.users import UserPolicy, UserService
from keystead.storage.audit_writer import AuditWriter
from keystead.storage.engine import (
    AsyncEngine,
    create_database_engine,
    create_sync_engine,
    migrate,
    session_factory,
)
from keystead.storage.uow import Database

_log = structlog.get_logger("keystead.services")


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
    access: AccessService
    users: UserService
    login: LoginService
    totp: TotpService
    policies: PolicyService
    grants: GrantService
    api_tokens: ApiTokenService
    audit: AuditLog
    exports: ExportService
    imports: ImportService
    backups: BackupService
    restores: RestoreService
    server_keys: ServerKeys
    auto_unseal: AutoUnseal | None = None
    seal: SealPlan | None = None

    async def close(self) -> None:
        """Seal (wiping key material), close the token's sessions, release the database."""
        if self.auto_unseal is not None:
            await self.auto_unseal.stop()
        self.barrier.seal()
        if self.seal is not None and self.seal.hsm is not None:
            self.seal.hsm.close()
        self.audit.close()
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

    With the pkcs11 seal, built inside a running event loop (the server's lifespan), the
    task that unseals from the token starts at once (``keystead.services.auto_unseal``);
    built outside one, call ``services.auto_unseal.start()`` from inside the loop.

    Raises:
        ConfigurationError: The database URL or a seal setting is not usable.
    """
    plan = seal_plan(settings)
    if run_migrations:
        prepare_database(settings)
    engine = create_database_engine(settings.database_url_value)
    database = Database(session_factory(engine))
    barrier = Barrier()
    cache = KeyCache()
    tokens = TokenService(database, clock, _lifetimes(settings))
    access = AccessService(database)
    audit = _audit_log(settings, database, clock, barrier)

    server_keys = ServerKeys(database, barrier, clock)

    def on_seal() -> None:
        cache.clear()
        tokens.forget_all()
        audit.forget_keys()
        server_keys.forget()

    system = SystemService(database, barrier, tokens, clock, on_seal, plan=plan)
    auto_unseal = AutoUnseal(system, settings.pkcs11_retry_seconds)
    if plan.kind == PKCS11:
        auto_unseal.start()
    # HSM-protected keys live in the pkcs11 seal's token; a Shamir server refuses them.
    store = HSMKeyStore(plan.hsm.token) if plan.kind == PKCS11 and plan.hsm else None
    hsm_keys = HSMKeys(database, store)
    keys = KeyService(database, barrier, cache, clock, system.reload_keyring, access, hsm_keys)
    lifecycle = LifecycleService(
        database, keys, clock, allow_zero_wait=settings.allow_immediate_destruction
    )
    versions = VersionLifecycle(database, keys, clock)
    scheduler = Scheduler(engine, database, barrier, lifecycle, versions, clock)
    meter = UsageMeter(database, keys, lifecycle, clock, limits=usage_limits or USAGE_LIMITS)
    hasher = PasswordHasher(
        Argon2Parameters(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
    )
    user_policy = UserPolicy(
        settings.allow_registration, settings.registration_roles, KeySpec(settings.user_key_spec)
    )
    users = UserService(database, keys, lifecycle, access, tokens, hasher, clock, user_policy)
    login = LoginService(database, barrier, users, tokens, hasher, clock, _throttle(settings))
    return Services(
        settings, engine, barrier, system, tokens, keys, lifecycle, versions,
        CryptoService(keys, meter, access), SigningService(keys, meter), scheduler, access,
        users, login, TotpService(database, barrier, users, login, access, clock),
        PolicyService(database, access, clock), GrantService(database, keys, clock),
        ApiTokenService(database, tokens, users, access), audit, ExportService(keys),
        ImportService(database, barrier, keys, access, clock, system.reload_keyring),
        BackupService(
            database, barrier, keys, access, server_keys, clock, _backup_kdf(settings),
        ),
        RestoreService(database, barrier, keys, access, clock), server_keys,
        auto_unseal=auto_unseal, seal=plan,
    )  # fmt: skip


def _audit_log(settings: Settings, database: Database, clock: Clock, barrier: Barrier) -> AuditLog:
    writer = AuditWriter(create_sync_engine(settings.database_url_value))
    kind = AuditLog
    if settings.audit_sink == "none":
        _log.warning("audit_sink is none: requests are NOT recorded; never run so in production")
        kind = DiscardingAuditLog
    sink = None
    if settings.audit_file is not None:
        sink = FileSink(
            settings.audit_file, settings.audit_file_max_bytes, settings.audit_file_keep
        )
    return kind(database, writer, clock, barrier, settings.audit_checkpoint_interval, sink)


def _backup_kdf(settings: Settings) -> KdfParameters:
    return KdfParameters(
        settings.backup_argon2_memory_kib, settings.backup_argon2_time_cost,
        settings.backup_argon2_parallelism,
    )  # fmt: skip


def _lifetimes(settings: Settings) -> TokenLifetimes:
    return TokenLifetimes(
        session=timedelta(seconds=settings.session_ttl_seconds),
        session_max=timedelta(seconds=settings.session_max_ttl_seconds),
        api_default=timedelta(seconds=settings.api_token_ttl_seconds),
        api_max=timedelta(seconds=settings.api_token_max_ttl_seconds),
    )


def _throttle(settings: Settings) -> ThrottlePolicy:
    lockout = timedelta(seconds=settings.lockout_seconds)
    max_delay = timedelta(seconds=settings.login_max_delay_seconds)
    delay_after = settings.login_delay_after_failures
    return ThrottlePolicy(
        per_user=ThrottleRules(delay_after, max_delay, settings.lockout_threshold, lockout),
        # An address is slowed down later than a name: many users may share one NAT.
        per_address=ThrottleRules(
            settings.address_lockout_threshold // 2, max_delay,
            settings.address_lockout_threshold, lockout,
        ),
    )  # fmt: skip
