"""``Client`` and ``AsyncClient``: settings, transport, the ``sys`` and ``keys`` namespaces.

The identity namespaces (``auth``, ``tokens``, ``users``, ``roles``, ``policies``, ``grants``)
live in ``_identity`` and ``_identity_async``; ``audit`` lives in ``_audit``.

Both clients send the request descriptions of ``_calls``; the namespaces only choose which
one. TLS is always verified, against ``ca_cert`` (``KEYSTEAD_CACERT``) or the system CAs.
"""

from __future__ import annotations

import builtins
import os
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

import httpx
from pydantic import SecretStr

from keystead_sdk import _calls, _identity_calls
from keystead_sdk._audit import AsyncAuditAPI, AuditAPI
from keystead_sdk._backups import AsyncBackupsAPI, BackupsAPI
from keystead_sdk._errors import ConfigurationError, TransportError
from keystead_sdk._identity import AuthAPI, GrantsAPI, PoliciesAPI, RolesAPI, TokensAPI, UsersAPI
from keystead_sdk._identity_async import (
    AsyncAuthAPI,
    AsyncGrantsAPI,
    AsyncPoliciesAPI,
    AsyncRolesAPI,
    AsyncTokensAPI,
    AsyncUsersAPI,
)

if TYPE_CHECKING:
    from datetime import datetime

    from keystead_sdk._calls import Tag
    from keystead_sdk._identity_models import GenerateRootStatus
    from keystead_sdk._models import (
        DataKey,
        Decrypted,
        Encapsulation,
        Encrypted,
        ExportedKey,
        Health,
        ImportParams,
        InitResult,
        Key,
        KeyPage,
        KeyVersions,
        Mac,
        PublicKey,
        SealStatus,
        SharedSecret,
        Signature,
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

    def headers(self, *, anonymous: bool = False) -> dict[str, str]:
        if self.token is None or anonymous:
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


_Send = _calls.Send
_AsyncSend = _calls.AsyncSend


class SysAPI:
    """``client.sys``: initialise, unseal, seal, status, health, keyring, root tokens."""

    def __init__(self, send: _Send) -> None:
        self._send = send

    def init(self, shares: int, threshold: int) -> InitResult:
        """Initialise the server: make the root key and split it into ``shares`` shares."""
        return self._send(_calls.init(shares, threshold))

    def init_recovery(self, recovery_shares: int, recovery_threshold: int) -> InitResult:
        """Initialise a server with the pkcs11 seal: the root key is made in the token.

        The token unseals the server; the answer's ``recovery_shares`` authorise
        generate-root and seal migration.
        """
        return self._send(_calls.init_recovery(recovery_shares, recovery_threshold))

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

    def generate_root(self, share: bytes) -> GenerateRootStatus:
        """Give one unseal share towards a new root token (no token needed).

        Returns:
            The progress; ``root_token`` is set on the answer that completes the quorum.

        Raises:
            ValidationFailed: ``InvalidUnsealShare``.
            InvalidUnsealKey: The shares rebuild a key that does not open this server.
        """
        return self._send(_identity_calls.generate_root(share))

    def reset_generate_root(self) -> GenerateRootStatus:
        """Forget the shares given so far towards a new root token."""
        return self._send(_identity_calls.reset_generate_root())

    def revoke_root(self) -> int:
        """Revoke every root token; return how many were revoked.

        Raises:
            Conflict: ``NoAdmin`` (no enabled admin user would be left to govern the server).
        """
        return self._send(_identity_calls.revoke_root())


class KeysAPI:
    """``client.keys``: keys, their versions and lifecycle, and every cryptographic operation.

    Keys are addressed by id or by name. Byte arguments and results are raw bytes; the SDK
    does the base64 of the wire. Besides the errors listed, every method raises
    ``TransportError`` when the server cannot be reached, ``Unauthenticated`` or
    ``PermissionDenied`` for the token, ``Sealed`` when the server is sealed, and
    ``NotFound`` (``KeyNotFound``) for an unknown key.
    """

    def __init__(self, send: _Send) -> None:
        self._send = send

    def create(  # noqa: PLR0913 - one argument per field of the request
        self,
        name: str,
        spec: str,
        *,
        usage: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        rotation_period_seconds: int | None = None,
        activation_date: datetime | None = None,
        deactivation_date: datetime | None = None,
        exportable: bool = False,
        backup_allowed: bool = True,
        protection: str | None = None,
    ) -> Key:
        """Create a key and its first version.

        Args:
            name: A unique name, 1 to 200 characters.
            spec: The key spec, e.g. ``"AES_256_GCM"``, ``"ED25519"``, ``"ML_KEM_768"``.
            usage: The usage, for specs that have several (RSA: ``"ENCRYPT_DECRYPT"`` or
                ``"SIGN_VERIFY"``; EC_P256: ``"SIGN_VERIFY"`` or ``"KEY_AGREEMENT"``);
                ``None`` lets the server choose the spec's default.
            description: Free text.
            tags: ``name: value`` labels.
            rotation_period_seconds: Rotate automatically this often; ``None`` never.
            activation_date: A future date makes the key PRE_ACTIVE until then
                (timezone-aware).
            deactivation_date: The end of the crypto period (timezone-aware).
            exportable: Whether the material may be exported, wrapped.
            backup_allowed: Whether backups include the key.
            protection: ``"HSM"`` to make the material inside the server's PKCS#11 token
                (the pkcs11 seal), where it stays: never exported or backed up; the
                token does the key's operations. ``None`` or ``"SOFTWARE"``: the barrier.

        Returns:
            The new key.

        Raises:
            Conflict: ``KeyAlreadyExists``.
            ValidationFailed: An unknown spec or usage, or a usage the spec cannot have.
            ValueError: A naive datetime, before anything is sent.
        """
        return self._send(
            _calls.create_key(
                name,
                spec,
                usage=usage,
                description=description,
                tags=tags,
                rotation_period_seconds=rotation_period_seconds,
                activation_date=activation_date,
                deactivation_date=deactivation_date,
                exportable=exportable,
                backup_allowed=backup_allowed,
                protection=protection,
            )
        )

    def get(self, key: str) -> Key:
        """Describe a key by id or name."""
        return self._send(_calls.get_key(key))

    def list(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        state: str | None = None,
        spec: str | None = None,
        tag: Tag | None = None,
    ) -> KeyPage:
        """List keys by name, one page at a time.

        Args:
            limit: The page size, 1 to 1000.
            cursor: ``next_cursor`` of the page before.
            state: Only keys in this state, e.g. ``"ACTIVE"``.
            spec: Only keys of this spec, e.g. ``"ED25519"``.
            tag: Only keys with this tag: ``"NAME=VALUE"`` or ``(name, value)``.

        Returns:
            A page; its ``next_cursor`` is ``None`` on the last page.

        Raises:
            ValidationFailed: A limit out of range, or an unknown state or spec.
            ValueError: A tag without ``=``, before anything is sent.
        """
        return self._send(_calls.list_keys(limit, cursor, state=state, spec=spec, tag=tag))

    def update(  # noqa: PLR0913 - one argument per field of the request
        self,
        key: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        rotation_period_seconds: int | None = None,
        deactivation_date: datetime | None = None,
        min_decryption_version: int | None = None,
    ) -> Key:
        """Change a key's metadata (``PATCH``); only the arguments given are sent.

        Args:
            key: The key's id or name.
            description: The new description.
            tags: The new tags; they replace all the old ones (``{}`` removes them all).
            rotation_period_seconds: The new rotation period; ``0`` turns rotation off.
            deactivation_date: The new end of the crypto period (timezone-aware).
            min_decryption_version: Versions below it stop decrypting and verifying.

        Returns:
            The key as changed.

        Raises:
            ValidationFailed: A value out of range.
            Conflict: The key's state does not allow the change.
            ValueError: A naive datetime, before anything is sent.
        """
        return self._send(
            _calls.update_key(
                key,
                description=description,
                tags=tags,
                rotation_period_seconds=rotation_period_seconds,
                deactivation_date=deactivation_date,
                min_decryption_version=min_decryption_version,
            )
        )

    def versions(self, key: str) -> KeyVersions:
        """Every version of a key, oldest first, with its state and use count."""
        return self._send(_calls.key_versions(key))

    def rotate(self, key: str) -> Key:
        """Add a version and make it primary; older versions still decrypt and verify.

        Raises:
            Conflict: ``KeyStateForbidsOperation`` (the key is not ACTIVE).
        """
        return self._send(_calls.key_action(key, "rotate"))

    def activate(self, key: str) -> Key:
        """PRE_ACTIVE to ACTIVE.

        Raises:
            Conflict: ``InvalidStateTransition`` from any other state.
        """
        return self._send(_calls.key_action(key, "activate"))

    def suspend(self, key: str) -> Key:
        """ACTIVE to SUSPENDED: no operation at all until ``resume``.

        Raises:
            Conflict: ``InvalidStateTransition`` from any other state.
        """
        return self._send(_calls.key_action(key, "suspend"))

    def resume(self, key: str) -> Key:
        """SUSPENDED to ACTIVE.

        Raises:
            Conflict: ``InvalidStateTransition`` from any other state.
        """
        return self._send(_calls.key_action(key, "resume"))

    def deactivate(self, key: str) -> Key:
        """To DEACTIVATED: decrypt and verify old data, protect nothing new.

        Raises:
            Conflict: ``InvalidStateTransition``.
        """
        return self._send(_calls.key_action(key, "deactivate"))

    def revoke(self, key: str, reason: str, compromise_date: datetime | None = None) -> Key:
        """Revoke a key: COMPROMISED for a compromise reason, DEACTIVATED otherwise.

        Args:
            key: The key's id or name.
            reason: ``KEY_COMPROMISE``, ``CA_COMPROMISE``, ``AFFILIATION_CHANGED``,
                ``SUPERSEDED``, ``CESSATION_OF_OPERATION`` or ``UNSPECIFIED``.
            compromise_date: Since when the key is compromised (timezone-aware); the
                server's default is now.

        Returns:
            The key as revoked.

        Raises:
            Conflict: ``InvalidStateTransition``.
            ValidationFailed: An unknown reason.
            ValueError: A naive datetime, before anything is sent.
        """
        return self._send(_calls.revoke(key, reason, compromise_date))

    def schedule_destruction(self, key: str, pending_days: int = 30) -> Key:
        """To DESTROY_PENDING: the material is erased after ``pending_days`` (cancellable).

        Raises:
            Conflict: ``InvalidStateTransition`` (an ACTIVE key must be deactivated first).
            ValidationFailed: ``pending_days`` out of range (1 to 365; 0 only when allowed).
        """
        return self._send(_calls.schedule_destruction(key, pending_days))

    def cancel_destruction(self, key: str) -> Key:
        """DESTROY_PENDING back to the state it came from.

        Raises:
            Conflict: ``InvalidStateTransition`` (no destruction is pending).
        """
        return self._send(_calls.key_action(key, "cancel-destruction"))

    def encrypt(
        self, key: str, plaintext: bytes, context: Mapping[str, str] | None = None
    ) -> Encrypted:
        """Encrypt under the key's primary version; ``context`` is bound as associated data.

        Raises:
            Conflict: ``KeyStateForbidsOperation``.
            ValidationFailed: ``UnsupportedOperation`` (not an encryption key), a plaintext
                too large.
        """
        return self._send(_calls.encrypt(key, plaintext, context))

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str] | None = None) -> Decrypted:
        """Decrypt a Keystead ciphertext with the same ``context`` it was encrypted with.

        Raises:
            InvalidCiphertext: A changed byte, a wrong context, not a Keystead ciphertext.
            Conflict: ``KeyStateForbidsOperation``, ``KeyDestroyed``.
            ValidationFailed: ``KeyVersionTooOld`` (below ``min_decryption_version``).
        """
        return self._send(_calls.decrypt(ciphertext, context))

    def decrypt_with(
        self,
        key: str,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
        version: int | None = None,
    ) -> Decrypted:
        """Decrypt with a named key: RSA-OAEP made with its public key, or its own ciphertext.

        Args:
            key: The key's id or name.
            ciphertext: An RSA-OAEP-SHA256 ciphertext made with the key's public key, or a
                Keystead ciphertext that this key made.
            context: The encryption context (Keystead ciphertexts only).
            version: The RSA key version; the primary one by default.

        Returns:
            The plaintext.

        Raises:
            InvalidCiphertext: The ciphertext does not decrypt, or belongs to another key.
            Conflict: ``KeyStateForbidsOperation``, ``KeyDestroyed``.
            ValidationFailed: ``UnsupportedOperation``, ``KeyVersionTooOld``.
        """
        return self._send(_calls.decrypt_with(key, ciphertext, context, version))

    def reencrypt(
        self,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
        destination_key: str | None = None,
    ) -> Encrypted:
        """Move a ciphertext to the primary version of its key, or of ``destination_key``.

        The plaintext never leaves the server. The request goes to
        ``POST /v1/keys/{key}/reencrypt``, where ``{key}`` is ``destination_key`` when given,
        and otherwise the source key id read from the ciphertext's header (bytes 3 to 19,
        a UUID: ARCHITECTURE.md section 4; see ``ciphertext_key_id``).

        Raises:
            InvalidCiphertext: The source does not decrypt.
            Conflict: ``KeyStateForbidsOperation`` for either key.
            ValueError: No ``destination_key`` and no Keystead header, before anything is sent.
        """
        return self._send(_calls.reencrypt(ciphertext, context, destination_key))

    def data_key(
        self,
        key: str,
        spec: str = "AES_256",
        *,
        plaintext: bool = True,
        context: Mapping[str, str] | None = None,
    ) -> DataKey:
        """Make a fresh data key, wrapped under ``key`` and, unless told not to, in the clear.

        Args:
            key: A symmetric encryption key's id or name.
            spec: ``"AES_128"`` or ``"AES_256"``.
            plaintext: ``False`` returns the wrapped data key only.
            context: The encryption context bound to the wrapped data key.

        Returns:
            The data key; ``keys.decrypt(result.ciphertext, context)`` unwraps it later.

        Raises:
            Conflict: ``KeyStateForbidsOperation``.
            ValidationFailed: ``UnsupportedOperation`` (not a symmetric encryption key).
        """
        return self._send(_calls.data_key(key, spec, plaintext=plaintext, context=context))

    def sign(
        self,
        key: str,
        *,
        message: bytes | None = None,
        digest: bytes | None = None,
        algorithm: str | None = None,
    ) -> Signature:
        """Sign a message, or a digest computed by the caller, with the primary version.

        Args:
            key: A signing key's id or name.
            message: The message; give it or ``digest``, not both.
            digest: The message's hash, of the algorithm's length.
            algorithm: e.g. ``"RSASSA_PSS_SHA_256"``, ``"ECDSA_SHA_384"``; the spec's
                default when ``None``.

        Returns:
            The signature (DER for ECDSA, raw for Ed25519 and ML-DSA, big-endian for RSA).

        Raises:
            UnsupportedAlgorithm: The key cannot sign with ``algorithm``, or digests.
            ValidationFailed: ``UnsupportedOperation`` (not a signing key), a digest of the
                wrong length.
            Conflict: ``KeyStateForbidsOperation``.
            ValueError: Neither or both of message and digest, before anything is sent.
        """
        return self._send(_calls.sign(key, message=message, digest=digest, algorithm=algorithm))

    def sign_batch(
        self, key: str, messages: Sequence[bytes], *, algorithm: str | None = None
    ) -> builtins.list[Signature]:
        """Sign up to 1000 messages with the primary version, in one request.

        Returns:
            One signature per message, in order.

        Raises:
            KeysteadAPIError: The request failed, or an item did (the item's own error, e.g.
                ``Conflict`` for ``KeyStateForbidsOperation``).
            ValueError: No messages, or more than 1000, before anything is sent.
        """
        return self._send(_calls.sign_batch(key, messages, algorithm))

    def verify(  # noqa: PLR0913 - one argument per field of the request
        self,
        key: str,
        signature: bytes,
        *,
        message: bytes | None = None,
        digest: bytes | None = None,
        algorithm: str | None = None,
        version: int | None = None,
    ) -> bool:
        """Return whether ``signature`` is valid over the message or digest.

        Args:
            key: A signing key's id or name.
            signature: The signature, as ``sign`` returns it.
            message: The message; give it or ``digest``, not both.
            digest: The message's hash.
            algorithm: The algorithm it was made with; the spec's default when ``None``.
            version: The key version that signed; the primary one by default.

        Returns:
            ``True`` if valid, ``False`` if not.

        Raises:
            UnsupportedAlgorithm: The key cannot verify with ``algorithm``.
            ValidationFailed: ``UnsupportedOperation``, ``KeyVersionTooOld``.
            Conflict: ``KeyStateForbidsOperation``.
            ValueError: Neither or both of message and digest, before anything is sent.
        """
        return self._send(
            _calls.verify(
                key,
                signature,
                message=message,
                digest=digest,
                algorithm=algorithm,
                version=version,
            )
        )

    def mac(self, key: str, message: bytes) -> Mac:
        """Compute an HMAC of ``message`` with the primary version.

        Raises:
            ValidationFailed: ``UnsupportedOperation`` (not a MAC key).
            Conflict: ``KeyStateForbidsOperation``.
        """
        return self._send(_calls.mac(key, message))

    def mac_verify(self, key: str, message: bytes, mac: bytes, version: int | None = None) -> bool:
        """Return whether ``mac`` is the HMAC of ``message`` (by ``version``, else the primary).

        Raises:
            ValidationFailed: ``UnsupportedOperation``, ``KeyVersionTooOld``.
            Conflict: ``KeyStateForbidsOperation``.
        """
        return self._send(_calls.mac_verify(key, message, mac, version))

    def public_key(
        self,
        key: str,
        format: str = "pem",  # noqa: A002 - the name of the query parameter
        version: int | None = None,
    ) -> PublicKey:
        """Return an asymmetric key version's public key.

        Args:
            key: An asymmetric key's id or name.
            format: ``"pem"`` (``result.pem``, a str), ``"der"`` (``result.der``, bytes) or
                ``"jwk"`` (``result.jwk``, a dict; RFC 7517/8037).
            version: The key version; the primary one by default.

        Returns:
            The public key, in the field named by ``format``.

        Raises:
            ValidationFailed: An unknown format; ``UnsupportedOperation`` (a symmetric key).
            NotFound: ``KeyVersionNotFound``.
        """
        return self._send(_calls.public_key(key, format, version))

    def export_key(
        self,
        key: str,
        *,
        format: str,  # noqa: A002 - the name of the request field
        public_key: str | None = None,
        jwk: Mapping[str, str] | None = None,
        version: int | None = None,
    ) -> ExportedKey:
        """Export one key version's material, wrapped for a recipient's public key.

        The material never leaves the server in the clear: only the holder of the recipient's
        private key can unwrap it. The key must have been created ``exportable=True``, and the
        caller needs a policy that allows ``keys.export`` (no built-in role gives it).

        Args:
            key: The key's id or name.
            format: ``"RSA_AES_KEY_WRAP_SHA_256"`` (RSA-OAEP-SHA256 and AES key wrap with
                padding, RFC 5649), ``"HPKE"`` (RFC 9180) or ``"JWE"`` (compact, RFC 7516).
            public_key: The recipient's SubjectPublicKeyInfo in PEM, for
                ``RSA_AES_KEY_WRAP_SHA_256`` (RSA) and ``HPKE`` (X25519 or MLKEM768X25519).
            jwk: The recipient's public JWK, for ``JWE`` only (RSA, EC P-256/P-384/P-521 or
                OKP X25519); ``keys.public_key(..., format="jwk").jwk`` fits.
            version: The version to export; the primary one by default.

        Returns:
            The wrapped material: ``wrapped_key`` (bytes), or ``jwe`` (text) for ``JWE``.

        Raises:
            PermissionDenied: ``KeyNotExportable`` (the key was not created exportable), or
                no policy allows the caller ``keys.export``.
            InvalidPublicKey: The recipient key cannot be parsed or used for the format.
            UnsupportedAlgorithm: A JWK of a kind JWE export does not support.
            ValidationFailed: An unknown format, or a recipient in the wrong form.
            NotFound: ``KeyVersionNotFound``.
            Conflict: ``KeyStateForbidsOperation``, ``KeyDestroyed``.
            ValueError: No recipient, or ``public_key`` with JWE or ``jwk`` with the other
                formats, before anything is sent.
        """
        return self._send(
            _calls.export_key(key, format, public_key=public_key, jwk=jwk, version=version)
        )

    def import_params(self, spec: str) -> ImportParams:
        """Get a one-use import token and the RSA-3072 public key to wrap BYOK material to.

        The token lasts 24 hours and imports material once. The caller needs a policy that
        allows ``keys.import`` (the built-in ``key-admin`` role has it).

        Args:
            spec: The spec of the material to import, e.g. ``"AES_256_GCM"``, ``"ED25519"``.

        Returns:
            The token (``import_token``, hidden from ``repr``) and the ``public_key`` PEM.

        Raises:
            ValidationFailed: An unknown spec.
        """
        return self._send(_calls.import_params(spec))

    def import_key(  # noqa: PLR0913 - one argument per field of the request
        self,
        import_token: str | SecretStr,
        wrapped_material: bytes,
        *,
        name: str | None = None,
        key: str | None = None,
        valid_to: datetime | None = None,
        usage: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        exportable: bool = False,
        backup_allowed: bool = True,
    ) -> Key:
        """Import material wrapped to ``import_params``' public key, as a key or a new version.

        The material is wrapped on the caller's side with ``RSA_AES_KEY_WRAP_SHA_256``
        (RSA-OAEP-SHA-256 of a fresh AES-256 key, then AES key wrap with padding of the
        material): raw bytes for symmetric and MAC specs, an unencrypted PKCS#8 DER private
        key for asymmetric ones. Give exactly one of ``name`` (a new key of origin EXTERNAL)
        and ``key`` (an ACTIVE key of origin EXTERNAL, whose new primary version the
        material becomes, as a rotation would make it).

        Args:
            import_token: ``import_params(...).import_token``.
            wrapped_material: The wrapped material, raw bytes.
            name: The new key's unique name.
            key: The id or name of the EXTERNAL key to import a new version into.
            valid_to: When the material expires: the server erases it then, and a key left
                with no material is destroyed (timezone-aware, in the future).
            usage: A new key's usage, for specs that have several.
            description: A new key's description.
            tags: A new key's ``name: value`` labels.
            exportable: Whether a new key's material may be exported, wrapped.
            backup_allowed: Whether backups include a new key.

        Returns:
            The key: new, or with the imported version as its primary one.

        Raises:
            ImportTokenInvalid: The token is unknown, expired or already used.
            InvalidCiphertext: The material does not unwrap with the token's wrapping key.
            ValidationFailed: Material that does not fit the token's spec, a token of
                another spec than the key's, a ``valid_to`` in the past;
                ``UnsupportedOperation`` (a key of origin KEYSTEAD).
            Conflict: ``KeyAlreadyExists``; ``KeyStateForbidsOperation`` (the key is not
                ACTIVE).
            ValueError: Neither or both of ``name`` and ``key``, new-key arguments with
                ``key``, or a naive ``valid_to``, before anything is sent.
        """
        return self._send(
            _calls.import_key(
                import_token,
                wrapped_material,
                name=name,
                key=key,
                valid_to=valid_to,
                usage=usage,
                description=description,
                tags=tags,
                exportable=exportable,
                backup_allowed=backup_allowed,
            )
        )

    def encapsulate(self, key: str) -> Encapsulation:
        """ML-KEM: a fresh shared secret and its encapsulation against the key's public key.

        Raises:
            ValidationFailed: ``UnsupportedOperation`` (not an ML-KEM key).
            Conflict: ``KeyStateForbidsOperation``.
        """
        return self._send(_calls.encapsulate(key))

    def decapsulate(
        self, key: str, encapsulation: bytes, version: int | None = None
    ) -> SharedSecret:
        """ML-KEM: recover the shared secret of an encapsulation made against the public key.

        Raises:
            ValidationFailed: ``UnsupportedOperation``, an encapsulation of the wrong size.
            Conflict: ``KeyStateForbidsOperation``.
        """
        return self._send(_calls.decapsulate(key, encapsulation, version))

    def agree(self, key: str, peer_public_key: bytes) -> SharedSecret:
        """X25519 or ECDH (P-256): the shared secret with a peer's public key.

        Args:
            key: A KEY_AGREEMENT key's id or name.
            peer_public_key: PEM or DER SubjectPublicKeyInfo, or 32 raw bytes for X25519.

        Returns:
            The shared secret.

        Raises:
            InvalidPublicKey: The peer key cannot be parsed or is of another curve.
            ValidationFailed: ``UnsupportedOperation`` (not a key agreement key).
            Conflict: ``KeyStateForbidsOperation``.
        """
        return self._send(_calls.agree(key, peer_public_key))


