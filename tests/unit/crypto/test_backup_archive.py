"""The backup archive format: every change to an archive is found, with or without its key."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
from datetime import UTC, datetime

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.crypto import asymmetric, backup_archive, keygen, signing
from keystead.crypto.asymmetric import AsymmetricAlgorithm
from keystead.crypto.backup_archive import (
    ArchiveReader,
    ArchiveWriter,
    BackupHeader,
    KdfParameters,
)
from keystead.crypto.secret import KeyMaterial
from keystead.errors import BackupInvalid, BackupUnlockFailed, InvalidPublicKey
from xwing import xwing_pair

CHEAP = KdfParameters(memory_kib=8, time_cost=1, parallelism=1)
PASSPHRASE = "correct horse battery staple"
_PEM = serialization.Encoding.PEM
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def _signer() -> tuple[KeyMaterial, bytes]:
    generated = keygen.generate("ED25519")
    assert generated.public_key is not None
    return generated.material, generated.public_key


def _archive(payloads: list[bytes], signer: tuple[KeyMaterial, bytes] | None = None) -> bytes:
    signing, public = signer or _signer()
    protection, archive_key = backup_archive.protect_with_passphrase(PASSPHRASE, CHEAP)
    header = BackupHeader(
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        signer=public, protection=protection, scope="all",
    )  # fmt: skip
    writer = ArchiveWriter(header, archive_key, signing)
    return writer.opening() + b"".join(writer.record(p) for p in payloads) + writer.closing()


def _read(archive: bytes, passphrase: str | None = PASSPHRASE) -> list[bytes]:
    reader = ArchiveReader(io.BytesIO(archive))
    key = (
        None
        if passphrase is None
        else backup_archive.unlock_with_passphrase(reader.header, passphrase)
    )
    return list(reader.records(key))


PAYLOADS = [b"first key", b"second key" * 20, b"", b"last"]


def test_records_come_back_in_order_with_the_passphrase() -> None:
    assert _read(_archive(PAYLOADS)) == PAYLOADS


def test_without_the_passphrase_the_signature_and_count_are_still_checked() -> None:
    sealed = _read(_archive(PAYLOADS), passphrase=None)
    assert len(sealed) == len(PAYLOADS)
    pairs = zip(PAYLOADS, sealed, strict=True)
    assert all(payload not in record for payload, record in pairs if payload)


def test_the_default_cost_is_rfc_9106s_second_option() -> None:
    assert KdfParameters() == KdfParameters(memory_kib=65536, time_cost=3, parallelism=4)


def test_the_wrong_passphrase_does_not_unlock() -> None:
    with pytest.raises(BackupUnlockFailed, match="passphrase does not open"):
        _read(_archive(PAYLOADS), passphrase="another passphrase entirely")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_flipped_bit_is_found(data: st.DataObject) -> None:
    archive = _archive(PAYLOADS[:2])
    at = data.draw(st.integers(0, len(archive) - 1))
    bit = data.draw(st.integers(0, 7))
    changed = archive[:at] + bytes([archive[at] ^ (1 << bit)]) + archive[at + 1 :]
    with pytest.raises((BackupInvalid, BackupUnlockFailed)):
        _read(changed)


@pytest.mark.parametrize("passphrase", [PASSPHRASE, None])
def test_any_cut_is_found(passphrase: str | None) -> None:
    archive = _archive(PAYLOADS)
    for keep in range(len(archive)):
        with pytest.raises(BackupInvalid):
            _read(archive[:keep], passphrase)


def _frames(archive: bytes) -> tuple[bytes, list[bytes]]:
    """The magic and each frame, whole."""
    magic, rest, frames = archive[:8], archive[8:], []
    while rest:
        _, length = struct.unpack(">BI", rest[:5])
        frames.append(rest[: 5 + length])
        rest = rest[5 + length :]
    return magic, frames


def test_records_swapped_or_dropped_are_found() -> None:
    magic, frames = _frames(_archive(PAYLOADS))
    header, records, trailer = frames[0], frames[1:-1], frames[-1]
    swapped = magic + header + records[1] + records[0] + b"".join(records[2:]) + trailer
    dropped = magic + header + b"".join(records[:-1]) + trailer
    for changed in (swapped, dropped):
        with pytest.raises(BackupInvalid):
            _read(changed)


def test_a_record_from_another_archive_is_found() -> None:
    magic, ours = _frames(_archive(PAYLOADS))
    _, theirs = _frames(_archive(PAYLOADS))
    spliced = magic + ours[0] + theirs[1] + b"".join(ours[2:])
    with pytest.raises(BackupInvalid):
        _read(spliced)


def test_a_cut_archive_re_signed_by_someone_else_fails_its_records() -> None:
    """Whoever re-signs must change the header's signer, and the records are bound to it."""
    _, public = _signer()
    magic, frames = _frames(_archive(PAYLOADS, (_signer()[0], public)))
    forger, forged_public = _signer()
    header = frames[0].replace(base64.b64encode(public), base64.b64encode(forged_public))
    digest = hashlib.sha256(magic + header + frames[1]).digest()
    signature = signing.sign(
        AsymmetricAlgorithm.ED25519, forger, signing.SigningAlgorithm.ED25519,
        message=b"keystead/backup/v1/trailer\x00" + digest + (1).to_bytes(8, "big"),
    )  # fmt: skip
    trailer = msgspec.json.encode({"records": 1, "digest": digest, "signature": signature})
    forged = magic + header + frames[1] + struct.pack(">BI", 3, len(trailer)) + trailer
    assert len(_read(forged, passphrase=None)) == 1  # signed, by the forger's key...
    reader = ArchiveReader(io.BytesIO(forged))
    assert reader.signer_fingerprint == backup_archive.fingerprint(forged_public)  # ...as shown
    with pytest.raises(BackupInvalid, match="record 1"):
        _read(forged)


