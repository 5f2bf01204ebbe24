"""The backup archive: a stream of encrypted records, signed at its end.

Byte by byte::

    "KSTDBAK" 0x01                          magic and format version
    frame*                                  kind (1 byte) | length (u32 big-endian) | body

    header  (kind 1, once, first)  JSON: when, who signs, how the archive key is protected
    record  (kind 2, any number)   AES-256-GCM under the archive key; nonce = u96 sequence
                                   number (1, 2, ...), associated data = SHA-256(header frame)
                                   || u64 sequence number
    trailer (kind 3, once, last)   JSON: the record count, the SHA-256 of every byte before
                                   the trailer, and the server's Ed25519 signature over both

The archive key is 32 random bytes, fresh for each archive, so counter nonces never repeat.
It is protected by a passphrase (Argon2id, RFC 9106's second recommended parameters, then
AES-256-GCM) or wrapped for a recipient public key (``key_wrap``: RSA_AES_KEY_WRAP_SHA_256
or HPKE). Binding every record to the header hash and to its place means a record moved,
dropped, repeated or taken from another archive fails; the signed trailer means a cut
archive or a changed byte anywhere is found, even by someone who cannot open the records.
The reader never needs more memory than one frame.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Final, Literal

import msgspec
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keystead.crypto import asymmetric, key_wrap, signing
from keystead.crypto.asymmetric import AsymmetricAlgorithm
from keystead.crypto.key_wrap import WrappingFormat
from keystead.crypto.random import random_bytes
from keystead.crypto.secret import KeyMaterial
from keystead.errors import (
    BackupInvalid,
    BackupUnlockFailed,
    CryptoError,
    DecryptionFailed,
    UnsupportedAlgorithm,
)

__all__ = [
    "MAGIC",
    "ArchiveReader",
    "ArchiveWriter",
    "BackupHeader",
    "KdfParameters",
    "PassphraseProtection",
    "RecipientProtection",
    "fingerprint",
    "protect_for_recipient",
    "protect_with_passphrase",
]

MAGIC: Final = b"KSTDBAK\x01"
FORMAT: Final = "keystead-backup"
VERSION: Final = 1
_HEADER, _RECORD, _TRAILER = 1, 2, 3
_FRAME_HEAD: Final = struct.Struct(">BI")
MAX_FRAME_BYTES: Final = 64 * 1024 * 1024
_KEY_BYTES: Final = 32
_SALT_BYTES: Final = 16
_NONCE_BYTES: Final = 12
_ARCHIVE_KEY_INFO: Final = b"keystead/backup/v1/archive-key"
_TRAILER_CONTEXT: Final = b"keystead/backup/v1/trailer\x00"
_ED25519: Final = AsymmetricAlgorithm.ED25519
# A hostile header must not make the reader spend unbounded memory or time deriving a key.
_MAX_MEMORY_KIB: Final = 1024 * 1024
_MAX_TIME_COST: Final = 16
_MAX_PARALLELISM: Final = 16


class KdfParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Argon2id cost; the default is RFC 9106's second recommended option (64 MiB, t=3, p=4)."""

    memory_kib: int = 64 * 1024
    time_cost: int = 3
    parallelism: int = 4


class PassphraseProtection(msgspec.Struct, frozen=True, tag="passphrase", tag_field="kind"):
    """The archive key, AES-256-GCM under Argon2id(passphrase, salt)."""

    salt: bytes
    kdf: KdfParameters
    wrapped_key: bytes


class RecipientProtection(msgspec.Struct, frozen=True, tag="recipient", tag_field="kind"):
    """The archive key wrapped for a recipient public key."""

    format: WrappingFormat
    recipient: str
    """The SHA-256 of the recipient's SubjectPublicKeyInfo DER, in hex."""
    wrapped_key: bytes


Protection = PassphraseProtection | RecipientProtection


