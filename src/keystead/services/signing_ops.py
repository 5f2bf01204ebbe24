"""Sign, verify, MAC, public keys, ML-KEM and key agreement: asymmetric and MAC operations."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from keystead.crypto import agreement, asymmetric, jwk, kem, mac, signing
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Principal
from keystead.domain.operations import KeyOperation
from keystead.domain.specs import ASYMMETRIC, KeyUsage
from keystead.errors import (
    KeyVersionNotFound,
    SignatureInvalid,
    UnsupportedAlgorithm,
    UnsupportedOperation,
    ValidationFailed,
)
from keystead.services.hsm_keys import is_hsm
from keystead.services.key_cache import CachedKey
from keystead.services.keys import KeyService
from keystead.services.operations import check_usage, process_version
from keystead.services.usage import UsageMeter
from keystead.types import KeyId


class PublicKeyFormat(StrEnum):
    """How a public key is returned."""

    PEM = "pem"
    DER = "der"
    JWK = "jwk"


@dataclass(frozen=True, slots=True)
class Signed:
    """A signature and how it was made."""

    signature: bytes
    key_id: KeyId
    version: int
    algorithm: str


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A version's public key in the asked-for format."""

    key_id: KeyId
    version: int
    pem: str | None = None
    der: bytes | None = None
    jwk: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A published public key (PEM), with the key's and the version's lifecycle states."""

    key_id: KeyId
    version: int
    primary_version: int
    pem: str
    key_state: KeyState
    version_state: KeyState


@dataclass(frozen=True, slots=True)
class Secret:
    """A shared secret for the caller (ML-KEM or key agreement), with its encapsulation."""

    shared_secret: bytes = field(repr=False)
    key_id: KeyId
    version: int
    encapsulation: bytes | None = None


class SigningService:
    """Operations with asymmetric and MAC keys; private material never leaves this class."""

    def __init__(self, keys: KeyService, meter: UsageMeter) -> None:
        self._keys = keys
        self._meter = meter

    async def sign(
        self,
        principal: Principal,
        reference: str,
        *,
        message: bytes | None,
        digest: bytes | None,
        algorithm: str | None,
    ) -> Signed:
        """Sign a message, or a digest the caller computed, with the primary version.

        Raises:
            UnsupportedOperation: The key is not a signing key.
            UnsupportedAlgorithm: The key cannot sign with ``algorithm`` (or digests).
            ValidationFailed: Neither or both of message and digest, or a digest of the
                wrong length.
            KeyStateForbidsOperation: The key's state does not allow signing.
            HSMError: An HSM-protected key's token fails.
        """
        entry = await self._keys.authorized(principal, "keys.sign", reference)
        spec, scheme = _signing(entry, algorithm)
        entry, version = await self._meter.protect(entry, KeyOperation.SIGN)
        if is_hsm(entry.key):
            signature = await self._keys.hsm.sign(
                entry, version, scheme.value, message=message, digest=digest
            )
            return Signed(signature, entry.key.id, version, scheme.value)
        material = await self._keys.material(entry, version)
        try:
            signature = signing.sign(spec, material, scheme, message=message, digest=digest)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        return Signed(signature, entry.key.id, version, scheme.value)

    async def verify(  # noqa: PLR0913 - the sign arguments plus the signature and version
        self,
        principal: Principal,
        reference: str,
        signature: bytes,
        *,
        message: bytes | None,
        digest: bytes | None,
        algorithm: str | None,
        version: int | None,
    ) -> None:
        """Verify a signature with a version's public key (the primary by default).

        Raises:
            SignatureInvalid: It does not verify.
            UnsupportedOperation: The key is not a signing key.
            KeyStateForbidsOperation: The key's state does not allow verification.
        """
        entry = await self._keys.authorized(principal, "keys.verify", reference)
        spec, scheme = _signing(entry, algorithm)
        chosen = process_version(entry, KeyOperation.VERIFY, version)
        if is_hsm(entry.key):
            valid = await self._keys.hsm.verify(
                entry, chosen, scheme.value, signature, message=message, digest=digest
            )
            if not valid:
                raise SignatureInvalid
            return
        public = await self._keys.public_key(entry, chosen)
        try:
            signing.verify(spec, public, scheme, signature, message=message, digest=digest)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None

    async def mac(self, principal: Principal, reference: str, message: bytes) -> Signed:
        """Compute an HMAC tag with the primary version.

        Raises:
            UnsupportedOperation: The key is not a MAC key.
            KeyStateForbidsOperation: The key's state does not allow it.
        """
        entry = await self._keys.authorized(principal, "keys.mac", reference)
        check_usage(entry.key, KeyUsage.GENERATE_VERIFY_MAC, "compute MACs")
        entry, version = await self._meter.protect(entry, KeyOperation.MAC)
        algorithm = mac.MacAlgorithm(entry.key.spec.value)
        tag = mac.compute(algorithm, await self._keys.material(entry, version), message)
        return Signed(tag, entry.key.id, version, algorithm.value)

    async def mac_verify(
        self, principal: Principal, reference: str, message: bytes, tag: bytes, version: int | None
    ) -> None:
        """Check an HMAC tag in constant time.

        Raises:
            SignatureInvalid: The tag does not match.
            UnsupportedOperation: The key is not a MAC key.
            KeyStateForbidsOperation: The key's state does not allow it.
        """
        entry = await self._keys.authorized(principal, "keys.mac_verify", reference)
        check_usage(entry.key, KeyUsage.GENERATE_VERIFY_MAC, "verify MACs")
        chosen = process_version(entry, KeyOperation.MAC_VERIFY, version)
        algorithm = mac.MacAlgorithm(entry.key.spec.value)
        mac.verify(algorithm, await self._keys.material(entry, chosen), message, tag)

    async def public_key(
        self, principal: Principal, reference: str, form: PublicKeyFormat, version: int | None
    ) -> PublicKey:
        """Return a version's public key as PEM, DER or JWK (RFC 7517/8037).

        Raises:
            UnsupportedOperation: A symmetric key has no public key.
            UnsupportedAlgorithm: No JWK form for the spec (ML-DSA, ML-KEM).
            KeyVersionNotFound: No such version.
        """
        entry = await self._keys.authorized(principal, "keys.public_key", reference)
        key = entry.key
        if key.spec not in ASYMMETRIC:
            msg = f"a key of spec {key.spec} is symmetric and has no public key"
            raise UnsupportedOperation(msg)
        chosen = key.primary_version if version is None else version
        der = await self._keys.public_key(entry, chosen)
        spec = asymmetric.AsymmetricAlgorithm(key.spec.value)
        if form is PublicKeyFormat.JWK:
            return PublicKey(
                key.id, chosen, jwk=jwk.public_jwk(spec, der, kid=f"{key.id}/{chosen}")
            )
        if form is PublicKeyFormat.DER:
            return PublicKey(key.id, chosen, der=der)
        return PublicKey(key.id, chosen, pem=asymmetric.der_to_pem(der))

    async def published_public_key(self, reference: str, version: int | None) -> PublishedKey:
        """Return a version (the primary by default) of a key whose public half is published.

        For users' own keys, whose public keys every authenticated principal may read; the
        states say whether a signature by that version should still be accepted.

        Raises:
            KeyNotFound: No such key.
            KeyVersionNotFound: No such version.
            UnsupportedOperation: A symmetric key has no public key.
        """
        entry = await self._keys.resolve(reference)
        key = entry.key
        if key.spec not in ASYMMETRIC:  # pragma: no cover - users' keys are asymmetric
            msg = f"a key of spec {key.spec} is symmetric and has no public key"
            raise UnsupportedOperation(msg)
        chosen = key.primary_version if version is None else version
        version_state = entry.version_states.get(chosen)
        if version_state is None:
            raise KeyVersionNotFound
        der = await self._keys.public_key(entry, chosen)
        return PublishedKey(
            key_id=key.id, version=chosen, primary_version=key.primary_version,
            pem=asymmetric.der_to_pem(der), key_state=key.state, version_state=version_state,
        )  # fmt: skip

    async def encapsulate(self, principal: Principal, reference: str) -> Secret:
        """Make a shared secret and its ML-KEM encapsulation with the primary version.

        Raises:
            UnsupportedOperation: The key is not an ML-KEM key.
            KeyStateForbidsOperation: The key's state does not allow it.
        """
        entry = await self._keys.authorized(principal, "keys.encapsulate", reference)
        check_usage(entry.key, KeyUsage.KEY_ENCAPSULATION, "encapsulate")
        entry, version = await self._meter.protect(entry, KeyOperation.WRAP)
        spec = asymmetric.AsymmetricAlgorithm(entry.key.spec.value)
        secret, encapsulation = kem.encapsulate(spec, await self._keys.public_key(entry, version))
        with secret.expose() as raw:
            return Secret(raw, entry.key.id, version, encapsulation)

    async def decapsulate(
        self, principal: Principal, reference: str, encapsulation: bytes, version: int | None
    ) -> Secret:
        """Recover the shared secret of an ML-KEM encapsulation.

        Raises:
            DecryptionFailed: A malformed encapsulation.
            UnsupportedOperation: The key is not an ML-KEM key.
        """
        entry = await self._keys.authorized(principal, "keys.decapsulate", reference)
        check_usage(entry.key, KeyUsage.KEY_ENCAPSULATION, "decapsulate")
        chosen = process_version(entry, KeyOperation.UNWRAP, version)
        spec = asymmetric.AsymmetricAlgorithm(entry.key.spec.value)
        material = await self._keys.material(entry, chosen)
        secret = kem.decapsulate(spec, material, encapsulation)
        with secret.expose() as raw:
            return Secret(raw, entry.key.id, chosen)

    async def agree(self, principal: Principal, reference: str, peer_public_key: bytes) -> Secret:
        """Derive the X25519 / ECDH shared secret with a peer's public key.

        Raises:
            InvalidPublicKey: The peer key is malformed or on another curve.
            UnsupportedOperation: The key is not a key-agreement key.
        """
        entry = await self._keys.authorized(principal, "keys.agree", reference)
        check_usage(entry.key, KeyUsage.KEY_AGREEMENT, "agree on keys")
        entry, version = await self._meter.protect(entry, KeyOperation.WRAP)
        spec = asymmetric.AsymmetricAlgorithm(entry.key.spec.value)
        material = await self._keys.material(entry, version)
        secret = agreement.derive_shared_secret(spec, material, peer_public_key)
        with secret.expose() as raw:
            return Secret(raw, entry.key.id, version)


def _signing(
    entry: CachedKey, algorithm: str | None
) -> tuple[asymmetric.AsymmetricAlgorithm, signing.SigningAlgorithm]:
    check_usage(entry.key, KeyUsage.SIGN_VERIFY, "sign or verify")
    spec = asymmetric.AsymmetricAlgorithm(entry.key.spec.value)
    if algorithm is None:
        return spec, signing.default_signing_algorithm(spec)
    allowed = signing.allowed_signing_algorithms(spec)
    if algorithm not in {member.value for member in allowed}:
        names = ", ".join(member.value for member in allowed)
        msg = f"a key of spec {spec} signs with {names}, not {algorithm}"
        raise UnsupportedAlgorithm(msg)
    return spec, signing.SigningAlgorithm(algorithm)
