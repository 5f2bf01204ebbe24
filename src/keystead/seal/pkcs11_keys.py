"""HSM-protected keys: key versions generated, used and destroyed inside the PKCS#11 token.

Each version is one token object (two for a key pair) with ``CKA_TOKEN``, ``CKA_SENSITIVE``
and ``CKA_PRIVATE`` true and ``CKA_EXTRACTABLE`` false. Its ``CKA_ID`` is the key id (16
bytes), the version (u32 big-endian) and 4 random bytes, and its label is
``keystead/<key id>/v<version>``, so a token object names the key version it belongs to; the
random part keeps apart the objects of two rotations racing for one version number (the
loser destroys its own, never the winner's).
Symmetric versions keep Keystead's ciphertext (``keystead.crypto.envelope``): the token does
the AES-GCM under a random 96-bit nonce with the header and context as associated data.
Public keys are read once at generation, as SubjectPublicKeyInfo DER. Every call blocks:
callers run them off the event loop.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass, Session
from pkcs11 import exceptions as p11
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin, Key, SignMixin, VerifyMixin
from pkcs11.util.ec import (
    decode_ecdsa_signature,
    encode_ec_public_key,
    encode_ecdsa_signature,
)
from pkcs11.util.ec import encode_named_curve_parameters as curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from keystead.crypto.envelope import EnvelopeHeader, canonical_context, parse_header
from keystead.crypto.random import random_bytes
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import DecryptionFailed, HSMError, UnsupportedAlgorithm, ValidationFailed
from keystead.seal.pkcs11 import REJECTED, one_shot
from keystead.seal.pkcs11_library import describe
from keystead.seal.pkcs11_token import PKCS11Token

__all__ = ["HSM_SPECS", "HSMKeyStore", "object_id"]

T = TypeVar("T")

_NONCE_BYTES: Final = 12
_ID_SUFFIX_BYTES: Final = 4
_TAG_BITS: Final = 128
_TAG_BYTES: Final = 16
# The envelope's algorithm ids (keystead.crypto.symmetric): the same as software keys'.
_GCM_IDS: Final[Mapping[KeySpec, int]] = {KeySpec.AES_256_GCM: 0x01, KeySpec.AES_128_GCM: 0x02}
_AES_BITS: Final[Mapping[KeySpec, int]] = {KeySpec.AES_256_GCM: 256, KeySpec.AES_128_GCM: 128}
_RSA_BITS: Final[Mapping[KeySpec, int]] = {
    KeySpec.RSA_2048: 2048, KeySpec.RSA_3072: 3072, KeySpec.RSA_4096: 4096,
}  # fmt: skip
_CURVES: Final[Mapping[KeySpec, str]] = {KeySpec.EC_P256: "secp256r1", KeySpec.EC_P384: "secp384r1"}
_ED25519_OID: Final = "1.3.101.112"  # RFC 8410 id-Ed25519, as PKCS#11 v3.0 CKA_EC_PARAMS
# AlgorithmIdentifier DER: rsaEncryption with NULL parameters (RFC 8017 appendix C), and
# id-Ed25519 with none (RFC 8410 section 3).
_RSA_ALGORITHM: Final = bytes.fromhex("300d06092a864886f70d0101010500")
_ED25519_ALGORITHM: Final = bytes.fromhex("300506032b6570")

_M = Mechanism
_OAEP: Final = (_M.SHA256, MGF.SHA256, None)  # OAEP-SHA-256, MGF1-SHA-256, no label
_NO_OAEP: Final = (
    "this token cannot do RSA-OAEP with SHA-256, so an HSM-protected RSA key cannot be for "
    "ENCRYPT_DECRYPT here; it can be for SIGN_VERIFY. Specs this token can do: {names}"
)
# What the token must offer for each spec an HSM key can have (PKCS#11 v2.40 / v3.0).
_NEEDS: Final[Mapping[KeySpec, frozenset[Mechanism]]] = {
    **{spec: frozenset({_M.AES_KEY_GEN, _M.AES_GCM}) for spec in _AES_BITS},
    **{
        spec: frozenset({_M.RSA_PKCS_KEY_PAIR_GEN, _M.RSA_PKCS, _M.RSA_PKCS_PSS, _M.RSA_PKCS_OAEP})
        for spec in _RSA_BITS
    },
    **{spec: frozenset({_M.EC_KEY_PAIR_GEN, _M.ECDSA}) for spec in _CURVES},
    KeySpec.ED25519: frozenset({_M.EC_EDWARDS_KEY_PAIR_GEN, _M.EDDSA}),
}
HSM_SPECS: Final = frozenset(_NEEDS)
"""Every spec an HSM key may have, if the token offers its mechanisms."""

# Signing: the token signs a digest Keystead computes (hashlib), so a message and a caller's
# digest take the same path. DigestInfo prefixes of RFC 8017 section 9.2 note 1.
_HASHES: Final[Mapping[str, tuple[str, Mechanism, MGF, bytes]]] = {
    "SHA_256": ("sha256", _M.SHA256, MGF.SHA256,
                bytes.fromhex("3031300d060960864801650304020105000420")),
    "SHA_384": ("sha384", _M.SHA384, MGF.SHA384,
                bytes.fromhex("3041300d060960864801650304020205000430")),
    "SHA_512": ("sha512", _M.SHA512, MGF.SHA512,
                bytes.fromhex("3051300d060960864801650304020305000440")),
}  # fmt: skip
_SIGNING: Final[Mapping[KeySpec, tuple[str, ...]]] = {
    **{spec: tuple(f"RSASSA_{pad}_{h}" for pad in ("PSS", "PKCS1_V1_5") for h in _HASHES)
       for spec in _RSA_BITS},
    KeySpec.EC_P256: ("ECDSA_SHA_256",),
    KeySpec.EC_P384: ("ECDSA_SHA_384",),
    KeySpec.ED25519: ("ED25519",),
}  # fmt: skip


def object_id(key_id: uuid.UUID, version: int) -> bytes:
    """The start of a version's ``CKA_ID``: key id (16 bytes) | version (u32 BE)."""
    return key_id.bytes + version.to_bytes(4, "big")


