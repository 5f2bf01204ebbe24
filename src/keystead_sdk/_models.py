"""Frozen pydantic models of the server's responses (ARCHITECTURE.md section 6).

Bytes travel as standard base64 strings: a ``str`` given to a bytes field is decoded, and
``bytes`` are kept as they are. Fields that hold secrets (unseal shares, the root token,
plaintexts, data keys, shared secrets) are left out of ``repr`` and ``str``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SecretStr


def _from_base64(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            msg = "not standard base64"
            raise ValueError(msg) from None
    return value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str, when_used="json"),
]
"""Bytes that are standard base64 on the wire."""


class _Model(BaseModel):
    # Unknown fields are ignored: the server may add fields, never rename them (section 6).
    model_config = ConfigDict(frozen=True, extra="ignore")


class SealStatus(_Model):
    """The seal status anyone may read.

    Attributes:
        initialized: Whether the server has a root key.
        sealed: Whether the server holds no keys in memory.
        type: The seal type, e.g. ``"shamir"``.
        shares: How many unseal shares exist.
        threshold: How many shares rebuild the root key.
        progress: How many shares have been given so far towards unsealing.
        version: The server's version.
        recovery_seal: Whether the shares are recovery shares (the pkcs11 seal: the token
            unseals; the shares authorise generate-root and seal migration).
        migration: Whether a seal migration waits for the old seal's shares.
        seal_error: Why a sealed server cannot unseal itself, by the setting at fault.
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


class Health(_Model):
    """Health as Vault reports it; ``status_code`` is 200 unsealed, 503 sealed, 501 uninitialised.

    Attributes:
        initialized: Whether the server has a root key.
        sealed: Whether the server is sealed.
        version: The server's version.
        server_time_utc: The server's clock, in seconds since the Unix epoch.
        status_code: The HTTP status of the answer.
    """

    initialized: bool
    sealed: bool
    version: str
    server_time_utc: int
    status_code: int


class InitResult(_Model):
    """The unseal (or recovery) shares and the root token: shown once, never again.

    Attributes:
        shares: The unseal shares, raw bytes; hidden from ``repr``. Empty with the pkcs11
            seal, where the token unseals.
        root_token: The root token; hidden from ``repr``.
        threshold: How many shares rebuild the root key.
        recovery_shares: With the pkcs11 seal, the recovery shares (generate-root, seal
            migration), raw bytes; hidden from ``repr``.
        recovery_threshold: How many recovery shares make a quorum.
    """

    shares: list[Base64Bytes] = Field(repr=False)
    root_token: SecretStr = Field(repr=False)
    threshold: int
    recovery_shares: list[Base64Bytes] = Field(default_factory=list, repr=False)
    recovery_threshold: int | None = None


class Key(_Model):
    """A key's metadata; never its material.

    Attributes:
        id: The key's id (a UUID).
        name: The key's unique name.
        spec: The key spec, e.g. ``"AES_256_GCM"`` (ARCHITECTURE.md section 2).
        usage: The key usage, e.g. ``"ENCRYPT_DECRYPT"``.
        state: The lifecycle state, e.g. ``"ACTIVE"`` (ARCHITECTURE.md section 3).
        primary_version: The version that encrypts, signs and MACs new data.
        min_decryption_version: Versions below it no longer decrypt or verify.
        description: Free text.
        tags: Free ``name: value`` labels; ``keys.list(tag=...)`` filters on them.
        owner: The principal that owns the key, if any.
        protection: Where the material lives: ``"SOFTWARE"`` or ``"HSM"``.
        origin: Where the material came from, e.g. ``"KEYSTEAD"`` (generated) or imported.
        exportable: Whether the material may be exported (wrapped).
        backup_allowed: Whether backups include this key.
        rotation_period_seconds: The automatic rotation period; ``None`` when off.
        next_rotation_at: When the scheduler rotates the key next; ``None`` when off.
        activation_date: When a PRE_ACTIVE key becomes ACTIVE on its own.
        deactivation_date: The end of the crypto period: the key becomes DEACTIVATED then.
        destruction_date: When a DESTROY_PENDING key is destroyed.
        revocation_reason: Why the key was revoked, e.g. ``"KEY_COMPROMISE"``.
        compromise_date: Since when a revoked key is considered compromised.
        created_at: When the key was created.
        updated_at: When the key last changed.
    """

    id: str
    name: str
    spec: str
    usage: str
    state: str
    primary_version: int
    min_decryption_version: int
    description: str
    tags: dict[str, str]
    owner: str | None
    protection: str
    origin: str
    exportable: bool
    backup_allowed: bool
    rotation_period_seconds: int | None
    next_rotation_at: datetime | None
    activation_date: datetime | None
    deactivation_date: datetime | None
    destruction_date: datetime | None
    revocation_reason: str | None
    compromise_date: datetime | None
    created_at: datetime
    updated_at: datetime