class BackupHeader(msgspec.Struct, frozen=True):
    """What an archive says of itself, readable without opening it."""

    created_at: datetime
    signer: bytes
    """The signing server's Ed25519 public key, SubjectPublicKeyInfo DER."""
    protection: Protection
    scope: str
    """``all`` or ``key`` (a single-key backup)."""
    format: Literal["keystead-backup"] = FORMAT
    version: int = VERSION


class _Trailer(msgspec.Struct, frozen=True):
    records: int
    digest: bytes
    signature: bytes


def fingerprint(public_key_der: bytes) -> str:
    """The SHA-256 of a SubjectPublicKeyInfo DER, in hex: how a signer or recipient is named."""
    return hashlib.sha256(public_key_der).hexdigest()


def _derive(passphrase: str, salt: bytes, kdf: KdfParameters) -> bytes:
    return hash_secret_raw(
        passphrase.encode(), salt, time_cost=kdf.time_cost, memory_cost=kdf.memory_kib,
        parallelism=kdf.parallelism, hash_len=_KEY_BYTES, type=Type.ID,
    )  # fmt: skip


def protect_with_passphrase(
    passphrase: str, kdf: KdfParameters | None = None
) -> tuple[PassphraseProtection, KeyMaterial]:
    """Make a fresh archive key and protect it with ``passphrase``.

    Returns:
        The protection to put in the header, and the archive key.
    """
    parameters = kdf or KdfParameters()
    salt = random_bytes(_SALT_BYTES)
    archive_key = random_bytes(_KEY_BYTES)
    nonce = random_bytes(_NONCE_BYTES)
    sealed = AESGCM(_derive(passphrase, salt, parameters)).encrypt(
        nonce, archive_key, _ARCHIVE_KEY_INFO
    )
    return PassphraseProtection(salt, parameters, nonce + sealed), KeyMaterial(archive_key)


def protect_for_recipient(recipient_pem: str) -> tuple[RecipientProtection, KeyMaterial]:
    """Make a fresh archive key and wrap it for a recipient public key PEM.

    RSA keys get RSA_AES_KEY_WRAP_SHA_256; X25519 and MLKEM768X25519 keys get HPKE.

    Raises:
        InvalidPublicKey: The PEM is not an RSA, X25519 or X-Wing public key of a usable size.
    """
    wrapping, der = key_wrap.recipient_format(recipient_pem)
    archive_key = random_bytes(_KEY_BYTES)
    wrapped = key_wrap.wrap(wrapping, recipient_pem, archive_key, _ARCHIVE_KEY_INFO)
    return RecipientProtection(wrapping, fingerprint(der), wrapped), KeyMaterial(archive_key)


def unlock_with_passphrase(header: BackupHeader, passphrase: str) -> KeyMaterial:
    """Return the archive key of a passphrase-protected archive.

    Raises:
        BackupUnlockFailed: The archive is protected otherwise, or the passphrase is wrong.
        BackupInvalid: The header's Argon2id cost is out of bounds.
    """
    protection = header.protection
    if not isinstance(protection, PassphraseProtection):
        msg = "this backup is wrapped for a recipient key, not protected by a passphrase"
        raise BackupUnlockFailed(msg)
    kdf = protection.kdf
    if not (
        1 <= kdf.time_cost <= _MAX_TIME_COST
        and 1 <= kdf.parallelism <= _MAX_PARALLELISM
        and 8 * kdf.parallelism <= kdf.memory_kib <= _MAX_MEMORY_KIB
        and len(protection.salt) >= _SALT_BYTES
    ):
        msg = "the backup's Argon2id parameters are out of bounds"
        raise BackupInvalid(msg)
    wrapped = protection.wrapped_key
    try:
        archive_key = AESGCM(_derive(passphrase, protection.salt, kdf)).decrypt(
            wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _ARCHIVE_KEY_INFO
        )
    except (InvalidTag, ValueError):
        msg = "the passphrase does not open this backup"
        raise BackupUnlockFailed(msg) from None
    return KeyMaterial(archive_key)


