"""``keystead key``: keys, versions, the lifecycle verbs and every operation, through the SDK.

Data comes from a file or stdin (``--in FILE|-``) and goes to a file or stdout (``--out
FILE|-``). Binary results written to a file are raw; printed without ``--out`` they are
standard base64. Ciphertexts and signatures are read raw or as base64. Key material (a data
key's plaintext) is printed only with ``--reveal`` (STYLE.md C32). ``export`` and
``import``, which move material in and out wrapped, live in ``keystead.cli.key_transfer``
and are registered on this app. Exit codes are those of ``keystead.cli.client``; ``verify``
and ``mac-verify`` also exit 1 for a signature or tag that does not verify.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keystead.cli import client as cli
from keystead.cli import io, key_transfer
from keystead.cli.operator import FormatOption, OutputFormat
from keystead_sdk import Key, KeyPage, KeyVersions, ciphertext_key_id

app = typer.Typer(
    help="Manage keys and use them: create, rotate, lifecycle, encrypt, sign, MAC, data keys.",
    no_args_is_help=True,
)

REVEAL_WARNING: Final = "the plaintext data key is printed: keep it out of logs and history."
PLAINTEXT_NEEDS_A_PLACE: Final = (
    "the plaintext data key is written only to --out-plaintext FILE, or printed with "
    "--reveal; use --wrapped-only for the wrapped data key alone"
)


class PublicKeyFormat(StrEnum):
    """The encodings of ``public-key``."""

    PEM = "pem"
    DER = "der"
    JWK = "jwk"


class RandomEncoding(StrEnum):
    """How ``random`` prints bytes on stdout."""

    HEX = "hex"
    BASE64 = "base64"


KeyArgument = Annotated[str, typer.Argument(help="The key's name or id.", show_default=False)]
InOption = Annotated[str, typer.Option("--in", help="Read from FILE; - for stdin.")]
OutOption = Annotated[
    str | None,
    typer.Option("--out", help="Write raw bytes to FILE (- for stdout); default: base64 text."),
]
ContextOption = Annotated[
    list[str] | None,
    typer.Option("--context", help="Encryption context entry NAME=VALUE (repeatable)."),
]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="Tag NAME=VALUE (repeatable).")]
VersionOption = Annotated[
    int | None, typer.Option("--version", min=1, help="Key version; default: the primary.")
]
DigestFlag = Annotated[
    bool,
    typer.Option("--digest", help="The input is a precomputed digest (raw bytes or hex)."),
]
AlgorithmOption = Annotated[
    str | None,
    typer.Option(
        "--algorithm", help="e.g. RSASSA_PSS_SHA_256, ECDSA_SHA_384; default: the spec's."
    ),
]


def _console() -> Console:
    return Console(highlight=False)


def _text(value: object) -> Text:
    """A cell printed verbatim: names and descriptions may contain Rich markup."""
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(str(value))


def _key_rows(key: Key) -> list[tuple[str, object]]:
    tags = ", ".join(f"{name}={value}" for name, value in sorted(key.tags.items()))
    return [
        ("ID", key.id),
        ("Name", key.name),
        ("Spec", key.spec),
        ("Usage", key.usage),
        ("State", key.state),
        ("Primary version", key.primary_version),
        ("Min decryption version", key.min_decryption_version),
        ("Description", key.description or None),
        ("Tags", tags or None),
        ("Owner", key.owner),
        ("Protection", key.protection),
        ("Origin", key.origin),
        ("Exportable", key.exportable),
        ("Backup allowed", key.backup_allowed),
        ("Rotation period", io.format_duration(key.rotation_period_seconds)),
        ("Next rotation", io.format_datetime(key.next_rotation_at)),
        ("Activation date", io.format_datetime(key.activation_date)),
        ("Deactivation date", io.format_datetime(key.deactivation_date)),
        ("Destruction date", io.format_datetime(key.destruction_date)),
        ("Revocation reason", key.revocation_reason),
        ("Compromise date", io.format_datetime(key.compromise_date)),
        ("Created", io.format_datetime(key.created_at)),
        ("Updated", io.format_datetime(key.updated_at)),
    ]


def _print_key(key: Key, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print(key.model_dump_json(indent=2))
        return
    table = Table(title=f"Key {key.name}", show_header=True)
    table.add_column("Field")
    table.add_column("Value", overflow="fold")
    for name, value in _key_rows(key):
        table.add_row(name, _text(value))
    _console().print(table)


def _print_state(key: Key, output: OutputFormat, message: str) -> None:
    if output is OutputFormat.JSON:
        print(key.model_dump_json(indent=2))
    else:
        print(message)


class Protection(StrEnum):
    """Where a key's material lives."""

    SOFTWARE = "SOFTWARE"
    HSM = "HSM"


