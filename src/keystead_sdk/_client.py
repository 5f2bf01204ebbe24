"""``Client`` and ``AsyncClient``: settings, transport, and the ``sys`` and ``keys`` namespaces.

Both clients send the request descriptions of ``_calls``; the namespaces only choose which
one. TLS is always verified, against ``ca_cert`` (``KEYSTEAD_CACERT``) or the system CAs.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, TypeVar

import httpx
from pydantic import SecretStr

from keystead_sdk import _calls
from keystead_sdk._errors import ConfigurationError, TransportError

if TYPE_CHECKING:
    from keystead_sdk._models import (
        Decrypted,
        Encrypted,
        Health,
        InitResult,
        Key,
        KeyPage,
        SealStatus,
    )

T = TypeVar("T")

DEFAULT_ADDRESS: Final = "https://127.0.0.1:8200"
ENV_ADDRESS: Final = "KEYSTEAD_ADDR"
ENV_TOKEN: Final = "KEYSTEAD_TOKEN"  # noqa: S105 - the variable's name, not a token
ENV_CACERT: Final = "KEYSTEAD_CACERT"
_USER_AGENT: Final = "keystead-sdk-python"


@dataclass(frozen=True, slots=True)
class _Settings:
    address: str
    token: SecretStr | None
    verify: ssl.SSLContext

    def headers(self) -> dict[str, str]:
        if self.token is None:
            return {}
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"}

    def http_options(self, timeout: float) -> dict[str, Any]:
        """The httpx client options both clients share."""
        return {
            "base_url": self.address,
            "verify": self.verify,
            "timeout": timeout,
            "headers": {"User-Agent": _USER_AGENT},
        }

    def describe(self, cls: type) -> str:
        token = "SecretStr('**********')" if self.token is not None else "None"
        return f"{cls.__name__}(address={self.address!r}, token={token})"


def _settings(
    address: str | None, token: str | SecretStr | None, ca_cert: str | Path | None
) -> _Settings:
    address = address or os.environ.get(ENV_ADDRESS) or DEFAULT_ADDRESS
    if token is None:
        token = os.environ.get(ENV_TOKEN) or None
    if isinstance(token, str):
        token = SecretStr(token)
    if ca_cert is None:
        ca_cert = os.environ.get(ENV_CACERT) or None
    return _Settings(_check_address(address), token, _ssl_context(ca_cert))


def _check_address(address: str) -> str:
    try:
        url = httpx.URL(address)
    except httpx.InvalidURL as exc:
        msg = f"invalid Keystead address {address!r}: {exc}"
        raise ConfigurationError(msg) from None
    if url.scheme not in {"https", "http"} or not url.host:
        msg = f"invalid Keystead address {address!r}: expected https://HOST[:PORT]"
        raise ConfigurationError(msg)
    return address.rstrip("/")


def _ssl_context(ca_cert: str | Path | None) -> ssl.SSLContext:
    """Verify against one CA file, or the system CAs; there is no way to turn verification off."""
    if ca_cert is None:
        return ssl.create_default_context()
    path = Path(ca_cert)
    if not path.is_file():
        msg = f"CA certificate file not found: {path} (ca_cert / {ENV_CACERT})"
        raise ConfigurationError(msg)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        msg = f"cannot load CA certificate file {path}: {exc}"
        raise ConfigurationError(msg) from None


class _Send(Protocol):
    def __call__(self, call: _calls.Call[T], /) -> T: ...


class _AsyncSend(Protocol):
    def __call__(self, call: _calls.Call[T], /) -> Awaitable[T]: ...


class SysAPI:
    """``client.sys``: initialise, unseal, seal, status, health, keyring rotation."""

    def __init__(self, send: _Send) -> None:
        self._send = send

    def init(self, shares: int, threshold: int) -> InitResult:
        """Initialise the server: make the root key and split it into ``shares`` shares."""
        return self._send(_calls.init(shares, threshold))

    def unseal(self, share: bytes) -> SealStatus:
        """Give one unseal share; the server unseals once ``threshold`` shares are given."""
        return self._send(_calls.unseal(share))

    def reset_unseal(self) -> SealStatus:
        """Forget the shares given so far."""
        return self._send(_calls.reset_unseal())

    def seal(self) -> SealStatus:
        """Seal the server: drop every key from its memory (needs a token)."""
        return self._send(_calls.seal())

    def seal_status(self) -> SealStatus:
        """Read the seal status."""
        return self._send(_calls.seal_status())

    def health(self) -> Health:
        """Read the health; a sealed (503) or uninitialised (501) server is not an error here."""
        return self._send(_calls.health())

    def rotate_keyring(self) -> int:
        """Add a keyring term and return it; older terms still decrypt (needs a token)."""
        return self._send(_calls.rotate_keyring())


class KeysAPI:
    """``client.keys``: create, describe and list keys; encrypt and decrypt."""

    def __init__(self, send: _Send) -> None:
        self._send = send

    def create(
        self, name: str, spec: str, usage: str = "ENCRYPT_DECRYPT", description: str = ""
    ) -> Key:
        """Create a key and its first version."""
        return self._send(_calls.create_key(name, spec, usage, description))

    def get(self, key: str) -> Key:
        """Describe a key by id or name."""
        return self._send(_calls.get_key(key))

    def list(self, limit: int = 100, cursor: str | None = None) -> KeyPage:
        """List keys by name, one page at a time."""
        return self._send(_calls.list_keys(limit, cursor))

    def encrypt(
        self, key: str, plaintext: bytes, context: Mapping[str, str] | None = None
    ) -> Encrypted:
        """Encrypt under the key's primary version; ``context`` is bound as associated data."""
        return self._send(_calls.encrypt(key, plaintext, context))

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str] | None = None) -> Decrypted:
        """Decrypt a Keystead ciphertext with the same ``context`` it was encrypted with."""
        return self._send(_calls.decrypt(ciphertext, context))


