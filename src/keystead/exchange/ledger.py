"""The exchange's ledger: hash-chained entries, each signed with the exchange's key.

Every balance change is appended as one entry whose body is a JSON object serialised with
RFC 8785 (:func:`keystead.exchange.canonical.canonical_bytes`)::

    {"seq": 1, "prev": "<64 hex>", "time": <unix ms>, "kind": "deposit",
     "ref": "<id>", "changes": [{"account": "alice", "asset": "USD",
     "available": "100", "reserved": "0"}], "detail": {"<str>": "<str>"}}

``seq`` counts from 1; ``prev`` is the SHA-256 hex of the previous entry's body bytes (64
zeros for the first entry); amounts are signed decimal texts in the one form
:func:`~keystead.exchange.canonical.decimal_text` writes. The entry's hash is the SHA-256
hex of its body bytes, and the exchange signs the body bytes themselves.

:mod:`keystead.exchange.ledger_check` verifies a ledger offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from keystead.exchange.canonical import canonical_bytes, decimal_text, digest_hex
from keystead.exchange.model import BalanceChange

GENESIS_HASH: Final = "0" * 64
ENTRY_KINDS: Final = frozenset({"deposit", "order", "trade", "cancel", "withdrawal"})
MAX_INTEGER_DIGITS: Final = 40
MAX_PLACES: Final = 30

_BODY_FIELDS: Final = frozenset({"seq", "prev", "time", "kind", "ref", "changes", "detail"})
_CHANGE_FIELDS: Final = frozenset({"account", "asset", "available", "reserved"})
_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")
# RFC 8785 serialises numbers as IEEE doubles: larger integers would not survive.
_MAX_JSON_INTEGER: Final = 2**53 - 1


class LedgerFormatError(ValueError):
    """A ledger entry body is not a well-formed, canonical entry; the message says why."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger entry, before serialisation."""

    seq: int
    prev: str
    time_ms: int
    kind: str
    ref: str
    changes: tuple[BalanceChange, ...]
    detail: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def body(self) -> dict[str, Any]:
        """Return the entry as the JSON object that gets serialised."""
        return {
            "seq": self.seq,
            "prev": self.prev,
            "time": self.time_ms,
            "kind": self.kind,
            "ref": self.ref,
            "changes": [_change_body(change) for change in self.changes],
            "detail": dict(self.detail),
        }

    def body_bytes(self) -> bytes:
        """Return the canonical (RFC 8785) body bytes: what is hashed and signed.

        Raises:
            ValueError: A value JSON cannot carry canonically (such as a huge integer).
        """
        return canonical_bytes(self.body())

    def hash(self) -> str:
        """Return the SHA-256 hex of the body bytes, which the next entry's ``prev`` names."""
        return digest_hex(self.body_bytes())


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """What storage holds for one entry: its body bytes, hash and the exchange's signature."""

    seq: int
    body: bytes
    hash: str
    signature: bytes
    key_version: int

    @classmethod
    def from_entry(cls, entry: LedgerEntry, signature: bytes, key_version: int) -> LedgerRow:
        """Build the row to store for ``entry``, signed by exchange key ``key_version``."""
        body = entry.body_bytes()
        return cls(entry.seq, body, digest_hex(body), signature, key_version)

    def entry(self) -> LedgerEntry:
        """Parse the stored body.

        Raises:
            LedgerFormatError: As for :func:`parse_body`.
        """
        return parse_body(self.body)


def next_entry(  # noqa: PLR0913 - the entry's fields, keyword-only
    previous: LedgerRow | None,
    *,
    time_ms: int,
    kind: str,
    ref: str,
    changes: Iterable[BalanceChange],
    detail: Mapping[str, str] | None = None,
) -> LedgerEntry:
    """Return the entry that follows ``previous`` (or the first entry when it is None).

    Raises:
        LedgerFormatError: The entry would not pass :func:`parse_body` (an unknown kind,
            an empty ref, a non-finite or too long amount, a non-string detail...).
    """
    entry = LedgerEntry(
        seq=1 if previous is None else previous.seq + 1,
        prev=GENESIS_HASH if previous is None else previous.hash,
        time_ms=time_ms,
        kind=kind,
        ref=ref,
        changes=tuple(changes),
        detail=MappingProxyType(dict(detail or {})),
    )
    # The exchange must never write an entry its own verifier would reject.
    try:
        body = entry.body_bytes()
    except ValueError as error:
        raise LedgerFormatError(str(error)) from None
    parse_body(body)
    return entry


def _change_body(change: BalanceChange) -> dict[str, str]:
    return {
        "account": change.account,
        "asset": change.asset,
        "available": _text(change.available),
        "reserved": _text(change.reserved),
    }


def _text(amount: Decimal) -> str:
    # Non-finite amounts have no decimal text; keep them visible so parse_body rejects them.
    return decimal_text(amount) if amount.is_finite() else str(amount)


