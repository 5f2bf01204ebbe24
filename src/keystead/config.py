"""Settings: flags, ``KEYSTEAD_*`` environment variables and a TOML file, checked at start.

Precedence, highest first: command-line flags, environment, the TOML file given by
``--config`` (or ``KEYSTEAD_CONFIG``), defaults. Nothing is read at import.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from keystead.errors import ConfigurationError

DEV_DATA_DIR = Path(".keystead-dev")
MAX_PORT = 65535


class Settings(BaseSettings):
    """Everything the server can be told. Field names are the TOML keys and flag names."""

    model_config = SettingsConfigDict(
        env_prefix="KEYSTEAD_", extra="forbid", frozen=True, validate_default=True
    )

    dev: bool = False
    data_dir: Path = Path("keystead-data")
    listen: str = "127.0.0.1:8200"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    database_url: SecretStr | None = None
    max_request_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    max_backup_bytes: Annotated[int, Field(ge=1024 * 1024, le=64 * 1024**3)] = 4 * 1024**3
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    allow_immediate_destruction: bool = False
    scheduler_interval_seconds: Annotated[float, Field(ge=0, le=86400)] = 30.0
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    # Audit (issue 5). "none" records nothing: only for measuring what the log costs.
    audit_sink: Literal["database", "none"] = "database"
    audit_checkpoint_interval: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    audit_file: Path | None = None
    audit_file_max_bytes: Annotated[int, Field(ge=4096, le=1 << 40)] = 100 * 1024 * 1024
    audit_file_keep: Annotated[int, Field(ge=1, le=1000)] = 10
    # Identity and access (issue 4).
    client_ca: Path | None = None
    allow_registration: bool = False
    registration_roles: tuple[str, ...] = ("key-user",)
    user_key_spec: Literal["EC_SECP256K1", "ED25519", "EC_P256"] = "EC_SECP256K1"
    session_ttl_seconds: Annotated[int, Field(ge=60, le=30 * 86400)] = 3600
    session_max_ttl_seconds: Annotated[int, Field(ge=60, le=366 * 86400)] = 86400
    api_token_ttl_seconds: Annotated[int, Field(ge=60, le=366 * 86400)] = 30 * 86400
    api_token_max_ttl_seconds: Annotated[int, Field(ge=60, le=366 * 86400)] = 366 * 86400
    argon2_memory_kib: Annotated[int, Field(ge=8 * 1024, le=4 * 1024 * 1024)] = 19 * 1024
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = 2
    argon2_parallelism: Annotated[int, Field(ge=1, le=16)] = 1
    # Backup passphrases: RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes).
    backup_argon2_memory_kib: Annotated[int, Field(ge=8 * 1024, le=1024 * 1024)] = 64 * 1024
    backup_argon2_time_cost: Annotated[int, Field(ge=1, le=16)] = 3
    backup_argon2_parallelism: Annotated[int, Field(ge=1, le=16)] = 4
    login_delay_after_failures: Annotated[int, Field(ge=1, le=100)] = 3
    login_max_delay_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    lockout_threshold: Annotated[int, Field(ge=2, le=1000)] = 10
    lockout_seconds: Annotated[int, Field(ge=1, le=7 * 86400)] = 900
    address_lockout_threshold: Annotated[int, Field(ge=2, le=100000)] = 100
    # The seal (issue 7): "shamir" (unseal shares) or "pkcs11" (an HSM unseals at start).
    seal: Literal["shamir", "pkcs11"] = "shamir"
    pkcs11_module: Path | None = None
    pkcs11_token_label: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    pkcs11_pin: SecretStr | None = None
    pkcs11_pin_file: Path | None = None
    pkcs11_key_label: Annotated[str, Field(min_length=1, max_length=128)] = "keystead-root"
    pkcs11_retry_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 10.0
    migrate_seal: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - not used
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then environment, then the TOML file."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, port = split_listen(value)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def host(self) -> str:
        """The address to bind."""
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """The TCP port to bind."""
        return split_listen(self.listen)[1]

    @property
    def pkcs11_pin_value(self) -> SecretStr:
        """The token's user PIN, from ``pkcs11_pin`` or the first line of ``pkcs11_pin_file``.

        Raises:
            ConfigurationError: Neither is set, or the file cannot be read or is empty.
        """
        if self.pkcs11_pin is not None:
            return self.pkcs11_pin
        if self.pkcs11_pin_file is None:
            msg = "pkcs11_pin: the pkcs11 seal needs pkcs11_pin or pkcs11_pin_file"
            raise ConfigurationError(msg)
        try:
            text = self.pkcs11_pin_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            msg = f"pkcs11_pin_file: cannot read {self.pkcs11_pin_file}: {reason}"
            raise ConfigurationError(msg) from None
        lines = text.splitlines()
        pin = lines[0].strip() if lines else ""
        if not pin:
            msg = f"pkcs11_pin_file: {self.pkcs11_pin_file} is empty"
            raise ConfigurationError(msg)
        return SecretStr(pin)

    @property
    def database_url_value(self) -> str:
        """The database URL; SQLite in the data directory by default."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'keystead.db').resolve()}"


