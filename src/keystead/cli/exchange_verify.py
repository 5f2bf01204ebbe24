"""``keystead exchange verify-confirmation`` and ``ledger verify``: checking the exchange.

Both can run offline with the exchange's public key (``keystead exchange key`` saves it):
a confirmation's signature over its RFC 8785 bytes, and the whole hash-chained, signed
ledger, read from the exchange's SQLite database or a JSONL export and streamed through
:func:`keystead.exchange.ledger.verify_chain`. A rotated exchange key has one PEM per
version: each ``--public-key`` is tried, and the one that verifies a version is kept for it.
Confirmations given to ``ledger verify`` pin their entries, which shows a cut tail. A bad
confirmation exits 12 (``CONFIRMATION_INVALID``), a bad ledger 13 (``LEDGER_INVALID``).
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final, NoReturn

import typer

from keystead.cli import client as cli
from keystead.cli import exchange_profile as profiles
from keystead.cli import render
from keystead.cli.exchange_profile import AddrOption, CaOption
from keystead.exchange.canonical import canonical_bytes, decimal_text
from keystead.exchange.confirmations import (
    ConfirmationInvalid,
    SignedConfirmation,
    read_confirmation,
    verify_confirmation,
)
from keystead.exchange.ledger import LedgerRow
from keystead.exchange.ledger_check import ChainReport, verify_chain
from keystead.exchange.signatures import (
    VersionKey,
    public_key_from_pem,
    spec_of_public_key,
    verify_signed,
)

_SHOWN: Final = ("account", "side", "pair", "quantity", "price", "filled", "remaining",
                 "status", "order_id", "ledger_seq", "ledger_hash")  # fmt: skip
_COLUMNS: Final = "seq, body, hash, signature, key_version"


@dataclass(frozen=True)
class PublicKeyFile:
    """One ``--public-key`` file: its DER and the spec it was recognised as."""

    path: Path
    der: bytes
    spec: str


def read_public_key(path: Path) -> PublicKeyFile:
    """Read a public key PEM; exit 1 when it is not one Keystead can verify with."""
    try:
        der = public_key_from_pem(path.read_text(encoding="utf-8"))
        return PublicKeyFile(path, der, spec_of_public_key(der))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        cli.fail("FileError", f"{path}: {error}", cli.ExitCode.ERROR)


@dataclass
class KeyRing:
    """The given public keys, and which one verified which key version."""

    keys: list[PublicKeyFile]
    by_version: dict[int, PublicKeyFile] = field(default_factory=dict)

    def check(self, version: int, message: bytes, signature: bytes) -> bool:
        """Whether a key of ``version`` signed ``message`` (the callback of verify_chain)."""
        known = self.by_version.get(version)
        for key in [known] if known else self.keys:
            if verify_signed(VersionKey("", version, key.spec, key.der), message, signature):
                self.by_version[version] = key
                return True
        return False


def _fail_confirmation(path: Path, reason: str) -> NoReturn:
    cli.fail("ConfirmationInvalid", f"{path}: {reason}", cli.ExitCode.CONFIRMATION_INVALID)


def _read_confirmation(path: Path) -> SignedConfirmation:
    try:
        return read_confirmation(path.read_bytes())
    except OSError as error:
        cli.fail("FileError", f"cannot read {path}: {error.strerror or error}", cli.ExitCode.ERROR)
    except ConfirmationInvalid as error:
        _fail_confirmation(path, str(error))


def _fetched_key(path: Path, signed: SignedConfirmation, addr: str, ca: str | None) -> VersionKey:
    with profiles.exchange_errors(), profiles.open_exchange(addr, ca) as exchange:
        found = exchange.exchange_key(signed.key_version)
    if found["key_id"] != signed.key_id:
        reason = (f"it names exchange key {signed.key_id}, but the exchange's key is "
                  f"{found['key_id']}")  # fmt: skip
        _fail_confirmation(path, reason)
    der = public_key_from_pem(str(found["public_key"]))
    return VersionKey(signed.key_id, int(found["version"]), str(found["spec"]), der)


def verify_confirmation_command(
    file: Annotated[Path, typer.Argument(help="The confirmation JSON file.")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The exchange's public key PEM: check offline."),
    ] = None,
    exchange_addr: AddrOption = profiles.DEFAULT_ADDR,
    exchange_ca: CaOption = None,
) -> None:
    """Check the exchange's signature on a confirmation; offline with --public-key."""
    signed = _read_confirmation(file)
    if public_key is not None:
        given = read_public_key(public_key)
        key = VersionKey(signed.key_id, signed.key_version, given.spec, given.der)
        source = f"the public key in {public_key} (offline)"
    else:
        key = _fetched_key(file, signed, exchange_addr, exchange_ca)
        source = f"the exchange's published key version {key.version}"
    try:
        verify_confirmation(signed, key)
    except (ConfirmationInvalid, ValueError) as error:
        _fail_confirmation(file, str(error))
    body = signed.confirmation
    print(f"Confirmation ({body.get('request', '?')} request) from {body.get('exchange')}:")
    for name in _SHOWN:
        if name in body:
            print(f"  {name}: {body[name]}")
    print(f"signature valid: exchange key {signed.key_id} version {signed.key_version} "
          f"({signed.spec}), checked with {source}")  # fmt: skip


# --- the ledger --------------------------------------------------------------------------