class KeyPage(_Model):
    """One page of keys, ordered by name.

    Attributes:
        keys: The keys of this page.
        next_cursor: Pass it as ``cursor`` to get the next page; ``None`` on the last page.
    """

    keys: list[Key]
    next_cursor: str | None


class Encrypted(_Model):
    """A self-describing ciphertext (ARCHITECTURE.md section 4) and the key version that made it.

    Attributes:
        ciphertext: The ciphertext, raw bytes.
        key_id: The id of the key that encrypted.
        version: The key version that encrypted.
    """

    ciphertext: Base64Bytes
    key_id: str
    version: int


class Decrypted(_Model):
    """A plaintext and the key version that opened it.

    Attributes:
        plaintext: The plaintext, raw bytes; hidden from ``repr``.
        key_id: The id of the key that decrypted.
        version: The key version that decrypted.
    """

    plaintext: Base64Bytes = Field(repr=False)
    key_id: str
    version: int


class KeyVersion(_Model):
    """One version of a key: its state and how much it has been used.

    Attributes:
        version: The version number, from 1.
        state: The version's lifecycle state, capped by the key's.
        primary: Whether this is the key's primary version.
        created_at: When the version was made.
        use_count: How many times it encrypted, signed or MACed.
        last_used_at: When it was last used; ``None`` if never.
        destruction_date: When a DESTROY_PENDING version is destroyed.
        destroyed_at: When its material was erased.
        valid_to: When imported material expires: the server erases it then; ``None`` if
            never.
    """

    version: int
    state: str
    primary: bool
    created_at: datetime
    use_count: int
    last_used_at: datetime | None
    destruction_date: datetime | None
    destroyed_at: datetime | None
    valid_to: datetime | None = None


class KeyVersions(_Model):
    """Every version of a key, oldest first.

    Attributes:
        key_id: The key's id.
        versions: Its versions.
    """

    key_id: str
    versions: list[KeyVersion]


class DataKey(_Model):
    """A fresh data key, wrapped under a Keystead key and, if asked for, in the clear.

    Attributes:
        ciphertext: The wrapped data key, a Keystead ciphertext; ``keys.decrypt`` unwraps it.
        key_id: The id of the key that wrapped it.
        version: The key version that wrapped it.
        plaintext: The data key itself, raw bytes; ``None`` when asked for wrapped only.
            Hidden from ``repr``.
    """

    ciphertext: Base64Bytes
    key_id: str
    version: int
    plaintext: Base64Bytes | None = Field(default=None, repr=False)


class Signature(_Model):
    """A signature and how it was made.

    Attributes:
        signature: Raw bytes: DER for ECDSA, raw for Ed25519 and ML-DSA, big-endian for RSA.
        key_id: The id of the key that signed.
        version: The key version that signed.
        algorithm: The signing algorithm, e.g. ``"ECDSA_SHA_256"``.
    """

    signature: Base64Bytes
    key_id: str
    version: int
    algorithm: str


