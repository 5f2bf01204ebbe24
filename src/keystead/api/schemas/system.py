"""Bodies of /v1/sys/*."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response

ShareCount = Annotated[int, msgspec.Meta(ge=1, le=255, description="1 to 255")]


class InitRequest(Request):
    """How many shares to make, and how many make a quorum.

    The Shamir seal takes ``shares`` and ``threshold`` (unseal shares); the pkcs11 seal takes
    ``recovery_shares`` and ``recovery_threshold`` (recovery shares), as Vault's init does.
    """

    shares: ShareCount | None = None
    threshold: ShareCount | None = None
    recovery_shares: ShareCount | None = None
    recovery_threshold: ShareCount | None = None


class InitResponse(Response, omit_defaults=True):
    """The shares (standard base64) and the root token: shown once, never again.

    With the pkcs11 seal ``shares`` is empty (there are no unseal shares: the token unseals)
    and ``recovery_shares`` holds the recovery shares, as Vault answers an auto-unseal init.
    """

    shares: list[bytes]
    root_token: str
    threshold: int
    recovery_shares: list[bytes] | None = None
    recovery_threshold: int | None = None


class UnsealRequest(Request):
    """One share per call, or ``reset`` to forget the shares given so far."""

    share: Annotated[bytes, msgspec.Meta(max_length=256)] | None = None
    reset: bool = False


class SealStatusResponse(Response, omit_defaults=True):
    """The seal status anyone may read.

    With the pkcs11 seal, ``shares`` and ``threshold`` count recovery shares and
    ``recovery_seal`` is true. ``migration`` is true while a seal migration waits for the old
    seal's shares. ``seal_error`` says why a sealed server cannot unseal (by the setting's
    name, never its value). The last three are left out when false or empty.
    """

    initialized: bool
    sealed: bool
    type: str
    shares: int
    threshold: int
    progress: int
    version: str
    recovery_seal: bool = False
    migration: bool = False
    seal_error: str | None = None


class HealthResponse(Response):
    """Health as Vault reports it: 200 unsealed, 503 sealed, 501 not initialised."""

    initialized: bool
    sealed: bool
    version: str
    server_time_utc: int


class RotateKeyringResponse(Response):
    """The keyring term that now encrypts new values."""

    term: int