class _BadLine(Exception):
    """A JSONL export line that is not an entry."""


def database_rows(path: Path) -> Generator[LedgerRow, None, None]:
    """The ledger rows of an exchange SQLite database, in seq order, streamed (read-only)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        for seq, body, digest, signature, version in connection.execute(
            f"SELECT {_COLUMNS} FROM ledger ORDER BY seq"  # noqa: S608 - constant columns
        ):
            yield LedgerRow(int(seq), bytes(body), str(digest), bytes(signature), int(version))
    finally:
        connection.close()


def export_rows(path: Path) -> Generator[LedgerRow, None, None]:
    """The ledger rows of a ``ledger export`` JSONL file, line by line."""
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                yield LedgerRow(
                    int(entry["seq"]), canonical_bytes(entry["body"]), str(entry["hash"]),
                    base64.b64decode(entry["signature"], validate=True),
                    int(entry["key_version"]),
                )  # fmt: skip
            except (ValueError, KeyError, TypeError, binascii.Error) as error:
                msg = f"line {number} of {path} is not a ledger entry: {error}"
                raise _BadLine(msg) from None


def _anchors(files: list[Path], ring: KeyRing) -> dict[int, str]:
    anchors: dict[int, str] = {}
    for path in files:
        signed = _read_confirmation(path)
        message = canonical_bytes(signed.confirmation)
        if not ring.check(signed.key_version, message, signed.signature):
            _fail_confirmation(path, "its signature does not verify with any --public-key")
        seq, digest = signed.confirmation.get("ledger_seq"), signed.confirmation.get("ledger_hash")
        if not isinstance(seq, int) or not isinstance(digest, str):
            _fail_confirmation(path, "it pins no ledger entry (ledger_seq, ledger_hash)")
        elif anchors.setdefault(seq, digest) != digest:
            cli.fail("LedgerInvalid", f"two confirmations pin different entries {seq}",
                     cli.ExitCode.LEDGER_INVALID)  # fmt: skip
    return anchors


def _totals(report: ChainReport) -> list[tuple[str, str, str, str, str]]:
    held: dict[str, Decimal] = {}
    for (_, asset), (available, reserved) in report.balances.items():
        held[asset] = held.get(asset, Decimal(0)) + available + reserved
    lines = []
    for asset in sorted({*held, *report.deposits, *report.withdrawals}):
        deposits = report.deposits.get(asset, Decimal(0))
        withdrawals = report.withdrawals.get(asset, Decimal(0))
        balance = held.get(asset, Decimal(0))
        same = "yes" if balance == deposits - withdrawals else "NO"
        lines.append((asset, decimal_text(deposits), decimal_text(withdrawals),
                      decimal_text(balance), same))  # fmt: skip
    return lines


def verify_ledger(
    public_keys: Annotated[
        list[Path],
        typer.Option(
            "--public-key",
            help="The exchange's public key PEM (one per version).",
            show_default=False,
        ),
    ],
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="The exchange's data directory.")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A `ledger export` file.")] = None,
    confirmations: Annotated[
        list[Path] | None,
        typer.Option("--confirmation", help="A confirmation whose entry must be in the ledger."),
    ] = None,
) -> None:
    """Verify the exchange's ledger offline: chain, hashes, signatures, balances."""
    if (data_dir is None) == (file is None):
        msg = "give one of --data-dir or --file"
        raise typer.BadParameter(msg)
    ring = KeyRing([read_public_key(path) for path in public_keys])
    anchors = _anchors(confirmations or [], ring)
    source = file if file is not None else (data_dir or Path()) / "exchange.db"
    if not source.is_file():
        cli.fail("FileError", f"{source} does not exist", cli.ExitCode.ERROR)
    rows = export_rows(source) if file is not None else database_rows(source)
    # Closed here, in this thread, even when the check stops early: a generator left to the
    # garbage collector would close its SQLite connection from whatever thread runs it.
    try:
        with closing(rows):
            report = verify_chain(rows, ring.check, anchors)
    except _BadLine as error:
        cli.fail("LedgerInvalid", str(error), cli.ExitCode.LEDGER_INVALID)
    except (sqlite3.Error, OSError, UnicodeDecodeError) as error:
        cli.fail("FileError", f"cannot read the ledger in {source}: {error}", cli.ExitCode.ERROR)
    print(f"Checked {report.entries} entries of {source}; last seq {report.last_seq}, "
          f"hash {report.last_hash}.")  # fmt: skip
    if not report.ok:
        detail = f"first bad entry {report.first_bad}: {report.reason}"
        cli.fail("LedgerInvalid", detail, cli.ExitCode.LEDGER_INVALID)
    for version, key in sorted(ring.by_version.items()):
        print(f"Exchange key version {version}: {key.path} ({key.spec})")
    if anchors:
        print(f"Pinned by {len(anchors)} confirmation(s): entries {sorted(anchors)}")
    totals = _totals(report)
    render.rows("Assets", ["Asset", "Deposits", "Withdrawals", "Balances", "Match"], totals)
    wrong = [line[0] for line in totals if line[4] != "yes"]
    if wrong:
        detail = f"balances do not add up to deposits minus withdrawals for {', '.join(wrong)}"
        cli.fail("LedgerInvalid", detail, cli.ExitCode.LEDGER_INVALID)
    print("Ledger valid.")
