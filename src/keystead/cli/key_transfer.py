"""``keystead key export`` and ``keystead key import``: key material in and out, wrapped.

``export`` writes one version's material, wrapped for a recipient's public key, to a new
file (mode 0600), never to the terminal. ``import`` brings material in (BYOK): it asks the
server for import parameters, wraps the material file locally with
``RSA_AES_KEY_WRAP_SHA_256`` to their public key, and imports it as a new key or as a new
version of an EXTERNAL key. The material, the token and the wrapped bytes are never printed.
:func:`register` puts both commands on the ``keystead key`` app.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

import typer

from keystead.cli import client as cli
from keystead.cli import io, render
from keystead.cli.operator import FormatOption, OutputFormat
from keystead.crypto import key_import, key_wrap
from keystead.domain.specs import KeySpec
from keystead.errors import KeysteadError
from keystead_sdk import Client, ExportedKey, ImportParams, Key

KeyArgument = Annotated[str, typer.Argument(help="The key's name or id.", show_default=False)]
VersionOption = Annotated[
    int | None, typer.Option("--version", min=1, help="Key version; default: the primary.")
]

_WRAPPING: Final = key_wrap.WrappingFormat.RSA_AES_KEY_WRAP_SHA_256
# The members of a private JWK (RFC 7518 sections 6.2.2, 6.3.2 and 6.4; RFC 8037 section 2):
# the recipient's key must be public, and a private one is not sent to the server.
_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class ExportFormat(StrEnum):
    """The wrapping formats of ``export``."""

    RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"
    HPKE = "HPKE"
    JWE = "JWE"


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the ``keystead key`` app."""
    app.command("export")(export)
    app.command("import")(import_key)


# --- wrapped export ------------------------------------------------------------------------------


def _export_recipient(
    form: ExportFormat, recipient: str | None, jwk: str | None
) -> tuple[str | None, dict[str, str] | None]:
    """The PEM (for RSA_AES_KEY_WRAP_SHA_256 and HPKE) or the JWK (for JWE), read from file."""
    if form is ExportFormat.JWE:
        if recipient is not None or jwk is None:
            msg = "JWE export takes the recipient as --jwk JWK_FILE, not --recipient"
            raise typer.BadParameter(msg, param_hint="'--jwk'")
        return None, _read_public_jwk(jwk)
    if jwk is not None or recipient is None:
        msg = f"{form.value} export takes the recipient as --recipient PEM_FILE, not --jwk"
        raise typer.BadParameter(msg, param_hint="'--recipient'")
    try:
        return io.read_bytes(recipient).decode("ascii"), None
    except UnicodeDecodeError:
        msg = f"{recipient} is not a PEM file (a public key, -----BEGIN PUBLIC KEY-----)"
        raise typer.BadParameter(msg, param_hint="'--recipient'") from None


def _read_public_jwk(path: str) -> dict[str, str]:
    try:
        jwk = json.loads(io.read_bytes(path))
    except (UnicodeDecodeError, ValueError):
        jwk = None
    if not isinstance(jwk, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in jwk.items()
    ):
        msg = f"{path} is not a JWK: expected a JSON object of string members"
        raise typer.BadParameter(msg, param_hint="'--jwk'")
    if _PRIVATE_JWK_MEMBERS & jwk.keys():
        msg = f"{path} is a private JWK: give the recipient's public key only"
        raise typer.BadParameter(msg, param_hint="'--jwk'")
    return jwk


def _check_new_file(out: str, *, force: bool) -> None:
    if out == io.STDIO:
        msg = "the wrapped key is written to a file only, never to the terminal"
        raise typer.BadParameter(msg, param_hint="'--out'")
    if not force and os.path.lexists(out):
        cli.fail("FileExists", f"{out} exists: give --force to overwrite it", cli.ExitCode.ERROR)


def _write_export(out: str, data: bytes, *, force: bool) -> None:
    """Write to ``out`` with mode 0600; without ``force``, only as a new file (O_EXCL)."""
    if force:
        io.write_bytes(out, data, private=True)
        return
    try:
        # O_EXCL also refuses a symlink, and a file made since _check_new_file looked.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(data)
    except FileExistsError:
        cli.fail("FileExists", f"{out} exists: give --force to overwrite it", cli.ExitCode.ERROR)
    except OSError as error:
        cli.fail("FileError", f"cannot write {out}: {error.strerror or error}", cli.ExitCode.ERROR)


