"""BYOK: check material a caller brought for a spec and give it Keystead's stored form."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm as _BackendUnsupported
from cryptography.hazmat.primitives import serialization

from keystead.crypto import asymmetric, keygen
from keystead.crypto.keygen import GeneratedKey
from keystead.crypto.secret import KeyMaterial

_PEM_BEGIN = b"-----BEGIN "


def import_material(spec: str, raw: bytes) -> GeneratedKey:
    """Validate unwrapped BYOK material against a spec.

    Symmetric and MAC material must be exactly as long as what Keystead generates for the
    spec; asymmetric material must be an unencrypted PKCS#8 private key of the spec.

    Args:
        spec: A key spec name of ARCHITECTURE.md section 2.
        raw: The unwrapped material.

    Returns:
        The material (re-encoded for asymmetric specs) and its public key, if it has one.

    Raises:
        ValueError: The material does not fit the spec; the message names the spec and
            what it takes, never the material.
    """
    if spec in asymmetric.AsymmetricAlgorithm.__members__:
        algorithm = asymmetric.AsymmetricAlgorithm(spec)
        try:
            material = asymmetric.import_private(algorithm, raw)
        except ValueError:
            msg = f"spec {spec} takes an unencrypted PKCS#8 DER private key of spec {spec}"
            raise ValueError(msg) from None
        return GeneratedKey(material, asymmetric.public_key_der(algorithm, material))
    expected = keygen.material_length(spec)
    if len(raw) != expected:
        msg = f"spec {spec} takes {expected} bytes of material, not {len(raw)}"
        raise ValueError(msg)
    return GeneratedKey(KeyMaterial(raw), None)


def material_to_import(spec: str, data: bytes) -> bytes:
    """Turn the bytes of a material file into what ``POST /v1/keys/import`` takes (client side).

    Symmetric and MAC specs take the raw bytes as they are. Asymmetric specs take a private
    key in DER or PEM (``PRIVATE KEY``, or the ``RSA PRIVATE KEY`` and ``EC PRIVATE KEY``
    forms OpenSSL also writes), given back as unencrypted PKCS#8 DER. Either way the
    material is checked as the server will check it, so that a wrong file costs no token.

    Raises:
        ValueError: The material does not fit the spec, or the PEM cannot be read or is
            encrypted; the message never holds the material.
    """
    if spec in asymmetric.AsymmetricAlgorithm.__members__ and data.lstrip().startswith(_PEM_BEGIN):
        data = _pem_to_pkcs8_der(data)
    checked = import_material(spec, data)
    try:
        with checked.material.expose() as stored:
            return bytes(stored)
    finally:
        checked.material.wipe()


def _pem_to_pkcs8_der(pem: bytes) -> bytes:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:  # an encrypted key, and no password given
        msg = (
            "the PEM private key is encrypted: decrypt it first "
            "(openssl pkcs8 -topk8 -nocrypt -in KEY.pem -out KEY.pk8)"
        )
        raise ValueError(msg) from None
    except (ValueError, _BackendUnsupported):
        msg = "the PEM file holds no private key that can be read"
        raise ValueError(msg) from None
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
