"""The token ``keystead login`` saves: ``~/.keystead/token``, readable by its owner only.

The directory is mode 0700 and the file 0600. The file is opened with ``O_NOFOLLOW``, so a
symbolic link planted in its place is neither written through nor read, and must be a
regular file; a token file that other users can read is refused, as ssh refuses such a
private key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from keystead_sdk import ConfigurationError

DIRECTORY_NAME: Final = ".keystead"
FILE_NAME: Final = "token"
_PRIVATE_DIRECTORY: Final = 0o700
_PRIVATE_FILE: Final = 0o600
_OTHERS: Final = 0o077


def token_path() -> Path:
    """``$HOME/.keystead/token``."""
    return Path.home() / DIRECTORY_NAME / FILE_NAME


def save(token: str) -> Path:
    """Write the token to ``token_path()``, creating the directory; return the path.

    Raises:
        OSError: The directory or the file cannot be made or written, or the file's place
            holds a symbolic link.
    """
    path = token_path()
    directory = path.parent
    directory.mkdir(mode=_PRIVATE_DIRECTORY, exist_ok=True)
    # mkdir leaves an existing directory's mode alone (and the umask may narrow a new one).
    if stat.S_IMODE(directory.stat().st_mode) != _PRIVATE_DIRECTORY:
        directory.chmod(_PRIVATE_DIRECTORY)
    # O_NONBLOCK: a FIFO planted in the file's place fails at once instead of hanging.
    flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
    descriptor = os.open(path, flags, _PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        # An existing file keeps its mode through O_CREAT: make it private again.
        os.fchmod(file.fileno(), _PRIVATE_FILE)
        file.write(f"{token}\n")
    return path


def load() -> str | None:
    """Return the saved token, or ``None`` when there is none.

    Raises:
        ConfigurationError: The file cannot be read, is a symbolic link, or other users
            may read it.
    """
    path = token_path()
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        msg = f"cannot read the saved token {path}: {error.strerror or error}"
        raise ConfigurationError(msg) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        msg = f"the saved token {path} is not a regular file"
        raise ConfigurationError(msg)
    with os.fdopen(descriptor, "rb") as file:
        data = file.read()
    if mode & _OTHERS:
        msg = f"the saved token {path} may be read by other users: run chmod 600 {path}"
        raise ConfigurationError(msg)
    token = data.decode("utf-8", errors="replace").strip()
    return token or None


def delete() -> bool:
    """Remove the saved token; return whether there was one.

    Raises:
        OSError: The file exists but cannot be removed.
    """
    try:
        token_path().unlink()
    except FileNotFoundError:
        return False
    return True