def _export_bytes(exported: ExportedKey) -> bytes:
    """The compact JWE's text, or the wrapped bytes (the SDK checks that one of them is set)."""
    if exported.jwe is not None:
        return exported.jwe.encode()
    return exported.wrapped_key or b""


def _print_export(exported: ExportedKey, out: str) -> None:
    render.fields(
        f"Exported {exported.key_id}",
        [
            ("Key ID", exported.key_id),
            ("Version", exported.version),
            ("Spec", exported.spec),
            ("Format", exported.format),
            ("Encoding", exported.encoding),
            ("Written to", out),
        ],
    )


def export(  # noqa: PLR0913, PLR0917 - Typer: one option per field of the request
    key: KeyArgument,
    form: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="RSA_AES_KEY_WRAP_SHA_256 or HPKE (with --recipient), JWE (with --jwk).",
            show_default=False,
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out", help="Write the wrapped key to FILE (mode 0600).", show_default=False
        ),
    ],
    recipient: Annotated[
        str | None,
        typer.Option("--recipient", help="The recipient's public key, a PEM file (- for stdin)."),
    ] = None,
    jwk: Annotated[
        str | None,
        typer.Option("--jwk", help="The recipient's public JWK, a JSON file (JWE only)."),
    ] = None,
    version: VersionOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Export one version of an exportable key, wrapped for a recipient's public key."""
    _check_new_file(out, force=force)
    public_key, public_jwk = _export_recipient(form, recipient, jwk)
    with cli.api_errors(), cli.make_client() as client:
        exported = client.keys.export_key(
            key, format=form.value, public_key=public_key, jwk=public_jwk, version=version
        )
    _write_export(out, _export_bytes(exported), force=force)
    _print_export(exported, out)


# --- BYOK import ---------------------------------------------------------------------------------


def _usage_error(message: str, option: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=f"'{option}'")


def _check_target(name: str | None, into: str | None, spec: str | None) -> None:
    """NAME with --spec (a new key), or --into KEY alone (a new version of it)."""
    if (name is None) == (into is None):
        msg = "give NAME (to import a new key) or --into KEY (a new version of it), not both"
        raise _usage_error(msg, "--into")
    if name is not None and spec is None:
        msg = "a new key needs --spec, the spec of the material"
        raise _usage_error(msg, "--spec")
    if into is not None and spec is not None:
        msg = "--into imports a version of the key's own spec: leave out --spec"
        raise _usage_error(msg, "--spec")


def _spec_of(text: str) -> KeySpec:
    try:
        return KeySpec(text.upper())
    except ValueError:
        msg = f"unknown spec {text!r}; one of: {', '.join(KeySpec)}"
        raise _usage_error(msg, "--spec") from None


def _read_material(path: str, spec: KeySpec) -> bytes:
    """The material file's bytes as the server takes them, checked locally first."""
    try:
        return key_import.material_to_import(spec.value, io.read_bytes(path))
    except ValueError as error:  # the message names the spec, never the material
        msg = f"{path}: {error}"
        raise _usage_error(msg, "--material-file") from None


def _wrap(params: ImportParams, spec: KeySpec, material: bytes) -> bytes:
    """Wrap ``material`` to the parameters' public key, as AWS KMS's recipe does."""
    if params.wrapping_algorithm != _WRAPPING.value or params.spec != spec.value:
        detail = (
            f"the server offered {params.wrapping_algorithm} for {params.spec}; this client "
            f"wraps {_WRAPPING.value} for {spec.value}"
        )
        cli.fail("UnsupportedAlgorithm", detail, cli.ExitCode.ERROR)
    try:
        return key_wrap.wrap(_WRAPPING, params.public_key, material, b"")
    except KeysteadError as error:  # InvalidPublicKey: the server's key cannot be used
        cli.fail(error.code, error.public_detail, cli.ExitCode.ERROR)