class AsyncSysAPI:
    """``client.sys`` of ``AsyncClient``: the methods of ``SysAPI``, awaited."""

    def __init__(self, send: _AsyncSend) -> None:
        self._send = send

    async def init(self, shares: int, threshold: int) -> InitResult:
        """Initialise the server: make the root key and split it into ``shares`` shares."""
        return await self._send(_calls.init(shares, threshold))

    async def init_recovery(self, recovery_shares: int, recovery_threshold: int) -> InitResult:
        """Initialise a server with the pkcs11 seal; see ``SysAPI.init_recovery``."""
        return await self._send(_calls.init_recovery(recovery_shares, recovery_threshold))

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

    async def generate_root(self, share: bytes) -> GenerateRootStatus:
        """Give one unseal share towards a new root token; see ``SysAPI.generate_root``."""
        return await self._send(_identity_calls.generate_root(share))

    async def reset_generate_root(self) -> GenerateRootStatus:
        """Forget the shares given so far towards a new root token."""
        return await self._send(_identity_calls.reset_generate_root())

    async def revoke_root(self) -> int:
        """Revoke every root token; return how many were revoked."""
        return await self._send(_identity_calls.revoke_root())


class AsyncKeysAPI:
    """``client.keys`` of ``AsyncClient``: the methods of ``KeysAPI``, awaited."""

    def __init__(self, send: _AsyncSend) -> None:
        self._send = send

    async def create(  # noqa: PLR0913 - one argument per field of the request
        self,
        name: str,
        spec: str,
        *,
        usage: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        rotation_period_seconds: int | None = None,
        activation_date: datetime | None = None,
        deactivation_date: datetime | None = None,
        exportable: bool = False,
        backup_allowed: bool = True,
        protection: str | None = None,
    ) -> Key:
        """Create a key and its first version.

        Args:
            name: A unique name, 1 to 200 characters.
            spec: The key spec, e.g. ``"AES_256_GCM"``, ``"ED25519"``, ``"ML_KEM_768"``.
            usage: The usage, for specs that have several (RSA: ``"ENCRYPT_DECRYPT"`` or
                ``"SIGN_VERIFY"``; EC_P256: ``"SIGN_VERIFY"`` or ``"KEY_AGREEMENT"``);
                ``None`` lets the server choose the spec's default.
            description: Free text.
            tags: ``name: value`` labels.
            rotation_period_seconds: Rotate automatically this often; ``None`` never.
            activation_date: A future date makes the key PRE_ACTIVE until then
                (timezone-aware).
            deactivation_date: The end of the crypto period (timezone-aware).
            exportable: Whether the material may be exported, wrapped.
            backup_allowed: Whether backups include the key.
            protection: ``"HSM"`` to make the material inside the server's PKCS#11 token
                (the pkcs11 seal), where it stays: never exported or backed up; the
                token does the key's operations. ``None`` or ``"SOFTWARE"``: the barrier.

        Returns:
            The new key.

        Raises:
            Conflict: ``KeyAlreadyExists``.
            ValidationFailed: An unknown spec or usage, or a usage the spec cannot have.
            ValueError: A naive datetime, before anything is sent.
        """
        return await self._send(
            _calls.create_key(
                name,
                spec,
                usage=usage,
                description=description,
                tags=tags,
                rotation_period_seconds=rotation_period_seconds,
                activation_date=activation_date,
                deactivation_date=deactivation_date,
                exportable=exportable,
                backup_allowed=backup_allowed,
                protection=protection,
            )
        )

    async def get(self, key: str) -> Key:
        """Describe a key by id or name."""
        return await self._send(_calls.get_key(key))

    async def list(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        state: str | None = None,
        spec: str | None = None,
        tag: Tag | None = None,
    ) -> KeyPage:
        """List keys by name, one page at a time.

        Args:
            limit: The page size, 1 to 1000.
            cursor: ``next_cursor`` of the page before.
            state: Only keys in this state, e.g. ``"ACTIVE"``.
            spec: Only keys of this spec, e.g. ``"ED25519"``.
            tag: Only keys with this tag: ``"NAME=VALUE"`` or ``(name, value)``.

        Returns:
            A page; its ``next_cursor`` is ``None`` on the last page.

        Raises:
            ValidationFailed: A limit out of range, or an unknown state or spec.
            ValueError: A tag without ``=``, before anything is sent.
        """
        return await self._send(_calls.list_keys(limit, cursor, state=state, spec=spec, tag=tag))

    async def update(  # noqa: PLR0913 - one argument per field of the request
        self,
        key: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        rotation_period_seconds: int | None = None,
        deactivation_date: datetime | None = None,
        min_decryption_version: int | None = None,
    ) -> Key:
        """Change a key's metadata (``PATCH``); only the arguments given are sent.

        Args:
            key: The key's id or name.
            description: The new description.
            tags: The new tags; they replace all the old ones (``{}`` removes them all).
            rotation_period_seconds: The new rotation period; ``0`` turns rotation off.
            deactivation_date: The new end of the crypto period (timezone-aware).
            min_decryption_version: Versions below it stop decrypting and verifying.

        Returns:
            The key as changed.

        Raises:
            ValidationFailed: A value out of range.
            Conflict: The key's state does not allow the change.
            ValueError: A naive datetime, before anything is sent.
        """
        return await self._send(
            _calls.update_key(
                key,
                description=description,
                tags=tags,
                rotation_period_seconds=rotation_period_seconds,
                deactivation_date=deactivation_date,
                min_decryption_version=min_decryption_version,
            )
        )

    async def versions(self, key: str) -> KeyVersions:
        """Every version of a key, oldest first, with its state and use count."""
        return await self._send(_calls.key_versions(key))

    async def rotate(self, key: str) -> Key:
        """Add a version and make it primary; older versions still decrypt and verify.

        Raises:
            Conflict: ``KeyStateForbidsOperation`` (the key is not ACTIVE).
        """
        return await self._send(_calls.key_action(key, "rotate"))

    async def activate(self, key: str) -> Key:
        """PRE_ACTIVE to ACTIVE.

        Raises:
            Conflict: ``InvalidStateTransition`` from any other state.
        """
        return await self._send(_calls.key_action(key, "activate"))

    async def suspend(self, key: str) -> Key:
        """ACTIVE to SUSPENDED: no operation at all until ``resume``.

        Raises:
            Conflict: ``InvalidStateTransition`` from any other state.
        """
        return await self._send(_calls.key_action(key, "suspend"))

    async def resume(self, key: str) -> Key:
        """SUSPENDED to ACTIVE.

        Raises:
            Conflict: ``InvalidStateTransition`` from any other state.
        """
        return await self._send(_calls.key_action(key, "resume"))

    async def deactivate(self, key: str) -> Key:
        """To DEACTIVATED: decrypt and verify old data, protect nothing new.

        Raises:
            Conflict: ``InvalidStateTransition``.
        """
        return await self._send(_calls.key_action(key, "deactivate"))

    async def revoke(self, key: str, reason: str, compromise_date: datetime | None = None) -> Key:
        """Revoke a key: COMPROMISED for a compromise reason, DEACTIVATED otherwise.

        Args:
            key: The key's id or name.
            reason: ``KEY_COMPROMISE``, ``CA_COMPROMISE``, ``AFFILIATION_CHANGED``,
                ``SUPERSEDED``, ``CESSATION_OF_OPERATION`` or ``UNSPECIFIED``.
            compromise_date: Since when the key is compromised (timezone-aware); the
                server's default is now.

        Returns:
            The key as revoked.

        Raises:
            Conflict: ``InvalidStateTransition``.
            ValidationFailed: An unknown reason.
            ValueError: A naive datetime, before anything is sent.
        """
        return await self._send(_calls.revoke(key, reason, compromise_date))

    async def schedule_destruction(self, key: str, pending_days: int = 30) -> Key:
        """To DESTROY_PENDING: the material is erased after ``pending_days`` (cancellable).

        Raises:
            Conflict: ``InvalidStateTransition`` (an ACTIVE key must be deactivated first).
            ValidationFailed: ``pending_days`` out of range (1 to 365; 0 only when allowed).
        """
        return await self._send(_calls.schedule_destruction(key, pending_days))

    async def cancel_destruction(self, key: str) -> Key:
        """DESTROY_PENDING back to the state it came from.

        Raises:
            Conflict: ``InvalidStateTransition`` (no destruction is pending).
        """
        return await self._send(_calls.key_action(key, "cancel-destruction"))

    async def encrypt(
        self, key: str, plaintext: bytes, context: Mapping[str, str] | None = None
    ) -> Encrypted:
        """Encrypt under the key's primary version; ``context`` is bound as associated data.

        Raises:
            Conflict: ``KeyStateForbidsOperation``.
            ValidationFailed: ``UnsupportedOperation`` (not an encryption key), a plaintext
                too large.
        """
        return await self._send(_calls.encrypt(key, plaintext, context))

    async def decrypt(
        self, ciphertext: bytes, context: Mapping[str, str] | None = None
    ) -> Decrypted:
        """Decrypt a Keystead ciphertext with the same ``context`` it was encrypted with.

        Raises:
            InvalidCiphertext: A changed byte, a wrong context, not a Keystead ciphertext.
            Conflict: ``KeyStateForbidsOperation``, ``KeyDestroyed``.
            ValidationFailed: ``KeyVersionTooOld`` (below ``min_decryption_version``).
        """
        return await self._send(_calls.decrypt(ciphertext, context))

    async def decrypt_with(
        self,
        key: str,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
        version: int | None = None,
    ) -> Decrypted:
        """Decrypt with a named key: RSA-OAEP made with its public key, or its own ciphertext.

        Args:
            key: The key's id or name.
            ciphertext: An RSA-OAEP-SHA256 ciphertext made with the key's public key, or a
                Keystead ciphertext that this key made.
            context: The encryption context (Keystead ciphertexts only).
            version: The RSA key version; the primary one by default.

        Returns:
            The plaintext.

        Raises:
            InvalidCiphertext: The ciphertext does not decrypt, or belongs to another key.
            Conflict: ``KeyStateForbidsOperation``, ``KeyDestroyed``.
            ValidationFailed: ``UnsupportedOperation``, ``KeyVersionTooOld``.
        """
        return await self._send(_calls.decrypt_with(key, ciphertext, context, version))

    async def reencrypt(
        self,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
        destination_key: str | None = None,
    ) -> Encrypted:
        """Move a ciphertext to the primary version of its key, or of ``destination_key``.

        The plaintext never leaves the server. The request goes to
        ``POST /v1/keys/{key}/reencrypt``, where ``{key}`` is ``destination_key`` when given,
        and otherwise the source key id read from the ciphertext's header (bytes 3 to 19,
        a UUID: ARCHITECTURE.md section 4; see ``ciphertext_key_id``).

        Raises:
            InvalidCiphertext: The source does not decrypt.
            Conflict: ``KeyStateForbidsOperation`` for either key.
            ValueError: No ``destination_key`` and no Keystead header, before anything is sent.
        """
        return await self._send(_calls.reencrypt(ciphertext, context, destination_key))

    async def data_key(
        self,
        key: str,
        spec: str = "AES_256",
        *,
        plaintext: bool = True,
        context: Mapping[str, str] | None = None,
    ) -> DataKey:
        """Make a fresh data key, wrapped under ``key`` and, unless told not to, in the clear.

        Args:
            key: A symmetric encryption key's id or name.
            spec: ``"AES_128"`` or ``"AES_256"``.
            plaintext: ``False`` returns the wrapped data key only.
            context: The encryption context bound to the wrapped data key.

        Returns:
            The data key; ``keys.decrypt(result.ciphertext, context)`` unwraps it later.

        Raises:
            Conflict: ``KeyStateForbidsOperation``.
            ValidationFailed: ``UnsupportedOperation`` (not a symmetric encryption key).
        """
        return await self._send(_calls.data_key(key, spec, plaintext=plaintext, context=context))

    async def sign(
        self,
        key: str,
        *,
        message: bytes | None = None,
        digest: bytes | None = None,
        algorithm: str | None = None,
    ) -> Signature:
        """Sign a message, or a digest computed by the caller, with the primary version.

        Args:
            key: A signing key's id or name.
            message: The message; give it or ``digest``, not both.
            digest: The message's hash, of the algorithm's length.
            algorithm: e.g. ``"RSASSA_PSS_SHA_256"``, ``"ECDSA_SHA_384"``; the spec's
                default when ``None``.

        Returns:
            The signature (DER for ECDSA, raw for Ed25519 and ML-DSA, big-endian for RSA).

        Raises:
            UnsupportedAlgorithm: The key cannot sign with ``algorithm``, or digests.
            ValidationFailed: ``UnsupportedOperation`` (not a signing key), a digest of the
                wrong length.
            Conflict: ``KeyStateForbidsOperation``.
            ValueError: Neither or both of message and digest, before anything is sent.
        """
        return await self._send(
            _calls.sign(key, message=message, digest=digest, algorithm=algorithm)
        )

    async def sign_batch(
        self, key: str, messages: Sequence[bytes], *, algorithm: str | None = None
    ) -> builtins.list[Signature]:
        """Sign up to 1000 messages with the primary version, in one request.

        Returns:
            One signature per message, in order.

        Raises:
            KeysteadAPIError: The request failed, or an item did (the item's own error, e.g.
                ``Conflict`` for ``KeyStateForbidsOperation``).
            ValueError: No messages, or more than 1000, before anything is sent.
        """
        return await self._send(_calls.sign_batch(key, messages, algorithm))

    async def verify(  # noqa: PLR0913 - one argument per field of the request
        self,
        key: str,
        signature: bytes,
        *,
        message: bytes | None = None,
        digest: bytes | None = None,
        algorithm: str | None = None,
        version: int | None = None,
    ) -> bool:
        """Return whether ``signature`` is valid over the message or digest.

        Args:
            key: A signing key's id or name.
            signature: The signature, as ``sign`` returns it.
            message: The message; give it or ``digest``, not both.
            digest: The message's hash.
            algorithm: The algorithm it was made with; the spec's default when ``None``.
            version: The key version that signed; the primary one by default.

        Returns:
            ``True`` if valid, ``False`` if not.

        Raises:
            UnsupportedAlgorithm: The key cannot verify with ``algorithm``.
            ValidationFailed: ``UnsupportedOperation``, ``KeyVersionTooOld``.
            Conflict: ``KeyStateForbidsOperation``.
            ValueError: Neither or both of message and digest, before anything is sent.
        """
        return await self._send(
            _calls.verify(
                key,
                signature,
                message=message,
                digest=digest,
                algorithm=algorithm,
                version=version,
            )
        )

    async def mac(self, key: str, message: bytes) -> Mac:
        """Compute an HMAC of ``message`` with the primary version.

        Raises:
            ValidationFailed: ``UnsupportedOperation`` (not a MAC key).
            Conflict: ``KeyStateForbidsOperation``.
        """
        return await self._send(_calls.mac(key, message))

    async def mac_verify(
        self, key: str, message: bytes, mac: bytes, version: int | None = None
    ) -> bool:
        """Return whether ``mac`` is the HMAC of ``message`` (by ``version``, else the primary).

        Raises:
            ValidationFailed: ``UnsupportedOperation``, ``KeyVersionTooOld``.
            Conflict: ``KeyStateForbidsOperation``.
        """
        return await self._send(_calls.mac_verify(key, message, mac, version))

    async def public_key(
        self,
        key: str,
        format: str = "pem",  # noqa: A002 - the name of the query parameter
        version: int | None = None,
    ) -> PublicKey:
        """Return an asymmetric key version's public key.

        Args:
            key: An asymmetric key's id or name.
            format: ``"pem"`` (``result.pem``, a str), ``"der"`` (``result.der``, bytes) or
                ``"jwk"`` (``result.jwk``, a dict; RFC 7517/8037).
            version: The key version; the primary one by default.

        Returns:
            The public key, in the field named by ``format``.

        Raises:
            ValidationFailed: An unknown format; ``UnsupportedOperation`` (a symmetric key).
            NotFound: ``KeyVersionNotFound``.
        """
        return await self._send(_calls.public_key(key, format, version))

    async def export_key(
        self,
        key: str,
        *,
        format: str,  # noqa: A002 - the name of the request field
        public_key: str | None = None,
        jwk: Mapping[str, str] | None = None,
        version: int | None = None,
    ) -> ExportedKey:
        """Export one key version's material, wrapped for a recipient's public key.

        The material never leaves the server in the clear: only the holder of the recipient's
        private key can unwrap it. The key must have been created ``exportable=True``, and the
        caller needs a policy that allows ``keys.export`` (no built-in role gives it).

        Args:
            key: The key's id or name.
            format: ``"RSA_AES_KEY_WRAP_SHA_256"`` (RSA-OAEP-SHA256 and AES key wrap with
                padding, RFC 5649), ``"HPKE"`` (RFC 9180) or ``"JWE"`` (compact, RFC 7516).
            public_key: The recipient's SubjectPublicKeyInfo in PEM, for
                ``RSA_AES_KEY_WRAP_SHA_256`` (RSA) and ``HPKE`` (X25519 or MLKEM768X25519).
            jwk: The recipient's public JWK, for ``JWE`` only (RSA, EC P-256/P-384/P-521 or
                OKP X25519); ``keys.public_key(..., format="jwk").jwk`` fits.
            version: The version to export; the primary one by default.

        Returns:
            The wrapped material: ``wrapped_key`` (bytes), or ``jwe`` (text) for ``JWE``.

        Raises:
            PermissionDenied: ``KeyNotExportable`` (the key was not created exportable), or
                no policy allows the caller ``keys.export``.
            InvalidPublicKey: The recipient key cannot be parsed or used for the format.
            UnsupportedAlgorithm: A JWK of a kind JWE export does not support.
            ValidationFailed: An unknown format, or a recipient in the wrong form.
            NotFound: ``KeyVersionNotFound``.
            Conflict: ``KeyStateForbidsOperation``, ``KeyDestroyed``.
            ValueError: No recipient, or ``public_key`` with JWE or ``jwk`` with the other
                formats, before anything is sent.
        """
        return await self._send(
            _calls.export_key(key, format, public_key=public_key, jwk=jwk, version=version)
        )

    async def import_params(self, spec: str) -> ImportParams:
        """Get a one-use import token and the RSA-3072 public key to wrap BYOK material to.

        The token lasts 24 hours and imports material once. The caller needs a policy that
        allows ``keys.import`` (the built-in ``key-admin`` role has it).

        Args:
            spec: The spec of the material to import, e.g. ``"AES_256_GCM"``, ``"ED25519"``.

        Returns:
            The token (``import_token``, hidden from ``repr``) and the ``public_key`` PEM.

        Raises:
            ValidationFailed: An unknown spec.
        """
        return await self._send(_calls.import_params(spec))

    async def import_key(  # noqa: PLR0913 - one argument per field of the request
        self,
        import_token: str | SecretStr,
        wrapped_material: bytes,
        *,
        name: str | None = None,
        key: str | None = None,
        valid_to: datetime | None = None,
        usage: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        exportable: bool = False,
        backup_allowed: bool = True,
    ) -> Key:
        """Import material wrapped to ``import_params``' public key, as a key or a new version.

        The material is wrapped on the caller's side with ``RSA_AES_KEY_WRAP_SHA_256``
        (RSA-OAEP-SHA-256 of a fresh AES-256 key, then AES key wrap with padding of the
        material): raw bytes for symmetric and MAC specs, an unencrypted PKCS#8 DER private
        key for asymmetric ones. Give exactly one of ``name`` (a new key of origin EXTERNAL)
        and ``key`` (an ACTIVE key of origin EXTERNAL, whose new primary version the
        material becomes, as a rotation would make it).

        Args:
            import_token: ``import_params(...).import_token``.
            wrapped_material: The wrapped material, raw bytes.
            name: The new key's unique name.
            key: The id or name of the EXTERNAL key to import a new version into.
            valid_to: When the material expires: the server erases it then, and a key left
                with no material is destroyed (timezone-aware, in the future).
            usage: A new key's usage, for specs that have several.
            description: A new key's description.
            tags: A new key's ``name: value`` labels.
            exportable: Whether a new key's material may be exported, wrapped.
            backup_allowed: Whether backups include a new key.

        Returns:
            The key: new, or with the imported version as its primary one.

        Raises:
            ImportTokenInvalid: The token is unknown, expired or already used.
            InvalidCiphertext: The material does not unwrap with the token's wrapping key.
            ValidationFailed: Material that does not fit the token's spec, a token of
                another spec than the key's, a ``valid_to`` in the past;
                ``UnsupportedOperation`` (a key of origin KEYSTEAD).
            Conflict: ``KeyAlreadyExists``; ``KeyStateForbidsOperation`` (the key is not
                ACTIVE).
            ValueError: Neither or both of ``name`` and ``key``, new-key arguments with
                ``key``, or a naive ``valid_to``, before anything is sent.
        """
        return await self._send(
            _calls.import_key(
                import_token,
                wrapped_material,
                name=name,
                key=key,
                valid_to=valid_to,
                usage=usage,
                description=description,
                tags=tags,
                exportable=exportable,
                backup_allowed=backup_allowed,
            )
        )

    async def encapsulate(self, key: str) -> Encapsulation:
        """ML-KEM: a fresh shared secret and its encapsulation against the key's public key.

        Raises:
            ValidationFailed: ``UnsupportedOperation`` (not an ML-KEM key).
            Conflict: ``KeyStateForbidsOperation``.
        """
        return await self._send(_calls.encapsulate(key))

    async def decapsulate(
        self, key: str, encapsulation: bytes, version: int | None = None
    ) -> SharedSecret:
        """ML-KEM: recover the shared secret of an encapsulation made against the public key.

        Raises:
            ValidationFailed: ``UnsupportedOperation``, an encapsulation of the wrong size.
            Conflict: ``KeyStateForbidsOperation``.
        """
        return await self._send(_calls.decapsulate(key, encapsulation, version))

    async def agree(self, key: str, peer_public_key: bytes) -> SharedSecret:
        """X25519 or ECDH (P-256): the shared secret with a peer's public key.

        Args:
            key: A KEY_AGREEMENT key's id or name.
            peer_public_key: PEM or DER SubjectPublicKeyInfo, or 32 raw bytes for X25519.

        Returns:
            The shared secret.

        Raises:
            InvalidPublicKey: The peer key cannot be parsed or is of another curve.
            ValidationFailed: ``UnsupportedOperation`` (not a key agreement key).
            Conflict: ``KeyStateForbidsOperation``.
        """
        return await self._send(_calls.agree(key, peer_public_key))


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

    Methods of ``client.sys``, ``client.keys``, ``client.auth``, ``client.tokens``,
    ``client.users``, ``client.roles``, ``client.policies``, ``client.grants``,
    ``client.audit`` and ``client.backups`` raise
    ``TransportError`` when the server cannot be reached and a ``KeysteadAPIError`` subclass
    when it answers with an error.
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
        self.auth = AuthAPI(self._send)
        self.tokens = TokensAPI(self._send)
        self.users = UsersAPI(self._send)
        self.roles = RolesAPI(self._send)
        self.policies = PoliciesAPI(self._send)
        self.grants = GrantsAPI(self._send)
        self.audit = AuditAPI(self._send, self._stream)
        self.backups = BackupsAPI(self._open)

    @property
    def address(self) -> str:
        """The server's URL."""
        return self._settings.address

    def random(self, count: int) -> bytes:
        """Return ``count`` bytes (1 to 1024) from the server's CSPRNG (``POST /v1/random``).

        Raises:
            ValidationFailed: ``count`` out of range.
        """
        return self._send(_calls.random(count))

    def _send(self, call: _calls.Call[T]) -> T:
        try:
            response = self._http.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                headers=self._settings.headers(anonymous=call.anonymous),
            )
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc
        return call.finish(response)

    @contextmanager
    def _stream(self, path: str) -> Iterator[httpx.Response]:
        """A streamed ``GET``, its body not yet read; transport failures, midway too, mapped."""
        try:
            with self._http.stream("GET", path, headers=self._settings.headers()) as response:
                yield response
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc

    @contextmanager
    def _open(  # noqa: PLR0913 - httpx's own options
        self,
        method: str,
        path: str,
        /,
        *,
        json: object = None,
        content: Iterator[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """A streamed request, its answer not yet read; transport failures, midway too, mapped."""
        try:
            with self._http.stream(
                method, path, json=json, content=content, params=params,
                headers={**self._settings.headers(), **(headers or {})},
            ) as response:  # fmt: skip
                yield response
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc

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
        self.auth = AsyncAuthAPI(self._send)
        self.tokens = AsyncTokensAPI(self._send)
        self.users = AsyncUsersAPI(self._send)
        self.roles = AsyncRolesAPI(self._send)
        self.policies = AsyncPoliciesAPI(self._send)
        self.grants = AsyncGrantsAPI(self._send)
        self.audit = AsyncAuditAPI(self._send, self._stream)
        self.backups = AsyncBackupsAPI(self._open)

    @property
    def address(self) -> str:
        """The server's URL."""
        return self._settings.address

    async def random(self, count: int) -> bytes:
        """Return ``count`` bytes (1 to 1024) from the server's CSPRNG (``POST /v1/random``).

        Raises:
            ValidationFailed: ``count`` out of range.
        """
        return await self._send(_calls.random(count))

    async def _send(self, call: _calls.Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                headers=self._settings.headers(anonymous=call.anonymous),
            )
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc
        return call.finish(response)

    @asynccontextmanager
    async def _stream(self, path: str) -> AsyncIterator[httpx.Response]:
        """A streamed ``GET``, its body not yet read; transport failures, midway too, mapped."""
        try:
            async with self._http.stream("GET", path, headers=self._settings.headers()) as response:
                yield response
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc

    @asynccontextmanager
    async def _open(  # noqa: PLR0913 - httpx's own options
        self,
        method: str,
        path: str,
        /,
        *,
        json: object = None,
        content: AsyncIterator[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed request, its answer not yet read; transport failures, midway too, mapped."""
        try:
            async with self._http.stream(
                method, path, json=json, content=content, params=params,
                headers={**self._settings.headers(), **(headers or {})},
            ) as response:  # fmt: skip
                yield response
        except httpx.TransportError as exc:
            raise TransportError(self.address, exc) from exc

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
