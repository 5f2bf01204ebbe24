"""What the ``keystead exchange`` commands share: where the exchange is, and who the user is.

Each user's state (their Keystead token and their exchange session token) is one JSON file
per username in the profile directory (``--profile-dir``, ``KEYSTEAD_EXCHANGE_HOME``, by
default ``~/.keystead/exchange/``): the directory is mode 0700, each file 0600, opened with
``O_NOFOLLOW``; a profile other users may read is refused, as ssh refuses such a key.
Exchange errors print one red line, ``Error: <code>: <detail>``, and exit by family as
:mod:`keystead.cli.client` does.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Final

import httpx
import typer

from keystead.cli import client as cli
from keystead.exchange.client import ExchangeAPIError, ExchangeClient
from keystead_sdk import Client

DEFAULT_ADDR: Final = "https://127.0.0.1:8300"
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PRIVATE_DIRECTORY: Final = 0o700
_PRIVATE_FILE: Final = 0o600
_OTHERS: Final = 0o077
_BY_STATUS: Final[dict[int, cli.ExitCode]] = {
    400: cli.ExitCode.INVALID, 413: cli.ExitCode.INVALID, 422: cli.ExitCode.INVALID,
    401: cli.ExitCode.AUTH, 403: cli.ExitCode.AUTH, 429: cli.ExitCode.AUTH,
    404: cli.ExitCode.NOT_FOUND, 409: cli.ExitCode.CONFLICT,
    502: cli.ExitCode.UNREACHABLE, 503: cli.ExitCode.UNREACHABLE,
    504: cli.ExitCode.UNREACHABLE,
}  # fmt: skip

AddrOption = Annotated[
    str,
    typer.Option("--exchange-addr", envvar="KEYSTEAD_EXCHANGE_ADDR", help="The exchange's URL."),
]
CaOption = Annotated[
    str | None,
    typer.Option(
        "--exchange-ca",
        envvar="KEYSTEAD_EXCHANGE_CACERT",
        help="CA of the exchange's certificate (a dev exchange prints <data-dir>/tls/ca.pem).",
    ),
]
ProfileDirOption = Annotated[
    Path | None,
    typer.Option(
        "--profile-dir",
        envvar="KEYSTEAD_EXCHANGE_HOME",
        help="Where users' tokens are kept [default: ~/.keystead/exchange].",
        show_default=False,
    ),
]
UsernameOption = Annotated[
    str | None,
    typer.Option(
        "--username", envvar="KEYSTEAD_EXCHANGE_USER", help="The user (their Keystead name)."
    ),
]
OperatorTokenOption = Annotated[
    Path,
    typer.Option(
        "--operator-token-file",
        help="The exchange operator's token (<exchange data dir>/operator-token).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Profile:
    """One user's saved tokens; never printed (the repr hides them)."""

    username: str
    keystead_token: str | None = None
    exchange_token: str | None = None

    def __repr__(self) -> str:
        return f"Profile(username={self.username!r})"


def profile_dir(given: Path | None) -> Path:
    """The profile directory: ``given``, else ``~/.keystead/exchange``."""
    return given if given is not None else Path.home() / ".keystead" / "exchange"


def require_username(username: str | None) -> str:
    """The username, checked to be a safe file name; exit 3 when missing or odd."""
    if not username:
        cli.fail("ValidationFailed", "give --username (or KEYSTEAD_EXCHANGE_USER)",
                 cli.ExitCode.INVALID)  # fmt: skip
    if _NAME.fullmatch(username) is None:
        cli.fail("ValidationFailed", f"{username!r} is not a username", cli.ExitCode.INVALID)
    return username


def profile_path(directory: Path | None, username: str) -> Path:
    """The file holding ``username``'s profile."""
    return profile_dir(directory) / f"{require_username(username)}.json"


