"""Generate the material of a new key version for any spec, with its public key if it has one."""

from __future__ import annotations

from dataclasses import dataclass, field

from keystead.crypto import asymmetric, mac, symmetric
from keystead.crypto.secret import KeyMaterial


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """Fresh private material and, for asymmetric specs, the SubjectPublicKeyInfo DER."""

    material: KeyMaterial = field(repr=False)
    public_key: bytes | None


def generate(spec: str) -> GeneratedKey:
    """Generate key material for the spec named ``spec`` from the OS CSPRNG.

    Args:
        spec: A key spec name of ARCHITECTURE.md section 2, e.g. ``"AES_256_GCM"``.

    Returns:
        The material, and the public key of an asymmetric spec.

    Raises:
        ValueError: Not a spec name.
    """
    if spec in mac.MacAlgorithm.__members__:
        return GeneratedKey(mac.generate(mac.MacAlgorithm(spec)), None)
    if spec in asymmetric.AsymmetricAlgorithm.__members__:
        algorithm = asymmetric.AsymmetricAlgorithm(spec)
        material = asymmetric.generate(algorithm)
        return GeneratedKey(material, asymmetric.public_key_der(algorithm, material))
    return GeneratedKey(symmetric.generate(symmetric.algorithm_for_spec(spec)), None)


def material_length(spec: str) -> int:
    """Return how many bytes of material a symmetric or MAC spec takes.

    Raises:
        ValueError: Not a symmetric or MAC spec name.
    """
    if spec in mac.MacAlgorithm.__members__:
        return mac.key_bytes(mac.MacAlgorithm(spec))
    return symmetric.key_bytes(symmetric.algorithm_for_spec(spec))
