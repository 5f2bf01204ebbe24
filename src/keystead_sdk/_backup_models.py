"""Frozen pydantic models of what ``client.backups`` writes and what a restore did."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from keystead_sdk._models import _Model


class BackupWritten(_Model):
    """What ``backups.create`` wrote.

    Attributes:
        keys: How many records the archive holds: its keys, and identities if included.
        bytes_written: Its size.
        signer: The SHA-256 (hex) of the signing server's backup public key (DER): compare
            it with ``keystead backup verify --signer`` before restoring elsewhere.
    """

    keys: int = Field(ge=0)
    bytes_written: int = Field(ge=0)
    signer: str


class RestoreReport(_Model):
    """What a restore did, by key name.

    Attributes:
        signer: The SHA-256 (hex) of the backup's signer's public key.
        created_at: When the backup was made.
        keys_in_backup: How many keys the archive holds.
        counts: How many keys were ``restored``, ``revived``, ``overwritten``, ``renamed``
            and ``skipped``; the lists below name the first 1,000 of each.
        restored: Keys that were not here, restored as backed up.
        revived: Keys destroyed here since the backup: their material is back, DEACTIVATED
            (they decrypt and verify old data, protect nothing new).
        overwritten: The same keys, their metadata, tags and grants taken from the backup.
        skipped: Keys left as they are here.
        renamed: Backed-up name to the name the key was restored under.
    """

    signer: str
    created_at: datetime
    keys_in_backup: int = Field(ge=0)
    counts: dict[str, int]
    restored: list[str]
    revived: list[str]
    overwritten: list[str]
    skipped: list[str]
    renamed: dict[str, str]
