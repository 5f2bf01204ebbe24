"""Dev mode: initialise with one share kept in the data directory, and unseal at start.

Never for production: whoever reads the data directory holds the root key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Final

from keystead.services.container import Services

DEV_SHARE_FILE: Final = "dev-unseal-share"
DEV_TOKEN_FILE: Final = "dev-root-token"  # noqa: S105 - a file name, not a secret


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


async def bootstrap_dev(services: Services) -> str:
    """Initialise the dev server once (1 share, threshold 1) and return the root token.

    Raises:
        StorageError: The database is unavailable.
    """
    data_dir = services.settings.data_dir
    status = await services.system.status()
    if not status.initialized:
        result = await services.system.initialize(1, 1)
        # Base64 text, the form `keystead operator unseal` takes after a manual seal.
        _write_private(data_dir / DEV_SHARE_FILE, base64.b64encode(result.shares[0]))
        _write_private(data_dir / DEV_TOKEN_FILE, result.root_token.encode("ascii"))
    return (data_dir / DEV_TOKEN_FILE).read_text(encoding="ascii").strip()


async def unseal_dev(services: Services) -> None:
    """Unseal with the dev share kept in the data directory.

    Raises:
        InvalidRootKey: The share file does not belong to this database.
    """
    share_text = (services.settings.data_dir / DEV_SHARE_FILE).read_text(encoding="ascii")
    await services.system.unseal(base64.b64decode(share_text.strip()))