def _print_import(key: Key, valid_to: datetime | None, *, new: bool, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        render.as_json(key)
        return
    expiry = "" if valid_to is None else f"; it expires {io.format_datetime(valid_to)}"
    if not new:
        print(f"Imported version {key.primary_version} into {key.name}, now primary{expiry}.")
        return
    render.fields(
        f"Imported key {key.name}",
        [
            ("ID", key.id), ("Name", key.name), ("Spec", key.spec), ("Usage", key.usage),
            ("State", key.state), ("Origin", key.origin),
            ("Primary version", key.primary_version), ("Material valid to", valid_to),
            ("Exportable", key.exportable), ("Backup allowed", key.backup_allowed),
        ],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Target:
    """Where the material goes: a new key NAME and its fields, or a new version --into KEY."""

    name: str | None
    into: str | None
    valid_to: datetime | None
    usage: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    exportable: bool = False
    backup_allowed: bool = True


def _send_import(client: Client, spec: KeySpec, material: bytes, target: _Target) -> Key:
    params = client.keys.import_params(spec.value)
    wrapped = _wrap(params, spec, material)
    return client.keys.import_key(
        params.import_token, wrapped, name=target.name, key=target.into,
        valid_to=target.valid_to, usage=target.usage, description=target.description,
        tags=target.tags, exportable=target.exportable, backup_allowed=target.backup_allowed,
    )  # fmt: skip


def _target(  # noqa: PLR0913 - the options that say where the material goes
    name: str | None,
    into: str | None,
    valid_to: str | None,
    *,
    usage: str | None,
    description: str,
    tag: list[str] | None,
    exportable: bool,
    no_backup: bool,
) -> _Target:
    expiry = None if valid_to is None else io.parse_datetime(valid_to, "--valid-to")
    if into is not None:
        if usage or description or tag or exportable or no_backup:
            msg = "--usage, --description, --tag, --exportable and --no-backup are for a new key"
            raise _usage_error(msg, "--into")
        return _Target(None, into, expiry)
    return _Target(
        name, None, expiry, None if usage is None else usage.upper(), description,
        io.parse_pairs(tag, "--tag"), exportable, not no_backup,
    )  # fmt: skip


def import_key(  # noqa: PLR0913, PLR0917 - Typer: one option per field of the request
    material_file: Annotated[
        str,
        typer.Option(
            "--material-file",
            help="The material: raw bytes (symmetric, HMAC) or a PKCS#8 DER or PEM private "
            "key (asymmetric); - for stdin.",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None,
        typer.Argument(
            help="The new key's unique name (not with --into).", metavar="NAME", show_default=False
        ),
    ] = None,
    into: Annotated[
        str | None,
        typer.Option("--into", help="Import a new version into this EXTERNAL key (id or name)."),
    ] = None,
    spec: Annotated[
        str | None,
        typer.Option("--spec", help="The new key's spec, e.g. AES_256_GCM, ED25519."),
    ] = None,
    valid_to: Annotated[
        str | None,
        typer.Option(
            "--valid-to", help="ISO 8601 (UTC without offset): the material is erased then."
        ),
    ] = None,
    usage: Annotated[
        str | None, typer.Option("--usage", help="For specs with several: SIGN_VERIFY, ...")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag NAME=VALUE (repeatable).")
    ] = None,
    exportable: Annotated[
        bool, typer.Option("--exportable", help="Allow exporting the material, wrapped.")
    ] = False,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Leave the key out of backups.")
    ] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Import key material (BYOK): as a new key NAME, or as a new version --into KEY."""
    _check_target(name, into, spec)
    target = _target(
        name, into, valid_to, usage=usage, description=description, tag=tag,
        exportable=exportable, no_backup=no_backup,
    )  # fmt: skip
    known = None if spec is None else _spec_of(spec)
    # A new key's material is checked before any request; --into learns the spec first.
    material = b"" if known is None else _read_material(material_file, known)
    with cli.api_errors(), cli.make_client() as client:
        if known is None:
            known = _spec_of(client.keys.get(str(into)).spec)
            material = _read_material(material_file, known)
        key = _send_import(client, known, material, target)
    _print_import(key, target.valid_to, new=into is None, output=output)