def _label(key_id: uuid.UUID, version: int) -> str:
    return f"keystead/{key_id}/v{version}"


class HSMKeyStore:
    """The token objects of HSM-protected key versions, in the pkcs11 seal's token."""

    __slots__ = ("_oaep", "_supported", "token")

    def __init__(self, token: PKCS11Token) -> None:
        self.token = token
        self._supported: frozenset[KeySpec] | None = None
        self._oaep: bool | None = None
        """Whether the token does RSA-OAEP with SHA-256 (learnt with the first such key)."""

    def __repr__(self) -> str:
        return f"HSMKeyStore(token={self.token!r})"

    def supported_specs(self) -> frozenset[KeySpec]:
        """The specs whose mechanisms the token offers (asked once, then remembered).

        Raises:
            HSMError: The token cannot be reached.
        """
        if self._supported is None:

            def operation(session: Session) -> set[Mechanism]:
                return set(session.token.slot.get_mechanisms())

            try:
                offered = self.token.run(operation, "listing the token's mechanisms")
            except p11.PKCS11Error as exc:
                raise describe(exc, "listing the token's mechanisms") from None
            self._supported = frozenset(s for s, needs in _NEEDS.items() if needs <= offered)
        return self._supported

    def check_spec(self, spec: KeySpec, usage: KeyUsage) -> None:
        """Refuse a spec (or RSA usage) the token cannot do; the message names what it can.

        Raises:
            UnsupportedAlgorithm: The spec is not one of the token's.
            HSMError: The token cannot be reached.
        """
        supported = self.supported_specs()
        names = ", ".join(sorted(supported))
        if spec not in supported:
            msg = f"an HSM-protected key cannot have spec {spec}; this token can do: {names}"
            raise UnsupportedAlgorithm(msg)
        if spec in _RSA_BITS and usage is KeyUsage.ENCRYPT_DECRYPT and self._oaep is False:
            raise UnsupportedAlgorithm(_NO_OAEP.format(names=names))

    def generate(
        self, spec: KeySpec, usage: KeyUsage, key_id: uuid.UUID, version: int
    ) -> tuple[bytes, bytes | None]:
        """Generate a version's key inside the token.

        Returns:
            The objects' ``CKA_ID`` and, for a key pair, the public key (SPKI DER).

        Raises:
            UnsupportedAlgorithm: The token cannot make keys of this spec.
            HSMError: The token fails.
        """
        self.check_spec(spec, usage)
        ident = object_id(key_id, version) + random_bytes(_ID_SUFFIX_BYTES)
        label = _label(key_id, version)

        def operation(session: Session) -> bytes | None:
            return _generate(session, spec, usage, ident, label)

        public = self._run(operation, "generating an HSM key")
        if spec in _RSA_BITS and usage is KeyUsage.ENCRYPT_DECRYPT and not self._oaep:
            self._check_oaep(ident)
        return ident, public

    def _check_oaep(self, ident: bytes) -> None:
        """Try RSA-OAEP-SHA-256 with the new key; if the token cannot, destroy it and refuse.

        SoftHSM2 2.6 does OAEP with SHA-1 only (it answers CKR_ARGUMENTS_BAD), and Keystead's
        RSA ciphertexts are OAEP with SHA-256 (keystead.crypto.rsa_oaep).
        """

        def operation(session: Session) -> bool:
            key = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=ident)
            if not isinstance(key, EncryptMixin):  # pragma: no cover - made with CKA_ENCRYPT
                raise p11.KeyTypeInconsistent
            try:
                key.encrypt(b"keystead", mechanism=_M.RSA_PKCS_OAEP, mechanism_param=_OAEP)
            except (p11.ArgumentsBad, p11.MechanismParamInvalid):
                return False
            return True  # pragma: no cover - SoftHSM2 2.6, the tests' token, cannot

        self._oaep = self._run(operation, "checking RSA-OAEP in the token")
        if not self._oaep:
            self.destroy(ident)
            raise UnsupportedAlgorithm(
                _NO_OAEP.format(names=", ".join(sorted(self.supported_specs())))
            )

    def encrypt(
        self, spec: KeySpec, ident: bytes, header: tuple[uuid.UUID, int], plaintext: bytes,
        context: Mapping[str, str],
    ) -> bytes:  # fmt: skip
        """Encrypt into the section 4 envelope with AES-GCM in the token.

        Raises:
            HSMError: The token fails, or holds no such object.
        """
        nonce = random_bytes(_NONCE_BYTES)
        prefix = EnvelopeHeader(header[0], header[1], _GCM_IDS[spec]).pack() + nonce
        params = GCMParams(nonce, prefix + canonical_context(context), _TAG_BITS)

        def operation(session: Session) -> bytes:
            key = _secret(session, ident)
            if not isinstance(key, EncryptMixin):  # pragma: no cover - made with CKA_ENCRYPT
                raise p11.KeyTypeInconsistent
            return one_shot(key.encrypt(plaintext, mechanism=_M.AES_GCM, mechanism_param=params))

        return prefix + self._run(operation, "encrypting with an HSM key")

    def decrypt(
        self, spec: KeySpec, ident: bytes, ciphertext: bytes, context: Mapping[str, str]
    ) -> bytes:
        """Decrypt an envelope made by :meth:`encrypt`.

        Raises:
            DecryptionFailed: Another header or algorithm, other context, any changed byte.
            HSMError: The token fails, or holds no such object.
        """
        header = parse_header(ciphertext)
        split = len(header.pack()) + _NONCE_BYTES
        if header.algorithm_id != _GCM_IDS[spec] or len(ciphertext) < split + _TAG_BYTES:
            raise DecryptionFailed
        aad = ciphertext[:split] + canonical_context(context)
        params = GCMParams(ciphertext[split - _NONCE_BYTES : split], aad, _TAG_BITS)

        def operation(session: Session) -> bytes:
            key = _secret(session, ident)
            if not isinstance(key, DecryptMixin):  # pragma: no cover - made with CKA_DECRYPT
                raise p11.KeyTypeInconsistent
            try:
                return one_shot(key.decrypt(ciphertext[split:], mechanism=_M.AES_GCM,
                                             mechanism_param=params))  # fmt: skip
            except REJECTED:
                raise DecryptionFailed from None

        return self._run(operation, "decrypting with an HSM key")

    def rsa_decrypt(self, ident: bytes, ciphertext: bytes) -> bytes:  # pragma: no cover
        # Not reached with SoftHSM2 2.6: it has no OAEP-SHA-256, so no such key is made there.
        """RSA-OAEP (SHA-256, MGF1-SHA-256, no label) decryption in the token.

        Raises:
            DecryptionFailed: Not a ciphertext of this key.
            HSMError: The token fails, or holds no such object.
        """

        def operation(session: Session) -> bytes:
            key = _private(session, ident, KeySpec.RSA_2048)  # any RSA spec: the type
            if not isinstance(key, DecryptMixin):  # pragma: no cover - made with CKA_DECRYPT
                raise p11.KeyTypeInconsistent
            try:
                return one_shot(key.decrypt(ciphertext, mechanism=_M.RSA_PKCS_OAEP,
                                             mechanism_param=_OAEP))  # fmt: skip
            except (*REJECTED, p11.EncryptedDataInvalid):
                raise DecryptionFailed from None

        return self._run(operation, "decrypting with an HSM key")

    def sign(
        self, spec: KeySpec, ident: bytes, algorithm: str, *, message: bytes | None,
        digest: bytes | None,
    ) -> bytes:  # fmt: skip
        """Sign a message, or a caller's digest, in the token (formats as for software keys).

        Raises:
            UnsupportedAlgorithm: The spec does not sign with ``algorithm``, or got a digest
                it cannot sign (Ed25519 signs whole messages).
            ValidationFailed: Not exactly one of message and digest, or a digest of the
                wrong length.
            HSMError: The token fails, or holds no such object.
        """
        allowed = _SIGNING.get(spec, ())
        if algorithm not in allowed:
            msg = f"a key of spec {spec} signs with {', '.join(allowed)}, not {algorithm}"
            raise UnsupportedAlgorithm(msg)
        if (message is None) == (digest is None):
            msg = "give exactly one of message or digest"
            raise ValidationFailed(msg)
        mechanism, param, data, der = _signing_input(spec, algorithm, message, digest)

        def operation(session: Session) -> bytes:
            key = _private(session, ident, spec)
            if not isinstance(key, SignMixin):  # pragma: no cover - made with CKA_SIGN
                raise p11.KeyTypeInconsistent
            return key.sign(data, mechanism=mechanism, mechanism_param=param)

        signature = self._run(operation, "signing with an HSM key")
        return encode_ecdsa_signature(signature) if der else signature

    def verify(  # noqa: PLR0913 - the sign arguments plus the signature
        self, spec: KeySpec, ident: bytes, algorithm: str, signature: bytes, *,
        message: bytes | None, digest: bytes | None,
    ) -> bool:  # fmt: skip
        """Whether a signature (in the formats sign gives) verifies, checked in the token.

        Raises:
            UnsupportedAlgorithm: As for :meth:`sign`.
            ValidationFailed: As for :meth:`sign`.
            HSMError: The token fails, or holds no such object.
        """
        allowed = _SIGNING.get(spec, ())
        if algorithm not in allowed:
            msg = f"a key of spec {spec} verifies {', '.join(allowed)}, not {algorithm}"
            raise UnsupportedAlgorithm(msg)
        if (message is None) == (digest is None):
            msg = "give exactly one of message or digest"
            raise ValidationFailed(msg)
        mechanism, param, data, der = _signing_input(spec, algorithm, message, digest)
        if der:
            try:
                signature = decode_ecdsa_signature(signature)
            except (ValueError, TypeError, IndexError):
                return False  # not a DER ECDSA signature: it verifies nothing

        def operation(session: Session) -> bool:
            key = _find(session, ident, ObjectClass.PUBLIC_KEY, _key_type(spec))
            if not isinstance(key, VerifyMixin):  # pragma: no cover - made with CKA_VERIFY
                raise p11.KeyTypeInconsistent
            try:
                return bool(key.verify(data, signature, mechanism=mechanism, mechanism_param=param))
            except (p11.SignatureInvalid, p11.SignatureLenRange):
                return False

        return self._run(operation, "verifying with an HSM key")

    def destroy(self, ident: bytes) -> None:
        """Destroy every token object of a version (none left is no error).

        Raises:
            HSMError: The token fails.
        """

        def operation(session: Session) -> None:
            for found in list(session.get_objects({Attribute.ID: ident})):
                found.destroy()

        self._run(operation, "destroying an HSM key")

    def _run(self, operation: Callable[[Session], T], doing: str) -> T:
        try:
            return self.token.run(operation, doing)
        except _MissingObjectError:
            msg = "the token holds no object for this HSM key version (deleted outside Keystead?)"
            raise HSMError(msg, operator_detail=doing, retry=False) from None
        except p11.PKCS11Error as exc:
            raise describe(exc, doing) from None


