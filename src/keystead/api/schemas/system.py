"""Bodies of /v1/sys/*."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keystead.api.schemas.base import Request, Response

ShareCount = Annotated[int, msgspec.Meta(ge=1, le=255, description="1 to 255")]


class InitRequest(Request):
    """How many unseal shares to make, and how many rebuild the root key."""

    shares: ShareCount
    threshold: ShareCount


class InitResponse(Response):
    """The shares (standard base64) and the root token: shown once, never again."""

    shares: list[bytes]
    root_token: str
    threshold: int


class UnsealRequest(Request):
    """One share per call, or ``reset`` to forget the shares given so far."""

    share: Annotated[bytes, msgspec.Meta(max_length=256)] | None = None
    reset: bool = False


class SealStatusResponse(Response):
    """The seal status anyone may read."""

    initialized: bool
    sealed: bool
    type: str
    shares: int
    threshold: int
    progress: int
    version: str


class HealthResponse(Response):
    """Health as Vault reports it: 200 unsealed, 503 sealed, 501 not initialised."""

    initialized: bool
    sealed: bool
    version: str
    server_time_utc: int


class RotateKeyringResponse(Response):
    """The keyring term that now encrypts new values."""

    term: int