# --- parsing ----------------------------------------------------------------------------


def parse_body(body: bytes) -> LedgerEntry:
    """Parse entry body bytes strictly.

    Raises:
        LedgerFormatError: The bytes are not UTF-8 JSON, a field is missing, extra or of the
            wrong type, an amount is not in canonical decimal form, or the body is not in
            RFC 8785 canonical form.
    """
    document = _load_object(body)
    _expect_fields("the entry", document, _BODY_FIELDS)
    entry = LedgerEntry(
        seq=_integer(document, "seq", minimum=1),
        prev=_hash_text(document["prev"]),
        time_ms=_integer(document, "time", minimum=0),
        kind=_kind(document["kind"]),
        ref=_string(document["ref"], "ref"),
        changes=_changes(document["changes"]),
        detail=_detail(document["detail"]),
    )
    try:
        canonical = entry.body_bytes()
    except ValueError as error:
        raise LedgerFormatError(str(error)) from None
    if canonical != body:
        msg = "the entry is not in canonical (RFC 8785) form"
        raise LedgerFormatError(msg)
    return entry


def _load_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except UnicodeDecodeError:
        msg = "the entry is not UTF-8"
        raise LedgerFormatError(msg) from None
    except json.JSONDecodeError as error:
        msg = f"the entry is not JSON: {error.msg} at byte {error.pos}"
        raise LedgerFormatError(msg) from None
    if not isinstance(document, dict):
        msg = "the entry is not a JSON object"
        raise LedgerFormatError(msg)
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        msg = "the entry repeats a key"
        raise LedgerFormatError(msg)
    return document


def _no_float(text: str) -> None:
    msg = f"the entry holds a non-integer number {text}: amounts are decimal strings"
    raise LedgerFormatError(msg)


def _expect_fields(where: str, document: Mapping[str, Any], expected: frozenset[str]) -> None:
    missing = sorted(expected - document.keys())
    extra = sorted(document.keys() - expected)
    if missing:
        msg = f"{where} misses the field(s) {', '.join(missing)}"
        raise LedgerFormatError(msg)
    if extra:
        msg = f"{where} has unexpected field(s) {', '.join(extra)}"
        raise LedgerFormatError(msg)


def _integer(document: Mapping[str, Any], name: str, *, minimum: int) -> int:
    value = document[name]
    # bool is an int subclass, but true is not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"{name} is not an integer"
        raise LedgerFormatError(msg)
    if not minimum <= value <= _MAX_JSON_INTEGER:
        msg = f"{name} {value} is out of range ({minimum} to {_MAX_JSON_INTEGER})"
        raise LedgerFormatError(msg)
    return value


def _hash_text(value: object) -> str:
    if not isinstance(value, str) or _HEX_HASH.fullmatch(value) is None:
        msg = "prev is not 64 lower-case hex digits"
        raise LedgerFormatError(msg)
    return value


def _kind(value: object) -> str:
    if value not in ENTRY_KINDS:
        msg = f"kind {value!r} is not one of {', '.join(sorted(ENTRY_KINDS))}"
        raise LedgerFormatError(msg)
    return str(value)


def _string(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        msg = f"{name} is not a non-empty string"
        raise LedgerFormatError(msg)
    return value


def _changes(value: object) -> tuple[BalanceChange, ...]:
    if not isinstance(value, list):
        msg = "changes is not a list"
        raise LedgerFormatError(msg)
    return tuple(_change(item, index) for index, item in enumerate(value))


def _change(value: object, index: int) -> BalanceChange:
    where = f"change {index}"
    if not isinstance(value, dict):
        msg = f"{where} is not an object"
        raise LedgerFormatError(msg)
    _expect_fields(where, value, _CHANGE_FIELDS)
    return BalanceChange(
        account=_string(value["account"], f"{where}'s account"),
        asset=_string(value["asset"], f"{where}'s asset"),
        available=_amount(value["available"], f"{where}'s available"),
        reserved=_amount(value["reserved"], f"{where}'s reserved"),
    )


def _amount(value: object, name: str) -> Decimal:
    if not isinstance(value, str):
        msg = f"{name} is not a decimal string"
        raise LedgerFormatError(msg)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or decimal_text(amount) != value:
        msg = f"{name} {value!r} is not a canonical decimal text"
        raise LedgerFormatError(msg)
    integer, _, places = value.lstrip("-").partition(".")
    if len(integer) > MAX_INTEGER_DIGITS or len(places) > MAX_PLACES:
        msg = f"{name} has more than {MAX_INTEGER_DIGITS} digits or {MAX_PLACES} places"
        raise LedgerFormatError(msg)
    return amount


def _detail(value: object) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        msg = "detail is not an object of strings"
        raise LedgerFormatError(msg)
    return MappingProxyType(value)