class _MissingObjectError(Exception):
    """No token object has the version's ``CKA_ID``: not a token failure, so never retried."""


def _find(session: Session, ident: bytes, object_class: ObjectClass, key_type: KeyType) -> Key:
    # The search names the key type the spec needs: a row whose spec was altered finds no
    # object, rather than handing the token a mechanism for another key type (SoftHSM2 2.6
    # crashes the process on an RSA-PSS signature asked of an EC key).
    try:
        return session.get_key(object_class=object_class, key_type=key_type, id=ident)
    except p11.NoSuchKey:
        raise _MissingObjectError from None


def _key_type(spec: KeySpec) -> KeyType:
    if spec in _RSA_BITS:
        return KeyType.RSA
    return KeyType.EC_EDWARDS if spec is KeySpec.ED25519 else KeyType.EC


def _secret(session: Session, ident: bytes) -> Key:
    return _find(session, ident, ObjectClass.SECRET_KEY, KeyType.AES)


def _private(session: Session, ident: bytes, spec: KeySpec) -> Key:
    return _find(session, ident, ObjectClass.PRIVATE_KEY, _key_type(spec))


def _kept_inside(usage_flags: Mapping[Attribute, bool]) -> dict[Attribute, bool]:
    """The template of a key that stays in the token: stored, private, never readable."""
    return {
        Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False, Attribute.UNWRAP: False, Attribute.DERIVE: False,
        **usage_flags,
    }  # fmt: skip