# --- metadata ------------------------------------------------------------------------------------


@app.command()
def create(  # noqa: PLR0913, PLR0917 - Typer: one option per field of the request
    name: Annotated[str, typer.Argument(help="A unique name.", show_default=False)],
    spec: Annotated[
        str,
        typer.Option(
            "--spec",
            help="AES_256_GCM, AES_128_GCM, CHACHA20_POLY1305, AES_256_SIV, RSA_2048|3072|4096, "
            "EC_P256|P384|P521, EC_SECP256K1, ED25519, X25519, HMAC_SHA256|384|512, "
            "ML_DSA_44|65|87, ML_KEM_768|1024.",
            show_default=False,
        ),
    ],
    usage: Annotated[
        str | None,
        typer.Option("--usage", help="For specs with several: ENCRYPT_DECRYPT, SIGN_VERIFY, ..."),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    tag: TagOption = None,
    rotation_period: Annotated[
        str | None,
        typer.Option("--rotation-period", help="Rotate automatically: 90d, 12h, 3600 (s)."),
    ] = None,
    activation_date: Annotated[
        str | None,
        typer.Option(
            "--activation-date", help="ISO 8601 (UTC without offset); PRE_ACTIVE till then."
        ),
    ] = None,
    deactivation_date: Annotated[
        str | None,
        typer.Option("--deactivation-date", help="ISO 8601: the end of the crypto period."),
    ] = None,
    exportable: Annotated[
        bool, typer.Option("--exportable", help="Allow exporting the material, wrapped.")
    ] = False,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Leave the key out of backups.")
    ] = False,
    protection: Annotated[
        Protection,
        typer.Option(
            "--protection",
            help="HSM: made and used inside the server's PKCS#11 token (pkcs11 seal), "
            "never exported or backed up.",
        ),
    ] = Protection.SOFTWARE,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Create a key and its first version."""
    tags = io.parse_pairs(tag, "--tag")
    period = (
        None if rotation_period is None else io.parse_duration(rotation_period, "--rotation-period")
    )
    activation = (
        None if activation_date is None else io.parse_datetime(activation_date, "--activation-date")
    )
    deactivation = (
        None
        if deactivation_date is None
        else io.parse_datetime(deactivation_date, "--deactivation-date")
    )
    with cli.api_errors(), cli.make_client() as client:
        key = client.keys.create(
            name,
            spec.upper(),
            usage=None if usage is None else usage.upper(),
            description=description,
            tags=tags,
            rotation_period_seconds=period,
            activation_date=activation,
            deactivation_date=deactivation,
            exportable=exportable,
            backup_allowed=not no_backup and protection is Protection.SOFTWARE,
            protection=None if protection is Protection.SOFTWARE else protection.value,
        )
    _print_key(key, output)


@app.command("list")
def list_keys(  # noqa: PLR0913, PLR0917 - Typer: the filters of GET /v1/keys
    state: Annotated[str | None, typer.Option("--state", help="Only keys in this state.")] = None,
    spec: Annotated[str | None, typer.Option("--spec", help="Only keys of this spec.")] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Only keys with this tag, NAME=VALUE.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Keys per page.")] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Start after this name (a next cursor).")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page.")] = False,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """List keys by name: one page, or every page with --all."""
    if tag is not None:
        io.parse_pairs([tag], "--tag")
    keys: list[Key] = []
    with cli.api_errors(), cli.make_client() as client:
        while True:
            page: KeyPage = client.keys.list(
                limit,
                cursor,
                state=None if state is None else state.upper(),
                spec=None if spec is None else spec.upper(),
                tag=tag,
            )
            keys.extend(page.keys)
            cursor = page.next_cursor
            if cursor is None or not all_pages:
                break
    if output is OutputFormat.JSON:
        body = {"keys": [key.model_dump(mode="json") for key in keys], "next_cursor": cursor}
        print(json.dumps(body, indent=2))
        return
    table = Table(title="Keys", show_header=True)
    for column in ("Name", "Spec", "Usage", "State", "Primary version", "Created"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            _text(key.name),
            _text(key.spec),
            _text(key.usage),
            _text(key.state),
            _text(key.primary_version),
            _text(io.format_datetime(key.created_at)),
        )
    _console().print(table)
    if cursor is not None:
        cli.warn(f"more keys: run again with --cursor {cursor}, or with --all")


@app.command()
def show(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Describe a key."""
    with cli.api_errors(), cli.make_client() as client:
        found = client.keys.get(key)
    _print_key(found, output)


@app.command()
def update(  # noqa: PLR0913, PLR0917 - Typer: one option per field of the request
    key: KeyArgument,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.")
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Tag NAME=VALUE (repeatable); the tags given replace all."),
    ] = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove every tag.")] = False,
    rotation_period: Annotated[
        str | None,
        typer.Option("--rotation-period", help="90d, 12h, 3600 (s); 0 turns rotation off."),
    ] = None,
    deactivation_date: Annotated[
        str | None, typer.Option("--deactivation-date", help="ISO 8601 (UTC without offset).")
    ] = None,
    min_decryption_version: Annotated[
        int | None,
        typer.Option("--min-decryption-version", min=1, help="Older versions stop decrypting."),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Change a key's metadata; options not given stay as they are."""
    if clear_tags and tag:
        msg = "give --tag or --clear-tags, not both"
        raise typer.BadParameter(msg)
    tags = {} if clear_tags else (io.parse_pairs(tag, "--tag") if tag else None)
    period = (
        None if rotation_period is None else io.parse_duration(rotation_period, "--rotation-period")
    )
    deactivation = (
        None
        if deactivation_date is None
        else io.parse_datetime(deactivation_date, "--deactivation-date")
    )
    changes = (description, tags, period, deactivation, min_decryption_version)
    if all(change is None for change in changes):
        msg = "nothing to change: give at least one option (see --help)"
        raise typer.BadParameter(msg)
    with cli.api_errors(), cli.make_client() as client:
        changed = client.keys.update(
            key,
            description=description,
            tags=tags,
            rotation_period_seconds=period,
            deactivation_date=deactivation,
            min_decryption_version=min_decryption_version,
        )
    _print_key(changed, output)


@app.command()
def versions(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """List a key's versions with their state and use count."""
    with cli.api_errors(), cli.make_client() as client:
        found: KeyVersions = client.keys.versions(key)
    if output is OutputFormat.JSON:
        print(found.model_dump_json(indent=2))
        return
    table = Table(title=f"Versions of {key}", show_header=True)
    for column in ("Version", "State", "Primary", "Created", "Uses", "Last used", "Destruction"):
        table.add_column(column)
    for version in found.versions:
        destruction = version.destroyed_at or version.destruction_date
        table.add_row(
            _text(version.version),
            _text(version.state),
            _text(version.primary),
            _text(io.format_datetime(version.created_at)),
            _text(version.use_count),
            _text(io.format_datetime(version.last_used_at)),
            _text(io.format_datetime(destruction)),
        )
    _console().print(table)


# --- rotation and lifecycle ----------------------------------------------------------------------


@app.command()
def rotate(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Add a version and make it primary; older versions still decrypt and verify."""
    with cli.api_errors(), cli.make_client() as client:
        rotated = client.keys.rotate(key)
    _print_state(
        rotated, output, f"Rotated {rotated.name}: primary version {rotated.primary_version}."
    )


def _lifecycle(key: str, verb: str, output: OutputFormat) -> None:
    with cli.api_errors(), cli.make_client() as client:
        changed: Key = getattr(client.keys, verb)(key)
    _print_state(changed, output, f"Key {changed.name} is now {changed.state}.")


@app.command()
def activate(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """PRE_ACTIVE to ACTIVE."""
    _lifecycle(key, "activate", output)


@app.command()
def suspend(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """ACTIVE to SUSPENDED: no operation at all until resumed."""
    _lifecycle(key, "suspend", output)


@app.command()
def resume(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """SUSPENDED to ACTIVE."""
    _lifecycle(key, "resume", output)


@app.command()
def deactivate(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """To DEACTIVATED: decrypt and verify old data, protect nothing new."""
    _lifecycle(key, "deactivate", output)


@app.command()
def revoke(
    key: KeyArgument,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="KEY_COMPROMISE, CA_COMPROMISE, AFFILIATION_CHANGED, SUPERSEDED, "
            "CESSATION_OF_OPERATION or UNSPECIFIED.",
            show_default=False,
        ),
    ],
    compromise_date: Annotated[
        str | None,
        typer.Option("--compromise-date", help="ISO 8601 (UTC without offset); default: now."),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Revoke a key: COMPROMISED for a compromise, DEACTIVATED otherwise."""
    since = (
        None if compromise_date is None else io.parse_datetime(compromise_date, "--compromise-date")
    )
    with cli.api_errors(), cli.make_client() as client:
        revoked = client.keys.revoke(key, reason.upper(), since)
    _print_state(revoked, output, f"Key {revoked.name} is now {revoked.state}.")


@app.command("schedule-destruction")
def schedule_destruction(
    key: KeyArgument,
    days: Annotated[
        int, typer.Option("--days", min=0, max=365, help="Waiting period before erasure.")
    ] = 30,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Erase the key's material after a waiting period; cancel-destruction undoes it."""
    with cli.api_errors(), cli.make_client() as client:
        pending = client.keys.schedule_destruction(key, days)
    message = (
        f"Key {pending.name} is now {pending.state}; "
        f"destruction on {io.format_datetime(pending.destruction_date)}."
    )
    _print_state(pending, output, message)


@app.command("cancel-destruction")
def cancel_destruction(key: KeyArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Cancel a scheduled destruction: back to the state before."""
    _lifecycle(key, "cancel_destruction", output)


# --- encryption ----------------------------------------------------------------------------------


def _write_blob(out: str | None, data: bytes) -> None:
    """Raw bytes to --out; base64 text on stdout without it."""
    if out is None:
        print(io.b64(data))
    else:
        io.write_bytes(out, data)


@app.command()
def encrypt(
    key: KeyArgument,
    input_path: InOption = io.STDIO,
    out: OutOption = None,
    context: ContextOption = None,
) -> None:
    """Encrypt a file or stdin under the key's primary version."""
    pairs = io.parse_pairs(context, "--context")
    plaintext = io.read_bytes(input_path)
    with cli.api_errors(), cli.make_client() as client:
        encrypted = client.keys.encrypt(key, plaintext, pairs)
    _write_blob(out, encrypted.ciphertext)


@app.command()
def decrypt(
    key: Annotated[
        str | None,
        typer.Option("--key", help="Decrypt with this key: RSA-OAEP, or its own ciphertext."),
    ] = None,
    input_path: Annotated[
        str, typer.Option("--in", help="The ciphertext, raw or base64; - for stdin.")
    ] = io.STDIO,
    out: Annotated[
        str, typer.Option("--out", help="Write the plaintext to FILE; - for stdout.")
    ] = io.STDIO,
    context: ContextOption = None,
    version: VersionOption = None,
) -> None:
    """Decrypt a Keystead ciphertext (or, with --key, an RSA-OAEP one)."""
    pairs = io.parse_pairs(context, "--context")
    if version is not None and key is None:
        msg = "--version needs --key"
        raise typer.BadParameter(msg)
    ciphertext = io.decode_blob(io.read_bytes(input_path))
    with cli.api_errors(), cli.make_client() as client:
        if key is None:
            decrypted = client.keys.decrypt(ciphertext, pairs)
        else:
            decrypted = client.keys.decrypt_with(key, ciphertext, pairs, version)
    io.write_bytes(out, decrypted.plaintext, private=True)


@app.command()
def reencrypt(
    input_path: Annotated[
        str, typer.Option("--in", help="The ciphertext, raw or base64; - for stdin.")
    ] = io.STDIO,
    out: OutOption = None,
    context: ContextOption = None,
    destination_key: Annotated[
        str | None,
        typer.Option("--destination-key", help="Move to this key; default: its own key."),
    ] = None,
) -> None:
    """Re-encrypt under the primary version of its key (or another); no plaintext leaves."""
    pairs = io.parse_pairs(context, "--context")
    ciphertext = io.decode_blob(io.read_bytes(input_path))
    if destination_key is None:
        try:
            ciphertext_key_id(ciphertext)
        except ValueError as error:
            cli.fail("InvalidCiphertext", str(error), cli.ExitCode.INVALID)
    with cli.api_errors(), cli.make_client() as client:
        encrypted = client.keys.reencrypt(ciphertext, pairs, destination_key)
    _write_blob(out, encrypted.ciphertext)


@app.command("data-key")
def data_key(  # noqa: PLR0913, PLR0917 - Typer: the request options and outputs
    key: KeyArgument,
    spec: Annotated[str, typer.Option("--spec", help="AES_128 or AES_256.")] = "AES_256",
    wrapped_only: Annotated[
        bool, typer.Option("--wrapped-only", help="Ask for the wrapped data key alone.")
    ] = False,
    out_plaintext: Annotated[
        str | None,
        typer.Option("--out-plaintext", help="Write the plaintext data key to FILE (mode 0600)."),
    ] = None,
    out_ciphertext: Annotated[
        str | None,
        typer.Option("--out-ciphertext", help="Write the wrapped data key to FILE, raw."),
    ] = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Print the plaintext data key (base64) on stdout.")
    ] = False,
    context: ContextOption = None,
) -> None:
    """Generate a data key wrapped under KEY; its plaintext only to a file or with --reveal."""
    if wrapped_only and (reveal or out_plaintext is not None):
        msg = "--wrapped-only asks for no plaintext: drop --reveal and --out-plaintext"
        raise typer.BadParameter(msg)
    if out_plaintext == io.STDIO:
        msg = "the plaintext data key is printed only with --reveal"
        raise typer.BadParameter(msg, param_hint="'--out-plaintext'")
    if not wrapped_only and not reveal and out_plaintext is None:
        raise typer.BadParameter(PLAINTEXT_NEEDS_A_PLACE)
    pairs = io.parse_pairs(context, "--context")
    with cli.api_errors(), cli.make_client() as client:
        made = client.keys.data_key(key, spec.upper(), plaintext=not wrapped_only, context=pairs)
    if out_plaintext is not None and made.plaintext is not None:
        io.write_bytes(out_plaintext, made.plaintext, private=True)
    print(f"Key ID: {made.key_id}")
    print(f"Version: {made.version}")
    if out_ciphertext is None:
        print(f"Ciphertext: {io.b64(made.ciphertext)}")
    else:
        io.write_bytes(out_ciphertext, made.ciphertext)
    if reveal and made.plaintext is not None:
        cli.warn(REVEAL_WARNING)
        print(f"Plaintext: {io.b64(made.plaintext)}")


# --- signatures and MACs -------------------------------------------------------------------------


@app.command()
def sign(
    key: KeyArgument,
    input_path: InOption = io.STDIO,
    digest: DigestFlag = False,
    algorithm: AlgorithmOption = None,
    out: OutOption = None,
) -> None:
    """Sign a message (or a digest) with the primary version."""
    data = io.read_bytes(input_path)
    with cli.api_errors(), cli.make_client() as client:
        if digest:
            signed = client.keys.sign(key, digest=io.decode_digest(data), algorithm=algorithm)
        else:
            signed = client.keys.sign(key, message=data, algorithm=algorithm)
    _write_blob(out, signed.signature)


@app.command()
def verify(  # noqa: PLR0913, PLR0917 - Typer: the fields of POST /v1/keys/{key}/verify
    key: KeyArgument,
    signature: Annotated[
        str,
        typer.Option("--signature", help="The signature file, raw or base64.", show_default=False),
    ],
    input_path: InOption = io.STDIO,
    digest: DigestFlag = False,
    algorithm: AlgorithmOption = None,
    version: VersionOption = None,
) -> None:
    """Verify a signature: print Valid (exit 0) or Invalid (exit 1)."""
    signature_bytes = io.decode_blob(io.read_bytes(signature))
    data = io.read_bytes(input_path)
    with cli.api_errors(), cli.make_client() as client:
        if digest:
            valid = client.keys.verify(
                key, signature_bytes, digest=io.decode_digest(data), algorithm=algorithm,
                version=version,
            )  # fmt: skip
        else:
            valid = client.keys.verify(
                key, signature_bytes, message=data, algorithm=algorithm, version=version
            )
    _valid_or_exit(valid)


def _valid_or_exit(valid: bool) -> None:
    print("Valid" if valid else "Invalid")
    if not valid:
        raise typer.Exit(cli.ExitCode.ERROR)


@app.command()
def mac(key: KeyArgument, input_path: InOption = io.STDIO, out: OutOption = None) -> None:
    """Compute an HMAC of a file or stdin with the primary version."""
    message = io.read_bytes(input_path)
    with cli.api_errors(), cli.make_client() as client:
        tag = client.keys.mac(key, message)
    _write_blob(out, tag.mac)


@app.command("mac-verify")
def mac_verify(
    key: KeyArgument,
    tag: Annotated[
        str, typer.Option("--mac", help="The tag file, raw or base64.", show_default=False)
    ],
    input_path: InOption = io.STDIO,
    version: VersionOption = None,
) -> None:
    """Check an HMAC tag: print Valid (exit 0) or Invalid (exit 1)."""
    tag_bytes = io.decode_blob(io.read_bytes(tag))
    message = io.read_bytes(input_path)
    with cli.api_errors(), cli.make_client() as client:
        valid = client.keys.mac_verify(key, message, tag_bytes, version)
    _valid_or_exit(valid)


# --- public keys and random bytes ----------------------------------------------------------------


@app.command("public-key")
def public_key(
    key: KeyArgument,
    form: Annotated[
        PublicKeyFormat, typer.Option("--format", help="PEM text, DER bytes or a JWK.")
    ] = PublicKeyFormat.PEM,
    version: VersionOption = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Write to FILE (DER raw); default: stdout.")
    ] = None,
) -> None:
    """Print or save an asymmetric key's public key."""
    with cli.api_errors(), cli.make_client() as client:
        found = client.keys.public_key(key, form.value, version)
    if found.der is not None:
        _write_blob(out, found.der)
    elif found.jwk is not None:
        io.write_text(out, json.dumps(found.jwk, indent=2))
    else:
        io.write_text(out, (found.pem or "").rstrip("\n"))


@app.command("random")
def random_bytes(
    count: Annotated[int, typer.Argument(min=1, max=1024, help="How many bytes (1 to 1024).")],
    out: Annotated[
        str | None, typer.Option("--out", help="Write the raw bytes to FILE (- for stdout).")
    ] = None,
    encoding: Annotated[
        RandomEncoding, typer.Option("--encoding", help="How to print them on stdout.")
    ] = RandomEncoding.HEX,
) -> None:
    """Random bytes from the server's CSPRNG."""
    with cli.api_errors(), cli.make_client() as client:
        data = client.random(count)
    if out is not None:
        io.write_bytes(out, data, private=True)
    elif encoding is RandomEncoding.HEX:
        print(data.hex())
    else:
        print(io.b64(data))


key_transfer.register(app)