def unlock_with_private_key(
    header: BackupHeader, algorithm: AsymmetricAlgorithm, private_key: KeyMaterial
) -> KeyMaterial:
    """Return the archive key of an archive wrapped for ``private_key``'s public half.

    Raises:
        BackupUnlockFailed: The archive is protected otherwise, or for another key.
    """
    protection = header.protection
    if not isinstance(protection, RecipientProtection):
        msg = "this backup is protected by a passphrase, not wrapped for a recipient key"
        raise BackupUnlockFailed(msg)
    public = asymmetric.public_key_der(algorithm, private_key)
    if fingerprint(public) != protection.recipient:
        msg = f"this backup is wrapped for another key (SHA-256 {protection.recipient[:16]}...)"
        raise BackupUnlockFailed(msg)
    try:
        raw = key_wrap.unwrap_with(
            protection.format, algorithm, private_key, protection.wrapped_key, _ARCHIVE_KEY_INFO
        )
    except UnsupportedAlgorithm as refused:
        raise BackupUnlockFailed(refused.public_detail) from None
    except DecryptionFailed:
        msg = "the recipient key does not open this backup"
        raise BackupUnlockFailed(msg) from None
    return KeyMaterial(raw)


def _nonce(seq: int) -> bytes:
    return seq.to_bytes(_NONCE_BYTES, "big")


def _aad(header_digest: bytes, seq: int) -> bytes:
    return header_digest + seq.to_bytes(8, "big")


def _trailer_message(digest: bytes, records: int) -> bytes:
    return _TRAILER_CONTEXT + digest + records.to_bytes(8, "big")


def _frame(kind: int, body: bytes) -> bytes:
    return _FRAME_HEAD.pack(kind, len(body)) + body


@dataclass(slots=True)
class ArchiveWriter:
    """Writes one archive, a piece at a time: :meth:`opening`, :meth:`record`s, :meth:`closing`."""

    header: BackupHeader
    archive_key: KeyMaterial
    signing_key: KeyMaterial
    _records: int = 0
    _digest: hashlib._Hash | None = None
    _header_digest: bytes = b""

    def __repr__(self) -> str:
        return f"ArchiveWriter(records={self._records})"

    def opening(self) -> bytes:
        """The magic and the header frame."""
        frame = _frame(_HEADER, msgspec.json.encode(self.header))
        self._header_digest = hashlib.sha256(frame).digest()
        self._digest = hashlib.sha256(MAGIC + frame)
        return MAGIC + frame

    def record(self, payload: bytes) -> bytes:
        """One record frame holding ``payload``, encrypted and bound to its place."""
        if self._digest is None:
            msg = "opening() comes first"
            raise RuntimeError(msg)
        self._records += 1
        seq = self._records
        with self.archive_key.expose() as raw:
            sealed = AESGCM(raw).encrypt(_nonce(seq), payload, _aad(self._header_digest, seq))
        frame = _frame(_RECORD, sealed)
        self._digest.update(frame)
        return frame

    def closing(self) -> bytes:
        """The signed trailer frame; the archive ends with it."""
        if self._digest is None:
            msg = "opening() comes first"
            raise RuntimeError(msg)
        digest = self._digest.digest()
        signature = signing.sign(
            _ED25519, self.signing_key, signing.SigningAlgorithm.ED25519,
            message=_trailer_message(digest, self._records),
        )  # fmt: skip
        return _frame(_TRAILER, msgspec.json.encode(_Trailer(self._records, digest, signature)))