def test_a_frame_claiming_a_huge_length_is_refused_before_reading_it() -> None:
    archive = _archive(PAYLOADS)
    magic, frames = _frames(archive)
    huge = magic + frames[0] + struct.pack(">BI", 2, 2**32 - 1)
    with pytest.raises(BackupInvalid, match="claims"):
        _read(huge)


def test_hostile_argon2_parameters_are_refused() -> None:
    archive = _archive(PAYLOADS)
    reader = ArchiveReader(io.BytesIO(archive))
    protection = reader.header.protection
    assert isinstance(protection, backup_archive.PassphraseProtection)
    kdf = KdfParameters(memory_kib=64 * 1024 * 1024, time_cost=1, parallelism=1)
    greedy = msgspec.structs.replace(
        reader.header, protection=msgspec.structs.replace(protection, kdf=kdf)
    )
    with pytest.raises(BackupInvalid, match="Argon2id parameters"):
        backup_archive.unlock_with_passphrase(greedy, PASSPHRASE)


def test_not_an_archive() -> None:
    for junk in (b"", b"PK\x03\x04 a zip file", b"KSTDBAK\x02" + b"\x00" * 40):
        with pytest.raises(BackupInvalid):
            ArchiveReader(io.BytesIO(junk))


def _stored(private: object) -> KeyMaterial:
    return KeyMaterial(
        private.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("algorithm", "private"),
    [
        (AsymmetricAlgorithm.RSA_3072, rsa.generate_private_key(65537, 3072)),
        (AsymmetricAlgorithm.X25519, x25519.X25519PrivateKey.generate()),
    ],
)
def test_a_recipient_wrap_opens_with_that_private_key_only(
    algorithm: AsymmetricAlgorithm, private: object
) -> None:
    pem = private.public_key().public_bytes(_PEM, _SPKI).decode()  # type: ignore[attr-defined]
    protection, archive_key = backup_archive.protect_for_recipient(pem)
    header = BackupHeader(
        created_at=datetime.now(UTC),
        signer=_signer()[1], protection=protection, scope="all",
    )  # fmt: skip
    assert (
        backup_archive.unlock_with_private_key(header, algorithm, _stored(private)) == archive_key
    )
    other = asymmetric.generate(algorithm)
    with pytest.raises(BackupUnlockFailed, match="another key"):
        backup_archive.unlock_with_private_key(header, algorithm, other)
    with pytest.raises(BackupUnlockFailed, match="recipient key"):
        backup_archive.unlock_with_passphrase(header, PASSPHRASE)


def test_an_x_wing_recipient_is_wrapped_with_hpke() -> None:
    _, public_pem = xwing_pair()
    protection, _ = backup_archive.protect_for_recipient(public_pem)
    assert protection.format == "HPKE"


def test_a_recipient_of_another_kind_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(_PEM, _SPKI).decode()
    with pytest.raises(InvalidPublicKey, match="RSA, X25519 or MLKEM768X25519"):
        backup_archive.protect_for_recipient(pem)