class Mac(_Model):
    """An HMAC tag and how it was made.

    Attributes:
        mac: The tag, raw bytes.
        key_id: The id of the key that computed it.
        version: The key version that computed it.
        algorithm: The MAC algorithm, e.g. ``"HMAC_SHA256"``.
    """

    mac: Base64Bytes
    key_id: str
    version: int
    algorithm: str


class PublicKey(_Model):
    """A key version's public key, in the format asked for; the other two fields are ``None``.

    Attributes:
        key_id: The key's id.
        version: The key version.
        format: ``"pem"``, ``"der"`` or ``"jwk"``.
        pem: A PEM SubjectPublicKeyInfo (``format="pem"``).
        der: A DER SubjectPublicKeyInfo, raw bytes (``format="der"``).
        jwk: A JSON Web Key, RFC 7517/8037 (``format="jwk"``).
    """

    key_id: str
    version: int
    format: str
    pem: str | None = None
    der: Base64Bytes | None = None
    jwk: dict[str, str] | None = None


class Encapsulation(_Model):
    """A fresh ML-KEM shared secret, and the encapsulation to send to the key's holder.

    Attributes:
        shared_secret: The shared secret, raw bytes; hidden from ``repr``.
        encapsulation: The ML-KEM ciphertext, raw bytes; ``keys.decapsulate`` recovers the
            secret from it.
        key_id: The id of the ML-KEM key.
        version: The key version.
    """

    shared_secret: Base64Bytes = Field(repr=False)
    encapsulation: Base64Bytes
    key_id: str
    version: int


class SharedSecret(_Model):
    """A shared secret from ML-KEM decapsulation or from key agreement.

    Attributes:
        shared_secret: The shared secret, raw bytes; hidden from ``repr``.
        key_id: The id of the key used.
        version: The key version used.
    """

    shared_secret: Base64Bytes = Field(repr=False)
    key_id: str
    version: int


class ExportedKey(_Model):
    """One key version's material, wrapped for the recipient public key given to ``export_key``.

    Only the holder of the recipient's private key can unwrap it. The unwrapped bytes are the
    raw key (symmetric and MAC keys) or an unencrypted PKCS#8 DER private key (``encoding``).

    Attributes:
        key_id: The key's id.
        version: The key version exported.
        spec: The key spec, e.g. ``"HMAC_SHA256"``.
        format: The wrapping format: ``"RSA_AES_KEY_WRAP_SHA_256"``, ``"HPKE"`` or ``"JWE"``.
        encoding: What the unwrapped bytes are: ``"raw"`` or ``"pkcs8-der"``.
        wrapped_key: The wrapped material, raw bytes (``None`` for JWE); hidden from ``repr``.
        jwe: The wrapped material as a compact JWE (``None`` for the other formats); hidden
            from ``repr``.
    """

    key_id: str
    version: int
    spec: str
    format: str
    encoding: str
    # Hidden like the server's own ExportedKey: whoever later obtains the recipient's
    # private key could unwrap whatever a log kept of these.
    wrapped_key: Base64Bytes | None = Field(default=None, repr=False)
    jwe: str | None = Field(default=None, repr=False)


class ImportParams(_Model):
    """What ``keys.import_key`` needs: a one-use token and the public key to wrap material to.

    Wrap the material with ``RSA_AES_KEY_WRAP_SHA_256`` (RSA-OAEP-SHA-256 of a fresh AES-256
    key, then AES key wrap with padding, RFC 5649, of the material under it: the AWS KMS and
    OpenSSL recipe) before the token expires.

    Attributes:
        import_token: The token, shown once; hidden from ``repr``.
        public_key: The RSA-3072 wrapping public key, a SubjectPublicKeyInfo PEM.
        wrapping_algorithm: ``"RSA_AES_KEY_WRAP_SHA_256"``.
        spec: The spec the material must be of.
        expires_at: When the token and its wrapping key expire (24 hours after issue).
    """

    import_token: SecretStr = Field(repr=False)
    public_key: str
    wrapping_algorithm: str
    spec: str
    expires_at: datetime