def save_profile(directory: Path | None, profile: Profile) -> Path:
    """Write the profile (0600, in a 0700 directory); return its path.

    Raises:
        OSError: The directory or file cannot be written, or a symbolic link is in the way.
    """
    path = profile_path(directory, profile.username)
    path.parent.mkdir(mode=_PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    if stat.S_IMODE(path.parent.stat().st_mode) != _PRIVATE_DIRECTORY:
        path.parent.chmod(_PRIVATE_DIRECTORY)
    flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
    descriptor = os.open(path, flags, _PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), _PRIVATE_FILE)
        json.dump(asdict(profile), file)
    return path


def load_profile(directory: Path | None, username: str | None) -> Profile:
    """Read a user's profile; exit 4 when there is none, 9 when it is unsafe or unreadable."""
    path = profile_path(directory, require_username(username))
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        cli.fail("Unauthenticated", f"no profile for {username} in {path.parent}: run "
                 "`keystead exchange login` first", cli.ExitCode.AUTH)  # fmt: skip
    except OSError as error:
        cli.fail("ConfigurationError", f"cannot read {path}: {error.strerror or error}",
                 cli.ExitCode.CONFIGURATION)  # fmt: skip
    mode = os.fstat(descriptor).st_mode
    with os.fdopen(descriptor, "rb") as file:
        data = file.read()
    if not stat.S_ISREG(mode) or mode & _OTHERS:
        cli.fail("ConfigurationError", f"{path} may be read by other users (or is not a file): "
                 f"run chmod 600 {path}", cli.ExitCode.CONFIGURATION)  # fmt: skip
    try:
        body = json.loads(data)
        return Profile(str(body["username"]), body.get("keystead_token"),
                       body.get("exchange_token"))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        cli.fail("ConfigurationError", f"{path} is not a profile", cli.ExitCode.CONFIGURATION)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, mode 0600 even if it existed.

    Raises:
        OSError: It cannot be written.
    """
    flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW
    descriptor = os.open(path, flags, _PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), _PRIVATE_FILE)
        file.write(text)


def read_token_file(path: Path) -> str:
    """The first line of a token file; exit 1 when it cannot be read or is empty."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        cli.fail("FileError", f"cannot read {path}: {error.strerror or error}", cli.ExitCode.ERROR)
    if not token:
        cli.fail("FileError", f"{path} holds no token", cli.ExitCode.ERROR)
    return token


def transport() -> httpx.BaseTransport | None:
    """The HTTP transport to reach the exchange with (tests replace this)."""
    return None


def open_exchange(
    addr: str,
    ca: str | None,
    *,
    keystead: Client | None = None,
    username: str | None = None,
    session_token: str | None = None,
) -> ExchangeClient:
    """An :class:`ExchangeClient` for the exchange at ``addr``."""
    return ExchangeClient(addr, keystead=keystead, username=username, ca_cert=ca,
                          session_token=session_token, transport=transport())  # fmt: skip


def keystead_as(profile: Profile) -> Client:
    """An SDK client with the user's saved Keystead token (else KEYSTEAD_TOKEN)."""
    return cli.make_client(profile.keystead_token)


def exit_code_for(error: ExchangeAPIError) -> cli.ExitCode:
    """The exit code of an exchange error's family."""
    return _BY_STATUS.get(error.status, cli.ExitCode.ERROR)


@contextmanager
def exchange_errors() -> Iterator[None]:
    """Turn exchange and SDK errors into one red line and the family's exit code."""
    with cli.api_errors():
        try:
            yield
        except ExchangeAPIError as error:
            cli.fail(error.code, error.detail, exit_code_for(error))
        except httpx.TransportError as error:
            detail = f"cannot reach the exchange: {str(error) or type(error).__name__}"
            cli.fail("TransportError", detail, cli.ExitCode.UNREACHABLE)
        except OSError as error:  # a CA file that cannot be read, a file not written
            where = f" {error.filename}" if error.filename else ""
            cli.fail("FileError", f"cannot use{where}: {error.strerror or error}",
                     cli.ExitCode.ERROR)  # fmt: skip
