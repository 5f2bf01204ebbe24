"""The work behind ``keystead server``: TLS files, dev bootstrap, uvicorn.

Kept apart from the command's definition so that other commands start without importing
the server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from typing import Any

import typer
import uvicorn
from rich.console import Console

from keystead.api.app import create_app, tune_for_serving
from keystead.config import Settings, check_server_settings, settings_environment
from keystead.crypto.certificates import (
    check_certificate_pair,
    ensure_dev_certificates,
    hosts_to_cover,
)
from keystead.errors import ConfigurationError
from keystead.logs import configure_logging
from keystead.services.container import build_services, prepare_database
from keystead.services.devmode import bootstrap_dev

_err = Console(stderr=True)

DEV_WARNING = (
    "WARNING: dev mode is NOT for production. The unseal share and the root token are kept "
    "in the data directory in the clear, and anyone who can read it holds every key."
)


def prepare(settings: Settings) -> Settings:
    """Check the settings, make dev TLS files, migrate, and bootstrap dev mode.

    Raises:
        KeysteadError: A bad setting or an unusable database, naming it.
    """
    check_server_settings(settings)
    settings = _prepare_tls(settings)
    configure_logging(settings.log_level, settings.log_format)
    prepare_database(settings)
    if settings.dev:
        _announce_dev(settings, asyncio.run(_bootstrap(settings)))
    return settings


def _prepare_tls(settings: Settings) -> Settings:
    if settings.insecure_http:
        return settings
    if settings.dev and settings.tls_cert is None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = ensure_dev_certificates(settings.data_dir, hosts=hosts_to_cover(settings.host))
        return settings.model_copy(
            update={"tls_cert": files.server_cert, "tls_key": files.server_key}
        )
    if settings.tls_cert is None or settings.tls_key is None:  # pragma: no cover - checked before
        msg = "tls_cert: HTTPS needs --tls-cert and --tls-key"
        raise ConfigurationError(msg)
    check_certificate_pair(settings.tls_cert, settings.tls_key)
    return settings


async def _bootstrap(settings: Settings) -> str:
    services = build_services(settings, run_migrations=False)
    try:
        return await bootstrap_dev(services)
    finally:
        await services.close()


def _address(settings: Settings) -> str:
    scheme = "http" if settings.insecure_http else "https"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{scheme}://{host}:{settings.port}"


def _announce_dev(settings: Settings, root_token: str) -> None:
    _err.print(f"[bold red]{DEV_WARNING}[/bold red]", highlight=False, soft_wrap=True)
    typer.echo(f"Address: {_address(settings)}")
    if not settings.insecure_http:
        ca = (settings.data_dir / "tls" / "ca.pem").resolve()
        typer.echo(f"CA certificate: {ca}")
    typer.echo(f"Root token: {root_token}")


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every way of serving passes to uvicorn: address, TLS, and no logs of its own."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ssl_certfile": None if settings.insecure_http else settings.tls_cert,
        "ssl_keyfile": None if settings.insecure_http else settings.tls_key,
        "log_config": None,
        "access_log": False,
        "server_header": False,
    }
    if settings.client_ca is not None:
        # Optional: a client with no certificate still connects (and shows a token); one
        # with a certificate not signed by client_ca fails the handshake.
        options.update(
            ssl_ca_certs=str(settings.client_ca),
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
            http="keystead.cli.mtls:ClientCertificateProtocol",
        )
    return options


def run(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT."""
    if settings.workers > 1:
        _run_workers(settings)
        return
    config = uvicorn.Config(create_app(settings), lifespan="on", **_uvicorn_options(settings))
    config.load()
    tune_for_serving()
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was in place before it: make that a clean exit, so supervisors see status 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    _err.print(f"Keystead listening on {_address(settings)}", highlight=False)
    try:
        uvicorn.Server(config).run()
    finally:
        _err.print("Keystead stopped.", highlight=False)


def _run_workers(settings: Settings) -> None:
    # Each worker is a new process that rebuilds the settings from the environment; Python
    # 3.10+ contexts already refuse anything older than TLS 1.2.
    os.environ.update(settings_environment(settings))
    _err.print(
        f"Keystead listening on {_address(settings)} with {settings.workers} workers",
        highlight=False,
    )
    try:
        uvicorn.run(
            "keystead.api.app:create_app_from_environment",
            factory=True,
            workers=settings.workers,
            **_uvicorn_options(settings),
        )
    finally:
        _err.print("Keystead stopped.", highlight=False)


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