class ArchiveReader:
    """Reads one archive from a binary stream, checking every byte of it.

    :meth:`records` yields each record's payload (or, without an archive key, its sealed
    bytes) and ends only after the trailer's count and signature have been checked; any
    fault raises ``BackupInvalid`` naming where it is, never what a record holds.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.record_count = 0
        self.signer_fingerprint = ""
        magic = self._read(len(MAGIC), "the magic")
        if magic != MAGIC:
            msg = "this is not a Keystead backup (bad magic or format version)"
            raise BackupInvalid(msg)
        kind, body = self._frame()
        if kind != _HEADER:
            msg = "the backup does not begin with its header"
            raise BackupInvalid(msg)
        try:
            self.header = msgspec.json.decode(body, type=BackupHeader)
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = "the backup's header is malformed"
            raise BackupInvalid(msg) from None
        header_frame = _frame(kind, body)
        self._header_digest = hashlib.sha256(header_frame).digest()
        self._digest.update(MAGIC + header_frame)
        self.signer_fingerprint = fingerprint(self.header.signer)

    def __repr__(self) -> str:
        return f"ArchiveReader(signer={self.signer_fingerprint[:16]}, records={self.record_count})"

    def _read(self, size: int, what: str) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            msg = f"the backup is truncated: it ends inside {what}"
            raise BackupInvalid(msg)
        return data

    def _frame(self) -> tuple[int, bytes]:
        head = self._read(_FRAME_HEAD.size, f"the frame after record {self.record_count}")
        kind, length = _FRAME_HEAD.unpack(head)
        if length > MAX_FRAME_BYTES:
            msg = f"frame after record {self.record_count} claims {length} bytes (malformed)"
            raise BackupInvalid(msg)
        body = self._read(length, f"the frame after record {self.record_count}")
        return kind, body

    def records(self, archive_key: KeyMaterial | None) -> Iterator[bytes]:
        """Yield every record, decrypted when ``archive_key`` is given, then check the trailer.

        Raises:
            BackupInvalid: A record fails to decrypt, the archive is cut or altered, or its
                signature does not verify under the header's signer.
        """
        while True:
            before = self._digest.copy()
            kind, body = self._frame()
            if kind == _TRAILER:
                self._check_trailer(body, before.digest())
                return
            if kind != _RECORD:
                msg = f"unknown frame kind {kind} after record {self.record_count}"
                raise BackupInvalid(msg)
            self._digest.update(_frame(kind, body))
            self.record_count += 1
            yield body if archive_key is None else self._open(archive_key, body)

    def _open(self, archive_key: KeyMaterial, sealed: bytes) -> bytes:
        seq = self.record_count
        try:
            with archive_key.expose() as raw:
                return AESGCM(raw).decrypt(_nonce(seq), sealed, _aad(self._header_digest, seq))
        except (InvalidTag, ValueError):
            msg = f"record {seq} of the backup fails its integrity check (altered or moved)"
            raise BackupInvalid(msg) from None

    def _check_trailer(self, body: bytes, digest: bytes) -> None:
        try:
            trailer = msgspec.json.decode(body, type=_Trailer)
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = "the backup's trailer is malformed"
            raise BackupInvalid(msg) from None
        # The signature covers what the trailer says, not its bytes: only the one encoding
        # Keystead writes is taken, so no byte of an archive can change unnoticed.
        if msgspec.json.encode(trailer) != body:
            msg = "the backup's trailer is not in its canonical form (altered)"
            raise BackupInvalid(msg)
        if trailer.records != self.record_count or trailer.digest != digest:
            msg = (
                f"the backup's trailer does not match its contents ({self.record_count} "
                f"records read, {trailer.records} signed for)"
            )
            raise BackupInvalid(msg)
        try:
            signing.verify(
                _ED25519, self.header.signer, signing.SigningAlgorithm.ED25519,
                trailer.signature, message=_trailer_message(digest, trailer.records),
            )  # fmt: skip
        except CryptoError:
            msg = "the backup's signature does not verify"
            raise BackupInvalid(msg) from None
        if self._stream.read(1):
            msg = "the backup has bytes after its signed trailer"
            raise BackupInvalid(msg)
