"""Bodies of backup and restore: how the archive is protected, and what a restore did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response


class BackupCreateRequest(Request):
    """A passphrase (Argon2id), or a recipient public key PEM the archive key is wrapped for."""

    passphrase: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    """At least 12 characters, not a common password."""
    recipient: Annotated[str, msgspec.Meta(max_length=16384)] | None = None
    """An RSA (RSA_AES_KEY_WRAP_SHA_256), X25519 or MLKEM768X25519 (HPKE) public key PEM."""
    include_identities: bool = False
    """Also policies, roles and users (password hashes, TOTP secrets; never tokens)."""


class RestoreResponse(Response):
    """What a restore did: counts, and the names of the first 1,000 keys of each kind."""

    signer: str
    """The SHA-256 of the signing server's backup public key (DER), in hex."""
    created_at: datetime
    keys_in_backup: int
    counts: dict[str, int]
    """How many keys were restored, revived, overwritten, renamed and skipped; and how many
    identities (policies, roles, users) were restored, overwritten and skipped."""
    restored: list[str]
    """Keys that were not here, restored as backed up."""
    revived: list[str]
    """Keys destroyed here since the backup: their material is back, DEACTIVATED."""
    overwritten: list[str]
    skipped: list[str]
    renamed: dict[str, str]
    """Backed-up name to the name the key was restored under."""
