"""``keystead server``: the command's flags; the work is in ``keystead.cli.serving``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from keystead.config import load_settings
from keystead.errors import KeysteadError

_err = Console(stderr=True)


def serve(  # noqa: PLR0913, PLR0917 - one parameter per documented flag (ARCHITECTURE.md 6a)
    dev: Annotated[
        bool, typer.Option("--dev", help="Self-initialising, self-unsealing dev server.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file.", envvar="KEYSTEAD_CONFIG")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")] = None,
    listen: Annotated[str | None, typer.Option("--listen", help="HOST:PORT to bind.")] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate chain.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    client_ca: Annotated[
        Path | None,
        typer.Option("--client-ca", help="PEM CA whose client certificates log users in."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="sqlite:///... or postgresql://...")
    ] = None,
    insecure_http: Annotated[
        bool | None, typer.Option("--insecure-http", help="Plain HTTP, loopback only.")
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (needs --dev or --seal pkcs11)."),
    ] = None,
    seal: Annotated[
        str | None,
        typer.Option("--seal", help="shamir (unseal shares, the default) or pkcs11 (an HSM)."),
    ] = None,
    pkcs11_module: Annotated[
        Path | None, typer.Option("--pkcs11-module", help="pkcs11 seal: the PKCS#11 library.")
    ] = None,
    pkcs11_token_label: Annotated[
        str | None, typer.Option("--pkcs11-token-label", help="pkcs11 seal: the token's label.")
    ] = None,
    pkcs11_pin_file: Annotated[
        Path | None,
        typer.Option(
            "--pkcs11-pin-file",
            help="pkcs11 seal: a file whose first line is the user PIN (or set "
            "KEYSTEAD_PKCS11_PIN; there is no PIN flag: argv is visible to other users).",
        ),
    ] = None,
    pkcs11_key_label: Annotated[
        str | None,
        typer.Option("--pkcs11-key-label", help="pkcs11 seal: label of the root key made at init."),
    ] = None,
    pkcs11_retry_seconds: Annotated[
        float | None,
        typer.Option("--pkcs11-retry-seconds", help="pkcs11 seal: seconds between tries."),
    ] = None,
    migrate_seal: Annotated[
        bool | None,
        typer.Option(
            "--migrate-seal",
            help="Migrate the stored seal to --seal: the server starts sealed, and the old "
            "seal's shares given with `keystead operator unseal` move the keyring (no key is "
            "re-encrypted). pkcs11 to shamir keeps the pkcs11 settings for this one start.",
        ),
    ] = None,
) -> None:
    """Run the Keystead server (HTTPS; TLS 1.2 or newer).

    With --seal pkcs11 the root key lives in an HSM and the server unseals itself at start;
    `keystead operator init --recovery-shares N --recovery-threshold T` initialises it.
    """
    # Everything the server writes (database, certificates, dev files) is for its eyes only.
    os.umask(0o077)
    try:
        settings = load_settings(
            config, dev=dev or None, data_dir=data_dir, listen=listen, tls_cert=tls_cert,
            tls_key=tls_key, client_ca=client_ca, database_url=database_url,
            insecure_http=insecure_http, log_level=log_level, workers=workers, seal=seal,
            pkcs11_module=pkcs11_module, pkcs11_token_label=pkcs11_token_label,
            pkcs11_pin_file=pkcs11_pin_file, pkcs11_key_label=pkcs11_key_label,
            pkcs11_retry_seconds=pkcs11_retry_seconds, migrate_seal=migrate_seal,
        )  # fmt: skip
        from keystead.cli import serving  # noqa: PLC0415 - only `server` pays for the import

        settings = serving.prepare(settings)
    except KeysteadError as error:
        _err.print(f"[red]Error:[/red] {error.public_detail}", highlight=False)
        raise typer.Exit(2) from None
    serving.run(settings)