def _generate(
    session: Session, spec: KeySpec, usage: KeyUsage, ident: bytes, label: str
) -> bytes | None:
    """Make the version's object(s); return the public key of a pair (SPKI DER)."""
    if spec in _AES_BITS:
        flags = {Attribute.ENCRYPT: True, Attribute.DECRYPT: True, Attribute.WRAP: False,
                 Attribute.SIGN: False, Attribute.VERIFY: False}  # fmt: skip
        session.generate_key(KeyType.AES, _AES_BITS[spec], id=ident, label=label, store=True,
                             template=_kept_inside(flags))  # fmt: skip
        return None
    decrypts = usage is KeyUsage.ENCRYPT_DECRYPT
    private = _kept_inside({Attribute.SIGN: not decrypts})
    public = {Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.VERIFY: not decrypts}
    if spec in _RSA_BITS:
        # Only RSA keys decrypt; EC and Edwards keys refuse the attribute (SoftHSM2).
        private[Attribute.DECRYPT] = decrypts
        public |= {Attribute.ENCRYPT: decrypts, Attribute.WRAP: False}
        pub, _ = session.generate_keypair(
            KeyType.RSA, _RSA_BITS[spec], id=ident, label=label, store=True,
            public_template=public, private_template=private,
        )  # fmt: skip
        return _spki(_RSA_ALGORITHM, encode_rsa_public_key(pub))
    edwards = spec is KeySpec.ED25519
    curve = _ED25519_OID if edwards else _CURVES[spec]
    key_type = KeyType.EC_EDWARDS if edwards else KeyType.EC
    domain = session.create_domain_parameters(
        key_type, {Attribute.EC_PARAMS: curve_parameters(curve)}, local=True
    )
    pub, _ = domain.generate_keypair(id=ident, label=label, store=True,
                                     public_template=public, private_template=private)  # fmt: skip
    if not edwards:
        return bytes(encode_ec_public_key(pub))
    # CKA_EC_POINT of an Edwards key is the DER OCTET STRING of its 32 bytes (v3.0 2.3.6).
    return _spki(_ED25519_ALGORITHM, bytes(pub[Attribute.EC_POINT])[-32:])


