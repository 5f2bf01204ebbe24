"""BYOK: check material a caller brought for a spec and give it Keystead's stored form."""

from __future__ import annotations

from keystead.crypto import asymmetric, keygen
from keystead.crypto.keygen import GeneratedKey
from keystead.crypto.secret import KeyMaterial


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