def settings_environment(settings: Settings) -> dict[str, str]:
    """Return ``KEYSTEAD_*`` variables that rebuild ``settings`` in a worker process."""
    environment = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, tuple | list):
            # pydantic-settings reads sequences from the environment as JSON.
            environment[f"KEYSTEAD_{name.upper()}"] = json.dumps(list(text))
            continue
        environment[f"KEYSTEAD_{name.upper()}"] = (
            str(text).lower() if isinstance(text, bool) else str(text)
        )
    return environment


def split_listen(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` for IPv6) into host and port.

    Raises:
        ValueError: Not of that form, or the port is not 1 to 65535.
    """
    host, sep, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        msg = f"an IPv6 address needs brackets, as in [::1]:8200; got {value!r}"
        raise ValueError(msg)
    if not sep or not host or not (port_text.isascii() and port_text.isdigit()):
        msg = f"expected HOST:PORT, got {value!r}"
        raise ValueError(msg)
    port = int(port_text)
    if not 1 <= port <= MAX_PORT:
        msg = f"port must be 1 to {MAX_PORT}, got {port}"
        raise ValueError(msg)
    return host, port


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(config_file: Path | None = None, **flags: object) -> Settings:
    """Build the settings from flags, environment and an optional TOML file.

    Args:
        config_file: A TOML file whose keys are the setting names.
        **flags: Values given on the command line; ``None`` means "not given".

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: A setting is wrong; the message names it.
    """
    if config_file is not None and not config_file.is_file():
        msg = f"config: {config_file} does not exist or is not a file"
        raise ConfigurationError(msg)

    class _FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=config_file)

    given: dict[str, Any] = {name: value for name, value in flags.items() if value is not None}
    try:
        settings: Settings = _FromFile(**given)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file
        msg = f"config: cannot read {config_file}: {exc}"
        raise ConfigurationError(msg) from None
    if settings.dev and "data_dir" not in given and "data_dir" not in settings.model_fields_set:
        settings = settings.model_copy(update={"data_dir": DEV_DATA_DIR})
    return settings


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{name}: {error['msg']}")
    return "; ".join(problems)


def check_server_settings(settings: Settings) -> None:
    """Check what a production server needs before it binds a socket.

    Raises:
        ConfigurationError: Naming the setting at fault.
    """
    if settings.insecure_http:
        if not is_loopback(settings.host):
            msg = (
                f"insecure_http: plain HTTP is only allowed on a loopback address, "
                f"not {settings.host}"
            )
            raise ConfigurationError(msg)
    elif not settings.dev and (settings.tls_cert is None or settings.tls_key is None):
        msg = "tls_cert: HTTPS needs --tls-cert and --tls-key (or --dev, or --insecure-http)"
        raise ConfigurationError(msg)
    if settings.workers > 1 and not settings.dev and settings.seal != "pkcs11":
        msg = (
            "workers: more than one worker process needs a seal that unseals itself (--dev, "
            "or seal = pkcs11): each worker holds its own keyring, and an unseal request "
            "reaches only one of them"
        )
        raise ConfigurationError(msg)
    check_seal_settings(settings)
    if settings.client_ca is not None:
        if settings.insecure_http:
            msg = "client_ca: client certificates need TLS; drop --insecure-http"
            raise ConfigurationError(msg)
        if not settings.client_ca.is_file():
            msg = f"client_ca: {settings.client_ca} does not exist or is not a file"
            raise ConfigurationError(msg)
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        msg = f"data_dir: {settings.data_dir} exists and is not a directory"
        raise ConfigurationError(msg)


_PKCS11_SETTINGS = ("pkcs11_module", "pkcs11_token_label", "pkcs11_pin", "pkcs11_pin_file")


def check_seal_settings(settings: Settings) -> None:
    """Check that the seal settings fit together (a server start, and every build of services).

    Raises:
        ConfigurationError: Naming the setting at fault.
    """
    given = [name for name in _PKCS11_SETTINGS if getattr(settings, name) is not None]
    # Migrating to shamir still reaches the token: its key opens the keyring one last time.
    pkcs11_needed = settings.seal == "pkcs11" or settings.migrate_seal
    if given and not pkcs11_needed:
        msg = (
            f"{given[0]}: set only with seal = pkcs11, or with migrate_seal to migrate a "
            "pkcs11-sealed server to shamir"
        )
        raise ConfigurationError(msg)
    if settings.dev and pkcs11_needed:
        name = "seal" if settings.seal == "pkcs11" else "migrate_seal"
        msg = f"{name}: dev mode unseals itself with a share in its data directory; drop --dev"
        raise ConfigurationError(msg)
    if settings.migrate_seal and settings.workers > 1:
        msg = "migrate_seal: migrate with one worker process, then restart with more"
        raise ConfigurationError(msg)
    if pkcs11_needed:
        _check_pkcs11_settings(settings)


def _check_pkcs11_settings(settings: Settings) -> None:
    needs = "the pkcs11 seal (and a migration from or to it) needs"
    if settings.pkcs11_module is None:
        msg = f"pkcs11_module: {needs} the path of the token's PKCS#11 library"
        raise ConfigurationError(msg)
    if settings.pkcs11_token_label is None:
        msg = f"pkcs11_token_label: {needs} the label of the token"
        raise ConfigurationError(msg)
    if settings.pkcs11_pin is not None and settings.pkcs11_pin_file is not None:
        msg = "pkcs11_pin: give pkcs11_pin or pkcs11_pin_file, not both"
        raise ConfigurationError(msg)
    _ = settings.pkcs11_pin_value  # reads the PIN file now, so that a bad one stops the start
