"""``keystead exchange serve``: the reference exchange as its own process (HTTPS by default).

Without ``--tls-cert``/``--tls-key`` it makes a development CA and server certificate in its
data directory (as ``keystead server --dev`` does) and prints the CA's path for clients.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from keystead.crypto.certificates import (
    check_certificate_pair,
    ensure_dev_certificates,
    hosts_to_cover,
)
from keystead.exchange.app import create_exchange_app
from keystead.exchange.settings import (
    ExchangeSettings,
    ExchangeSettingsError,
    load_exchange_settings,
)
from keystead.logs import configure_logging

_err = Console(stderr=True)


def _tls(settings: ExchangeSettings) -> ExchangeSettings:
    if settings.insecure_http:
        return settings
    if settings.tls_cert is None or settings.tls_key is None:
        files = ensure_dev_certificates(settings.data_dir, hosts=hosts_to_cover(settings.host))
        _err.print(f"Exchange CA certificate: {files.ca_cert.resolve()}", highlight=False)
        return settings.model_copy(
            update={"tls_cert": files.server_cert, "tls_key": files.server_key}
        )
    check_certificate_pair(settings.tls_cert, settings.tls_key)
    return settings


_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _check_settings(settings: ExchangeSettings) -> None:
    """Refuse a token file others can read, and plain HTTP anywhere but on loopback."""
    path = settings.keystead_token_file
    if not path.is_file():
        msg = (f"keystead_token_file: {path} does not exist "
               "(make one with `keystead exchange setup`)")  # fmt: skip
        raise ExchangeSettingsError(msg)
    if path.stat().st_mode & 0o077:
        msg = f"keystead_token_file: {path} is readable by other users (chmod 600 it)"
        raise ExchangeSettingsError(msg)
    if settings.insecure_http and settings.host not in _LOOPBACK:
        msg = f"insecure_http: plain HTTP is for loopback only, not {settings.host}"
        raise ExchangeSettingsError(msg)


def _address(settings: ExchangeSettings, port: int) -> str:
    scheme = "http" if settings.insecure_http else "https"
    return f"{scheme}://{settings.host}:{port}"


def serve(  # noqa: PLR0913, PLR0917 - one parameter per flag
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to bind (0: any).")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The exchange's name, bound into every request.")
    ] = None,
    keystead_addr: Annotated[
        str | None, typer.Option("--keystead-addr", help="Keystead's URL.")
    ] = None,
    keystead_ca_cert: Annotated[
        Path | None, typer.Option("--keystead-ca-cert", help="CA of Keystead's certificate.")
    ] = None,
    keystead_token_file: Annotated[
        Path | None,
        typer.Option("--keystead-token-file", help="The exchange's Keystead token (a file)."),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    insecure_http: Annotated[
        bool | None, typer.Option("--insecure-http", help="Plain HTTP, for tests on loopback.")
    ] = None,
    key_status_ttl: Annotated[
        float | None,
        typer.Option(
            "--key-status-ttl",
            help="Seconds a user key's state is trusted (0: ask Keystead on every request).",
        ),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="Log level.")] = None,
) -> None:
    """Run the exchange: it reaches Keystead only through the SDK, with its own token."""
    os.umask(0o077)
    try:
        settings = load_exchange_settings(
            data_dir=data_dir, host=host, port=port, name=name, keystead_addr=keystead_addr,
            keystead_ca_cert=keystead_ca_cert, keystead_token_file=keystead_token_file,
            tls_cert=tls_cert, tls_key=tls_key, insecure_http=insecure_http,
            key_status_ttl_seconds=key_status_ttl, log_level=log_level,
        )  # fmt: skip
        _check_settings(settings)
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings = _tls(settings)
    except (ExchangeSettingsError, OSError, ValueError) as error:
        _err.print(f"[red]Error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, "json")
    _run(settings)


def _run(settings: ExchangeSettings) -> None:
    config = uvicorn.Config(
        create_exchange_app(settings), host=settings.host, port=settings.port, lifespan="on",
        ssl_certfile=None if settings.insecure_http else settings.tls_cert,
        ssl_keyfile=None if settings.insecure_http else settings.tls_key,
        log_config=None, access_log=False, server_header=False,
    )  # fmt: skip
    config.load()
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    server = uvicorn.Server(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: setattr(server, "should_exit", True))

    async def main() -> bool:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.05)
        if server.started:
            port = server.servers[0].sockets[0].getsockname()[1]
            _err.print(f"Exchange listening on {_address(settings, port)}", highlight=False)
        await serving
        return server.started

    try:
        started = asyncio.run(main())
    finally:
        _err.print("Exchange stopped.", highlight=False)
    if not started:  # the lifespan failed (Keystead unreachable, a refused token): logged
        raise typer.Exit(1)