class AsyncSysAPI:
    """``client.sys`` of ``AsyncClient``: the methods of ``SysAPI``, awaited."""

    def __init__(self, send: _AsyncSend) -> None:
        self._send = send

    async def init(self, shares: int, threshold: int) -> InitResult:
        """Initialise the server: make the root key and split it into ``shares`` shares."""
        return await self._send(_calls.init(shares, threshold))

    async def unseal(self, share: bytes) -> SealStatus:
        """Give one unseal share; the server unseals once ``threshold`` shares are given."""
        return await self._send(_calls.unseal(share))

    async def reset_unseal(self) -> SealStatus:
        """Forget the shares given so far."""
        return await self._send(_calls.reset_unseal())

    async def seal(self) -> SealStatus:
        """Seal the server: drop every key from its memory (needs a token)."""
        return await self._send(_calls.seal())

    async def seal_status(self) -> SealStatus:
        """Read the seal status."""
        return await self._send(_calls.seal_status())

    async def health(self) -> Health:
        """Read the health; a sealed (503) or uninitialised (501) server is not an error here."""
        return await self._send(_calls.health())

    async def rotate_keyring(self) -> int:
        """Add a keyring term and return it; older terms still decrypt (needs a token)."""
        return await self._send(_calls.rotate_keyring())


class AsyncKeysAPI:
    """``client.keys`` of ``AsyncClient``: the methods of ``KeysAPI``, awaited."""

    def __init__(self, send: _AsyncSend) -> None:
        self._send = send

    async def create(
        self, name: str, spec: str, usage: str = "ENCRYPT_DECRYPT", description: str = ""
    ) -> Key:
        """Create a key and its first version."""
        return await self._send(_calls.create_key(name, spec, usage, description))

    async def get(self, key: str) -> Key:
        """Describe a key by id or name."""
        return await self._send(_calls.get_key(key))

    async def list(self, limit: int = 100, cursor: str | None = None) -> KeyPage:
        """List keys by name, one page at a time."""
        return await self._send(_calls.list_keys(limit, cursor))

    async def encrypt(
        self, key: str, plaintext: bytes, context: Mapping[str, str] | None = None
    ) -> Encrypted:
        """Encrypt under the key's primary version; ``context`` is bound as associated data."""
        return await self._send(_calls.encrypt(key, plaintext, context))

    async def decrypt(
        self, ciphertext: bytes, context: Mapping[str, str] | None = None
    ) -> Decrypted:
        """Decrypt a Keystead ciphertext with the same ``context`` it was encrypted with."""
        return await self._send(_calls.decrypt(ciphertext, context))


class Client:
    """A synchronous Keystead client; use it as a context manager or call ``close()``.

    Args:
        address: The server's URL; defaults to ``KEYSTEAD_ADDR``, then
            ``https://127.0.0.1:8200``.
        token: The API token, sent as ``Authorization: Bearer``; defaults to
            ``KEYSTEAD_TOKEN``. It is kept as a ``SecretStr`` and masked in ``repr``.
        ca_cert: A PEM file of the CA that signed the server's certificate; defaults to
            ``KEYSTEAD_CACERT``, then the system CAs. TLS is always verified.
        timeout: Seconds to wait for connecting, reading and writing.
        transport: An httpx transport, e.g. ``httpx.MockTransport`` in tests.

    Raises:
        ConfigurationError: The address is not an http(s) URL, or the CA file is missing or
            not a certificate.

    Methods of ``client.sys`` and ``client.keys`` raise ``TransportError`` when the server
    cannot be reached and a ``KeysteadAPIError`` subclass when it answers with an error.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | SecretStr | None = None,
        ca_cert: str | Path | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = _settings(address, token, ca_cert)
        self._http = httpx.Client(transport=transport, **self._settings.http_options(timeout))
        self.sys = SysAPI(self._send)
        self.keys = KeysAPI(self._send)

    @property
    def address(self) -> str:
        """The server's URL."""
        return self._settings.address

    def _send(self, call: _calls.Call[T]) -> T:
        try:
            response = self._http.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                headers=self._settings.headers(),
            )
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc
        return call.finish(response)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return self._settings.describe(type(self))


class AsyncClient:
    """An asynchronous Keystead client; the arguments and methods are those of ``Client``.

    Use it as an async context manager or ``await client.close()``.

    Raises:
        ConfigurationError: The address is not an http(s) URL, or the CA file is missing or
            not a certificate.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | SecretStr | None = None,
        ca_cert: str | Path | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = _settings(address, token, ca_cert)
        self._http = httpx.AsyncClient(transport=transport, **self._settings.http_options(timeout))
        self.sys = AsyncSysAPI(self._send)
        self.keys = AsyncKeysAPI(self._send)

    @property
    def address(self) -> str:
        """The server's URL."""
        return self._settings.address

    async def _send(self, call: _calls.Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                headers=self._settings.headers(),
            )
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc
        return call.finish(response)

    async def close(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return self._settings.describe(type(self))