def _spki(algorithm: bytes, public_key: bytes) -> bytes:
    """SubjectPublicKeyInfo DER (RFC 5280 section 4.1): the algorithm and the key's bits."""
    return _der(0x30, algorithm + _der(0x03, b"\x00" + public_key))


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:  # noqa: PLR2004 - X.690 section 8.1.3.4: the short form
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _signing_input(
    spec: KeySpec, algorithm: str, message: bytes | None, digest: bytes | None
) -> tuple[Mechanism, object, bytes, bool]:
    """The mechanism, its parameter, the data for the token, and whether to DER-encode."""
    if spec is KeySpec.ED25519:
        if message is None:
            msg = f"{spec} keys sign whole messages only, not digests: send the message"
            raise UnsupportedAlgorithm(msg)
        return _M.EDDSA, None, message, False
    name, hash_mechanism, mgf, digest_info = _HASHES[algorithm[-7:]]
    if digest is None:
        digest = hashlib.new(name, message or b"").digest()
    size = hashlib.new(name).digest_size
    if len(digest) != size:
        msg = f"{algorithm} needs a {size}-byte {name.upper()} digest, got {len(digest)} bytes"
        raise ValidationFailed(msg)
    if algorithm.startswith("ECDSA"):
        return _M.ECDSA, None, digest, True
    if algorithm.startswith("RSASSA_PSS"):
        # MGF1 with the message hash and a salt as long as the hash (crypto.signing).
        return _M.RSA_PKCS_PSS, (hash_mechanism, mgf, size), digest, False
    return _M.RSA_PKCS, None, digest_info + digest, False
